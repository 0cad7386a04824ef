"""Prints azure-servicebus's own SAS token for a resource, key and expiry (given as 'now' + 3600 s).

Usage: sas_token.py RESOURCE KEY_NAME KEY NOW_SECONDS
The SDK computes the expiry as time.time() + 1 hour, so time.time is pinned to NOW_SECONDS.
"""
import json
import sys
import time

resource, key_name, key, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
time.time = lambda: float(now)

from azure.servicebus._base_handler import ServiceBusSharedKeyCredential  # noqa: E402

token = ServiceBusSharedKeyCredential(key_name, key).get_token(resource)
print("RESULT " + json.dumps({"token": token.token.decode() if isinstance(token.token, bytes) else token.token, "expires_on": token.expires_on}))
