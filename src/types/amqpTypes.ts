/**
 * Explicitly typed AMQP values, for the AMQP types JavaScript has no type of its own for.
 *
 * A plain JavaScript value is encoded by guessing from its JavaScript type (an integer becomes a
 * `uint`, `int`, `ulong` or `long` by its size, a string a `string`, …). Where that guess is not the
 * type a peer expects — a `ubyte` priority of a JMS message type, a `symbol`, a `ulong` above 2^53,
 * an array of one element type — wrap the value: `amqp.ubyte(5)`, `amqp.symbol('x')`,
 * `amqp.ulong(2n ** 60n)`, `amqp.array('int', [1, 2])`, `amqp.described('com.example:x', value)`.
 *
 * A receive with `{ typed: true }` hands these wrappers back for every such value, so what was sent
 * is what arrives, type included (see docs/types.md for the whole mapping).
 *
 * This module does not depend on rhea: the codec (src/links/codec.ts) registers how a wrapper is
 * encoded, see {@link AmqpValue.toRheaTyped}.
 */
import { MessageEncodeError } from '../errors/errors.js';

/** AMQP types that have a wrapper of their own, {@link AmqpScalar}. */
export type AmqpScalarType =
  | 'ubyte'
  | 'ushort'
  | 'uint'
  | 'ulong'
  | 'byte'
  | 'short'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'decimal32'
  | 'decimal64'
  | 'decimal128'
  | 'char'
  | 'timestamp'
  | 'uuid'
  | 'binary'
  | 'symbol';

/** Every AMQP 1.0 type name (AMQP 1.0 part 1), plus `described` for a described value. */
export type AmqpTypeName = 'null' | 'boolean' | 'string' | 'list' | 'map' | 'array' | 'described' | AmqpScalarType;

/** The JavaScript value each {@link AmqpScalar} holds. */
export interface AmqpScalarValues {
  /** An unsigned 8-bit integer, 0 to 255. */
  ubyte: number;
  /** An unsigned 16-bit integer, 0 to 65535. */
  ushort: number;
  /** An unsigned 32-bit integer, 0 to 2^32 − 1. */
  uint: number;
  /** An unsigned 64-bit integer, 0 to 2^64 − 1; a bigint, so it is exact over the whole range. */
  ulong: bigint;
  /** A signed 8-bit integer, −128 to 127. */
  byte: number;
  /** A signed 16-bit integer, −32768 to 32767. */
  short: number;
  /** A signed 32-bit integer, −2^31 to 2^31 − 1. */
  int: number;
  /** A signed 64-bit integer, −2^63 to 2^63 − 1; a bigint, so it is exact over the whole range. */
  long: bigint;
  /** A 32-bit float, already rounded to 32-bit precision (`Math.fround`), so it arrives as it is held. */
  float: number;
  /** A 64-bit float: any JavaScript number, integers included. */
  double: number;
  /** The 4 bytes of the IEEE 754-2008 decimal32, as on the wire. */
  decimal32: Buffer;
  /** The 8 bytes of the IEEE 754-2008 decimal64, as on the wire. */
  decimal64: Buffer;
  /** The 16 bytes of the IEEE 754-2008 decimal128, as on the wire. */
  decimal128: Buffer;
  /** One Unicode code point, as a string of one character (two UTF-16 units above U+FFFF). */
  char: string;
  /** Milliseconds since the Unix epoch, signed 64-bit, so it also holds times a Date cannot. */
  timestamp: bigint;
  /** The canonical lower-case form, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
  uuid: string;
  /** Opaque bytes, sent as AMQP binary. */
  binary: Buffer;
  /** A symbol: an ASCII-only string. */
  symbol: string;
}

