"""Seed 001, 'renew_message_lock' called directly: one renew-lock request, then complete."""
from azure.servicebus import ServiceBusMessage

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            sender.send_messages(ServiceBusMessage("renew-me"))
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            [msg] = receiver.receive_messages(max_wait_time=3)
            before = msg.locked_until_utc
            after = receiver.renew_message_lock(msg)
            receiver.complete_message(msg)
    sb.result(body=str(msg), extended=after >= before)


sb.main(run)
