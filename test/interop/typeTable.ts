/**
 * The AMQP type mapping: one list of samples per AMQP type, used three ways so that the documented
 * table cannot drift from what really happens:
 *
 *  1. test/unit/types/typeTable.spec.ts renders docs/types.md from this list and the codec (the
 *     "default decode" and "typed decode" columns are computed by encoding and decoding each sample),
 *     and fails when the file differs (`UPDATE_TYPES_DOC=1` rewrites it);
 *  2. test/interop/proton.spec.ts sends every sample from rhea-rx through RabbitMQ to Qpid Proton
 *     Python and checks the AMQP type and value Proton decoded, and sends the same tagged value from
 *     Proton to rhea-rx and checks both decodes against the ones rendered here;
 *  3. the Proton column is Proton's class for the type, checked against the Python helper's table.
 */
import rhea from 'rhea';
import type { Message as RheaMessage } from 'rhea';
import { amqp, AmqpArray, AmqpDescribed, AmqpScalar, type AmqpTypeName, message, type OutgoingMessage } from '../../src/index.js';
import { decodeTypedMessage, fromRheaMessage, toRheaMessage } from '../../src/links/codec.js';
import { t, type Tagged, toTagged } from './tagged.js';

export interface Sample {
  /** What the sample is, where the table names it (when its decode differs from the row's first). */
  readonly label?: string;
  /** What rhea-rx sends. A function: every use gets fresh objects. */
  readonly send: () => unknown;
  /** The exact AMQP type and value on the wire: what Proton must decode, and what Proton sends back. */
  readonly tagged: Tagged;
  /** Set when rhea's default decode does not give the value back exactly: how it differs. */
  readonly lossy?: string;
  /** Set when RabbitMQ 3.10 cannot take the value: why (the interop test skips it, saying so). */
  readonly notOnRabbitMq?: string;
}

export interface TypeRow {
  readonly type: AmqpTypeName;
  /** As the AMQP type reference (and the seed's table) describes it. */
  readonly description: string;
  /** What to pass to rhea-rx to send a value of this type (markdown). */
  readonly pass: string;
  readonly samples: readonly Sample[];
}

const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const RABBIT_ARRAYS =
  'Arrays: RabbitMQ 3.10 parses arrays of boolean, integer, string and symbol elements only; an array of any other element type ends the connection (framing-error)';
const RABBIT_DESCRIBED_PROPERTY =
  'A described value as an application property or message annotation: RabbitMQ 3.10 closes the connection; nested in a list or map it passes';
const RABBIT_LIST_BODY =
  'A list body: RabbitMQ 3.10 fails on a body that is a list of two or more values (it reads the list as the fields of the amqp-value section) and closes the connection; inside a map, a one-element list or a described value, lists pass';

