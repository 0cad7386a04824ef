"""Seed 001, 'Automatically renew Message or Session locks' with AutoLockRenewer.

The broker's lock duration is short (SB_LOCK_SECONDS), the handler works longer than that, and
settling still succeeds because the renewer kept the lock; a message received at the same time but
not registered with the renewer has lost its lock by then.
"""
import os
import time

from azure.servicebus import AutoLockRenewer, ServiceBusMessage

import sbharness as sb

LOCK = float(os.environ.get("SB_LOCK_SECONDS", "3"))


def run():
    outcome = {}
    with sb.client() as client:
        with client.get_queue_sender(sb.QUEUE) as sender:
            sender.send_messages([ServiceBusMessage("renewed"), ServiceBusMessage("not-renewed")])
        with client.get_queue_sender(sb.SESSION_QUEUE) as sender:
            sender.send_messages(ServiceBusMessage("session-renewed", session_id="renew-me"))
        # Message lock automatic renewing
        renewer = AutoLockRenewer()
        with client.get_queue_receiver(sb.QUEUE) as receiver:
            received = receiver.receive_messages(max_message_count=2, max_wait_time=3)
            while len(received) < 2:
                received += receiver.receive_messages(max_message_count=2 - len(received), max_wait_time=3)
            renewed, not_renewed = sorted(received, key=lambda m: m.sequence_number)
            renewer.register(receiver, renewed, max_lock_renewal_duration=60)
            time.sleep(LOCK * 1.6)  # application logic longer than the lock
            receiver.complete_message(renewed)
            outcome["renewed"] = str(renewed)
            # Without renewal the lock expired: the service refuses to renew it.
            try:
                receiver.renew_message_lock(not_renewed)
                outcome["expired_renew"] = "succeeded"
            except Exception as error:
                outcome["expired_renew"] = type(error).__name__
        renewer.close()
        # Session lock automatic renewing
        renewer = AutoLockRenewer()
        with client.get_queue_receiver(sb.SESSION_QUEUE, session_id="renew-me") as receiver:
            renewer.register(receiver, receiver.session, max_lock_renewal_duration=60)
            time.sleep(LOCK * 1.6)
            for msg in receiver.receive_messages(max_wait_time=2):
                receiver.complete_message(msg)
                outcome["session_renewed"] = str(msg)
        renewer.close()
    sb.result(**outcome)


sb.main(run)
