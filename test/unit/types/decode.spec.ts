/** The typed decoder on hand-written bytes: every encoding of every type, and what it refuses. */
import { describe, expect, it } from 'vitest';
import { amqp, AmqpArray, type AmqpError } from '../../../src/index.js';
import { decodeSections, decodeValue } from '../../../src/types/decode.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const value = (s: string): unknown => decodeValue(hex(s));

describe('decodeValue', () => {
  it.each([
    ['null', '40', null],
    ['true', '41', true],
    ['false', '42', false],
    ['boolean byte', '5601', true],
    ['ubyte', '50ff', amqp.ubyte(255)],
    ['ushort', '60ffff', amqp.ushort(65535)],
    ['uint', '70ffffffff', amqp.uint(4294967295)],
    ['smalluint', '52ff', amqp.uint(255)],
    ['uint0', '43', amqp.uint(0)],
    ['ulong', '80ffffffffffffffff', amqp.ulong(2n ** 64n - 1n)],
    ['ulong 2^53 + 1 (rhea rounds it)', '800020000000000001', amqp.ulong(2n ** 53n + 1n)],
    ['smallulong', '5307', amqp.ulong(7n)],
    ['ulong0', '44', amqp.ulong(0n)],
    ['byte', '5180', amqp.byte(-128)],
    ['short', '618000', amqp.short(-32768)],
    ['int', '7180000000', amqp.int(-2147483648)],
    ['smallint', '54ff', amqp.int(-1)],
    ['long', '818000000000000000', amqp.long(-(2n ** 63n))],
    ['smalllong', '55ff', amqp.long(-1n)],
    ['float', '723fc00000', amqp.float(1.5)],
    ['double', '823ff8000000000000', 1.5],
    ['integral double', '823ff0000000000000', amqp.double(1)],
    ['negative zero double', '828000000000000000', -0],
    ['decimal32', '7401020304', amqp.decimal32(hex('01020304'))],
    ['decimal64', '840102030405060708', amqp.decimal64(hex('0102030405060708'))],
    ['decimal128', '94000102030405060708090a0b0c0d0e0f', amqp.decimal128(hex('000102030405060708090a0b0c0d0e0f'))],
    ['char', '730001f600', amqp.char('😀')],
    ['timestamp', '830000018bcfe56800', new Date(1_700_000_000_000)],
    ['timestamp beyond a Date', '834000000000000000', amqp.timestamp(2n ** 62n)],
    ['uuid', '980f8fad5bd9cb469fa16570867728950e', amqp.uuid('0f8fad5b-d9cb-469f-a165-70867728950e')],
    ['vbin8', 'a0020001', Buffer.from([0, 1])],
    ['vbin32', 'b00000000100', Buffer.from([0])],
    ['str8', 'a103c3bc61', 'üa'],
    ['str32', 'b10000000161', 'a'],
    ['sym8', 'a30161', amqp.symbol('a')],
    ['sym32', 'b30000000161', amqp.symbol('a')],
    ['list0', '45', []],
    ['list8', 'c00302 4041', [null, true]],
    ['list32', 'd0000000060000000241 42', [true, false]],
    ['map8 with string keys: an object', 'c1050 2a1016141', { a: true }],
    ['map32 with other keys: a Map', 'd1 00000009 00000002 a30161 5207', new Map([[amqp.symbol('a'), amqp.uint(7)]])],
    ['map with a __proto__ key: an own property', 'c10d02a1095f5f70726f746f5f5f41', JSON.parse('{"__proto__":true}')],
    ['array8 of ints', 'e0 0a 02 71 00000001 00000002', amqp.array('int', [1, 2])],
    ['array32 of smalluints', 'f0 00000008 00000003 52 01 02 03', amqp.array('uint', [1, 2, 3])],
    ['array of nulls (no bytes per element)', 'e0020340', amqp.array('null', [null, null, null])],
    ['array of trues', 'e0020241', amqp.array('boolean', [true, true])],
    ['array of uint0', 'e0020243', amqp.array('uint', [0, 0])],
    ['array of sym8', 'e0 06 02 a3 0161 0162', amqp.array('symbol', ['a', 'b'])],
    ['described array', 'e0 08 01 00a30178 a1 0179', amqp.array('string', ['y'], 'x')],
    ['array of arrays', 'e0 09 01 e0 06 01 71 00000000', new AmqpArray('array', [amqp.array('int', [0])])],
    ['described, symbol descriptor', '00a30178 a10179', amqp.described('x', 'y')],
    ['described, ulong descriptor', '005377 40', amqp.described(0x77n, null)],
    ['nested described', '005301 005302 41', amqp.described(1, amqp.described(2, true))],
  ])('%s', (_name, bytes, expected) => {
    expect(value(bytes)).toEqual(expected);
  });

  it.each([
    ['an unknown type code', '01', /unknown type code 0x1/],
    ['a truncated value', '70ffff', /truncated/],
    ['a boolean byte other than 0 or 1', '5602', /boolean byte 0x2/],
    ['a char beyond U+10FFFF', '7300110000', /not a Unicode code point/],
    ['a map with an odd count', 'c1020140', /odd number/],
    ['a list claiming more items than bytes', 'c00105', /claims 5 items in 0 bytes/],
    ['a list that runs past its size', 'c0020270ffffffff', /runs past the end|truncated|claims/],
    ['a compound longer than its items', 'c003014040', /longer than its items/],
    ['bytes after the value', '4040', /1 bytes after the value/],
    ['a descriptor that is not a symbol or ulong', '0041 40', /descriptor must be a symbol or a ulong/],
    ['a timestamp array element beyond a Date', 'e00a01 83 4000000000000000', /beyond what a Date holds/],
    ['an array element with two descriptors', 'e0060100 a30178 00', /more than one descriptor|truncated/],
    ['nesting deeper than 100 levels', 'c0'.repeat(0) + '00'.repeat(101) + '40', /nested more than 100 levels/],
  ])('refuses %s with amqp:decode-error', (_name, bytes, pattern) => {
    try {
      value(bytes.replace(/ /g, ''));
      expect.unreachable('no error');
    } catch (error) {
      expect((error as AmqpError).condition).toBe('amqp:decode-error');
      expect((error as Error).message).toMatch(pattern);
    }
  });
});

describe('decodeSections', () => {
  it('reads described sections until the end, and refuses anything else', () => {
    expect(decodeSections(hex('005377 a10178 005378 c10100'))).toEqual([amqp.described(0x77n, 'x'), amqp.described(0x78n, {})]);
    expect(() => decodeSections(hex('005377 40 41'))).toThrow(/expected a described message section at byte 4/);
    expect(decodeSections(Buffer.alloc(0))).toEqual([]);
  });
});
