"""Seed 001, 'Working with topics and subscriptions'."""
from azure.servicebus import ServiceBusMessage

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_topic_sender(sb.TOPIC) as sender:
            sender.send_messages(ServiceBusMessage("Data"))
        with client.get_subscription_receiver(sb.TOPIC, sb.SUBSCRIPTION, max_wait_time=1) as receiver:
            bodies = []
            for msg in receiver:
                bodies.append(str(msg))
                receiver.complete_message(msg)
    sb.result(received=bodies)


sb.main(run)
