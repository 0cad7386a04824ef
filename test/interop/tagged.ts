/**
 * Tagged JSON: an AMQP value with its exact type, as both sides of the interop tests write it
 * (test/interop/python/amqp_json.py is the Python half).
 *
 * `{ type, value }`: integers and timestamps as decimal strings (64-bit exact), binary and decimals
 * as hex, floats as numbers with `NaN`, `Infinity`, `-Infinity` and `-0` as strings, lists as
 * lists, maps as `[key, value]` pairs, arrays with their `element` type (and `descriptor`),
 * described values with their `descriptor`.
 */
import {
  amqp,
  AmqpArray,
  type AmqpArrayElementType,
  AmqpDescribed,
  AmqpScalar,
  isAmqpValue,
} from '../../src/index.js';

export interface Tagged {
  readonly type: string;
  readonly value?: unknown;
  readonly element?: string;
  readonly descriptor?: Tagged;
}

const INTEGERS = new Set(['ubyte', 'ushort', 'uint', 'ulong', 'byte', 'short', 'int', 'long', 'timestamp']);
const BYTES = new Set(['binary', 'decimal32', 'decimal64', 'decimal128']);

function floatOut(n: number): number | string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Object.is(n, -0)) return '-0';
  return n;
}

function floatIn(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** Tagged JSON shorthands for writing expectations. */
export const t = {
  null: (): Tagged => ({ type: 'null' }),
  boolean: (value: boolean): Tagged => ({ type: 'boolean', value }),
  string: (value: string): Tagged => ({ type: 'string', value }),
  symbol: (value: string): Tagged => ({ type: 'symbol', value }),
  char: (value: string): Tagged => ({ type: 'char', value }),
  uuid: (value: string): Tagged => ({ type: 'uuid', value }),
  int: (type: string, value: number | bigint): Tagged => ({ type, value: String(value) }),
  float: (type: 'float' | 'double', value: number): Tagged => ({ type, value: floatOut(value) }),
  bytes: (type: string, value: string): Tagged => ({ type, value }),
  list: (...value: Tagged[]): Tagged => ({ type: 'list', value }),
  map: (...pairs: [Tagged, Tagged][]): Tagged => ({ type: 'map', value: pairs }),
  array: (element: string, value: Tagged[], descriptor?: Tagged): Tagged =>
    descriptor === undefined ? { type: 'array', element, value } : { type: 'array', element, value, descriptor },
  described: (descriptor: Tagged, value: Tagged): Tagged => ({ type: 'described', descriptor, value }),
};

/** A value as a typed receive (`{ typed: true }`) gives it → tagged JSON. */
export function toTagged(v: unknown): Tagged {
  if (v === null || v === undefined) return t.null();
  switch (typeof v) {
    case 'boolean':
      return t.boolean(v);
    case 'number':
      return t.float('double', v);
    case 'string':
      return t.string(v);
    case 'bigint':
      return t.int('long', v);
    default:
      break;
  }
  if (v instanceof AmqpScalar) {
    const value: unknown = v.value;
    if (INTEGERS.has(v.type)) return t.int(v.type, value as number | bigint);
    if (v.type === 'float' || v.type === 'double') return t.float(v.type, value as number);
    if (BYTES.has(v.type)) return t.bytes(v.type, hex(value as Buffer));
    return { type: v.type, value };
  }
  if (v instanceof AmqpArray) {
    const element = v.elementType;
    const descriptor = v.descriptor === undefined ? undefined : descriptorTagged(v.descriptor);
    return t.array(element, v.values.map((e) => elementTagged(element, e)), descriptor);
  }
  if (v instanceof AmqpDescribed) return t.described(descriptorTagged(v.descriptor), toTagged(v.value));
  if (isAmqpValue(v)) throw new Error(`a wrapper from another copy of rhea-rx: ${String(v)}`);
  if (v instanceof Uint8Array) return t.bytes('binary', hex(v));
  if (v instanceof Date) return t.int('timestamp', v.getTime());
  if (Array.isArray(v)) return t.list(...v.map(toTagged));
  if (v instanceof Map) return t.map(...[...v].map(([k, x]): [Tagged, Tagged] => [toTagged(k), toTagged(x)]));
  if (typeof v === 'object') return t.map(...Object.entries(v).map(([k, x]): [Tagged, Tagged] => [t.string(k), toTagged(x)]));
  throw new Error(`no tagged form for ${typeof v}`);
}

function descriptorTagged(d: string | bigint): Tagged {
  return typeof d === 'string' ? t.symbol(d) : t.int('ulong', d);
}

function elementTagged(element: AmqpArrayElementType, e: unknown): Tagged {
  switch (element) {
    case 'null':
    case 'boolean':
    case 'string':
    case 'binary':
    case 'list':
    case 'map':
    case 'array':
      return toTagged(e);
    case 'double':
      return t.float('double', e as number);
    case 'timestamp':
      return t.int('timestamp', (e as Date).getTime());
    default:
      return toTagged(new AmqpScalar(element, e as never));
  }
}

function descriptorIn(d: Tagged): string | bigint {
  if (d.type === 'symbol') return d.value as string;
  if (d.type === 'ulong') return BigInt(d.value as string);
  throw new Error(`descriptor of type ${d.type}`);
}

/** Tagged JSON → the value rhea-rx sends as exactly that type (wrappers where needed). */
export function fromTagged(d: Tagged): unknown {
  const v = d.value;
  switch (d.type) {
    case 'null':
      return null;
    case 'boolean':
      return v as boolean;
    case 'string':
      return v as string;
    case 'double':
      return amqp.double(floatIn(v));
    case 'float':
      return amqp.float(floatIn(v));
    case 'ulong':
    case 'long':
    case 'timestamp':
      return amqp[d.type](BigInt(v as string));
    case 'ubyte':
    case 'ushort':
    case 'uint':
    case 'byte':
    case 'short':
    case 'int':
      return amqp[d.type](Number(v));
    case 'binary':
      return Buffer.from(v as string, 'hex');
    case 'decimal32':
    case 'decimal64':
    case 'decimal128':
      return amqp[d.type](Buffer.from(v as string, 'hex'));
    case 'char':
    case 'symbol':
    case 'uuid':
      return amqp[d.type](v as string);
    case 'list':
      return (v as Tagged[]).map(fromTagged);
    case 'map':
      return new Map((v as [Tagged, Tagged][]).map(([k, x]) => [fromTagged(k), fromTagged(x)]));
    case 'described':
      return amqp.described(descriptorIn(d.descriptor!), fromTagged(v as Tagged));
    case 'array': {
      const element = d.element as Exclude<AmqpArrayElementType, 'array'>;
      const values = (v as Tagged[]).map((e) => {
        const x = fromTagged(e);
        if (element === 'timestamp') return new Date(Number((x as AmqpScalar<'timestamp'>).value));
        return x instanceof AmqpScalar ? x.value : x;
      });
      return amqp.array(element, values as never[], d.descriptor === undefined ? undefined : descriptorIn(d.descriptor));
    }
    default:
      throw new Error(`unknown tagged type ${d.type}`);
  }
}

/** Maps are unordered: sorts every map's pairs (by key), so that two taggings can be compared. */
export function normalize(d: Tagged): Tagged {
  switch (d.type) {
    case 'list':
      return { ...d, value: (d.value as Tagged[]).map(normalize) };
    case 'array':
      return { ...d, value: (d.value as Tagged[]).map(normalize) };
    case 'described':
      return { ...d, descriptor: normalize(d.descriptor!), value: normalize(d.value as Tagged) };
    case 'map': {
      const pairs = (d.value as [Tagged, Tagged][]).map(([k, x]): [Tagged, Tagged] => [normalize(k), normalize(x)]);
      pairs.sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
      return { ...d, value: pairs };
    }
    default:
      return d;
  }
}
