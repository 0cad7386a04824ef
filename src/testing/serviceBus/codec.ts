/**
 * A small AMQP 1.0 type-system codec that keeps every value's AMQP type.
 *
 * rhea decodes values into plain JavaScript values (an `int` and a `long` both become numbers, a
 * uuid becomes a Buffer), which is fine for an application but not for a broker that must hand a
 * message back exactly as it was sent, nor for a capture that compares what two clients put on the
 * wire. Values here are tagged with their AMQP type; encoding picks the compact encodings
 * (`smalluint`, `str8`, …), which carry the same type.
 */

import type { AmqpTypeName } from '../../types/amqpTypes.js';
import { FULL_WIDTH_CONSTRUCTOR } from '../../types/constructors.js';

/** The names of the AMQP primitive types (the library's own list). */
export type { AmqpTypeName };

/** An AMQP value with its type. Timestamps are milliseconds since the Unix epoch. */
export type AmqpValue =
  | { readonly type: 'null' }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'ubyte' | 'ushort' | 'uint' | 'byte' | 'short' | 'int' | 'float' | 'double' | 'char'; readonly value: number }
  | { readonly type: 'ulong' | 'long'; readonly value: bigint }
  | { readonly type: 'timestamp'; readonly value: number }
  | { readonly type: 'uuid'; readonly value: string }
  | { readonly type: 'binary' | 'decimal32' | 'decimal64' | 'decimal128'; readonly value: Buffer }
  | { readonly type: 'string' | 'symbol'; readonly value: string }
  | { readonly type: 'list'; readonly value: readonly AmqpValue[] }
  | { readonly type: 'map'; readonly value: ReadonlyArray<readonly [AmqpValue, AmqpValue]> }
  | {
      readonly type: 'array';
      /** The element constructor's type (for a described element type, `described` with `descriptor`). */
      readonly elementType: AmqpTypeName;
      readonly descriptor?: AmqpValue;
      readonly value: readonly AmqpValue[];
    }
  | { readonly type: 'described'; readonly descriptor: AmqpValue; readonly value: AmqpValue };

export type AmqpMap = Extract<AmqpValue, { type: 'map' }>;
export type AmqpList = Extract<AmqpValue, { type: 'list' }>;

/** Constructors for typed values. */
export const amqp = {
  null: (): AmqpValue => ({ type: 'null' }),
  bool: (value: boolean): AmqpValue => ({ type: 'boolean', value }),
  ubyte: (value: number): AmqpValue => ({ type: 'ubyte', value }),
  ushort: (value: number): AmqpValue => ({ type: 'ushort', value }),
  uint: (value: number): AmqpValue => ({ type: 'uint', value }),
  int: (value: number): AmqpValue => ({ type: 'int', value }),
  ulong: (value: number | bigint): AmqpValue => ({ type: 'ulong', value: BigInt(value) }),
  long: (value: number | bigint): AmqpValue => ({ type: 'long', value: BigInt(value) }),
  double: (value: number): AmqpValue => ({ type: 'double', value }),
  timestamp: (ms: number): AmqpValue => ({ type: 'timestamp', value: Math.trunc(ms) }),
  uuid: (value: string): AmqpValue => ({ type: 'uuid', value: value.toLowerCase() }),
  binary: (value: Buffer): AmqpValue => ({ type: 'binary', value }),
  string: (value: string): AmqpValue => ({ type: 'string', value }),
  symbol: (value: string): AmqpValue => ({ type: 'symbol', value }),
  list: (value: AmqpValue[]): AmqpList => ({ type: 'list', value }),
  map: (entries: Array<readonly [AmqpValue, AmqpValue]>): AmqpMap => ({ type: 'map', value: entries }),
  /** A map keyed by strings (the shape of management request and response bodies). */
  stringMap: (entries: Record<string, AmqpValue>): AmqpMap => ({
    type: 'map',
    value: Object.entries(entries).map(([k, v]) => [amqp.string(k), v] as const),
  }),
  /** A map keyed by symbols (the shape of annotations and link properties). */
  symbolMap: (entries: Record<string, AmqpValue>): AmqpMap => ({
    type: 'map',
    value: Object.entries(entries).map(([k, v]) => [amqp.symbol(k), v] as const),
  }),
  array: (elementType: AmqpTypeName, value: AmqpValue[]): AmqpValue => ({ type: 'array', elementType, value }),
  described: (descriptor: AmqpValue, value: AmqpValue): AmqpValue => ({ type: 'described', descriptor, value }),
};

