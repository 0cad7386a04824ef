"""Seed 001, 'Send and receive a message from a session enabled queue', plus session state and lock renewal."""
from azure.servicebus import NEXT_AVAILABLE_SESSION, ServiceBusMessage

import sbharness as sb


def run():
    with sb.client() as client:
        with client.get_queue_sender(sb.SESSION_QUEUE) as sender:
            sender.send_messages(ServiceBusMessage("Session Enabled Message", session_id="s1"))
            sender.send_messages([ServiceBusMessage("other-1", session_id="s2"), ServiceBusMessage("other-2", session_id="s2")])
        with client.get_queue_receiver(sb.SESSION_QUEUE, session_id="s1", max_wait_time=1) as receiver:
            session = receiver.session
            session.set_state(b"checkpoint-1")
            state = session.get_state()
            renewed = session.renew_lock()
            s1 = []
            for msg in receiver:
                s1.append((str(msg), msg.session_id))
                receiver.complete_message(msg)
        # If session_id is null (NEXT_AVAILABLE_SESSION), receive from the first available session.
        with client.get_queue_receiver(sb.SESSION_QUEUE, session_id=NEXT_AVAILABLE_SESSION, max_wait_time=1) as receiver:
            next_id = receiver.session.session_id
            nxt = []
            for msg in receiver:
                nxt.append(str(msg))
                receiver.complete_message(msg)
    sb.result(
        s1=[b for b, _ in s1],
        s1_session_ids=[s for _, s in s1],
        state=state.decode() if state else None,
        renewed=renewed.isoformat(),
        next_session=next_id,
        next_bodies=nxt,
    )


sb.main(run)
