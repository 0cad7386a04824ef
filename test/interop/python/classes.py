"""Prints the Python class Proton decodes each AMQP type into, as JSON: {"ubyte": "proton.ubyte", ...}.

The interop test checks it against the Proton column of docs/types.md.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from amqp_json import CLASS_TYPES  # noqa: E402


def display(cls):
    if cls is type(None):
        return 'None'
    module = cls.__module__
    if module == 'builtins':
        return cls.__name__
    if module.startswith('proton'):
        return 'proton.' + cls.__name__
    return module + '.' + cls.__name__


names = {}
for cls, amqp_type in CLASS_TYPES.items():
    names.setdefault(amqp_type, display(cls))
print(json.dumps(names))