/** Every AMQP type of the seed's chapter 7.1 table, in its order, then described values. */
export const TYPE_ROWS: readonly TypeRow[] = [
  {
    type: 'null',
    description: 'An empty value',
    pass: '`null` or `undefined`',
    samples: [{ send: () => null, tagged: t.null() }],
  },
  {
    type: 'boolean',
    description: 'A true or false value',
    pass: '`true`, `false`',
    samples: [
      { send: () => true, tagged: t.boolean(true) },
      { send: () => false, tagged: t.boolean(false) },
    ],
  },
  {
    type: 'char',
    description: 'A single Unicode character',
    pass: "`amqp.char('x')` (a one-character string or a code point)",
    samples: [
      { send: () => amqp.char('x'), tagged: t.char('x'), lossy: 'the code point' },
      { label: 'U+1F600', send: () => amqp.char('😀'), tagged: t.char('😀'), lossy: 'the code point' },
    ],
  },
  {
    type: 'string',
    description: 'A sequence of Unicode characters',
    pass: 'a `string` (without unpaired surrogates)',
    samples: [
      { send: () => 'hello', tagged: t.string('hello') },
      { send: () => '', tagged: t.string('') },
      { send: () => 'Grüße, 世界 😀', tagged: t.string('Grüße, 世界 😀') },
    ],
  },
  {
    type: 'binary',
    description: 'A sequence of bytes',
    pass: 'a `Buffer` or `Uint8Array`',
    samples: [
      { send: () => Buffer.from([0, 1, 0xff]), tagged: t.bytes('binary', '0001ff') },
      { send: () => new Uint8Array(0), tagged: t.bytes('binary', '') },
    ],
  },
  {
    type: 'byte',
    description: 'A signed 8-bit integer',
    pass: '`amqp.byte(n)`',
    samples: [
      { send: () => amqp.byte(-128), tagged: t.int('byte', -128) },
      { send: () => amqp.byte(127), tagged: t.int('byte', 127) },
    ],
  },
  {
    type: 'short',
    description: 'A signed 16-bit integer',
    pass: '`amqp.short(n)`',
    samples: [
      { send: () => amqp.short(-32768), tagged: t.int('short', -32768) },
      { send: () => amqp.short(32767), tagged: t.int('short', 32767) },
    ],
  },
  {
    type: 'int',
    description: 'A signed 32-bit integer',
    pass: '`amqp.int(n)`; a plain integer −2^31 + 1 < n ≤ 0 is sent as an int',
    samples: [
      { send: () => amqp.int(-2147483648), tagged: t.int('int', -2147483648) },
      { send: () => amqp.int(2147483647), tagged: t.int('int', 2147483647) },
      { send: () => -5, tagged: t.int('int', -5) },
      { send: () => 0, tagged: t.int('int', 0) },
    ],
  },
  {
    type: 'long',
    description: 'A signed 64-bit integer',
    pass: 'a `bigint`, or `amqp.long(n)`; a plain integer n ≤ −2^31 + 1 is sent as a long',
    samples: [
      { send: () => 5n, tagged: t.int('long', 5) },
      { send: () => -2147483647, tagged: t.int('long', -2147483647) },
      {
        label: '−2^63',
        send: () => amqp.long(-(2n ** 63n)),
        tagged: t.int('long', -(2n ** 63n)),
        lossy: 'its 8 bytes beyond ±(2^53 + 2^32)',
      },
      {
        label: '2^53 + 1',
        send: () => 2n ** 53n + 1n,
        tagged: t.int('long', 2n ** 53n + 1n),
        lossy: '**rounded** to 2^53 (inexact from 2^53 to 2^53 + 2^32)',
      },
    ],
  },
  {
    type: 'ubyte',
    description: 'An unsigned 8-bit integer',
    pass: '`amqp.ubyte(n)`',
    samples: [
      { send: () => amqp.ubyte(0), tagged: t.int('ubyte', 0) },
      { send: () => amqp.ubyte(255), tagged: t.int('ubyte', 255) },
    ],
  },
  {
    type: 'ushort',
    description: 'An unsigned 16-bit integer',
    pass: '`amqp.ushort(n)`',
    samples: [{ send: () => amqp.ushort(65535), tagged: t.int('ushort', 65535) }],
  },
  {
    type: 'uint',
    description: 'An unsigned 32-bit integer',
    pass: '`amqp.uint(n)`; a plain integer 0 < n < 2^32 is sent as a uint',
    samples: [
      { send: () => amqp.uint(4294967295), tagged: t.int('uint', 4294967295) },
      { send: () => amqp.uint(0), tagged: t.int('uint', 0) },
      { send: () => 5, tagged: t.int('uint', 5) },
    ],
  },
  {
    type: 'ulong',
    description: 'An unsigned 64-bit integer',
    pass: '`amqp.ulong(n)` (n a number or bigint); a plain integer 2^32 ≤ n < 2^53 is sent as a ulong',
    samples: [
      { send: () => 2 ** 40, tagged: t.int('ulong', 2 ** 40) },
      {
        label: '2^64 − 1',
        send: () => amqp.ulong(2n ** 64n - 1n),
        tagged: t.int('ulong', 2n ** 64n - 1n),
        lossy: 'its 8 bytes beyond 2^53 + 2^32',
      },
      {
        label: '2^53 + 1',
        send: () => amqp.ulong(2n ** 53n + 1n),
        tagged: t.int('ulong', 2n ** 53n + 1n),
        lossy: '**rounded** to 2^53 (inexact from 2^53 to 2^53 + 2^32)',
      },
    ],
  },
  {
    type: 'float',
    description: 'A 32-bit floating point number',
    pass: '`amqp.float(n)` (rounded to 32 bits when made)',
    samples: [
      { send: () => amqp.float(1.5), tagged: t.float('float', 1.5) },
      { send: () => amqp.float(-3.4028234663852886e38), tagged: t.float('float', -3.4028234663852886e38) },
      { send: () => amqp.float(Number.NaN), tagged: t.float('float', Number.NaN) },
    ],
  },
  {
    type: 'double',
    description: 'A 64-bit floating point number',
    pass: 'a non-integer `number`, `NaN`, `±Infinity`, `-0`; `amqp.double(n)` for an integer value',
    samples: [
      { send: () => 0.5, tagged: t.float('double', 0.5) },
      { label: 'an integral value', send: () => amqp.double(1), tagged: t.float('double', 1) },
      { send: () => -0, tagged: t.float('double', -0) },
      { send: () => Number.NaN, tagged: t.float('double', Number.NaN) },
      { send: () => -Infinity, tagged: t.float('double', -Infinity) },
    ],
  },
  {
    type: 'decimal32',
    description: 'A 32-bit decimal floating point number',
    pass: '`amqp.decimal32(bytes)`: its 4 bytes (IEEE 754-2008, as on the wire)',
    samples: [{ send: () => amqp.decimal32(Buffer.from('2230000f', 'hex')), tagged: t.bytes('decimal32', '2230000f') }],
  },
  {
    type: 'decimal64',
    description: 'A 64-bit decimal floating point number',
    pass: '`amqp.decimal64(bytes)`: its 8 bytes',
    samples: [{ send: () => amqp.decimal64(Buffer.from('2238000000000010', 'hex')), tagged: t.bytes('decimal64', '2238000000000010') }],
  },
  {
    type: 'decimal128',
    description: 'A 128-bit decimal floating point number',
    pass: '`amqp.decimal128(bytes)`: its 16 bytes',
    samples: [
      {
        send: () => amqp.decimal128(Buffer.from('22080000000000000000000000000010', 'hex')),
        tagged: t.bytes('decimal128', '22080000000000000000000000000010'),
      },
    ],
  },
  {
    type: 'array',
    description: 'A sequence of values of a single type',
    pass: "`amqp.array('int', [1, 2])`, any element type but array; a descriptor as third argument",
    samples: [
      {
        label: 'int',
        send: () => amqp.array('int', [1, -2, 3]),
        tagged: t.array('int', [t.int('int', 1), t.int('int', -2), t.int('int', 3)]),
        lossy: 'element type lost',
      },
      {
        label: 'symbol',
        send: () => amqp.array('symbol', ['a', 'b']),
        tagged: t.array('symbol', [t.symbol('a'), t.symbol('b')]),
        lossy: 'element type lost',
      },
      {
        label: 'ulong',
        send: () => amqp.array('ulong', [0n, 2n ** 64n - 1n]),
        tagged: t.array('ulong', [t.int('ulong', 0), t.int('ulong', 2n ** 64n - 1n)]),
        lossy: 'element type lost, 8-byte Buffers beyond 2^53',
      },
      {
        label: 'boolean',
        send: () => amqp.array('boolean', [true, false]),
        tagged: t.array('boolean', [t.boolean(true), t.boolean(false)]),
        lossy: 'elements as 1 and 0',
      },
      {
        label: 'described string',
        send: () => amqp.array('string', ['x', 'y'], 'com.example:tags'),
        tagged: t.array('string', [t.string('x'), t.string('y')], t.symbol('com.example:tags')),
        lossy: 'element type and descriptor lost',
      },
      {
        label: 'double',
        send: () => amqp.array('double', [1.5, -0]),
        tagged: t.array('double', [t.float('double', 1.5), t.float('double', -0)]),
        lossy: 'element type lost',
        notOnRabbitMq: RABBIT_ARRAYS,
      },
      {
        label: 'uuid',
        send: () => amqp.array('uuid', [UUID]),
        tagged: t.array('uuid', [t.uuid(UUID)]),
        lossy: 'elements as 16-byte Buffers',
        notOnRabbitMq: RABBIT_ARRAYS,
      },
      {
        label: 'list',
        send: () => amqp.array('list', [[1, 'a'], []]),
        tagged: t.array('list', [t.list(t.int('uint', 1), t.string('a')), t.list()]),
        lossy: 'element type lost',
        notOnRabbitMq: RABBIT_ARRAYS,
      },
    ],
  },
  {
    type: 'list',
    description: 'A sequence of values of variable type',
    pass: 'an `Array` (or a `Set`)',
    samples: [
      {
        send: () => [1, 'a', null, [true, 0.5]],
        tagged: t.list(t.int('uint', 1), t.string('a'), t.null(), t.list(t.boolean(true), t.float('double', 0.5))),
        notOnRabbitMq: RABBIT_LIST_BODY,
      },
      { send: () => [], tagged: t.list() },
      {
        label: 'nested in a one-element list',
        send: () => [[1, 'a', null, [true, 0.5]]],
        tagged: t.list(t.list(t.int('uint', 1), t.string('a'), t.null(), t.list(t.boolean(true), t.float('double', 0.5)))),
      },
    ],
  },
  {
    type: 'map',
    description: 'A mapping from distinct keys to values',
    pass: 'an object (string keys), or a `Map` (keys of any type)',
    samples: [
      {
        send: () => ({ a: 1, b: 'x' }),
        tagged: t.map([t.string('a'), t.int('uint', 1)], [t.string('b'), t.string('x')]),
      },
      {
        label: 'non-string keys',
        send: () =>
          new Map<unknown, unknown>([
            [amqp.symbol('k'), amqp.ulong(7)],
            [amqp.uint(7), 'seven'],
          ]),
        tagged: t.map([t.symbol('k'), t.int('ulong', 7)], [t.int('uint', 7), t.string('seven')]),
        lossy: 'keys turned into strings',
      },
    ],
  },
  {
    type: 'uuid',
    description: 'A universally unique identifier',
    pass: '`amqp.uuid(string or 16 bytes)`',
    samples: [{ send: () => amqp.uuid(UUID.toUpperCase()), tagged: t.uuid(UUID), lossy: 'its 16 bytes' }],
  },
  {
    type: 'symbol',
    description: 'A 7-bit ASCII string from a constrained domain',
    pass: "`amqp.symbol('x')`",
    samples: [{ send: () => amqp.symbol('amqp:accepted:list'), tagged: t.symbol('amqp:accepted:list') }],
  },
  {
    type: 'timestamp',
    description: 'An absolute point in time',
    pass: 'a `Date`, or `amqp.timestamp(ms)` (number or bigint, the whole 64-bit range)',
    samples: [
      { send: () => new Date(1_700_000_000_123), tagged: t.int('timestamp', 1_700_000_000_123) },
      { send: () => amqp.timestamp(-1), tagged: t.int('timestamp', -1) },
      {
        label: '2^62 ms',
        send: () => amqp.timestamp(2n ** 62n),
        tagged: t.int('timestamp', 2n ** 62n),
        lossy: 'beyond the ±8.64e15 ms a Date holds',
      },
    ],
  },
  {
    type: 'described',
    description: 'A value with a descriptor (a symbol or ulong) saying what it is',
    pass: "`amqp.described('com.example:x', value)`, or a number or bigint descriptor",
    samples: [
      {
        send: () => amqp.described('com.example:point', [1, 2]),
        tagged: t.described(t.symbol('com.example:point'), t.list(t.int('uint', 1), t.int('uint', 2))),
        lossy: "the descriptor is lost (inside a list or map: rhea's `Typed` object)",
      },
      {
        label: 'ulong descriptor',
        send: () => amqp.described(0x0000_468c_0000_0001n, 'v'),
        tagged: t.described(t.int('ulong', 0x0000_468c_0000_0001n), t.string('v')),
        lossy: "the descriptor is lost (inside a list or map: rhea's `Typed` object)",
      },
    ],
  },
];

