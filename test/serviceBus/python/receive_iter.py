"""Seed 001, 'Receive messages from a queue through iterating over ServiceBusReceiver', then complete."""
import sbharness as sb


def run():
    bodies = []
    with sb.client() as client:
        # max_wait_time: how long the receiver waits with no incoming messages before it stops.
        with client.get_queue_receiver(sb.QUEUE, max_wait_time=1) as receiver:
            for msg in receiver:
                bodies.append(str(msg))
                sb.result(
                    body=str(msg),
                    sequence_number=msg.sequence_number,
                    delivery_count=msg.delivery_count,
                    lock_token=str(msg.lock_token),
                    locked_until=msg.locked_until_utc.isoformat() if msg.locked_until_utc else None,
                    enqueued_time=msg.enqueued_time_utc.isoformat() if msg.enqueued_time_utc else None,
                    application_properties=sb.plain(msg.application_properties),
                )
                receiver.complete_message(msg)
    sb.result(received=bodies)


sb.main(run)
