"""Receive in RECEIVE_AND_DELETE mode: messages are removed on receipt and carry no lock."""
from azure.servicebus import ServiceBusMessage, ServiceBusReceiveMode

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            sender.send_messages([ServiceBusMessage("rd-1"), ServiceBusMessage("rd-2")])
        with client.get_queue_receiver(
            sb.QUEUE, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE, max_wait_time=1
        ) as receiver:
            got = [(str(m), m.lock_token) for m in receiver]
    sb.result(received=[b for b, _ in got], lock_tokens=[t for _, t in got])


sb.main(run)