/** What RabbitMQ 3.10 cannot take: each closes the connection (checked by test/interop/proton.spec.ts). */
export interface RabbitMqRefusal {
  readonly what: string;
  /** A message (or body) that shows it. */
  readonly send: () => unknown;
}

export const RABBITMQ_REFUSES: readonly RabbitMqRefusal[] = [
  { what: RABBIT_ARRAYS, send: () => amqp.array('double', [1.5]) },
  { what: RABBIT_LIST_BODY, send: () => [1, 2] },
  { what: RABBIT_DESCRIBED_PROPERTY, send: () => message(null, { messageAnnotations: { 'x-opt-d': amqp.described('com.example:d', 'v') } }) },
];

/** Proton's class for each AMQP type: what Proton sends it from and decodes it into. */
export const PROTON_CLASSES: Readonly<Record<string, string>> = {
  null: 'None',
  boolean: 'bool',
  char: 'proton.char',
  string: 'str',
  binary: 'bytes',
  byte: 'proton.byte',
  short: 'proton.short',
  int: 'proton.int32',
  long: 'int',
  ubyte: 'proton.ubyte',
  ushort: 'proton.ushort',
  uint: 'proton.uint',
  ulong: 'proton.ulong',
  float: 'proton.float32',
  double: 'float',
  decimal32: 'proton.decimal32',
  decimal64: 'proton.decimal64',
  decimal128: 'proton.decimal128',
  array: 'proton.Array',
  list: 'list',
  map: 'dict',
  uuid: 'uuid.UUID',
  symbol: 'proton.symbol',
  timestamp: 'proton.timestamp',
  described: 'proton.Described',
};

