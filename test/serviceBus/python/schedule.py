"""Scheduling (seed 001's note on schedule_messages / scheduled_enqueue_time_utc) and cancelling."""
import datetime
import time

from azure.servicebus import ServiceBusMessage

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            due = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2.5)
            kept = sender.schedule_messages(ServiceBusMessage("scheduled-kept"), due)
            cancelled = sender.schedule_messages([ServiceBusMessage("scheduled-cancelled")], due)
            sender.cancel_scheduled_messages(cancelled)
            attribute = ServiceBusMessage("scheduled-by-annotation")
            attribute.scheduled_enqueue_time_utc = due
            sender.send_messages(attribute)
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            early = receiver.receive_messages(max_wait_time=0.5)
            peeked = receiver.peek_messages(max_message_count=10)
            time.sleep(max(0.0, (due - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 0.2)
            later = receiver.receive_messages(max_message_count=5, max_wait_time=2)
            bodies = sorted(str(m) for m in later)
            for m in later:
                receiver.complete_message(m)
    sb.result(
        kept=list(kept),
        cancelled=list(cancelled),
        early=len(early),
        peeked=[{"body": str(m), "state": int(m.state), "sequence_number": m.sequence_number} for m in peeked],
        delivered=bodies,
    )


sb.main(run)
