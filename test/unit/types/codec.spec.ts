/**
 * The codec with typed values: wrappers encode as the type they name wherever they sit, the typed
 * decode gives them back, the default decode is rhea's, and what cannot be sent exactly is refused.
 */
import rhea from 'rhea';
import type { Message as RheaMessage } from 'rhea';
import { describe, expect, it } from 'vitest';
import {
  amqp,
  AmqpArray,
  AmqpError,
  AmqpScalar,
  isAmqpError,
  MessageEncodeError,
  message,
} from '../../../src/index.js';
import { decodeTypedMessage, fromRheaMessage, toRheaMessage } from '../../../src/links/codec.js';
import { decodeValue } from '../../../src/types/decode.js';

const encode = (input: unknown): Buffer => rhea.message.encode(toRheaMessage(input)) as Buffer;
const typed = (input: unknown) => decodeTypedMessage(encode(input));
const byDefault = (input: unknown) => fromRheaMessage(rhea.message.decode(encode(input)) as unknown as RheaMessage);

/** rhea's writer, for values rhea encodes outside a message (link properties, filters). */
function writeValue(value: unknown): Buffer {
  const writer = new (rhea.types as unknown as { Writer: new () => { write(v: unknown): void; toBuffer(): Buffer } }).Writer();
  writer.write(rhea.types.wrap(value));
  return writer.toBuffer();
}

function encodeError(input: unknown): MessageEncodeError {
  try {
    toRheaMessage(input);
  } catch (error) {
    expect(error).toBeInstanceOf(MessageEncodeError);
    return error as MessageEncodeError;
  }
  return expect.unreachable('no error') as never;
}

