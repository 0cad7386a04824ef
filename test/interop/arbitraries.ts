/**
 * fast-check arbitraries for AMQP values as rhea-rx sends them — plain JavaScript values and
 * `amqp.*` wrappers, nested — and what the typed decode must give back for each.
 */
import fc from 'fast-check';
import {
  amqp,
  AmqpArray,
  type AmqpArrayElementType,
  AmqpDescribed,
  AmqpScalar,
} from '../../src/index.js';

const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const MAX_DATE_MS = 8.64e15;

type ArrayType = Exclude<AmqpArrayElementType, 'array'>;

/** Element types RabbitMQ 3.10 can parse in an array (any other ends the connection). */
export const RABBITMQ_ARRAY_TYPES: readonly ArrayType[] = ['boolean', 'ubyte', 'ushort', 'uint', 'ulong', 'byte', 'short', 'int', 'long', 'string', 'symbol'];

export const ALL_ARRAY_TYPES: readonly ArrayType[] = [
  'null', 'boolean', 'ubyte', 'ushort', 'uint', 'ulong', 'byte', 'short', 'int', 'long', 'float', 'double', 'decimal32',
  'decimal64', 'decimal128', 'char', 'timestamp', 'uuid', 'binary', 'string', 'symbol', 'list', 'map',
];

const ascii = fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 12 });
/** Any code point but a lone surrogate: what a UTF-8 AMQP string can hold. */
const text = fc.string({ unit: 'binary', maxLength: 12 });
const bytes = (n?: number) => fc.uint8Array(n === undefined ? { maxLength: 24 } : { minLength: n, maxLength: n });
const safeInteger = fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 });
const date = fc.date({ noInvalidDate: true });
const descriptor = fc.oneof(ascii, fc.bigInt({ min: 0n, max: U64_MAX }));

/** The element values of an array of `type`, in the form `amqp.array()` takes. */
function elements(type: ArrayType, value: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'ubyte':
      return fc.integer({ min: 0, max: 0xff });
    case 'ushort':
      return fc.integer({ min: 0, max: 0xffff });
    case 'uint':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'ulong':
      return fc.bigInt({ min: 0n, max: U64_MAX });
    case 'byte':
      return fc.integer({ min: -0x80, max: 0x7f });
    case 'short':
      return fc.integer({ min: -0x8000, max: 0x7fff });
    case 'int':
      return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'long':
      return fc.bigInt({ min: I64_MIN, max: I64_MAX });
    case 'float':
      return fc.float();
    case 'double':
      return fc.double();
    case 'decimal32':
      return bytes(4).map((b) => Buffer.from(b));
    case 'decimal64':
      return bytes(8).map((b) => Buffer.from(b));
    case 'decimal128':
      return bytes(16).map((b) => Buffer.from(b));
    case 'char':
      return fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c));
    case 'timestamp':
      return date;
    case 'uuid':
      return fc.uuid();
    case 'binary':
      return bytes().map((b) => Buffer.from(b));
    case 'string':
      return text;
    case 'symbol':
      return ascii;
    case 'list':
      return fc.array(value, { maxLength: 3 });
    case 'map':
      return fc.dictionary(text, value, { maxKeys: 3 });
  }
}

export interface ValueOptions {
  /** Element types of generated arrays. @default every type rhea can write */
  readonly arrayTypes?: readonly ArrayType[];
  /** How deep lists, maps, arrays and described values nest. @default 3 */
  readonly depth?: number;
}

