"""Peek (seed 001's note on peek_messages): no lock, cannot be settled."""
from azure.servicebus import ServiceBusMessage

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            sender.send_messages([ServiceBusMessage("peek-%d" % i) for i in range(3)])
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            peeked = receiver.peek_messages(max_message_count=5)
            from_second = receiver.peek_messages(max_message_count=5, sequence_number=2)
            try:
                receiver.complete_message(peeked[0])
                settle_error = None
            except ValueError as error:
                settle_error = type(error).__name__
    sb.result(
        bodies=[str(m) for m in peeked],
        sequence_numbers=[m.sequence_number for m in peeked],
        from_second=[m.sequence_number for m in from_second],
        lock_tokens=[m.lock_token for m in peeked],
        settle_error=settle_error,
    )


sb.main(run)