describe('typed values in a message', () => {
  it('come back as sent from every section', () => {
    const value = { u: amqp.ubyte(7), l: [amqp.ulong(2n ** 64n - 1n), amqp.symbol('s')], m: new Map([[amqp.uint(1), amqp.char('c')]]) };
    const back = typed(
      message(value, {
        applicationProperties: { p: amqp.short(-2) },
        messageAnnotations: { 'x-opt-jms-msg-type': amqp.byte(5), 'x-opt-big': 2n ** 62n },
        deliveryAnnotations: { 'x-opt-d': amqp.uuid('0f8fad5b-d9cb-469f-a165-70867728950e') },
        footer: { f: amqp.float(1.5) },
      }),
    );
    expect(back.body).toEqual(value);
    expect(back.applicationProperties).toEqual({ p: amqp.short(-2) });
    expect(back.messageAnnotations).toEqual({ 'x-opt-jms-msg-type': amqp.byte(5), 'x-opt-big': amqp.long(2n ** 62n) });
    expect(back.deliveryAnnotations).toEqual({ 'x-opt-d': amqp.uuid('0f8fad5b-d9cb-469f-a165-70867728950e') });
    expect(back.footer).toEqual({ f: amqp.float(1.5) });
  });

  it('leave the default decode as rhea makes it', () => {
    const back = byDefault(message({ u: amqp.ubyte(7), s: amqp.symbol('s'), big: amqp.ulong(2n ** 64n - 1n) }, { applicationProperties: { p: amqp.short(-2) } }));
    expect(back.body).toEqual({ u: 7, s: 's', big: Buffer.alloc(8, 0xff) });
    expect(back.applicationProperties).toEqual({ p: -2 });
  });

  it('give every header and properties field the same plain value as the default decode', () => {
    const time = new Date(1_700_000_000_000);
    const input = message('x', {
      header: { durable: true, priority: 9, ttl: 60_000, firstAcquirer: true, deliveryCount: 3 },
      properties: {
        messageId: 'm',
        userId: Buffer.from('guest'),
        to: '/queue/a',
        subject: 's',
        replyTo: '/queue/r',
        correlationId: 'c',
        contentType: 'text/plain',
        contentEncoding: 'utf-8',
        absoluteExpiryTime: time,
        creationTime: time,
        groupId: 'g',
        groupSequence: 4_000_000_000,
        replyToGroupId: 'rg',
      },
    });
    const a = typed(input);
    const b = byDefault(input);
    expect(a.header).toEqual(b.header);
    expect(a.properties).toEqual(b.properties);
    expect(a.header).toEqual(input.header);
    expect(a.properties).toEqual(input.properties);
  });

  it('encode a described body with its own descriptor (rhea alone would replace it by the section’s)', () => {
    const bytes = encode(amqp.described('com.example:p', 'v'));
    expect(bytes.toString('hex')).toContain('005377' + '00a30d' + Buffer.from('com.example:p').toString('hex') + 'a10176');
    expect(decodeTypedMessage(bytes).body).toEqual(amqp.described('com.example:p', 'v'));
    expect(typed(amqp.described(5, amqp.array('int', [1]))).body).toEqual(amqp.described(5n, amqp.array('int', [1])));
  });

  it('keep a described value inside a list as rhea’s typed value in the default decode', () => {
    const [inner] = byDefault([amqp.described('d', 1)]).body as [{ value: unknown; descriptor: { value: unknown } }];
    expect(inner.value).toBe(1);
    expect(inner.descriptor.value).toBe('d');
  });

  it('give an integral double back wrapped, so that it is sent again as a double', () => {
    expect(typed([amqp.double(2), 2.5, -0]).body).toEqual([amqp.double(2), 2.5, -0]);
    expect(typed(typed(amqp.double(2)).body).body).toEqual(amqp.double(2));
  });

  it('encode every array element type rhea can write', () => {
    const arrays = [
      amqp.array('null', [null, null]),
      amqp.array('boolean', [true, false]),
      amqp.array('ubyte', [0, 255]),
      amqp.array('ushort', [65535]),
      amqp.array('uint', [0, 4294967295]),
      amqp.array('ulong', [0n, 2n ** 64n - 1n]),
      amqp.array('byte', [-128]),
      amqp.array('short', [-32768]),
      amqp.array('int', [-2147483648]),
      amqp.array('long', [-(2n ** 63n)]),
      amqp.array('float', [1.5]),
      amqp.array('double', [-0, Number.NaN, 1]),
      amqp.array('decimal32', [Buffer.alloc(4, 1)]),
      amqp.array('decimal64', [Buffer.alloc(8, 2)]),
      amqp.array('decimal128', [Buffer.alloc(16, 3)]),
      amqp.array('char', ['😀']),
      amqp.array('timestamp', [new Date(5)]),
      amqp.array('uuid', ['0f8fad5b-d9cb-469f-a165-70867728950e']),
      amqp.array('binary', [Buffer.from('ab'), Buffer.alloc(0)]),
      amqp.array('string', ['x', 'ü'.repeat(300)]),
      amqp.array('symbol', ['a']),
      amqp.array('list', [[amqp.uint(1), amqp.symbol('s')], []]),
      amqp.array('map', [{ a: amqp.int(1) }, new Map([[amqp.uint(1), 'x']])]),
      amqp.array('int', [], 'com.example:empty'),
      amqp.array('ulong', [1n], 7n),
    ];
    expect(typed(arrays).body).toEqual(arrays);
  });

  it('work outside messages: rhea calls toRheaTyped (link properties, filters)', () => {
    expect(decodeValue(writeValue({ k: amqp.symbol('v'), n: amqp.ulong(2n ** 63n) }))).toEqual({ k: amqp.symbol('v'), n: amqp.ulong(2n ** 63n) });
    expect(decodeValue(writeValue(amqp.described('d', [amqp.ubyte(1)])))).toEqual(amqp.described('d', [amqp.ubyte(1)]));
  });

  it('keep a rhea section body (data, sequence) a section, also when its content needed fixing', () => {
    const data = rhea.message.data_section(Buffer.from('raw'));
    expect(toRheaMessage(data).body).toBe(data);
    const sequence = rhea.message.sequence_section([amqp.uint(1), -0]);
    const body = typed(sequence).body as { typecode: number; content: unknown };
    expect(body.typecode).toBe(0x76);
    expect(body.content).toEqual([amqp.uint(1), -0]);
    const bodies = typed(rhea.message.data_sections([Buffer.from('a'), Buffer.from('b')])).body as { typecode: number; content: unknown; multiple: boolean };
    expect(bodies).toMatchObject({ typecode: 0x75, multiple: true, content: [Buffer.from('a'), Buffer.from('b')] });
    expect(byDefault(data).body).toMatchObject({ typecode: 0x75, content: Buffer.from('raw') });
    expect(typed(data).body).toMatchObject({ typecode: 0x75, content: Buffer.from('raw') });
  });

  it('reads sections named by symbolic descriptors too', () => {
    const section = (name: string, value: unknown) => rhea.types.described(rhea.types.wrap_symbol(name), rhea.types.wrap(value));
    const writer = new (rhea.types as unknown as { Writer: new () => { write(v: unknown): void; toBuffer(): Buffer } }).Writer();
    writer.write(section('amqp:application-properties:map', { a: 1 }));
    writer.write(section('amqp:value:*', 'v'));
    writer.write(section('com.example:unknown', 'ignored'));
    const back = decodeTypedMessage(writer.toBuffer());
    expect(back.body).toBe('v');
    expect(back.applicationProperties).toEqual({ a: amqp.uint(1) });
  });
});