/** Thrown when bytes are not a valid AMQP encoding. */
export class AmqpDecodeError extends Error {
  override readonly name = 'AmqpDecodeError';
}

// ---------------------------------------------------------------------------------------------
// Decoding

const FIXED: Record<number, { type: AmqpTypeName; width: number }> = {
  0x56: { type: 'boolean', width: 1 },
  0x50: { type: 'ubyte', width: 1 },
  0x60: { type: 'ushort', width: 2 },
  0x70: { type: 'uint', width: 4 },
  0x52: { type: 'uint', width: 1 },
  0x80: { type: 'ulong', width: 8 },
  0x53: { type: 'ulong', width: 1 },
  0x51: { type: 'byte', width: 1 },
  0x61: { type: 'short', width: 2 },
  0x71: { type: 'int', width: 4 },
  0x54: { type: 'int', width: 1 },
  0x81: { type: 'long', width: 8 },
  0x55: { type: 'long', width: 1 },
  0x72: { type: 'float', width: 4 },
  0x82: { type: 'double', width: 8 },
  0x74: { type: 'decimal32', width: 4 },
  0x84: { type: 'decimal64', width: 8 },
  0x94: { type: 'decimal128', width: 16 },
  0x73: { type: 'char', width: 4 },
  0x83: { type: 'timestamp', width: 8 },
  0x98: { type: 'uuid', width: 16 },
};

/** A cursor over a buffer. */
class Reader {
  constructor(
    readonly buffer: Buffer,
    public offset = 0,
  ) {}

  need(count: number): void {
    if (this.offset + count > this.buffer.length) {
      throw new AmqpDecodeError(`truncated AMQP value at offset ${this.offset} (need ${count} bytes, have ${this.buffer.length - this.offset})`);
    }
  }

  byte(): number {
    this.need(1);
    return this.buffer[this.offset++] as number;
  }

