"""Seed 001, 'Send messages to a queue': a single message and a list of messages."""
from azure.servicebus import ServiceBusMessage

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            # Sending a single message
            single_message = ServiceBusMessage("Single message", application_properties={"kind": "single", "n": 1})
            sender.send_messages(single_message)
            # Sending a list of messages
            messages = [ServiceBusMessage("First message"), ServiceBusMessage("Second message")]
            sender.send_messages(messages)
    sb.result(sent=3)


sb.main(run)