describe('message-id and correlation-id', () => {
  const id = (messageId: unknown) => message('b', { properties: { messageId: messageId as never } });

  it.each([
    ['a string', 'm-1', 'm-1', 'm-1'],
    ['a number: ulong', 42, amqp.ulong(42), 42],
    ['a bigint: ulong', 2n ** 63n, amqp.ulong(2n ** 63n), Buffer.from('8000000000000000', 'hex')],
    ['amqp.ulong', amqp.ulong(7), amqp.ulong(7), 7],
    ['amqp.uuid', amqp.uuid('0f8fad5b-d9cb-469f-a165-70867728950e'), amqp.uuid('0f8fad5b-d9cb-469f-a165-70867728950e'), Buffer.from('0f8fad5bd9cb469fa16570867728950e', 'hex')],
    ['16 bytes: uuid', Buffer.alloc(16, 7), amqp.uuid(Buffer.alloc(16, 7)), Buffer.alloc(16, 7)],
    ['other bytes: binary (rhea alone pads them to a uuid)', Buffer.from('abc'), Buffer.from('abc'), Buffer.from('abc')],
    ['amqp.binary of 16 bytes', amqp.binary(Buffer.alloc(16, 1)), amqp.binary(Buffer.alloc(16, 1)), Buffer.alloc(16, 1)],
  ])('%s', (_name, sent, typedBack, defaultBack) => {
    expect(typed(id(sent)).properties.messageId).toEqual(typedBack);
    expect(byDefault(id(sent)).properties.messageId).toEqual(defaultBack);
    expect(typed(message('b', { properties: { correlationId: sent as never } })).properties.correlationId).toEqual(typedBack);
    // What the typed decode gives is sent back as the same type.
    expect(typed(id(typed(id(sent)).properties.messageId)).properties.messageId).toEqual(typedBack);
  });

  it.each([
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['a number beyond 2^53', 2 ** 60],
    ['an int', amqp.int(5)],
    ['a symbol', amqp.symbol('s')],
    ['an object', {}],
  ])('refuses %s', (_name, bad) => {
    expect(encodeError(id(bad)).path).toBe('properties.messageId');
    expect(encodeError(message('b', { properties: { correlationId: bad as never } })).path).toBe('properties.correlationId');
  });
});

describe('what cannot be sent exactly is refused, naming where it is', () => {
  it.each([
    ['a hand-made wrapper out of range', { x: new AmqpScalar('ubyte', 300) }, 'body.x', /takes an integer from 0 to 255/],
    ['a hand-made fractional wrapper', [new AmqpScalar('uint', 1.5)], 'body[0]', /takes an integer/],
    ['an array of arrays', new AmqpArray('array', []), 'body', /array of arrays/],
    ['a hand-made array with a bad element', { a: new AmqpArray('int', [2 ** 40]) }, 'body.a', /amqp\.int\(\)/],
    ['a described described value', amqp.described('a', amqp.described('b', 1)), 'body.value', /another described value/],
    ['a bad value inside a described value', amqp.described('a', { n: 2 ** 60 }), 'body.value.n', /beyond 2\^53/],
    ['a bad value inside an array of lists', amqp.array('list', [[1], [2n ** 64n]]), 'body[1][0]', /does not fit/],
    ['an unpaired surrogate', { s: 'a\ud800b' }, 'body.s', /unpaired surrogate/],
    ['an unpaired surrogate in a key', { ['\udc00']: 1 }, 'body key \udc00', /unpaired surrogate/],
    ['an unpaired surrogate in an array of strings', amqp.array('string', ['\ud800']), 'body[0]', /unpaired surrogate/],
    ['a JavaScript Symbol', Symbol('s'), 'body', /amqp\.symbol/],
  ])('%s', (_name, body, path, pattern) => {
    const error = encodeError(body);
    expect(error.path).toBe(path);
    expect(error.message).toMatch(pattern);
  });

  it('checks the string properties and the symbol ones', () => {
    expect(encodeError(message('b', { properties: { subject: '\ud800' } })).path).toBe('properties.subject');
    expect(encodeError(message('b', { properties: { contentType: 'text/ü' } })).path).toBe('properties.contentType');
    expect(encodeError(message('b', { applicationProperties: { ['k\ud800']: 1 } })).path).toBe('applicationProperties key k\ud800');
  });
});

describe('the typed decode of bytes that are not a message', () => {
  it('throws an AmqpError with condition amqp:decode-error', () => {
    const bytes = encode({ a: 'long enough' });
    for (const bad of [bytes.subarray(0, bytes.length - 3), Buffer.from([0x00, 0x53, 0x77, 0x01]), Buffer.from([0xa1, 0x01, 0x61])]) {
      try {
        decodeTypedMessage(bad);
        expect.unreachable('no error');
      } catch (error) {
        expect(isAmqpError(error)).toBe(true);
        expect(error).toBeInstanceOf(AmqpError);
        expect((error as AmqpError).condition).toBe('amqp:decode-error');
      }
    }
  });
});
