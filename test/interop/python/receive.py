"""Receives messages with Qpid Proton Python: receive.py URL ADDRESS COUNT [TIMEOUT_SECONDS].

Accepts each message and prints {"messages": [...]} as one JSON line, each message as
amqp_json.message_to_json writes it: every value tagged with the AMQP type of the Python class
Proton decoded it into.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from proton.utils import BlockingConnection  # noqa: E402

from amqp_json import message_to_json  # noqa: E402


def main():
    url, address, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    connection = BlockingConnection(url, timeout=timeout)
    received = []
    try:
        receiver = connection.create_receiver(address, credit=max(count, 1))
        for _ in range(count):
            message = receiver.receive(timeout=timeout)
            received.append(message_to_json(message))
            receiver.accept()
    finally:
        connection.close()
    print(json.dumps({'messages': received}))


if __name__ == '__main__':
    main()