/** A plain JavaScript value and the AMQP type rhea-rx sends it as (rhea's choice, kept). */
export interface PlainValue {
  readonly js: string;
  readonly send: () => unknown;
  readonly tagged: Tagged;
}

export const PLAIN_VALUES: readonly PlainValue[] = [
  { js: '`null`, `undefined`', send: () => undefined, tagged: t.null() },
  { js: '`true`, `false`', send: () => true, tagged: t.boolean(true) },
  { js: 'a `string`', send: () => 's', tagged: t.string('s') },
  { js: 'an integer 0 < n < 2^32, e.g. `5`', send: () => 5, tagged: t.int('uint', 5) },
  { js: 'an integer 2^32 ≤ n < 2^53, e.g. `2 ** 40`', send: () => 2 ** 40, tagged: t.int('ulong', 2 ** 40) },
  { js: 'an integer −2^31 + 1 < n ≤ 0, e.g. `0`, `-5`', send: () => 0, tagged: t.int('int', 0) },
  { js: 'an integer −2^53 < n ≤ −2^31 + 1, e.g. `-(2 ** 40)`', send: () => -(2 ** 40), tagged: t.int('long', -(2 ** 40)) },
  { js: 'any other `number`: `0.5`, `NaN`, `Infinity`, `-0`', send: () => 0.5, tagged: t.float('double', 0.5) },
  { js: 'a `bigint` −2^63 ≤ n < 2^63, e.g. `5n`', send: () => 5n, tagged: t.int('long', 5) },
  { js: 'a `Buffer` or `Uint8Array`', send: () => Buffer.from('hi'), tagged: t.bytes('binary', '6869') },
  { js: 'a `Date`', send: () => new Date(0), tagged: t.int('timestamp', 0) },
  { js: 'an `Array` or `Set`', send: () => new Set(['a']), tagged: t.list(t.string('a')) },
  { js: 'a `Map`', send: () => new Map([[1, true]]), tagged: t.map([t.int('uint', 1), t.boolean(true)]) },
  { js: 'any other object', send: () => ({ k: 'v' }), tagged: t.map([t.string('k'), t.string('v')]) },
];