  uint32(): number {
    this.need(4);
    const v = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(count: number): Buffer {
    this.need(count);
    const b = this.buffer.subarray(this.offset, this.offset + count);
    this.offset += count;
    return b;
  }
}

interface Constructor {
  code: number;
  descriptor?: AmqpValue;
}

function readConstructor(reader: Reader): Constructor {
  const code = reader.byte();
  if (code !== 0x00) return { code };
  const descriptor = readValue(reader);
  const inner = readConstructor(reader);
  if (inner.descriptor) throw new AmqpDecodeError('nested descriptors in a constructor are not supported');
  return { code: inner.code, descriptor };
}

function typeOfCode(code: number): AmqpTypeName {
  if (code === 0x40) return 'null';
  if (code === 0x41 || code === 0x42) return 'boolean';
  if (code === 0x43) return 'uint';
  if (code === 0x44) return 'ulong';
  const fixed = FIXED[code];
  if (fixed) return fixed.type;
  switch (code) {
    case 0xa0:
    case 0xb0:
      return 'binary';
    case 0xa1:
    case 0xb1:
      return 'string';
    case 0xa3:
    case 0xb3:
      return 'symbol';
    case 0x45:
    case 0xc0:
    case 0xd0:
      return 'list';
    case 0xc1:
    case 0xd1:
      return 'map';
    case 0xe0:
    case 0xf0:
      return 'array';
    default:
      throw new AmqpDecodeError(`unknown AMQP constructor 0x${code.toString(16)}`);
  }
}

function readFixed(reader: Reader, code: number): AmqpValue {
  const fixed = FIXED[code];
  if (!fixed) throw new AmqpDecodeError(`unknown AMQP constructor 0x${code.toString(16)}`);
  const b = reader.bytes(fixed.width);
  switch (code) {
    case 0x56:
      return { type: 'boolean', value: b[0] !== 0 };
    case 0x50:
    case 0x52:
      return { type: fixed.type as 'ubyte' | 'uint', value: b.readUInt8(0) };
    case 0x60:
      return { type: 'ushort', value: b.readUInt16BE(0) };
    case 0x70:
      return { type: 'uint', value: b.readUInt32BE(0) };
    case 0x80:
      return { type: 'ulong', value: b.readBigUInt64BE(0) };
    case 0x53:
      return { type: 'ulong', value: BigInt(b.readUInt8(0)) };
    case 0x51:
      return { type: 'byte', value: b.readInt8(0) };
    case 0x61:
      return { type: 'short', value: b.readInt16BE(0) };
    case 0x71:
      return { type: 'int', value: b.readInt32BE(0) };
    case 0x54:
      return { type: 'int', value: b.readInt8(0) };
    case 0x81:
      return { type: 'long', value: b.readBigInt64BE(0) };
    case 0x55:
      return { type: 'long', value: BigInt(b.readInt8(0)) };
    case 0x72:
      return { type: 'float', value: b.readFloatBE(0) };
    case 0x82:
      return { type: 'double', value: b.readDoubleBE(0) };
    case 0x73:
      return { type: 'char', value: b.readUInt32BE(0) };
    case 0x83:
      return { type: 'timestamp', value: Number(b.readBigInt64BE(0)) };
    case 0x98:
      return { type: 'uuid', value: uuidFromBytes(b) };
    default:
      return { type: fixed.type as 'decimal32', value: Buffer.from(b) };
  }
}

/** Reads the body of a value whose constructor code is known. */
function readBody(reader: Reader, code: number): AmqpValue {
  switch (code) {
    case 0x40:
      return { type: 'null' };
    case 0x41:
      return { type: 'boolean', value: true };
    case 0x42:
      return { type: 'boolean', value: false };
    case 0x43:
      return { type: 'uint', value: 0 };
    case 0x44:
      return { type: 'ulong', value: 0n };
    case 0x45:
      return { type: 'list', value: [] };
    case 0xa0:
      return { type: 'binary', value: Buffer.from(reader.bytes(reader.byte())) };
    case 0xb0:
      return { type: 'binary', value: Buffer.from(reader.bytes(reader.uint32())) };
    case 0xa1:
      return { type: 'string', value: reader.bytes(reader.byte()).toString('utf8') };
    case 0xb1:
      return { type: 'string', value: reader.bytes(reader.uint32()).toString('utf8') };
    case 0xa3:
      return { type: 'symbol', value: reader.bytes(reader.byte()).toString('ascii') };
    case 0xb3:
      return { type: 'symbol', value: reader.bytes(reader.uint32()).toString('ascii') };
    case 0xc0:
    case 0xd0:
    case 0xc1:
    case 0xd1: {
      const wide = code === 0xd0 || code === 0xd1;
      const size = wide ? reader.uint32() : reader.byte();
      const end = reader.offset + size;
      reader.need(size);
      const count = wide ? reader.uint32() : reader.byte();
      const items: AmqpValue[] = [];
      for (let i = 0; i < count; i++) items.push(readValue(reader));
      if (reader.offset !== end) throw new AmqpDecodeError(`compound size mismatch at offset ${reader.offset}`);
      if (code === 0xc0 || code === 0xd0) return { type: 'list', value: items };
      if (count % 2 !== 0) throw new AmqpDecodeError('a map needs an even number of items');
      const entries: Array<[AmqpValue, AmqpValue]> = [];
      for (let i = 0; i < items.length; i += 2) entries.push([items[i] as AmqpValue, items[i + 1] as AmqpValue]);
      return { type: 'map', value: entries };
    }
    case 0xe0:
    case 0xf0: {
      const wide = code === 0xf0;
      const size = wide ? reader.uint32() : reader.byte();
      const end = reader.offset + size;
      reader.need(size);
      const count = wide ? reader.uint32() : reader.byte();
      const element = readConstructor(reader);
      const items: AmqpValue[] = [];
      for (let i = 0; i < count; i++) {
        const body = readBody(reader, element.code);
        items.push(element.descriptor ? { type: 'described', descriptor: element.descriptor, value: body } : body);
      }
      if (reader.offset !== end) throw new AmqpDecodeError(`array size mismatch at offset ${reader.offset}`);
      const elementType = element.descriptor ? 'described' : typeOfCode(element.code);
      return element.descriptor
        ? { type: 'array', elementType, descriptor: element.descriptor, value: items }
        : { type: 'array', elementType, value: items };
    }
    default:
      return readFixed(reader, code);
  }
}

function readValue(reader: Reader): AmqpValue {
  const constructor = readConstructor(reader);
  const body = readBody(reader, constructor.code);
  return constructor.descriptor ? { type: 'described', descriptor: constructor.descriptor, value: body } : body;
}

/** Decodes one value at `offset`; returns it and the offset after it. */
export function decodeAt(buffer: Buffer, offset = 0): { value: AmqpValue; end: number } {
  const reader = new Reader(buffer, offset);
  const value = readValue(reader);
  return { value, end: reader.offset };
}

/** Decodes every value in `buffer`, in order. */
export function decodeAll(buffer: Buffer): AmqpValue[] {
  const reader = new Reader(buffer);
  const values: AmqpValue[] = [];
  while (reader.offset < buffer.length) values.push(readValue(reader));
  return values;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** The fixed-width body of a value (no constructor), for arrays and wide encodings. */
function fixedBody(value: AmqpValue): Buffer {
  const b = Buffer.alloc(16);
  switch (value.type) {
    case 'boolean':
      return u8(value.value ? 1 : 0);
    case 'ubyte':
      b.writeUInt8(value.value, 0);
      return b.subarray(0, 1);
    case 'byte':
      b.writeInt8(value.value, 0);
      return b.subarray(0, 1);
    case 'ushort':
      b.writeUInt16BE(value.value, 0);
      return b.subarray(0, 2);
    case 'short':
      b.writeInt16BE(value.value, 0);
      return b.subarray(0, 2);
    case 'uint':
    case 'char':
      b.writeUInt32BE(value.value >>> 0, 0);
      return b.subarray(0, 4);
    case 'int':
      b.writeInt32BE(value.value, 0);
      return b.subarray(0, 4);
    case 'float':
      b.writeFloatBE(value.value, 0);
      return b.subarray(0, 4);
    case 'double':
      b.writeDoubleBE(value.value, 0);
      return b.subarray(0, 8);
    case 'ulong':
      b.writeBigUInt64BE(value.value, 0);
      return b.subarray(0, 8);
    case 'long':
      b.writeBigInt64BE(value.value, 0);
      return b.subarray(0, 8);
    case 'timestamp':
      b.writeBigInt64BE(BigInt(value.value), 0);
      return b.subarray(0, 8);
    case 'uuid':
      return uuidToBytes(value.value);
    case 'decimal32':
    case 'decimal64':
    case 'decimal128':
      return value.value;
    default:
      throw new TypeError(`${value.type} has no fixed-width encoding`);
  }
}

const WIDE_CODE: Partial<Record<AmqpTypeName, number>> = FULL_WIDTH_CONSTRUCTOR;

function compound(items: Buffer[], count: number, small: number, large: number): Buffer {
  const body = Buffer.concat(items);
  if (body.length + 1 < 256 && count < 256) return Buffer.concat([u8(small), u8(body.length + 1), u8(count), body]);
  return Buffer.concat([u8(large), u32(body.length + 4), u32(count), body]);
}

function variable(bytes: Buffer, small: number, large: number): Buffer {
  return bytes.length < 256 ? Buffer.concat([u8(small), u8(bytes.length), bytes]) : Buffer.concat([u8(large), u32(bytes.length), bytes]);
}

/** Encodes a value with the most compact encoding of its type. */
export function encode(value: AmqpValue): Buffer {
  switch (value.type) {
    case 'null':
      return u8(0x40);
    case 'boolean':
      return u8(value.value ? 0x41 : 0x42);
    case 'uint':
      if (value.value === 0) return u8(0x43);
      if (value.value < 256) return Buffer.from([0x52, value.value]);
      return Buffer.concat([u8(0x70), fixedBody(value)]);
    case 'ulong':
      if (value.value === 0n) return u8(0x44);
      if (value.value < 256n) return Buffer.from([0x53, Number(value.value)]);
      return Buffer.concat([u8(0x80), fixedBody(value)]);
    case 'int':
      if (value.value >= -128 && value.value <= 127) return Buffer.from([0x54, value.value & 0xff]);
      return Buffer.concat([u8(0x71), fixedBody(value)]);
    case 'long':
      if (value.value >= -128n && value.value <= 127n) return Buffer.from([0x55, Number(value.value) & 0xff]);
      return Buffer.concat([u8(0x81), fixedBody(value)]);
    case 'binary':
      return variable(value.value, 0xa0, 0xb0);
    case 'string':
      return variable(Buffer.from(value.value, 'utf8'), 0xa1, 0xb1);
    case 'symbol':
      return variable(Buffer.from(value.value, 'ascii'), 0xa3, 0xb3);
    case 'list':
      if (value.value.length === 0) return u8(0x45);
      return compound(value.value.map(encode), value.value.length, 0xc0, 0xd0);
    case 'map':
      return compound(
        value.value.flatMap(([k, v]) => [encode(k), encode(v)]),
        value.value.length * 2,
        0xc1,
        0xd1,
      );
    case 'array':
      return encodeArray(value);
    case 'described':
      return Buffer.concat([u8(0x00), encode(value.descriptor), encode(value.value)]);
    default:
      return Buffer.concat([u8(WIDE_CODE[value.type] as number), fixedBody(value)]);
  }
}

function encodeArray(value: Extract<AmqpValue, { type: 'array' }>): Buffer {
  const elementType = value.elementType;
  let constructor: Buffer;
  let bodies: Buffer[];
  const inner = (item: AmqpValue): AmqpValue => (item.type === 'described' ? item.value : item);
  if (elementType === 'described') {
    if (!value.descriptor) throw new TypeError('an array of described values needs a descriptor');
    const first = value.value[0] ? inner(value.value[0]) : { type: 'null' as const };
    constructor = Buffer.concat([u8(0x00), encode(value.descriptor), u8(WIDE_CODE[first.type] ?? 0x40)]);
    bodies = value.value.map((item) => wideBody(inner(item)));
  } else {
    const code = WIDE_CODE[elementType];
    if (code === undefined) throw new TypeError(`cannot encode an array of ${elementType}`);
    constructor = u8(code);
    bodies = value.value.map((item) => {
      if (item.type !== elementType) throw new TypeError(`array of ${elementType} holds a ${item.type}`);
      return wideBody(item);
    });
  }
  const body = Buffer.concat([constructor, ...bodies]);
  if (body.length + 1 < 256 && value.value.length < 256) {
    return Buffer.concat([u8(0xe0), u8(body.length + 1), u8(value.value.length), body]);
  }
  return Buffer.concat([u8(0xf0), u32(body.length + 4), u32(value.value.length), body]);
}

/** The body of a value in its widest encoding (the form arrays use). */
function wideBody(value: AmqpValue): Buffer {
  switch (value.type) {
    case 'null':
      return Buffer.alloc(0);
    case 'binary':
      return Buffer.concat([u32(value.value.length), value.value]);
    case 'string':
    case 'symbol': {
      const bytes = Buffer.from(value.value, value.type === 'string' ? 'utf8' : 'ascii');
      return Buffer.concat([u32(bytes.length), bytes]);
    }
    case 'list':
    case 'map': {
      const full = encode(value);
      // Re-encode in the 32-bit form: size and count as uint32.
      if (full[0] === 0xd0 || full[0] === 0xd1) return full.subarray(1);
      const items = value.type === 'list' ? value.value.map(encode) : value.value.flatMap(([k, v]) => [encode(k), encode(v)]);
      const body = Buffer.concat(items);
      return Buffer.concat([u32(body.length + 4), u32(items.length), body]);
    }
    case 'array':
      return encodeArray(value).subarray(1);
    case 'described':
      throw new TypeError('a described value inside an array element is not supported');
    default:
      return fixedBody(value);
  }
}

// ---------------------------------------------------------------------------------------------
// uuids

/** The 16 bytes of a uuid in RFC 4122 (network) order. */
export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a uuid: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

export function uuidFromBytes(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The 16 bytes of a uuid in .NET `Guid.ToByteArray()` order (the first three fields little-endian),
 * which is how Service Bus writes a lock token into a delivery tag.
 */
export function guidToBytes(uuid: string): Buffer {
  const b = uuidToBytes(uuid);
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

/** The inverse of {@link guidToBytes}. */
export function guidFromBytes(bytes: Buffer): string {
  if (bytes.length !== 16) throw new TypeError(`a GUID has 16 bytes, got ${bytes.length}`);
  return uuidFromBytes(guidToBytes(uuidFromBytes(bytes)));
}

// ---------------------------------------------------------------------------------------------
// Helpers for maps and plain views

/** The value under a string or symbol key `name` in a map (undefined when absent or not a map). */
export function mapGet(map: AmqpValue | undefined, name: string): AmqpValue | undefined {
  if (!map || map.type !== 'map') return undefined;
  for (const [k, v] of map.value) {
    if ((k.type === 'string' || k.type === 'symbol') && k.value === name) return v;
  }
  return undefined;
}

/** A copy of `map` with `name` set to `value` (replacing an entry with that key, of either key type). */
export function mapSet(map: AmqpMap | undefined, key: AmqpValue, value: AmqpValue): AmqpMap {
  const name = key.type === 'string' || key.type === 'symbol' ? key.value : undefined;
  const entries = (map?.value ?? []).filter(([k]) => !((k.type === 'string' || k.type === 'symbol') && k.value === name));
  return { type: 'map', value: [...entries, [key, value]] };
}

/** A string or symbol value as a JS string, else undefined. */
export function asString(value: AmqpValue | undefined): string | undefined {
  return value && (value.type === 'string' || value.type === 'symbol') ? value.value : undefined;
}

/** A numeric value (any integer type or timestamp) as a JS number, else undefined. */
export function asNumber(value: AmqpValue | undefined): number | undefined {
  if (!value) return undefined;
  switch (value.type) {
    case 'ubyte':
    case 'ushort':
    case 'uint':
    case 'byte':
    case 'short':
    case 'int':
    case 'float':
    case 'double':
    case 'timestamp':
      return value.value;
    case 'ulong':
    case 'long':
      return Number(value.value);
    default:
      return undefined;
  }
}

/** The items of a list or array (undefined for anything else). */
export function asItems(value: AmqpValue | undefined): readonly AmqpValue[] | undefined {
  return value && (value.type === 'list' || value.type === 'array') ? value.value : undefined;
}

/**
 * A JSON-friendly view of a value that keeps its type: scalars become `{ type: value }` pairs
 * (`{ int: 202 }`, `{ symbol: 'x' }`, `{ uuid: '…' }`, 64-bit integers as decimal strings, binary as
 * hex), maps become `{ map: [[k, v], …] }`.
 */
export type TypedJson =
  | null
  | { [type: string]: unknown };

export function toTypedJson(value: AmqpValue): TypedJson {
  switch (value.type) {
    case 'null':
      return null;
    case 'ulong':
    case 'long':
      return { [value.type]: value.value.toString() };
    case 'binary':
    case 'decimal32':
    case 'decimal64':
    case 'decimal128':
      return { [value.type]: value.value.toString('hex') };
    case 'list':
      return { list: value.value.map(toTypedJson) };
    case 'map':
      return { map: value.value.map(([k, v]) => [toTypedJson(k), toTypedJson(v)]) };
    case 'array':
      return { array: value.elementType, items: value.value.map(toTypedJson) };
    case 'described':
      return { described: toTypedJson(value.descriptor), value: toTypedJson(value.value) };
    default:
      return { [value.type]: value.value };
  }
}
