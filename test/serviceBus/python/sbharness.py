"""Shared set-up for the azure-servicebus samples run against the EmbeddedBroker's Service Bus mode.

Environment:
  SB_CONNECTION_STRING  Endpoint=sb://localhost/;SharedAccessKeyName=...;SharedAccessKey=...
  SB_PORT               the broker's TLS port (else the Endpoint's port, else 5671)
  SB_CA_FILE            PEM file of the CA that signed the broker's certificate
  SB_QUEUE, SB_SESSION_QUEUE, SB_TOPIC, SB_SUBSCRIPTION   entity names

How the client is pointed at the broker: azure-servicebus 7.8.2 (on uamqp 1.5.3) always connects
to the AMQPS port 5671 of the namespace host; the only documented way to change the port,
`custom_endpoint_address`, also switches the transport to AMQP over WebSockets. So the harness
sets the module-level default AMQPS port that the client's Configuration reads
(`azure.servicebus._common._configuration.DEFAULT_AMQPS_PORT`) to SB_PORT, and passes the CA
file as the client's `connection_verify`. The connection string's Endpoint carries no port, as a
real namespace's does: the client builds its audiences (`sb://localhost/<entity>`) and link
addresses (`amqps://localhost/<entity>`) from it, and a port there would break its own check of
a session receiver's attach (it compares the address it sent, without the port, with one that has
it). Everything else - SAS token, put-token, TLS host name check - is the client's own.

Each sample prints `RESULT <json>` lines that the test reads.
"""
import json
import os
import sys
from urllib.parse import urlparse

import azure.servicebus._common._configuration as _configuration
from azure.servicebus import ServiceBusClient

CONNECTION_STRING = os.environ["SB_CONNECTION_STRING"]
CA_FILE = os.environ["SB_CA_FILE"]
QUEUE = os.environ.get("SB_QUEUE", "queue")
SESSION_QUEUE = os.environ.get("SB_SESSION_QUEUE", "session-queue")
TOPIC = os.environ.get("SB_TOPIC", "topic")
SUBSCRIPTION = os.environ.get("SB_SUBSCRIPTION", "sub")


def _endpoint_port(connection_string):
    for part in connection_string.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "endpoint":
            return urlparse(value.strip()).port
    return None


_PORT = int(os.environ["SB_PORT"]) if os.environ.get("SB_PORT") else _endpoint_port(CONNECTION_STRING)
if _PORT:
    _configuration.DEFAULT_AMQPS_PORT = _PORT


def client(connection_string=None, **kwargs):
    """A ServiceBusClient for the broker (no retries, so failures surface at once)."""
    kwargs.setdefault("retry_total", 0)
    return ServiceBusClient.from_connection_string(
        connection_string or CONNECTION_STRING, connection_verify=CA_FILE, **kwargs
    )


def result(**fields):
    """Reports a result line to the test."""
    print("RESULT " + json.dumps(fields, default=str), flush=True)


def plain(mapping):
    """A dict with bytes keys and values decoded (uamqp hands strings out as bytes)."""
    decode = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    return {decode(k): decode(v) for k, v in (mapping or {}).items()}


def main(run):
    try:
        run()
    except Exception as error:  # reported, then the exit status says it failed
        result(error=type(error).__name__, message=str(error))
        sys.exit(1)
