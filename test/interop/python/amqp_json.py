"""Tagged JSON <-> Qpid Proton Python values, for the interop tests.

Every value is {"type": AMQP type name, "value": ...}: integers (and timestamps) as decimal strings,
so that 64-bit values stay exact; binary and decimals as hex of their bytes (as on the wire);
floats as JSON numbers, with "NaN", "Infinity", "-Infinity" and "-0" as strings; lists as lists;
maps as lists of [key, value] pairs; arrays as {"type": "array", "element": TYPE, "value": [...],
"descriptor": optional}; described values as {"type": "described", "descriptor": ..., "value": ...}.

The type a value is reported with is Proton's own: the Python class Proton decoded it into
(proton.ubyte, proton.symbol, int for long, float for double, ...), mapped one to one to the AMQP
type it stands for.
"""
import math
import uuid

import proton
from proton._message import pn_message_get_content_type
from proton import (Array, Data, Described, UNDESCRIBED, byte, char, decimal32, decimal64, decimal128,
                    float32, int32, short, symbol, timestamp, ubyte, uint, ulong, ushort)

# AMQP type name -> Proton Data type code, for arrays.
ARRAY_CODES = {
    'null': Data.NULL, 'boolean': Data.BOOL, 'ubyte': Data.UBYTE, 'byte': Data.BYTE, 'ushort': Data.USHORT,
    'short': Data.SHORT, 'uint': Data.UINT, 'int': Data.INT, 'char': Data.CHAR, 'ulong': Data.ULONG,
    'long': Data.LONG, 'timestamp': Data.TIMESTAMP, 'float': Data.FLOAT, 'double': Data.DOUBLE,
    'decimal32': Data.DECIMAL32, 'decimal64': Data.DECIMAL64, 'decimal128': Data.DECIMAL128, 'uuid': Data.UUID,
    'binary': Data.BINARY, 'string': Data.STRING, 'symbol': Data.SYMBOL, 'list': Data.LIST, 'map': Data.MAP,
    'array': Data.ARRAY, 'described': Data.DESCRIBED,
}
ARRAY_NAMES = {code: name for name, code in ARRAY_CODES.items()}

# The exact Python class Proton decodes each AMQP type into -> the AMQP type name.
CLASS_TYPES = {
    type(None): 'null', bool: 'boolean', ubyte: 'ubyte', ushort: 'ushort', uint: 'uint', ulong: 'ulong',
    byte: 'byte', short: 'short', int32: 'int', int: 'long', float32: 'float', float: 'double',
    decimal32: 'decimal32', decimal64: 'decimal64', decimal128: 'decimal128', char: 'char',
    timestamp: 'timestamp', uuid.UUID: 'uuid', bytes: 'binary', str: 'string', symbol: 'symbol',
    list: 'list', dict: 'map', proton.AnnotationDict: 'map', proton.PropertyDict: 'map',
    Described: 'described', Array: 'array',
}

INTEGERS = {'ubyte': ubyte, 'ushort': ushort, 'uint': uint, 'ulong': ulong, 'byte': byte, 'short': short,
            'int': int32, 'long': int, 'timestamp': timestamp}


def float_out(v):
    if math.isnan(v):
        return 'NaN'
    if math.isinf(v):
        return 'Infinity' if v > 0 else '-Infinity'
    if v == 0 and math.copysign(1.0, v) < 0:
        return '-0'
    return v


def float_in(v):
    return float(v)  # float('NaN'), float('-0'), float('Infinity') and plain numbers


def to_tagged(v):
    """A Proton value -> tagged JSON, typed by the exact class Proton decoded it into."""
    cls = type(v)
    t = CLASS_TYPES.get(cls)
    if t is None:
        raise TypeError('no AMQP type known for Python class %s (%r)' % (cls.__name__, v))
    if t == 'null':
        return {'type': t}
    if t == 'boolean':
        return {'type': t, 'value': v}
    if t in INTEGERS:
        return {'type': t, 'value': str(int(v))}
    if t in ('float', 'double'):
        return {'type': t, 'value': float_out(float(v))}
    if t == 'decimal32':
        return {'type': t, 'value': int(v).to_bytes(4, 'big').hex()}
    if t == 'decimal64':
        return {'type': t, 'value': int(v).to_bytes(8, 'big').hex()}
    if t in ('decimal128', 'binary'):
        return {'type': t, 'value': bytes(v).hex()}
    if t in ('char', 'string', 'symbol'):
        return {'type': t, 'value': str(v)}
    if t == 'uuid':
        return {'type': t, 'value': str(v)}
    if t == 'list':
        return {'type': t, 'value': [to_tagged(x) for x in v]}
    if t == 'map':
        return {'type': t, 'value': [[to_tagged(k), to_tagged(x)] for k, x in v.items()]}
    if t == 'described':
        return {'type': t, 'descriptor': to_tagged(v.descriptor), 'value': to_tagged(v.value)}
    if t == 'array':
        out = {'type': t, 'element': ARRAY_NAMES[v.type], 'value': [element_tagged(ARRAY_NAMES[v.type], x) for x in v.elements]}
        if v.descriptor is not UNDESCRIBED:
            out['descriptor'] = to_tagged(v.descriptor)
        return out
    raise TypeError(t)


