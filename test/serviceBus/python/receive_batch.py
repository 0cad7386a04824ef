"""Seed 001, 'Receive messages from a queue through ServiceBusReceiver.receive_messages()'."""
import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            received_message_array = receiver.receive_messages(max_wait_time=2)  # a single message
            first = [str(m) for m in received_message_array]
            for m in received_message_array:
                receiver.complete_message(m)
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            # at most 5 messages in a batch within the wait time
            received_message_array = receiver.receive_messages(max_message_count=5, max_wait_time=2)
            batch = [str(m) for m in received_message_array]
            for m in received_message_array:
                receiver.complete_message(m)
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            empty = receiver.receive_messages(max_wait_time=0.5)
    sb.result(first=first, batch=batch, empty=len(empty))


sb.main(run)