/** Values rhea would change without a word: rhea-rx throws `MessageEncodeError` instead. */
export interface RejectedValue {
  readonly js: string;
  readonly send: () => unknown;
  readonly instead: string;
}

export const REJECTED_VALUES: readonly RejectedValue[] = [
  { js: 'an integer beyond ±2^53, e.g. `2 ** 60`', send: () => 2 ** 60, instead: 'a `bigint`, or `amqp.ulong()`' },
  { js: '`1e20`', send: () => 1e20, instead: 'a `bigint`, or `amqp.double(1e20)`' },
  { js: 'a `bigint` beyond the long range, e.g. `2n ** 63n`', send: () => 2n ** 63n, instead: '`amqp.ulong(2n ** 63n)` if it is unsigned' },
  { js: 'a string with an unpaired surrogate', send: () => 'a\ud800', instead: 'a well-formed string' },
  { js: 'a JavaScript `Symbol`, a function', send: () => Symbol('s'), instead: "`amqp.symbol('s')` for an AMQP symbol" },
  { js: 'an invalid `Date`', send: () => new Date(Number.NaN), instead: '' },
  { js: 'an object nested more than 64 levels (or a cycle)', send: () => cyclic(), instead: '' },
  { js: "`amqp.array('array', …)`, a described value of a described value", send: () => amqp.described('a', amqp.described('b', 1)), instead: '(rhea cannot encode them)' },
];

function cyclic(): unknown {
  const o: Record<string, unknown> = {};
  o.self = o;
  return o;
}

/** A message-id or correlation-id as given, and the AMQP type it is sent as. */
export interface IdSample {
  readonly js: string;
  readonly send: () => unknown;
  readonly tagged: Tagged;
}

export const ID_SAMPLES: readonly IdSample[] = [
  { js: "a `string`, e.g. `'order-1'`", send: () => 'order-1', tagged: t.string('order-1') },
  { js: 'a non-negative integer below 2^53, e.g. `42`', send: () => 42, tagged: t.int('ulong', 42) },
  { js: 'a `bigint`, or `amqp.ulong(n)`', send: () => 2n ** 63n, tagged: t.int('ulong', 2n ** 63n) },
  { js: '`amqp.uuid(…)`', send: () => amqp.uuid(UUID), tagged: t.uuid(UUID) },
  { js: 'a `Buffer` of 16 bytes (rhea’s rule, so a received uuid can be sent back)', send: () => Buffer.alloc(16, 7), tagged: t.uuid('07070707-0707-0707-0707-070707070707') },
  { js: 'a `Buffer` of any other length', send: () => Buffer.from('abc'), tagged: t.bytes('binary', '616263') },
  { js: '`amqp.binary(bytes)`, for 16 bytes', send: () => amqp.binary(Buffer.alloc(16, 1)), tagged: t.bytes('binary', '01'.repeat(16)) },
];