def element_tagged(element, v):
    """An array element: reported with the array's element type (Proton hands plain values for some)."""
    tagged = to_tagged(v)
    if tagged['type'] != element:
        raise TypeError('array of %s holds a %s' % (element, tagged['type']))
    return tagged


def from_tagged(d):
    """Tagged JSON -> the Proton value that encodes as exactly that AMQP type."""
    t = d['type']
    v = d.get('value')
    if t == 'null':
        return None
    if t == 'boolean':
        return bool(v)
    if t in INTEGERS:
        return INTEGERS[t](int(v))
    if t == 'float':
        return float32(float_in(v))
    if t == 'double':
        return float_in(v)
    if t == 'decimal32':
        return decimal32(int.from_bytes(bytes.fromhex(v), 'big'))
    if t == 'decimal64':
        return decimal64(int.from_bytes(bytes.fromhex(v), 'big'))
    if t == 'decimal128':
        return decimal128(bytes.fromhex(v))
    if t == 'binary':
        return bytes.fromhex(v)
    if t == 'char':
        return char(v)
    if t == 'string':
        return str(v)
    if t == 'symbol':
        return symbol(v)
    if t == 'uuid':
        return uuid.UUID(v)
    if t == 'list':
        return [from_tagged(x) for x in v]
    if t == 'map':
        return {from_tagged(k): from_tagged(x) for k, x in v}
    if t == 'described':
        return Described(from_tagged(d['descriptor']), from_tagged(v))
    if t == 'array':
        descriptor = from_tagged(d['descriptor']) if 'descriptor' in d else UNDESCRIBED
        return Array(descriptor, ARRAY_CODES[d['element']], *[from_tagged(x) for x in v])
    raise TypeError('unknown tagged type %r' % t)


def message_to_json(m):
    """A received Proton message -> JSON: header, properties, sections, all typed."""
    out = {
        'body': to_tagged(m.body),
        'section': 'data' if m.inferred and isinstance(m.body, bytes) else 'sequence' if m.inferred else 'value',
        'durable': m.durable,
        'priority': m.priority,
        'ttl': int(round(m.ttl * 1000)),
        'subject': m.subject,
        # Message.content_type turns "not set" into symbol('None'): read the field itself.
        'content_type': None if pn_message_get_content_type(m._msg) is None else str(m.content_type),
        'content_type_class': type(m.content_type).__name__,
        'reply_to': m.reply_to,
        'group_id': m.group_id,
        # Message.id and .correlation_id hand a ulong back as a plain int: read both from the encoded
        # properties section instead, where Proton decodes each value into its exact class.
        'id': id_tagged(m, 0),
        'correlation_id': id_tagged(m, 5),
        'properties': None if m.properties is None else [[k, to_tagged(v)] for k, v in m.properties.items()],
        'annotations': None if m.annotations is None else [[to_tagged(k), to_tagged(v)] for k, v in m.annotations.items()],
    }
    return out


def sections(m):
    """The sections of the encoded message, as {descriptor: value} (values in Proton's exact classes)."""
    encoded = m.encode()
    data = Data()
    out = {}
    offset = 0
    while offset < len(encoded):
        data.clear()
        offset += data.decode(encoded[offset:])
        data.rewind()
        data.next()
        section = data.get_py_described()
        out[int(section.descriptor)] = section.value
    return out


def id_tagged(m, index):
    fields = sections(m).get(0x73) or []
    value = fields[index] if index < len(fields) else None
    return None if value is None else to_tagged(value)


def message_from_json(d):
    """JSON (as message_to_json writes it, fields optional) -> a Proton message."""
    m = proton.Message()
    m.body = from_tagged(d['body']) if 'body' in d else None
    if d.get('section') in ('data', 'sequence'):
        m.inferred = True
    if 'durable' in d:
        m.durable = d['durable']
    if 'priority' in d:
        m.priority = d['priority']
    if 'ttl' in d:
        m.ttl = d['ttl'] / 1000.0
    for key in ('subject', 'reply_to', 'group_id', 'content_type'):
        if d.get(key) is not None:
            setattr(m, key, d[key])
    if d.get('id') is not None:
        m.id = from_tagged(d['id'])
    if d.get('correlation_id') is not None:
        m.correlation_id = from_tagged(d['correlation_id'])
    if d.get('properties') is not None:
        m.properties = {k: from_tagged(v) for k, v in d['properties']}
    if d.get('annotations') is not None:
        m.annotations = {from_tagged(k): from_tagged(v) for k, v in d['annotations']}
    return m
