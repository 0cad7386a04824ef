import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { MessageEncodeError, message } from '../../../src/index.js';
import { fromRheaMessage, toRheaMessage } from '../../../src/links/codec.js';

/** Encodes as the sender link would and decodes as a receiver would: the bytes on the wire in between. */
const roundTrip = (input: unknown) => rhea.message.decode(rhea.message.encode(toRheaMessage(input)));

describe('toRheaMessage', () => {
  it.each([
    ['-0 stays -0 (rhea alone sends int 0)', -0, (v: unknown) => Object.is(v, -0)],
    ['NaN stays NaN (rhea alone sends null)', Number.NaN, (v: unknown) => Number.isNaN(v)],
    ['Infinity stays Infinity', Number.POSITIVE_INFINITY, (v: unknown) => v === Number.POSITIVE_INFINITY],
    ['a BigInt is a long', -5n, (v: unknown) => v === -5],
    ['a safe integer is unchanged', 2 ** 53 - 1, (v: unknown) => v === 2 ** 53 - 1],
    ['a double is unchanged', 0.1, (v: unknown) => v === 0.1],
  ])('%s', (_name, value, check) => {
    expect(check(roundTrip(value).body)).toBe(true);
    expect(check((roundTrip({ nested: [value] }).body as { nested: unknown[] }).nested[0])).toBe(true);
  });

  it('encodes a BigInt beyond 2^53 as an exact 64-bit long', () => {
    const decoded = roundTrip(2n ** 60n + 1n).body as Buffer;
    expect(Buffer.isBuffer(decoded)).toBe(true); // rhea hands longs beyond 2^53 back as 8 bytes
    expect(decoded.readBigInt64BE()).toBe(2n ** 60n + 1n);
  });

  it.each([
    ['an integer above 2^53', 2 ** 53 + 2, 'body'],
    ['1e20', 1e20, 'body'],
    ['a BigInt beyond 64 bits', 2n ** 64n, 'body'],
    ['a symbol in a map', { a: Symbol('s') }, 'body.a'],
    ['a function in a list', [0, () => 1], 'body[1]'],
    ['an invalid Date', new Date(Number.NaN), 'body'],
  ])('refuses %s, naming %s', (_name, value, path) => {
    try {
      toRheaMessage(value);
      expect.unreachable('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(MessageEncodeError);
      expect((error as MessageEncodeError).path).toBe(path);
    }
  });

  it('checks application properties and annotations too', () => {
    expect(() => toRheaMessage(message('b', { applicationProperties: { n: 2 ** 60 } }))).toThrow(/applicationProperties\.n/);
    expect(() => toRheaMessage(message('b', { messageAnnotations: { 'x-opt-f': () => 1 } }))).toThrow(/messageAnnotations\.x-opt-f/);
  });

  it('does not copy a body that needs no fixing', () => {
    const body = { a: [1, 'two', { three: true }], b: Buffer.from('x') };
    expect(toRheaMessage(body).body).toBe(body);
  });

  it('refuses a cycle instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => toRheaMessage(cyclic)).toThrow(MessageEncodeError);
  });

  it('maps every header and property field both ways', () => {
    const created = new Date(1_700_000_000_000);
    const input = message('x', {
      header: { durable: true, priority: 3, ttl: 1000, firstAcquirer: false, deliveryCount: 2 },
      properties: {
        messageId: 'mid',
        to: 'dest',
        subject: 'subj',
        replyTo: 'back',
        correlationId: 'cid',
        contentType: 'text/plain',
        contentEncoding: 'utf-8',
        creationTime: created,
        absoluteExpiryTime: created,
        groupId: 'g',
        groupSequence: 4,
        replyToGroupId: 'rg',
      },
      applicationProperties: { k: 'v' },
      messageAnnotations: { 'x-opt-a': 1 },
      footer: { f: 'z' },
    });
    const back = fromRheaMessage(rhea.message.decode(rhea.message.encode(toRheaMessage(input))) as never);
    expect(back.header).toEqual(input.header);
    expect(back.properties).toEqual(input.properties);
    expect(back.applicationProperties).toEqual({ k: 'v' });
    expect(back.messageAnnotations).toEqual({ 'x-opt-a': 1 });
    expect(back.footer).toEqual({ f: 'z' });
  });
});