/** What each element of an {@link AmqpArray} is, by element type. */
export interface AmqpArrayElements {
  /** Only `null`: an array of AMQP nulls. */
  null: null;
  /** `true` or `false`. */
  boolean: boolean;
  /** An unsigned 8-bit integer, 0 to 255. */
  ubyte: number;
  /** An unsigned 16-bit integer, 0 to 65535. */
  ushort: number;
  /** An unsigned 32-bit integer, 0 to 2^32 − 1. */
  uint: number;
  /** An unsigned 64-bit integer, 0 to 2^64 − 1, held as a bigint (`amqp.array()` also takes safe-integer numbers). */
  ulong: bigint;
  /** A signed 8-bit integer, −128 to 127. */
  byte: number;
  /** A signed 16-bit integer, −32768 to 32767. */
  short: number;
  /** A signed 32-bit integer, −2^31 to 2^31 − 1. */
  int: number;
  /** A signed 64-bit integer, −2^63 to 2^63 − 1, held as a bigint (`amqp.array()` also takes safe-integer numbers). */
  long: bigint;
  /** A 32-bit float, rounded to 32-bit precision (`Math.fround`) when the array is made. */
  float: number;
  /** A 64-bit float: any JavaScript number. */
  double: number;
  /** The 4 bytes of an IEEE 754-2008 decimal32, as on the wire. */
  decimal32: Buffer;
  /** The 8 bytes of an IEEE 754-2008 decimal64, as on the wire. */
  decimal64: Buffer;
  /** The 16 bytes of an IEEE 754-2008 decimal128, as on the wire. */
  decimal128: Buffer;
  /** One Unicode code point, as a one-character string. */
  char: string;
  /** A point in time, as a valid Date (milliseconds since the Unix epoch on the wire). */
  timestamp: Date;
  /** A UUID in its canonical lower-case string form. */
  uuid: string;
  /** Opaque bytes. */
  binary: Buffer;
  /** A UTF-8 string. */
  string: string;
  /** A symbol: an ASCII-only string. */
  symbol: string;
  /** An AMQP list: a JavaScript array of any AMQP values. */
  list: unknown[];
  /** An AMQP map: a plain object (string keys) or a Map (keys of any AMQP type). */
  map: Record<string, unknown> | Map<unknown, unknown>;
  /** Arrays of arrays can be received, not sent (rhea cannot encode them). */
  array: AmqpArray;
}

/** The element types of an AMQP array. */
export type AmqpArrayElementType = keyof AmqpArrayElements;

/** What `amqp.array()` takes for each element: the element itself, or a number for a 64-bit integer. */
export type AmqpArrayInput<N extends AmqpArrayElementType> = N extends 'ulong' | 'long' ? number | bigint : AmqpArrayElements[N];

/** A descriptor: a symbol (a string) or an unsigned long (a bigint). */
export type AmqpDescriptor = string | bigint;

const BRAND: unique symbol = Symbol.for('rhea-rx.amqp-value');
const INSPECT: unique symbol = Symbol.for('nodejs.util.inspect.custom');

type Encoder = (value: AmqpValue) => unknown;
let encoder: Encoder | undefined;

/**
 * Registers how wrappers are encoded for rhea. Called once by the codec when it loads.
 * @internal
 */
export function registerAmqpEncoder(encode: Encoder): void {
  encoder = encode;
}

/** The base of every wrapper: {@link AmqpScalar}, {@link AmqpArray} and {@link AmqpDescribed}. */
export abstract class AmqpValue {
  /** The AMQP type this value is sent as, and was received as. */
  abstract readonly type: AmqpTypeName;

  /**
   * The value as rhea's codec writes it. rhea calls this wherever it meets the wrapper, so a wrapper
   * also works in link properties and filters, not only in messages.
   */
  toRheaTyped(): unknown {
    if (encoder === undefined) throw new Error('rhea-rx: the AMQP codec is not loaded (import rhea-rx, not one of its files)');
    return encoder(this);
  }

  /** @internal Marks wrappers for {@link isAmqpValue}, across copies of the package. */
  get [BRAND](): true {
    return true;
  }

  /** How Node's `util.inspect` (and so `console.log`) shows it, e.g. `[amqp uint(5)]`. */
  [INSPECT](): string {
    return `[amqp ${this.toString()}]`;
  }
}

