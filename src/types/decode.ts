/**
 * The typed decoder: AMQP 1.0 encoded bytes to JavaScript values that keep their AMQP type.
 *
 * rhea's own decoder (used by default) returns plain numbers for every integer type, strings for
 * symbols, Buffers for uuids and for 64-bit integers beyond 2^53 — and rounds the 64-bit integers
 * between 2^53 and 2^53 + 2^32 to the nearest double. This one returns a wrapper
 * ({@link AmqpScalar}, {@link AmqpArray}, {@link AmqpDescribed}) for every type JavaScript has no
 * type of its own for, and the plain value otherwise:
 *
 * | AMQP | typed decode |
 * | --- | --- |
 * | null, boolean, string | null, boolean, string |
 * | binary | Buffer |
 * | double | number (an `AmqpScalar<'double'>` for an integral value, which a plain number would not be sent as) |
 * | timestamp | Date (an `AmqpScalar<'timestamp'>` beyond the ±8.64e15 ms a Date holds) |
 * | list | array |
 * | map | object when every key is a string, else a Map with typed keys |
 * | everything else | a wrapper |
 *
 * @internal
 */
import { AmqpError } from '../errors/AmqpError.js';
import {
  AmqpArray,
  type AmqpArrayElementType,
  type AmqpDescriptor,
  AmqpDescribed,
  AmqpScalar,
  isAmqpValue,
  timestampValue,
  uuidString,
} from './amqpTypes.js';

/** Deeper nesting than this is refused, so that hostile input cannot overflow the stack. */
const MAX_DEPTH = 100;

/** The bytes are not valid AMQP (truncated, an unknown type code, an odd map). */
export function decodeError(message: string): AmqpError {
  return new AmqpError(`Cannot decode the message: ${message}`, { condition: 'amqp:decode-error', retryable: false });
}

/** Element type names by type code (every encoding of a type, compact ones included). */
const TYPE_BY_CODE: Readonly<Record<number, AmqpArrayElementType>> = {
  0x40: 'null',
  0x41: 'boolean',
  0x42: 'boolean',
  0x56: 'boolean',
  0x50: 'ubyte',
  0x60: 'ushort',
  0x70: 'uint',
  0x52: 'uint',
  0x43: 'uint',
  0x80: 'ulong',
  0x53: 'ulong',
  0x44: 'ulong',
  0x51: 'byte',
  0x61: 'short',
  0x71: 'int',
  0x54: 'int',
  0x81: 'long',
  0x55: 'long',
  0x72: 'float',
  0x82: 'double',
  0x74: 'decimal32',
  0x84: 'decimal64',
  0x94: 'decimal128',
  0x73: 'char',
  0x83: 'timestamp',
  0x98: 'uuid',
  0xa0: 'binary',
  0xb0: 'binary',
  0xa1: 'string',
  0xb1: 'string',
  0xa3: 'symbol',
  0xb3: 'symbol',
  0x45: 'list',
  0xc0: 'list',
  0xd0: 'list',
  0xc1: 'map',
  0xd1: 'map',
  0xe0: 'array',
  0xf0: 'array',
};