/** JMS message types (AMQP JMS mapping): the body to send, and the `x-opt-jms-msg-type` annotation that names it. */
export interface JmsType {
  readonly jms: string;
  readonly code: number;
  readonly body: string;
  readonly send: () => unknown;
  readonly tagged: Tagged;
  readonly notOnRabbitMq?: string;
}

export const JMS_TYPES: readonly JmsType[] = [
  { jms: 'TextMessage', code: 5, body: 'a `string`', send: () => 'text', tagged: t.string('text') },
  { jms: 'BytesMessage', code: 3, body: 'a `Buffer`', send: () => Buffer.from('bytes'), tagged: t.bytes('binary', Buffer.from('bytes').toString('hex')) },
  { jms: 'MapMessage', code: 2, body: 'an object or `Map`', send: () => ({ k: 'v' }), tagged: t.map([t.string('k'), t.string('v')]) },
  { jms: 'StreamMessage', code: 4, body: 'an `Array`', send: () => ['a', 1], tagged: t.list(t.string('a'), t.int('uint', 1)), notOnRabbitMq: RABBIT_LIST_BODY },
  { jms: 'ObjectMessage', code: 1, body: 'any other value (an AMQP-typed object)', send: () => 5n, tagged: t.int('long', 5) },
];

/** The header and properties fields the interop test sets, with the types the spec gives them. */
export interface FieldRow {
  readonly amqp: string;
  readonly rheaRx: string;
  readonly type: string;
  readonly js: string;
  readonly proton: string;
}

export const FIELD_ROWS: readonly FieldRow[] = [
  { amqp: 'durable', rheaRx: '`header.durable`', type: 'boolean', js: '`boolean`', proton: '`Message.durable`' },
  { amqp: 'priority', rheaRx: '`header.priority`', type: 'ubyte', js: '`number`', proton: '`Message.priority`' },
  { amqp: 'ttl', rheaRx: '`header.ttl`', type: 'uint (milliseconds)', js: '`number` (ms)', proton: '`Message.ttl` (**seconds**, a float)' },
  { amqp: 'message-id', rheaRx: '`properties.messageId`', type: 'ulong, uuid, binary or string', js: 'see below', proton: '`Message.id`' },
  { amqp: 'correlation-id', rheaRx: '`properties.correlationId`', type: 'ulong, uuid, binary or string', js: 'see below', proton: '`Message.correlation_id`' },
  { amqp: 'subject', rheaRx: '`properties.subject`', type: 'string', js: '`string`', proton: '`Message.subject`' },
  { amqp: 'content-type', rheaRx: '`properties.contentType`', type: 'symbol', js: '`string` (ASCII)', proton: '`Message.content_type`' },
  { amqp: 'reply-to', rheaRx: '`properties.replyTo`', type: 'string (address)', js: '`string`', proton: '`Message.reply_to`' },
  { amqp: 'group-id', rheaRx: '`properties.groupId`', type: 'string', js: '`string`', proton: '`Message.group_id`' },
  { amqp: 'application-properties', rheaRx: '`applicationProperties`', type: 'map, string keys', js: 'an object; values as in the body', proton: '`Message.properties`' },
  { amqp: 'message-annotations', rheaRx: '`messageAnnotations`', type: 'map, symbol keys', js: 'an object; values as in the body', proton: '`Message.annotations`' },
];

// ---------------------------------------------------------------------------------------------
// What rhea-rx's two decodes make of a sample, computed with the codec (no peer).

/** The encoded bytes of a message with this body (or this whole message). */
export function encode(body: unknown): Buffer {
  return rhea.message.encode(toRheaMessage(body)) as Buffer;
}

/** The body as the default decode (rhea's) gives it. */
export function defaultDecode(bytes: Buffer): unknown {
  return fromRheaMessage(rhea.message.decode(bytes) as unknown as RheaMessage).body;
}

/** The body as the typed decode (`{ typed: true }`) gives it. */
export function typedDecode(bytes: Buffer): unknown {
  return decodeTypedMessage(bytes).body;
}

