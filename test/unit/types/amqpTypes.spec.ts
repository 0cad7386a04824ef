import { describe, expect, it } from 'vitest';
import { amqp, AmqpArray, AmqpDescribed, AmqpScalar, isAmqpValue, MessageEncodeError } from '../../../src/index.js';

function refused(make: () => unknown, pattern: RegExp): void {
  try {
    make();
    expect.unreachable('no error');
  } catch (error) {
    expect(error).toBeInstanceOf(MessageEncodeError);
    expect((error as MessageEncodeError).path).toBe('');
    expect((error as Error).message).toMatch(pattern);
  }
}

describe('amqp.* wrappers', () => {
  it.each([
    ['ubyte', 0, 255],
    ['ushort', 0, 65535],
    ['uint', 0, 4294967295],
    ['byte', -128, 127],
    ['short', -32768, 32767],
    ['int', -2147483648, 2147483647],
  ] as const)('%s takes integers from %d to %d, nothing else', (type, min, max) => {
    expect(amqp[type](min)).toEqual({ type, value: min });
    expect(amqp[type](max).value).toBe(max);
    for (const bad of [min - 1, max + 1, 1.5, Number.NaN, Infinity]) refused(() => amqp[type](bad), new RegExp(`amqp\\.${type}\\(\\) takes an integer`));
    refused(() => amqp[type]('1' as never), /got "1"/);
    expect(Object.is(amqp[type](-0).value, 0)).toBe(true); // integers have no -0
  });

  it('ulong and long hold bigints over their whole range, from bigints or safe integers', () => {
    expect(amqp.ulong(2n ** 64n - 1n).value).toBe(2n ** 64n - 1n);
    expect(amqp.ulong(5).value).toBe(5n);
    expect(amqp.long(-(2n ** 63n)).value).toBe(-(2n ** 63n));
    expect(amqp.long(-5).value).toBe(-5n);
    refused(() => amqp.ulong(-1n), /0 to 18446744073709551615/);
    refused(() => amqp.ulong(2n ** 64n), /got 18446744073709551616/);
    refused(() => amqp.ulong(2 ** 53), /safe integer/);
    refused(() => amqp.long(2n ** 63n), /-9223372036854775808 to 9223372036854775807/);
    refused(() => amqp.long(0.5), /got 0.5/);
  });

  it('float rounds to 32 bits where it is made, and refuses what a float cannot hold', () => {
    expect(amqp.float(0.1).value).toBe(Math.fround(0.1));
    expect(amqp.float(Number.NaN).value).toBeNaN();
    expect(amqp.float(-Infinity).value).toBe(-Infinity);
    expect(Object.is(amqp.float(-0).value, -0)).toBe(true);
    refused(() => amqp.float(1e39), /beyond the 32-bit float range/);
    expect(amqp.double(1)).toEqual({ type: 'double', value: 1 });
  });

  it('char is one code point', () => {
    expect(amqp.char('x').value).toBe('x');
    expect(amqp.char('😀').value).toBe('😀');
    expect(amqp.char(0x1f600).value).toBe('😀');
    for (const bad of ['', 'ab', 'x😀', '😀😀']) refused(() => amqp.char(bad), /one Unicode code point/);
    refused(() => amqp.char(0x110000), /0 to 1114111/);
  });

  it('symbol is ASCII only', () => {
    expect(amqp.symbol('amqp:accepted:list').value).toBe('amqp:accepted:list');
    refused(() => amqp.symbol('é'), /ASCII/);
  });

  it('uuid takes the string form or 16 bytes and keeps the canonical lower-case string', () => {
    const id = '0F8FAD5B-D9CB-469F-A165-70867728950E';
    expect(amqp.uuid(id).value).toBe(id.toLowerCase());
    expect(amqp.uuid(Buffer.from(id.replace(/-/g, ''), 'hex')).value).toBe(id.toLowerCase());
    refused(() => amqp.uuid('not-a-uuid'), /UUID string/);
    refused(() => amqp.uuid(Buffer.alloc(15)), /exactly 16 bytes/);
  });

  it('decimals and binary hold bytes of the right length', () => {
    expect(amqp.decimal32(new Uint8Array([1, 2, 3, 4])).value).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(amqp.decimal64(Buffer.alloc(8)).value.length).toBe(8);
    expect(amqp.decimal128(Buffer.alloc(16)).value.length).toBe(16);
    refused(() => amqp.decimal32(Buffer.alloc(8)), /exactly 4 bytes/);
    refused(() => amqp.decimal128('x' as never), /Buffer or Uint8Array/);
    expect(amqp.binary(Buffer.from('ab')).value).toEqual(Buffer.from('ab'));
  });

  it('timestamp takes a Date or milliseconds over the whole 64-bit range', () => {
    expect(amqp.timestamp(new Date(5)).value).toBe(5n);
    expect(amqp.timestamp(-1).value).toBe(-1n);
    expect(amqp.timestamp(2n ** 62n).value).toBe(2n ** 62n);
    refused(() => amqp.timestamp(new Date(Number.NaN)), /invalid Date/);
  });

  it('array checks and normalizes every element, naming the first bad one', () => {
    const a = amqp.array('ulong', [1, 2n ** 64n - 1n]);
    expect(a).toBeInstanceOf(AmqpArray);
    expect(a.values).toEqual([1n, 2n ** 64n - 1n]);
    expect(amqp.array('string', ['x'], 'com.example:tags').descriptor).toBe('com.example:tags');
    expect(amqp.array('int', new Set([1, 2])).values).toEqual([1, 2]);
    expect(amqp.array('uuid', ['0F8FAD5B-D9CB-469F-A165-70867728950E']).values).toEqual(['0f8fad5b-d9cb-469f-a165-70867728950e']);
    refused(() => amqp.array('int', [1, 2.5]), /amqp\.int\(\) takes an integer/);
    refused(() => amqp.array('boolean', [true, 1 as never]), /element 1 must be a boolean/);
    refused(() => amqp.array('timestamp', [new Date(Number.NaN)]), /element 0 must be a valid Date/);
    refused(() => amqp.array('array' as never, []), /takes an element type/);
    refused(() => amqp.array('nope' as never, []), /takes an element type/);
  });

  it('described takes a symbol or ulong descriptor', () => {
    expect(amqp.described('com.example:x', 1)).toEqual({ type: 'described', descriptor: 'com.example:x', value: 1 });
    expect(amqp.described(0x1234, 'v').descriptor).toBe(0x1234n);
    expect(amqp.described(2n ** 64n - 1n, null)).toBeInstanceOf(AmqpDescribed);
    refused(() => amqp.described({} as never, 1), /symbol \(string\) or ulong/);
    refused(() => amqp.described(-1, 1), /0 to/);
    refused(() => amqp.described('é', 1), /ASCII/);
  });

  it('reads like its value: valueOf, toString, toJSON, inspect', () => {
    expect(Number(amqp.uint(5)) + 1).toBe(6);
    expect(amqp.ulong(2n ** 64n - 1n).valueOf()).toBe(2n ** 64n - 1n);
    expect(String(amqp.symbol('s'))).toBe('symbol("s")');
    expect(String(amqp.long(-5n))).toBe('long(-5)');
    expect(JSON.stringify({ a: amqp.ulong(2n ** 64n - 1n), b: amqp.decimal32(Buffer.from([1, 2, 3, 4])), c: amqp.int(3) })).toBe(
      '{"a":"18446744073709551615","b":"01020304","c":3}',
    );
    expect(String(amqp.array('int', [1]))).toBe('array<int>(1)');
    expect(String(amqp.described(0x10, 1))).toBe('described(0x10)');
  });

  it('typeOf names the AMQP type of what a typed receive gives', () => {
    const cases: [unknown, string][] = [
      [null, 'null'],
      [undefined, 'null'],
      [true, 'boolean'],
      ['s', 'string'],
      [0.5, 'double'],
      [5n, 'long'],
      [Buffer.alloc(1), 'binary'],
      [new Date(), 'timestamp'],
      [[], 'list'],
      [new Set(), 'list'],
      [{}, 'map'],
      [new Map(), 'map'],
      [amqp.ubyte(1), 'ubyte'],
      [amqp.array('int', []), 'array'],
      [amqp.described('d', 1), 'described'],
    ];
    for (const [value, type] of cases) expect(amqp.typeOf(value)).toBe(type);
    expect(() => amqp.typeOf(() => 1)).toThrow(TypeError);
  });

  it('isAmqpValue recognizes wrappers by brand, not by class', () => {
    expect(isAmqpValue(amqp.uint(1))).toBe(true);
    expect(isAmqpValue(new AmqpScalar('uint', 1))).toBe(true);
    expect(isAmqpValue({ type: 'uint', value: 1 })).toBe(false);
    expect(isAmqpValue(null)).toBe(false);
  });
});
