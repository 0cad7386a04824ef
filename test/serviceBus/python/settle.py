"""Seed 001, 'Settle a message after receipt': complete, abandon, dead-letter, defer and receive_deferred_messages."""
from azure.servicebus import ServiceBusMessage, ServiceBusSubQueue

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            sender.send_messages([ServiceBusMessage(b) for b in ("complete-me", "abandon-me", "dead-letter-me", "defer-me")])
        outcome = {}
        deferred = []
        with client.get_queue_receiver(sb.QUEUE, max_wait_time=1) as receiver:
            for msg in receiver:
                body = str(msg)
                if body == "complete-me":
                    receiver.complete_message(msg)
                elif body == "abandon-me" and msg.delivery_count == 0:
                    receiver.abandon_message(msg)
                elif body == "abandon-me":
                    outcome["abandoned_redelivered_count"] = msg.delivery_count
                    receiver.complete_message(msg)
                elif body == "dead-letter-me":
                    receiver.dead_letter_message(msg, reason="poison", error_description="cannot parse")
                elif body == "defer-me":
                    deferred.append(msg.sequence_number)
                    receiver.defer_message(msg)
            # receive the deferred message by its sequence number, then complete it (management link)
            received = receiver.receive_deferred_messages(deferred)
            outcome["deferred_bodies"] = [str(m) for m in received]
            outcome["deferred_lock_tokens"] = [str(m.lock_token) for m in received]
            for m in received:
                receiver.complete_message(m)
        with client.get_queue_receiver(sb.QUEUE, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=1) as receiver:
            dead = []
            for msg in receiver:
                dead.append(
                    {
                        "body": str(msg),
                        "reason": msg.dead_letter_reason,
                        "description": msg.dead_letter_error_description,
                    }
                )
                receiver.complete_message(msg)
        outcome["dead_lettered"] = dead
    sb.result(**outcome)


sb.main(run)