/** What kind of JavaScript value `v` is, as the table names it. */
export function kindOf(v: unknown): string {
  if (v === null) return '`null`';
  if (v === undefined) return '`undefined`';
  if (typeof v !== 'object') return `\`${typeof v}\``;
  if (Buffer.isBuffer(v)) return '`Buffer`';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid `Date`' : '`Date`';
  if (v instanceof AmqpScalar) {
    const inner: unknown = v.value;
    return `\`AmqpScalar\` (\`.value\` ${Buffer.isBuffer(inner) ? 'Buffer' : typeof inner})`;
  }
  if (v instanceof AmqpArray) return `\`AmqpArray\` (\`.values\` ${v.values.length > 0 ? kindOfElement(v.values[0]) : '[]'}[])`;
  if (v instanceof AmqpDescribed) return '`AmqpDescribed`';
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((e) => Buffer.isBuffer(e))) return '`Buffer[]`';
    const first = typeof v[0];
    return v.length > 0 && first !== 'object' && v.every((e) => typeof e === first) ? `\`${first}[]\`` : '`Array`';
  }
  if (v instanceof Map) return '`Map`';
  if ('typecode' in (v as object) && 'content' in (v as object)) return "rhea's section object";
  if ('type' in (v as object) && 'value' in (v as object)) return "rhea's `Typed`";
  return 'object';
}

function kindOfElement(e: unknown): string {
  if (Buffer.isBuffer(e)) return 'Buffer';
  if (e instanceof Date) return 'Date';
  if (Array.isArray(e)) return 'Array';
  return typeof e;
}

/**
 * One column of the table: what the decode gives for each sample (with how it differs from what was
 * sent, where `withLoss`), the first as it is, the others that differ from it named by label.
 */