/** Any AMQP value but a list, map, array or described value: plain values and wrappers. */
export function amqpScalar(): fc.Arbitrary<unknown> {
  return fc.oneof(
    // Plain values, sent as the type their JavaScript type suggests.
    fc.constantFrom(null, undefined, true, false),
    text,
    safeInteger,
    fc.double().filter((n) => !Number.isInteger(n) || Math.abs(n) <= Number.MAX_SAFE_INTEGER),
    fc.bigInt({ min: I64_MIN, max: I64_MAX }),
    date,
    bytes().map((b) => Buffer.from(b)),
    bytes(),
    // Wrappers.
    fc.integer({ min: 0, max: 0xff }).map(amqp.ubyte),
    fc.integer({ min: 0, max: 0xffff }).map(amqp.ushort),
    fc.integer({ min: 0, max: 0xffffffff }).map(amqp.uint),
    fc.oneof(fc.bigInt({ min: 0n, max: U64_MAX }), fc.nat()).map(amqp.ulong),
    fc.integer({ min: -0x80, max: 0x7f }).map(amqp.byte),
    fc.integer({ min: -0x8000, max: 0x7fff }).map(amqp.short),
    fc.integer({ min: -0x80000000, max: 0x7fffffff }).map(amqp.int),
    fc.bigInt({ min: I64_MIN, max: I64_MAX }).map(amqp.long),
    fc.float().map(amqp.float),
    fc.double().map(amqp.double),
    bytes(4).map(amqp.decimal32),
    bytes(8).map(amqp.decimal64),
    bytes(16).map(amqp.decimal128),
    fc.integer({ min: 0, max: 0x10ffff }).map(amqp.char),
    fc.oneof(fc.bigInt({ min: I64_MIN, max: I64_MAX }), date).map(amqp.timestamp),
    fc.uuid().map(amqp.uuid),
    bytes().map(amqp.binary),
    ascii.map(amqp.symbol),
  );
}

/** Any AMQP value as rhea-rx sends it: plain values and wrappers, nested. */
export function amqpValue(options: ValueOptions = {}): fc.Arbitrary<unknown> {
  const arrayTypes = options.arrayTypes ?? ALL_ARRAY_TYPES;
  const scalar = amqpScalar();
  const key = fc.oneof(text, scalar);
  const { value } = fc.letrec<{ value: unknown; inner: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: options.depth ?? 3 },
      { arbitrary: tie('inner'), weight: 5 },
      { arbitrary: fc.tuple(descriptor, tie('inner')).map(([d, v]) => amqp.described(d, v)), weight: 1 },
    ),
    inner: fc.oneof(
      { depthSize: 'small', maxDepth: options.depth ?? 3 },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(text, tie('value'), { maxKeys: 4 }),
      fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((pairs) => new Map(pairs)),
      fc
        .constantFrom(...arrayTypes)
        .chain((type) =>
          fc.tuple(fc.constant(type), fc.array(elements(type, tie('value')), { maxLength: 4 }), fc.option(descriptor, { nil: undefined })),
        )
        .map(([type, values, d]) => amqp.array(type, values as never[], d)),
    ),
  }));
  return value;
}

function record(entries: Iterable<[string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

/**
 * What the typed decode gives for `v` once sent: a plain number as the integer type rhea picks for
 * it (or a double), a bigint as a long, an integral double wrapped, a timestamp as a Date where a Date
 * can hold it, bytes as a Buffer, a Set as a list, a map with only string keys as an object.
 */
export function expectedTyped(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  switch (typeof v) {
    case 'boolean':
    case 'string':
      return v;
    case 'number':
      if (!Number.isInteger(v) || Object.is(v, -0)) return v;
      if (v > 0) return v < 2 ** 32 ? amqp.uint(v) : amqp.ulong(v);
      return v > -2147483647 ? amqp.int(v) : amqp.long(v);
    case 'bigint':
      return amqp.long(v);
    default:
      break;
  }
  if (v instanceof AmqpScalar) {
    const inner: unknown = v.value;
    if (v.type === 'double') return Number.isInteger(inner) && !Object.is(inner, -0) ? v : inner;
    if (v.type === 'timestamp') {
      const ms = inner as bigint;
      return ms >= -MAX_DATE_MS && ms <= MAX_DATE_MS ? new Date(Number(ms)) : v;
    }
    if (v.type === 'binary') return inner;
    return v;
  }
  if (v instanceof AmqpArray) {
    if (v.elementType === 'list' || v.elementType === 'map') return new AmqpArray(v.elementType, v.values.map(expectedTyped) as never[], v.descriptor);
    return v;
  }
  if (v instanceof AmqpDescribed) return new AmqpDescribed(v.descriptor, expectedTyped(v.value));
  if (v instanceof Date) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length);
  if (Array.isArray(v) || v instanceof Set) return [...v].map(expectedTyped);
  if (v instanceof Map) {
    const entries = [...v].map(([k, x]): [unknown, unknown] => [expectedTyped(k), expectedTyped(x)]);
    return entries.every(([k]) => typeof k === 'string') ? record(entries as [string, unknown][]) : new Map(entries);
  }
  return record(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, expectedTyped(x)]));
}
