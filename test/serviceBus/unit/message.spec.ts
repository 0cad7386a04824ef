import { describe, expect, it } from 'vitest';
import { amqp, ConfigError } from 'rhea-rx';
import { decodeMessage, encodeMessage, plainBody } from '../../../src/serviceBus/amqp.js';
import { decodeTypedMessage } from '../../../src/links/codec.js';
import { toAmqpMessage } from '../../../src/serviceBus/message.js';

const NOW = Date.parse('2030-01-01T00:00:00.750Z');

describe('toAmqpMessage (a ServiceBusMessage as the seed client puts it on the wire)', () => {
  it('sends a string as UTF-8 bytes in a data section, and bytes as they are', () => {
    for (const body of ['Single message', Buffer.from('Single message'), new Uint8Array(Buffer.from('Single message'))]) {
      const decoded = decodeMessage(encodeMessage(toAmqpMessage({ body })));
      expect((decoded.body as { typecode: number }).typecode).toBe(0x75);
      expect(plainBody(decoded.body)).toEqual(Buffer.from('Single message'));
    }
  });

  it('sends any other body as an AMQP value', () => {
    const decoded = decodeMessage(encodeMessage(toAmqpMessage({ body: { order: 1, items: ['a'] } })));
    expect(decoded.body).toEqual({ order: 1, items: ['a'] });
  });

  it('maps the Service Bus fields to AMQP properties and annotations', () => {
    const at = new Date('2030-02-01T00:00:00Z');
    const decoded = decodeMessage(
      encodeMessage(
        toAmqpMessage({
          body: 'x',
          messageId: 'm1',
          sessionId: 's1',
          partitionKey: 's1',
          correlationId: 'c1',
          contentType: 'text/plain',
          subject: 'label',
          to: 'dest',
          replyTo: 'replies',
          replyToSessionId: 'rs',
          scheduledEnqueueTimeUtc: at,
          applicationProperties: { kind: 'single', n: 1 },
        }),
      ),
    );
    expect(decoded.properties).toEqual({
      messageId: 'm1',
      groupId: 's1',
      correlationId: 'c1',
      contentType: 'text/plain',
      subject: 'label',
      to: 'dest',
      replyTo: 'replies',
      replyToGroupId: 'rs',
    });
    expect(decoded.messageAnnotations).toEqual({ 'x-opt-partition-key': 's1', 'x-opt-scheduled-enqueue-time': at });
    expect(decoded.applicationProperties).toEqual({ kind: 'single', n: 1 });
  });

  it('sends a time to live as the header ttl (whole seconds) with creation and absolute expiry times, as azure-servicebus', () => {
    const out = toAmqpMessage({ body: 'x', timeToLive: 90_500 }, 'message', () => NOW);
    expect(out.header).toEqual({ ttl: 90_000 });
    expect(out.properties).toEqual({ creationTime: new Date('2030-01-01T00:00:00Z'), absoluteExpiryTime: new Date('2030-01-01T00:01:30Z') });
  });

  it('types integer application properties as azure-servicebus does: int within 32 bits, else long; other values as given', () => {
    const bytes = encodeMessage(
      toAmqpMessage({ body: 'x', applicationProperties: { n: 1, neg: -5, top: 2 ** 31 - 1, over: 2 ** 31, big: 2 ** 40, half: 1.5, flag: true, exact: amqp.uint(7) } }),
    );
    const typed = decodeTypedMessage(bytes).applicationProperties as Record<string, unknown>;
    const typeOf = (v: unknown) => (v as { type?: string }).type ?? typeof v;
    expect(Object.fromEntries(Object.entries(typed).map(([k, v]) => [k, typeOf(v)]))).toEqual({
      n: 'int',
      neg: 'int',
      top: 'int',
      over: 'long',
      big: 'long',
      half: 'number',
      flag: 'boolean',
      exact: 'uint',
    });
    expect(decodeMessage(bytes).applicationProperties).toMatchObject({ n: 1, neg: -5, top: 2 ** 31 - 1, over: 2 ** 31, big: 2 ** 40, half: 1.5, flag: true, exact: 7 });
  });

  it('leaves out every section it has nothing for', () => {
    const out = toAmqpMessage({ body: 'x' });
    expect(out).not.toHaveProperty('properties');
    expect(out).not.toHaveProperty('messageAnnotations');
    expect(out).not.toHaveProperty('header');
  });

  it.each([
    ['a message without a body', { messageId: 'x' }, 'message'],
    ['an unknown field', { body: 1, label: 'x' }, 'message.label'],
    ['a non-string session id', { body: 1, sessionId: 5 }, 'message.sessionId'],
    ['a partition key unlike the session id', { body: 1, sessionId: 'a', partitionKey: 'b' }, 'message.partitionKey'],
    ['an invalid enqueue time', { body: 1, scheduledEnqueueTimeUtc: new Date(Number.NaN) }, 'message.scheduledEnqueueTimeUtc'],
    ['a negative time to live', { body: 1, timeToLive: -1 }, 'message.timeToLive'],
  ])('refuses %s, naming the field', (_what, input, option) => {
    const error = (() => {
      try {
        toAmqpMessage(input as never);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
  });
});