/** True for every wrapper made by `amqp.*` (or received with `{ typed: true }`), from any copy of rhea-rx. */
export function isAmqpValue(value: unknown): value is AmqpTypedValue {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** A value of one of the {@link AmqpScalarType}s: `amqp.uint(5)` is `{ type: 'uint', value: 5 }`. */
export class AmqpScalar<N extends AmqpScalarType = AmqpScalarType> extends AmqpValue {
  /** The AMQP type, e.g. `'uint'`. */
  readonly type: N;
  /** The JavaScript value: a number, bigint, string, Buffer or Date, as {@link AmqpScalarValues} says for `type`. */
  readonly value: AmqpScalarValues[N];

  /** Use the `amqp.*` functions, which check and normalize the value. @internal */
  constructor(type: N, value: AmqpScalarValues[N]) {
    super();
    this.type = type;
    this.value = value;
  }

  /** The value itself, so that `amqp.uint(5) + 1 === 6` and `amqp.long(5n) === 5n` in comparisons with `==`. */
  override valueOf(): AmqpScalarValues[N] {
    return this.value;
  }

  /** JSON has no 64-bit integers or bytes: bigints become decimal strings, bytes hex. */
  toJSON(): unknown {
    const v: unknown = this.value;
    if (typeof v === 'bigint') return v.toString();
    if (Buffer.isBuffer(v)) return v.toString('hex');
    return v;
  }

  /** The type and the value, e.g. `uint(5)`, `ulong(18446744073709551615)` or `symbol("x")`. */
  override toString(): string {
    const v = this.toJSON();
    return `${this.type}(${typeof this.value === 'string' ? JSON.stringify(v) : String(v)})`;
  }
}

/** An AMQP array: a sequence of values of one element type, made by `amqp.array()`. */
export class AmqpArray<N extends AmqpArrayElementType = AmqpArrayElementType> extends AmqpValue {
  /** Always `'array'`. */
  readonly type = 'array' as const;
  /** The AMQP type of every element. */
  readonly elementType: N;
  /** The elements, as {@link AmqpArrayElements} says for `elementType`. */
  readonly values: readonly AmqpArrayElements[N][];
  /** Set when every element is described with this descriptor (a described array). */
  readonly descriptor: AmqpDescriptor | undefined;

  /** Use `amqp.array()`, which checks and normalizes the elements. @internal */
  constructor(elementType: N, values: readonly AmqpArrayElements[N][], descriptor?: AmqpDescriptor) {
    super();
    this.elementType = elementType;
    this.values = values;
    this.descriptor = descriptor;
  }

  /** The element type and the number of elements, e.g. `array<int>(3)`; not the elements. */
  override toString(): string {
    return `array<${this.elementType}>(${this.values.length})`;
  }
}

/** A described value: a descriptor (symbol or ulong) and the value it describes, made by `amqp.described()`. */
export class AmqpDescribed<V = unknown> extends AmqpValue {
  /** Always `'described'`. */
  readonly type = 'described' as const;
  /** The descriptor: a symbol (string) or a ulong (bigint). */
  readonly descriptor: AmqpDescriptor;
  /** The value it describes. */
  readonly value: V;

  /** Use `amqp.described()`, which checks the descriptor. @internal */
  constructor(descriptor: AmqpDescriptor, value: V) {
    super();
    this.descriptor = descriptor;
    this.value = value;
  }

  /** The descriptor only, e.g. `described(com.example:x)`, or a ulong one in hex: `described(0x70)`. */
  override toString(): string {
    return `described(${typeof this.descriptor === 'bigint' ? `0x${this.descriptor.toString(16)}` : this.descriptor})`;
  }
}

/** Any wrapper. */
export type AmqpTypedValue = AmqpScalar | AmqpArray | AmqpDescribed;

// ---------------------------------------------------------------------------------------------
// Checks. Each throws MessageEncodeError (path '': the value is not in a message yet) naming what is
// wrong, so that nothing that cannot be sent exactly is ever made.

function refuse(message: string): never {
  throw new MessageEncodeError('', message);
}

function integerIn(type: string, n: unknown, min: number, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    refuse(`amqp.${type}() takes an integer from ${min} to ${max}, got ${describe(n)}`);
  }
  return n === 0 ? 0 : n; // an integer type has no -0
}

function bigIn(type: string, n: unknown, min: bigint, max: bigint): bigint {
  let v: bigint;
  if (typeof n === 'bigint') v = n;
  else if (typeof n === 'number' && Number.isSafeInteger(n)) v = BigInt(n);
  else refuse(`amqp.${type}() takes a bigint, or a number that is a safe integer (|n| < 2^53), got ${describe(n)}`);
  if (v < min || v > max) refuse(`amqp.${type}() takes ${min} to ${max}, got ${v}`);
  return v;
}

