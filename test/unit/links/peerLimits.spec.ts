import { describe, expect, it } from 'vitest';
import { amqp, message } from 'rhea-rx';
import { isRabbitMq3, rabbitMq3Refusal } from '../../../src/links/peerLimits.js';

describe('what RabbitMQ 3.x cannot parse (refused before the wire)', () => {
  it('knows RabbitMQ 3.x from its open frame, and nothing else', () => {
    expect(isRabbitMq3('RabbitMQ', '3.10.8')).toBe(true);
    expect(isRabbitMq3('RabbitMQ', '3.13.0')).toBe(true);
    expect(isRabbitMq3('RabbitMQ', '4.0.1')).toBe(false);
    expect(isRabbitMq3('RabbitMQ', undefined)).toBe(false);
    expect(isRabbitMq3('rhea-rx EmbeddedBroker', '0.1.0')).toBe(false);
    expect(isRabbitMq3(undefined, '3.10.8')).toBe(false);
  });

  it('refuses a list body of two or more values, and nothing else about lists', () => {
    expect(rabbitMq3Refusal([1, 2])).toMatch(/list of 2 values/);
    expect(rabbitMq3Refusal(message(['a', 'b', 'c']))).toMatch(/list of 3 values/);
    expect(rabbitMq3Refusal([1])).toBeUndefined();
    expect(rabbitMq3Refusal([])).toBeUndefined();
    expect(rabbitMq3Refusal({ items: [1, 2, 3] })).toBeUndefined();
    expect(rabbitMq3Refusal(amqp.described('com.example:x', [1, 2]))).toBeUndefined();
  });

  it('refuses arrays of element types it cannot parse, wherever they are', () => {
    expect(rabbitMq3Refusal(amqp.array('double', [1.5]))).toMatch(/array of double elements in the body/);
    expect(rabbitMq3Refusal({ deep: [{ x: amqp.array('uuid', []) }] })).toMatch(/array of uuid elements/);
    expect(rabbitMq3Refusal(new Map([['k', amqp.array('timestamp', [])]]))).toMatch(/array of timestamp/);
    expect(rabbitMq3Refusal(message('x', { applicationProperties: { a: amqp.array('float', [1]) } }))).toMatch(/application property 'a'/);
    expect(rabbitMq3Refusal(message('x', { messageAnnotations: { 'x-opt-a': amqp.array('char', ['c']) } }))).toMatch(/message annotation 'x-opt-a'/);
    for (const type of ['boolean', 'ubyte', 'ushort', 'uint', 'byte', 'short', 'int', 'string', 'symbol'] as const) {
      const values = type === 'boolean' ? [true] : type === 'string' || type === 'symbol' ? ['s'] : [1];
      expect(rabbitMq3Refusal(amqp.array(type, values as never[]))).toBeUndefined();
    }
    expect(rabbitMq3Refusal(amqp.array('long', [1n]))).toBeUndefined();
    expect(rabbitMq3Refusal(amqp.array('ulong', [1n]))).toBeUndefined();
  });

  it('refuses a described value as an application property or annotation, not nested or as the body', () => {
    expect(rabbitMq3Refusal(message('x', { applicationProperties: { d: amqp.described('com.example:d', 'v') } }))).toMatch(
      /described value as the application property 'd'/,
    );
    expect(rabbitMq3Refusal(message('x', { messageAnnotations: { 'x-opt-d': amqp.described(7, 'v') } }))).toMatch(/message annotation 'x-opt-d'/);
    expect(rabbitMq3Refusal(message('x', { applicationProperties: { list: [amqp.described(7, 'v')] } }))).toBeUndefined();
    expect(rabbitMq3Refusal(amqp.described('com.example:d', 'v'))).toBeUndefined();
  });

  it('takes plain messages as they are', () => {
    for (const body of ['text', 42, null, Buffer.from('x'), { a: 1, b: [1] }, new Date(0), message({ order: 1 }, { applicationProperties: { region: 'eu', n: 1 } })]) {
      expect(rabbitMq3Refusal(body)).toBeUndefined();
    }
  });
});
