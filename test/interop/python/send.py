"""Sends messages with Qpid Proton Python: send.py URL ADDRESS < {"messages": [...]}.

Each message is JSON as amqp_json.message_from_json reads it. Waits for each to be settled and
prints {"sent": N, "outcomes": [...]} as one JSON line.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from proton.utils import BlockingConnection  # noqa: E402

from amqp_json import message_from_json  # noqa: E402


def main():
    url, address = sys.argv[1], sys.argv[2]
    spec = json.load(sys.stdin)
    connection = BlockingConnection(url, timeout=10)
    try:
        sender = connection.create_sender(address)
        outcomes = []
        for m in spec['messages']:
            delivery = sender.send(message_from_json(m))
            outcomes.append(str(delivery.remote_state))
    finally:
        connection.close()
    print(json.dumps({'sent': len(outcomes), 'outcomes': outcomes}))


if __name__ == '__main__':
    main()