function bytesOf(type: string, b: unknown, length?: number): Buffer {
  if (!(b instanceof Uint8Array)) refuse(`amqp.${type}() takes a Buffer or Uint8Array, got ${describe(b)}`);
  if (length !== undefined && b.length !== length) refuse(`amqp.${type}() takes exactly ${length} bytes, got ${b.length}`);
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === null) return 'null';
  if (typeof v === 'object') return v.constructor?.name ?? 'an object';
  return typeof v;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_DATE_MS = 8.64e15;
const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function float32(n: unknown): number {
  if (typeof n !== 'number') refuse(`amqp.float() takes a number, got ${describe(n)}`);
  const f = Math.fround(n);
  if (Number.isFinite(n) && !Number.isFinite(f)) refuse(`amqp.float(): ${n} is beyond the 32-bit float range (±3.4028234663852886e38)`);
  return f;
}

function charOf(c: unknown): string {
  if (typeof c === 'number') {
    integerIn('char', c, 0, 0x10ffff);
    return String.fromCodePoint(c);
  }
  if (typeof c !== 'string' || c.length === 0 || c.length > 2 || String.fromCodePoint(c.codePointAt(0)!) !== c) {
    refuse(`amqp.char() takes one Unicode code point (a string of one character, or a number), got ${describe(c)}`);
  }
  return c;
}

function uuidOf(u: unknown): string {
  if (typeof u === 'string') {
    if (!UUID_RE.test(u)) refuse(`amqp.uuid() takes a UUID string (8-4-4-4-12 hex digits) or 16 bytes, got ${describe(u)}`);
    return u.toLowerCase();
  }
  return uuidString(bytesOf('uuid', u, 16));
}