function column(row: TypeRow, decode: (bytes: Buffer) => unknown, withLoss: boolean): string {
  const groups = new Map<string, string[]>();
  for (const [i, sample] of row.samples.entries()) {
    const kind = kindOf(decode(encode(sample.send())));
    const text = withLoss && sample.lossy !== undefined ? `${kind}, ${sample.lossy}` : kind;
    const names = groups.get(text) ?? [];
    names.push(sample.label ?? `sample ${i + 1}`);
    groups.set(text, names);
  }
  return [...groups].map(([text, names], i) => (i === 0 ? text : `${text} (${names.join(', ')})`)).join('; ');
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The docs/types.md file, rendered from the lists above and the codec. */
export function renderTypesDoc(): string {
  const lines: string[] = [];
  const push = (...l: string[]): void => void lines.push(...l);
  push(
    '# AMQP types in rhea-rx',
    '',
    '<!-- Generated by test/unit/types/typeTable.spec.ts from test/interop/typeTable.ts: do not edit by hand.',
    '     `UPDATE_TYPES_DOC=1 npx vitest run test/unit/types` rewrites it; test/interop/proton.spec.ts checks every',
    '     row against RabbitMQ 3.10 and Qpid Proton Python. -->',
    '',
    'AMQP messages are made of AMQP-typed values. rhea-rx sends a plain JavaScript value as the AMQP type its',
    'JavaScript type suggests (the tables below), and an explicit wrapper — `amqp.ubyte(5)`,',
    "`amqp.symbol('x')`, `amqp.ulong(2n ** 64n - 1n)`, `amqp.array('int', [1, 2])` — as exactly the type it names.",
    '',
    'A receiver chooses how values come back:',
    '',
    "- **Default decode** (rhea's): every integer type is a plain `number`, a symbol a `string`, a uuid a",
    '  `Buffer`; 64-bit integers beyond 2^53 + 2^32 are 8-byte Buffers, and those between 2^53 and',
    '  2^53 + 2^32 are rounded. Fine for JSON-like payloads; it cannot tell `ubyte` 5 from `uint` 5.',
    '- **Typed decode**, `client.receive(address, { typed: true })` (also `receiveOne`): every value of a type',
    "  JavaScript has no type of its own for arrives as a wrapper (`AmqpScalar`, `AmqpArray`, `AmqpDescribed`)",
    '  holding the exact value (64-bit integers as `bigint`), in the body, application properties,',
    '  annotations, footer and the message-id and correlation-id. A plain `number` is then always a',
    '  double. Whatever a typed receive gives is sent again as exactly the same types (so an integral',
    '  double, which a plain number would not be sent as, stays wrapped). `amqp.typeOf(value)` names the',
    '  AMQP type of any value it gives.',
    '',
    'Every wrapper checks its argument when made, and rhea-rx refuses (with `MessageEncodeError`, naming the',
    'path in the message) any value it could not send exactly.',
    '',
    '## The type table',
    '',
    'Like chapter 7.1 of the Qpid Proton Python client guide; the rhea-rx columns are computed by encoding',
    'and decoding each sample, and the interop test sends every sample both ways between rhea-rx and',
    'Qpid Proton Python 0.37 through RabbitMQ 3.10.8.',
    '',
    '| AMQP type | Description | rhea-rx: what you pass | Default decode gives | Typed decode gives | Qpid Proton Python |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const row of TYPE_ROWS) {
    push(
      `| ${row.type} | ${cell(row.description)} | ${cell(row.pass)} | ${cell(column(row, defaultDecode, true))} | ${cell(column(row, typedDecode, false))} | \`${PROTON_CLASSES[row.type]}\` |`,
    );
  }
  push(
    '',
    '**RabbitMQ 3.10** cannot take these values: each would close the connection, and every message in flight on it would',
    'lose its outcome. On a RabbitMQ 3.x connection rhea-rx does not send them: such a message gets a `rejected` outcome',
    'made by the client, with a `NotSupportedError` (condition `amqp:not-implemented`), and the stream goes on.',
    '',
  );
  for (const refusal of RABBITMQ_REFUSES) push(`- ${refusal.what}.`);
  push(
    '',
    'Every other value in the table passes through it unchanged, both ways. Qpid Proton Python sends no body',
    'section at all for a `None` body; RabbitMQ then delivers an empty data section (rhea’s section object with',
    'an empty Buffer, in both decodes).',
    '',
    'Proton sends each type from the class named, and decodes it into that class (for `long` and `double`,',
    "Python's own `int` and `float`).",
    '',
    '## What a plain JavaScript value is sent as',
    '',
    '| JavaScript value | AMQP type |',
    '| --- | --- |',
  );
  for (const p of PLAIN_VALUES) push(`| ${cell(p.js)} | ${p.tagged.type} |`);
  push(
    '',
    'Map keys follow the same rules; an object’s keys are strings. Application property values and annotation',
    'values too: `5` in `applicationProperties` is a `uint` — a peer expecting an `int` or a `long` needs',
    '`amqp.int(5)` or `5n`.',
    '',
    '## Values rhea-rx refuses',
    '',
    'rhea alone would send something else without a word; rhea-rx throws `MessageEncodeError` (its `path`',
    'names the value, e.g. `body.items[3]`) before anything is sent.',
    '',
    '| Value | Send instead |',
    '| --- | --- |',
  );
  for (const r of REJECTED_VALUES) push(`| ${cell(r.js)} | ${cell(r.instead)} |`);
  push(
    '',
    '## Header and properties',
    '',
    '| AMQP field | rhea-rx | AMQP type | JavaScript | Qpid Proton Python |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const f of FIELD_ROWS) push(`| ${f.amqp} | ${f.rheaRx} | ${f.type} | ${cell(f.js)} | ${f.proton} |`);
  push(
    '',
    'A message-id or correlation-id is sent as:',
    '',
    '| You pass | AMQP type |',
    '| --- | --- |',
  );
  for (const s of ID_SAMPLES) push(`| ${cell(s.js)} | ${s.tagged.type} |`);
  push(
    '',
    'The default decode gives a string, a number (ulong), or a Buffer for both uuid and binary; the typed',
    'decode gives a string, an `AmqpScalar` of type `ulong` or `uuid`, or a Buffer for binary (an',
    '`AmqpScalar` of type `binary` for 16 bytes, which a Buffer would be sent back as a uuid).',
    '',
    '## JMS message types',
    '',
    'A JMS client (Qpid JMS, ActiveMQ Artemis) picks the JMS message type from the body, or from the',
    '`x-opt-jms-msg-type` message annotation, a **byte**: set it with `amqp.byte(n)` — a plain `5` would be',
    'sent as a uint.',
    '',
    '```ts',
    "message('hello', { messageAnnotations: { 'x-opt-jms-msg-type': amqp.byte(5) } }) // a TextMessage",
    '```',
    '',
    '| Body | JMS message type | `x-opt-jms-msg-type` |',
    '| --- | --- | --- |',
  );
  for (const j of JMS_TYPES) push(`| ${cell(j.body)} | ${j.jms} | \`amqp.byte(${j.code})\` |`);
  push('');
  return lines.join('\n');
}

/** A message with every JMS type's annotation, as the interop test sends it. */
export function jmsMessage(j: JmsType): OutgoingMessage {
  return message(j.send(), { messageAnnotations: { 'x-opt-jms-msg-type': amqp.byte(j.code) } });
}

export { toTagged };