class Reader {
  #pos = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.#pos;
  }

  get position(): number {
    return this.#pos;
  }

  private take(n: number): number {
    const at = this.#pos;
    if (at + n > this.buf.length) throw decodeError(`truncated at byte ${at} (${n} more bytes expected, ${this.buf.length - at} left)`);
    this.#pos += n;
    return at;
  }

  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }

  private u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  private bytes(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }

  /** One value, with its constructor (a descriptor, if any, and the type code). */
  read(depth: number): unknown {
    if (depth > MAX_DEPTH) throw decodeError(`nested more than ${MAX_DEPTH} levels deep`);
    const code = this.u8();
    if (code === 0x00) {
      const descriptor = this.read(depth + 1);
      return new AmqpDescribed(descriptorOf(descriptor), this.read(depth + 1));
    }
    return this.value(code, depth);
  }

  /** The value after a type code, in typed form. */
  value(code: number, depth: number): unknown {
    const b = this.buf;
    switch (code) {
      case 0x40:
        return null;
      case 0x41:
        return true;
      case 0x42:
        return false;
      case 0x56: {
        const v = this.u8();
        if (v > 1) throw decodeError(`boolean byte 0x${v.toString(16)}`);
        return v === 1;
      }
      case 0x50:
        return new AmqpScalar('ubyte', this.u8());
      case 0x60:
        return new AmqpScalar('ushort', b.readUInt16BE(this.take(2)));
      case 0x70:
        return new AmqpScalar('uint', this.u32());
      case 0x52:
        return new AmqpScalar('uint', this.u8());
      case 0x43:
        return new AmqpScalar('uint', 0);
      case 0x80:
        return new AmqpScalar('ulong', b.readBigUInt64BE(this.take(8)));
      case 0x53:
        return new AmqpScalar('ulong', BigInt(this.u8()));
      case 0x44:
        return new AmqpScalar('ulong', 0n);
      case 0x51:
        return new AmqpScalar('byte', b.readInt8(this.take(1)));
      case 0x61:
        return new AmqpScalar('short', b.readInt16BE(this.take(2)));
      case 0x71:
        return new AmqpScalar('int', b.readInt32BE(this.take(4)));
      case 0x54:
        return new AmqpScalar('int', b.readInt8(this.take(1)));
      case 0x81:
        return new AmqpScalar('long', b.readBigInt64BE(this.take(8)));
      case 0x55:
        return new AmqpScalar('long', BigInt(b.readInt8(this.take(1))));
      case 0x72:
        return new AmqpScalar('float', b.readFloatBE(this.take(4)));
      case 0x82: {
        // A plain integer is sent as an integer type: an integral double stays wrapped, so that
        // whatever this decode gives is sent back as the same type.
        const n = b.readDoubleBE(this.take(8));
        return Number.isInteger(n) && !Object.is(n, -0) ? new AmqpScalar('double', n) : n;
      }
      case 0x74:
        return new AmqpScalar('decimal32', this.bytes(4));
      case 0x84:
        return new AmqpScalar('decimal64', this.bytes(8));
      case 0x94:
        return new AmqpScalar('decimal128', this.bytes(16));
      case 0x73: {
        const cp = this.u32();
        if (cp > 0x10ffff) throw decodeError(`char U+${cp.toString(16)} is not a Unicode code point`);
        return new AmqpScalar('char', String.fromCodePoint(cp));
      }
      case 0x83:
        return timestampValue(b.readBigInt64BE(this.take(8)));
      case 0x98:
        return new AmqpScalar('uuid', uuidString(this.bytes(16)));
      case 0xa0:
        return this.bytes(this.u8());
      case 0xb0:
        return this.bytes(this.u32());
      case 0xa1:
        return this.bytes(this.u8()).toString('utf8');
      case 0xb1:
        return this.bytes(this.u32()).toString('utf8');
      case 0xa3:
        return new AmqpScalar('symbol', this.bytes(this.u8()).toString('utf8'));
      case 0xb3:
        return new AmqpScalar('symbol', this.bytes(this.u32()).toString('utf8'));
      case 0x45:
        return [];
      case 0xc0:
      case 0xd0:
        return this.compound(code === 0xc0 ? 1 : 4, depth, (items) => items);
      case 0xc1:
      case 0xd1:
        return this.compound(code === 0xc1 ? 1 : 4, depth, toMap);
      case 0xe0:
      case 0xf0:
        return this.array(code === 0xe0 ? 1 : 4, depth);
      default:
        throw decodeError(`unknown type code 0x${code.toString(16)} at byte ${this.#pos - 1}`);
    }
  }

  private sizeAndCount(width: 1 | 4): { end: number; count: number } {
    const size = width === 1 ? this.u8() : this.u32();
    const start = this.#pos;
    if (start + size > this.buf.length) throw decodeError(`a compound of ${size} bytes at byte ${start} runs past the end`);
    const count = width === 1 ? this.u8() : this.u32();
    return { end: start + size, count };
  }

  private checkedCount(width: 1 | 4): { end: number; count: number } {
    const limits = this.sizeAndCount(width);
    // Every item takes at least one byte: a larger count is a lie (and would allocate without bound).
    if (limits.count > limits.end - this.#pos) throw decodeError(`a compound claims ${limits.count} items in ${limits.end - this.#pos} bytes`);
    return limits;
  }

  private compound<R>(width: 1 | 4, depth: number, make: (items: unknown[]) => R): R {
    const { end, count } = this.checkedCount(width);
    const items: unknown[] = [];
    for (let i = 0; i < count; i++) {
      if (this.#pos >= end) throw decodeError(`a compound claims ${count} items but holds ${i}`);
      items.push(this.read(depth + 1));
    }
    if (this.#pos !== end) throw decodeError(`a compound is ${end - this.#pos} bytes longer than its items`);
    return make(items);
  }

  private array(width: 1 | 4, depth: number): AmqpArray {
    const { end, count } = this.sizeAndCount(width);
    let code = this.u8();
    let descriptor: AmqpDescriptor | undefined;
    if (code === 0x00) {
      descriptor = descriptorOf(this.read(depth + 1));
      code = this.u8();
      if (code === 0x00) throw decodeError('an array whose elements have more than one descriptor');
    }
    const type = TYPE_BY_CODE[code];
    if (type === undefined) throw decodeError(`unknown array element type code 0x${code.toString(16)}`);
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) {
      if (this.#pos > end) throw decodeError(`an array claims ${count} elements but holds ${i}`);
      values.push(elementForm(this.value(code, depth + 1)));
    }
    if (this.#pos !== end) throw decodeError(`an array is ${end - this.#pos} bytes longer than its elements`);
    return new AmqpArray(type, values as never, descriptor);
  }
}

/** An array element as {@link AmqpArray} holds it: the wrapper's value, a plain value otherwise. */
function elementForm(v: unknown): unknown {
  if (v instanceof AmqpScalar) {
    if (v.type === 'timestamp') throw decodeError(`a timestamp array element (${String(v.value)} ms) is beyond what a Date holds`);
    return v.value;
  }
  return v;
}

function descriptorOf(d: unknown): AmqpDescriptor {
  if (d instanceof AmqpScalar && (d.type === 'symbol' || d.type === 'ulong')) return d.value as AmqpDescriptor;
  throw decodeError(`a descriptor must be a symbol or a ulong, got ${isAmqpValue(d) ? d.type : typeof d}`);
}

/** An AMQP map: a plain object when every key is a string, else a Map with the typed keys. */
function toMap(items: unknown[]): Record<string, unknown> | Map<unknown, unknown> {
  if (items.length % 2 !== 0) throw decodeError(`a map with an odd number of items (${items.length})`);
  let plain = true;
  for (let i = 0; i < items.length; i += 2) {
    if (typeof items[i] !== 'string') {
      plain = false;
      break;
    }
  }
  if (!plain) {
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
    return map;
  }
  const record: Record<string, unknown> = {};
  for (let i = 0; i < items.length; i += 2) {
    const key = items[i] as string;
    if (key === '__proto__') Object.defineProperty(record, key, { value: items[i + 1], enumerable: true, writable: true, configurable: true });
    else record[key] = items[i + 1];
  }
  return record;
}

/** Decodes exactly one AMQP value from `bytes`. */
export function decodeValue(bytes: Buffer): unknown {
  const reader = new Reader(bytes);
  const value = reader.read(0);
  if (reader.remaining !== 0) throw decodeError(`${reader.remaining} bytes after the value`);
  return value;
}

/** Decodes the sections of an encoded message: a sequence of described values. */
export function decodeSections(bytes: Buffer): AmqpDescribed[] {
  const reader = new Reader(bytes);
  const sections: AmqpDescribed[] = [];
  while (reader.remaining > 0) {
    const at = reader.position;
    const section = reader.read(0);
    if (!(section instanceof AmqpDescribed)) throw decodeError(`expected a described message section at byte ${at}`);
    sections.push(section);
  }
  return sections;
}