/** The canonical string form of 16 UUID bytes. */
export function uuidString(b: Uint8Array): string {
  const h = Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The 16 bytes of a canonical UUID string. */
export function uuidBytes(u: string): Buffer {
  return Buffer.from(u.replace(/-/g, ''), 'hex');
}

function symbolOf(s: unknown): string {
  // eslint-disable-next-line no-control-regex
  if (typeof s !== 'string' || !/^[\x00-\x7f]*$/.test(s)) refuse(`amqp.symbol() takes an ASCII string, got ${describe(s)}`);
  return s;
}

function timestampOf(t: unknown): bigint {
  if (t instanceof Date) {
    const ms = t.getTime();
    if (Number.isNaN(ms)) refuse('amqp.timestamp() got an invalid Date');
    return BigInt(ms);
  }
  return bigIn('timestamp', t, I64_MIN, I64_MAX);
}

function descriptorOf(d: unknown): AmqpDescriptor {
  if (typeof d === 'string') return symbolOf(d);
  if (typeof d === 'number' || typeof d === 'bigint') return bigIn('described', d, 0n, U64_MAX);
  return refuse(`amqp.described() takes a symbol (string) or ulong (number or bigint) descriptor, got ${describe(d)}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date) && !isAmqpValue(v);
}

/** Checks one array element and returns it in the form {@link AmqpArray} holds. */
function element(type: AmqpArrayElementType, v: unknown, i: number): unknown {
  const where = (what: string): never => refuse(`amqp.array('${type}'): element ${i} ${what}, got ${describe(v)}`);
  switch (type) {
    case 'null':
      return v === null ? null : where('must be null');
    case 'boolean':
      return typeof v === 'boolean' ? v : where('must be a boolean');
    case 'double':
      return typeof v === 'number' ? v : where('must be a number');
    case 'string':
      return typeof v === 'string' ? v : where('must be a string');
    case 'binary':
      return v instanceof Uint8Array ? bytesOf('binary', v) : where('must be a Buffer');
    case 'timestamp':
      return v instanceof Date && !Number.isNaN(v.getTime()) ? v : where('must be a valid Date');
    case 'list':
      return Array.isArray(v) ? v : where('must be an array (an AMQP list)');
    case 'map':
      return v instanceof Map || isRecord(v) ? v : where('must be an object or a Map');
    case 'array':
      return v instanceof AmqpArray ? v : where('must be an amqp.array()');
    default:
      return (scalar[type] as (x: unknown) => AmqpScalar)(v).value;
  }
}

const ARRAY_TYPES: ReadonlySet<string> = new Set<AmqpArrayElementType>([
  'null', 'boolean', 'ubyte', 'ushort', 'uint', 'ulong', 'byte', 'short', 'int', 'long', 'float', 'double', 'decimal32',
  'decimal64', 'decimal128', 'char', 'timestamp', 'uuid', 'binary', 'string', 'symbol', 'list', 'map', 'array',
]);

const scalar = {
  /** An unsigned 8-bit integer, 0 to 255. */
  ubyte: (n: number): AmqpScalar<'ubyte'> => new AmqpScalar('ubyte', integerIn('ubyte', n, 0, 0xff)),
  /** An unsigned 16-bit integer, 0 to 65535. */
  ushort: (n: number): AmqpScalar<'ushort'> => new AmqpScalar('ushort', integerIn('ushort', n, 0, 0xffff)),
  /** An unsigned 32-bit integer, 0 to 2^32 − 1. */
  uint: (n: number): AmqpScalar<'uint'> => new AmqpScalar('uint', integerIn('uint', n, 0, 0xffffffff)),
  /** An unsigned 64-bit integer, 0 to 2^64 − 1: a bigint, or a number up to 2^53 − 1. */
  ulong: (n: number | bigint): AmqpScalar<'ulong'> => new AmqpScalar('ulong', bigIn('ulong', n, 0n, U64_MAX)),
  /** A signed 8-bit integer, −128 to 127. */
  byte: (n: number): AmqpScalar<'byte'> => new AmqpScalar('byte', integerIn('byte', n, -0x80, 0x7f)),
  /** A signed 16-bit integer, −32768 to 32767. */
  short: (n: number): AmqpScalar<'short'> => new AmqpScalar('short', integerIn('short', n, -0x8000, 0x7fff)),
  /** A signed 32-bit integer, −2^31 to 2^31 − 1. */
  int: (n: number): AmqpScalar<'int'> => new AmqpScalar('int', integerIn('int', n, -0x80000000, 0x7fffffff)),
  /** A signed 64-bit integer, −2^63 to 2^63 − 1: a bigint, or a number with |n| < 2^53. */
  long: (n: number | bigint): AmqpScalar<'long'> => new AmqpScalar('long', bigIn('long', n, I64_MIN, I64_MAX)),
  /** A 32-bit float. The value is rounded to 32-bit precision here (`Math.fround`), visibly: `.value` is what is sent. */
  float: (n: number): AmqpScalar<'float'> => new AmqpScalar('float', float32(n)),
  /** A 64-bit float, for an integer value that would otherwise be sent as an integer type. */
  double: (n: number): AmqpScalar<'double'> =>
    new AmqpScalar('double', typeof n === 'number' ? n : refuse(`amqp.double() takes a number, got ${describe(n)}`)),
  /** A decimal32, as its 4 bytes (IEEE 754-2008, as on the wire). */
  decimal32: (bytes: Uint8Array): AmqpScalar<'decimal32'> => new AmqpScalar('decimal32', bytesOf('decimal32', bytes, 4)),
  /** A decimal64, as its 8 bytes (IEEE 754-2008, as on the wire). */
  decimal64: (bytes: Uint8Array): AmqpScalar<'decimal64'> => new AmqpScalar('decimal64', bytesOf('decimal64', bytes, 8)),
  /** A decimal128, as its 16 bytes (IEEE 754-2008, as on the wire). */
  decimal128: (bytes: Uint8Array): AmqpScalar<'decimal128'> => new AmqpScalar('decimal128', bytesOf('decimal128', bytes, 16)),
  /** One Unicode character (code point): a one-character string or a code point number. */
  char: (c: string | number): AmqpScalar<'char'> => new AmqpScalar('char', charOf(c)),
  /** A timestamp from a Date, or milliseconds since the epoch (number or bigint, the full 64-bit range). */
  timestamp: (t: Date | number | bigint): AmqpScalar<'timestamp'> => new AmqpScalar('timestamp', timestampOf(t)),
  /** A UUID from its string form or its 16 bytes. */
  uuid: (u: string | Uint8Array): AmqpScalar<'uuid'> => new AmqpScalar('uuid', uuidOf(u)),
  /** Binary, explicitly: needed only for a 16-byte message-id or correlation-id, which is otherwise sent as a uuid. */
  binary: (bytes: Uint8Array): AmqpScalar<'binary'> => new AmqpScalar('binary', bytesOf('binary', bytes)),
  /** A symbol: an ASCII string from a constrained domain (annotation keys, JMS type names, …). */
  symbol: (s: string): AmqpScalar<'symbol'> => new AmqpScalar('symbol', symbolOf(s)),
};

/**
 * The AMQP type of a value as a typed receive (`{ typed: true }`) hands it over: the wrapper's
 * `type`, or for a plain value `null`, `boolean`, `string`, `binary` (Buffer), `double` (number),
 * `timestamp` (Date), `list` (array) or `map` (object or Map). A bigint, which a typed receive never
 * returns, is what it is sent as: `long`. `undefined` is sent as `null`.
 */
function typeOf(value: unknown): AmqpTypeName {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    case 'number':
      return 'double';
    case 'bigint':
      return 'long';
    default:
      break;
  }
  if (isAmqpValue(value)) return value.type;
  if (value instanceof Uint8Array) return 'binary';
  if (value instanceof Date) return 'timestamp';
  if (Array.isArray(value) || value instanceof Set) return 'list';
  if (typeof value === 'object') return 'map';
  throw new TypeError(`amqp.typeOf(): a ${typeof value} is not an AMQP value`);
}

/**
 * Explicitly typed AMQP values. Each function checks its argument and throws
 * {@link MessageEncodeError} for anything that would not be sent exactly as given.
 *
 * @example
 * message(order, {
 *   properties: { messageId: amqp.uuid(randomUUID()) },
 *   messageAnnotations: { 'x-opt-jms-msg-type': amqp.byte(5) },
 *   applicationProperties: { attempts: amqp.ubyte(3), total: amqp.ulong(2n ** 60n) },
 * })
 */
export const amqp = Object.freeze({
  ...scalar,
  /**
   * An AMQP array: values of one element type, e.g. `amqp.array('int', [1, 2])`,
   * `amqp.array('symbol', ['a', 'b'])`, `amqp.array('ulong', [1n, 2n ** 63n])`. With a descriptor,
   * every element is described by it. Arrays of arrays cannot be sent.
   */
  array<N extends Exclude<AmqpArrayElementType, 'array'>>(
    elementType: N,
    values: Iterable<AmqpArrayInput<N>>,
    descriptor?: string | number | bigint,
  ): AmqpArray<N> {
    if (typeof elementType !== 'string' || !ARRAY_TYPES.has(elementType) || (elementType as string) === 'array') {
      refuse(`amqp.array() takes an element type (${[...ARRAY_TYPES].filter((t) => t !== 'array').join(', ')}), got ${describe(elementType)}`);
    }
    const list = [...values].map((v, i) => element(elementType, v, i)) as AmqpArrayElements[N][];
    return new AmqpArray(elementType, list, descriptor === undefined ? undefined : descriptorOf(descriptor));
  },
  /**
   * A described value: `descriptor` is a symbol (string) or a ulong (number or bigint); the value
   * is any AMQP value, checked when the message is encoded.
   */
  described<V>(descriptor: string | number | bigint, value: V): AmqpDescribed<V> {
    return new AmqpDescribed(descriptorOf(descriptor), value);
  },
  /**
   * The AMQP type of a value as a typed receive (`{ typed: true }`) hands it over: the wrapper's
   * `type`, or for a plain value `null`, `boolean`, `string`, `binary` (Buffer), `double` (number),
   * `timestamp` (Date), `list` (array) or `map` (object or Map). A bigint is what it is sent as:
   * `long`; `undefined` is sent as `null`.
   *
   * @throws `TypeError` for a value that is not an AMQP value (a function, a JavaScript symbol).
   * @example
   * amqp.typeOf(amqp.ubyte(5)); // 'ubyte'
   * amqp.typeOf(new Date());    // 'timestamp'
   */
  typeOf: (value: unknown): AmqpTypeName => typeOf(value),
});

/** Used by the typed decoder: a timestamp as a Date where a Date can hold it. */
export function timestampValue(ms: bigint): Date | AmqpScalar<'timestamp'> {
  return ms >= -MAX_DATE_MS && ms <= MAX_DATE_MS ? new Date(Number(ms)) : new AmqpScalar('timestamp', ms);
}
