"""Receive-and-accept with Qpid Proton Python, timing itself.

Usage: /usr/bin/python3 bench/proton_receive.py URL ADDRESS COUNT PREFETCH

Receives COUNT messages from ADDRESS with the reactor API (MessagingHandler with prefetch PREFETCH
and auto-accept), then prints one JSON line:
  {"seconds": wall time, "cpu_seconds": process CPU time, "received": COUNT}
The clock starts before the connection is opened and stops when the last message has been handed
to on_message, as the Node clients are timed. Interpreter start and imports are not timed.
"""
import json
import sys
import time

from proton.handlers import MessagingHandler
from proton.reactor import Container


class Receive(MessagingHandler):
    def __init__(self, url, address, count, prefetch):
        super().__init__(prefetch=prefetch, auto_accept=True)
        self.url = url
        self.address = address
        self.count = count
        self.received = 0
        self.sink = 0
        self.t0 = self.c0 = self.t1 = self.c1 = 0.0

    def on_start(self, event):
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        connection = event.container.connect(self.url)
        event.container.create_receiver(connection, self.address)

    def on_message(self, event):
        self.sink += len(event.message.body)
        self.received += 1
        if self.received == self.count:
            self.t1 = time.perf_counter()
            self.c1 = time.process_time()
            event.receiver.close()
            event.connection.close()


def main():
    url, address, count, prefetch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    handler = Receive(url, address, count, prefetch)
    Container(handler).run()
    print(json.dumps({"seconds": handler.t1 - handler.t0, "cpu_seconds": handler.c1 - handler.c0, "received": handler.received}))


if __name__ == "__main__":
    main()
