"""Seed 001, 'Settle a message after receipt' for deferred messages: received by sequence number,
then completed, abandoned, dead-lettered (reason and description) and deferred again, all through
the management link."""
from azure.servicebus import ServiceBusMessage

import sbharness as sb

BODIES = ("d-complete", "d-abandon", "d-dead-letter", "d-defer")


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            sender.send_messages([ServiceBusMessage(b) for b in BODIES])
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            deferred = []
            while len(deferred) < len(BODIES):
                for msg in receiver.receive_messages(max_message_count=len(BODIES), max_wait_time=3):
                    deferred.append(msg.sequence_number)
                    receiver.defer_message(msg)
            by_body = {str(m): m for m in receiver.receive_deferred_messages(sorted(deferred))}
            receiver.complete_message(by_body["d-complete"])
            receiver.abandon_message(by_body["d-abandon"])
            receiver.dead_letter_message(by_body["d-dead-letter"], reason="poison", error_description="cannot parse")
            receiver.defer_message(by_body["d-defer"])
    sb.result(settled=sorted(by_body))


sb.main(run)
