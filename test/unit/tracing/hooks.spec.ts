import { tracingChannel } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECT_CHANNEL, message, RECEIVE_CHANNEL, SEMCONV_VERSION, SEND_CHANNEL, SETTLE_CHANNEL } from 'rhea-rx';
import { MessageEncodeError, SendFailedError } from '../../../src/errors/errors.js';
import {
  idText,
  messagingSystem,
  sendAbandoned,
  sendDropped,
  sendFailed,
  sendOutcome,
  startSend,
  type TraceSource,
  traceConnect,
  traceDelivery,
  traceSettle,
  withTraceHeaders,
} from '../../../src/tracing/hooks.js';

const source: TraceSource = { target: { host: 'broker.example', port: 5671 }, peer: { product: 'RabbitMQ', version: '3.10.8' }, container: { id: 'c-1' } };

/** Records every event of a tracing channel as `event` names (and the contexts), until the test ends. */
function record(name: string): { events: string[]; contexts: object[] } {
  const events: string[] = [];
  const contexts: object[] = [];
  const on = (event: string) => (ctx: object) => {
    events.push(event);
    contexts.push(ctx);
  };
  const handlers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') };
  tracingChannel(name).subscribe(handlers);
  cleanups.push(() => tracingChannel(name).unsubscribe(handlers));
  return { events, contexts };
}
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('tracing hooks', () => {
  it('exports the channel names and the semantic-conventions version', () => {
    expect([CONNECT_CHANNEL, SEND_CHANNEL, RECEIVE_CHANNEL, SETTLE_CHANNEL]).toEqual(['rhea-rx:connect', 'rhea-rx:send', 'rhea-rx:receive', 'rhea-rx:settle']);
    expect(SEMCONV_VERSION).toBe('1.45.0');
  });

  it.each([
    ['RabbitMQ', 'rabbitmq'],
    ['ActiveMQ', 'activemq'],
    ['ActiveMQ Artemis', 'activemq'],
    ['rhea-rx EmbeddedBroker', 'amqp'],
    [undefined, 'amqp'],
  ])('messaging system of product %s is %s', (product, system) => {
    expect(messagingSystem(product)).toBe(system);
  });

  it.each([
    ['order-1', 'order-1'],
    [42, '42'],
    [2n ** 60n, '1152921504606846976'],
    [Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'), '0af76519-16cd-43dd-8448-eb211c80319c'],
    [Buffer.from([1, 2, 255]), '0102ff'],
    [{ value: 'wrapped' }, 'wrapped'],
    [undefined, undefined],
    [null, undefined],
  ])('message id %o reads as %s', (id, text) => {
    expect(idText(id)).toBe(text);
  });

  it('send: start before encoding, end once encoded, then asyncStart, the outcome, asyncEnd', () => {
    const { events, contexts } = record(SEND_CHANNEL);
    const trace = startSend(source, 'orders', message('body', { properties: { messageId: 'm1', correlationId: 'c1' } }));
    expect(events).toEqual(['start']);
    expect(contexts[0]).toBe(trace);
    expect(trace.attributes).toEqual({
      'messaging.system.name': 'rabbitmq',
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.client.id': 'c-1',
      'messaging.destination.name': 'orders',
      'messaging.message.id': 'm1',
      'messaging.message.conversation_id': 'c1',
      'server.address': 'broker.example',
      'server.port': 5671,
      'network.protocol.name': 'amqp',
      'network.protocol.version': '1.0',
    });
    withTraceHeaders({ body: 'body' }, trace);
    expect(events).toEqual(['start', 'end']);
    const seen: string[] = [];
    sendOutcome(trace, { state: 'accepted', message: 'body', resent: true }, () => seen.push(`deliver after ${events.at(-1)}`));
    expect(seen).toEqual(['deliver after asyncStart']);
    expect(events).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(trace).toMatchObject({ outcome: 'accepted', resent: true });
    expect(trace.attributes).toMatchObject({ 'rhea_rx.outcome': 'accepted', 'rhea_rx.resent': true });
    // A second ending publishes nothing more, but still delivers.
    sendOutcome(trace, { state: 'accepted', message: 'body', resent: false }, () => seen.push('again'));
    expect(events).toHaveLength(4);
    expect(seen).toEqual(['deliver after asyncStart', 'again']);
  });

  it('send: an anonymous target is marked so, without a destination name', () => {
    record(SEND_CHANNEL);
    const trace = startSend(source, '', 'x');
    expect(trace.attributes['messaging.destination.anonymous']).toBe(true);
    expect(trace.attributes).not.toHaveProperty('messaging.destination.name');
  });

  it('send: a rejected outcome publishes error (with the condition) before asyncStart', () => {
    const { events } = record(SEND_CHANNEL);
    const trace = startSend(source, 'q', 'x');
    withTraceHeaders({ body: 'x' }, trace);
    sendOutcome(trace, { state: 'rejected', message: 'x', error: { condition: 'amqp:precondition-failed', description: 'full' }, resent: false }, () => {});
    expect(events).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(trace.error).toMatchObject({ condition: 'amqp:precondition-failed', description: 'full', message: "The peer rejected the message sent to 'q'" });
    expect(trace.attributes['error.type']).toBe('amqp:precondition-failed');
  });

  it('send: trace headers go into a new application-properties object; the application’s own are kept', () => {
    record(SEND_CHANNEL);
    const trace = startSend(source, 'q', 'x');
    trace.carrier.traceparent = '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01';
    trace.carrier.tracestate = 'vendor=1';
    const own = Object.freeze({ tracestate: 'mine', region: 'eu' });
    const encoded = withTraceHeaders({ body: 'x', application_properties: own as Record<string, unknown> }, trace);
    expect(encoded.application_properties).toEqual({ tracestate: 'mine', region: 'eu', traceparent: '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01' });
    expect(encoded.application_properties).not.toBe(own);
    // Nothing to add: the section is left as it was.
    const untouched = startSend(source, 'q', 'x');
    const plain = withTraceHeaders({ body: 'x' }, untouched);
    expect(plain).toEqual({ body: 'x' });
  });

  it('send: a failure ends each open trace with an error that lists no message and names no value', () => {
    const { events } = record(SEND_CHANNEL);
    const a = startSend(source, 'q', 'a');
    withTraceHeaders({ body: 'a' }, a);
    const b = startSend(source, 'q', 12345678901234567890n); // its encoding failed: no `end` yet
    const cause = new MessageEncodeError('body', 'body: the BigInt 12345678901234567890 does not fit an AMQP long');
    const failure = new SendFailedError(`Sending to 'q' failed with 2 message(s) unconfirmed: ${cause.message}`, ['a', 12345678901234567890n], { cause });
    sendFailed([{ trace: a }, undefined, { trace: b }, {}], failure);
    expect(events).toEqual(['start', 'end', 'start', 'error', 'asyncStart', 'asyncEnd', 'error', 'end', 'asyncStart', 'asyncEnd']);
    for (const trace of [a, b]) {
      expect(trace.outcome).toBe('failed');
      expect(trace.error).not.toHaveProperty('unsettled');
      expect(String((trace.error as Error).message)).toBe("Sending to 'q' failed: a message could not be encoded (at body)");
      expect(trace.attributes['error.type']).toBe('rhea-rx:encode');
    }
  });

  it('send: dropped and abandoned traces end with their own outcome; an ended one is left alone', () => {
    const { events } = record(SEND_CHANNEL);
    const dropped = startSend(source, 'q', 'a');
    const abandoned = startSend(source, 'q', 'b');
    sendDropped(dropped);
    sendAbandoned([[{ trace: dropped }, { trace: abandoned }]]);
    expect(dropped).toMatchObject({ outcome: 'dropped', attributes: { 'error.type': 'rhea-rx:dropped' } });
    expect(abandoned).toMatchObject({ outcome: 'abandoned', attributes: { 'error.type': 'rhea-rx:abandoned' } });
    expect(events.filter((e) => e === 'asyncEnd')).toHaveLength(2);
  });

  it('receive: start and end around the emission, through `enter`; the settlement finds the receive context', () => {
    const received = record(RECEIVE_CHANNEL);
    const settled = record(SETTLE_CHANNEL);
    const delivery = {};
    const order: string[] = [];
    const enter = (ctx: unknown) => {
      (ctx as { enter?: (emit: () => void) => void }).enter = (emit) => {
        order.push('enter');
        emit();
      };
    };
    tracingChannel(RECEIVE_CHANNEL).start.subscribe(enter);
    cleanups.push(() => tracingChannel(RECEIVE_CHANNEL).start.unsubscribe(enter));
    const message = { message_id: 'm9', application_properties: { traceparent: '00-x', tracestate: 's=1', n: 3 }, delivery_count: 2 };
    traceDelivery(source, 'jobs', delivery, message, () => order.push(`emit after ${received.events.at(-1)}`));
    expect(order).toEqual(['enter', 'emit after start']);
    expect(received.events).toEqual(['start', 'end']);
    expect(received.contexts[0]).toMatchObject({ operation: 'process', address: 'jobs', traceparent: '00-x', tracestate: 's=1', deliveryCount: 2, carrier: message.application_properties });
    expect((received.contexts[0] as { attributes: object }).attributes).toMatchObject({ 'messaging.operation.type': 'process', 'messaging.message.id': 'm9' });

    traceSettle(delivery, 'jobs', 'rejected', 'application', message, () => order.push('settle'));
    expect(settled.events).toEqual(['start', 'end']);
    const ctx = settled.contexts[0] as { receive: unknown; attributes: Record<string, unknown> };
    expect(ctx.receive).toBe(received.contexts[0]);
    expect(ctx.attributes).toMatchObject({ 'messaging.operation.type': 'settle', 'messaging.operation.name': 'reject', 'server.address': 'broker.example', 'rhea_rx.settle.reason': 'application' });
  });

  it('receive: an `enter` that never calls emit does not lose the delivery; one that throws is reported', () => {
    const received = record(RECEIVE_CHANNEL);
    const enter = (ctx: unknown) => {
      (ctx as { enter?: (emit: () => void) => void }).enter = () => {};
    };
    tracingChannel(RECEIVE_CHANNEL).start.subscribe(enter);
    cleanups.push(() => tracingChannel(RECEIVE_CHANNEL).start.unsubscribe(enter));
    let emitted = 0;
    traceDelivery(source, 'q', {}, {}, () => emitted++);
    expect(emitted).toBe(1);
    const boom = new TypeError('handler failed');
    expect(() =>
      traceDelivery(source, 'q', {}, {}, () => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(received.events.slice(2)).toEqual(['start', 'error', 'end']);
    expect(received.contexts.at(-1)).toMatchObject({ error: boom, attributes: { 'error.type': 'TypeError' } });
  });

  it('settle: without a traced receive, the attributes come from the message', () => {
    const settled = record(SETTLE_CHANNEL);
    traceSettle({}, 'q', 'released', 'detach', { message_id: 5, correlation_id: 'c' }, () => {});
    expect((settled.contexts[0] as { receive: unknown }).receive).toBeUndefined();
    expect((settled.contexts[0] as { attributes: object }).attributes).toEqual({
      'network.protocol.name': 'amqp',
      'network.protocol.version': '1.0',
      'messaging.destination.name': 'q',
      'messaging.message.id': '5',
      'messaging.message.conversation_id': 'c',
      'messaging.operation.type': 'settle',
      'messaging.operation.name': 'release',
      'rhea_rx.settle.reason': 'detach',
    });
  });

  it('connect: start/end around starting the attempt, asyncStart/asyncEnd when it settles; the peer, never the connection', async () => {
    const { events, contexts } = record(CONNECT_CHANNEL);
    const target = { host: 'h', port: 1, scheme: 'amqps', display: 'amqps://u:***@h:1' };
    const connection = { options: { password: 'never-seen' } };
    await expect(traceConnect(source, target, 3, true, () => Promise.resolve(connection))).resolves.toBe(connection);
    expect(events).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const ctx = contexts[0] as Record<string, unknown>;
    expect(ctx).toMatchObject({ operation: 'connect', url: 'amqps://u:***@h:1', attempt: 3, reconnect: true, peer: { product: 'RabbitMQ', version: '3.10.8' } });
    expect(JSON.stringify(ctx)).not.toContain('never-seen');
    expect(ctx.attributes).toMatchObject({ 'server.address': 'h', 'server.port': 1, 'url.scheme': 'amqps', 'messaging.system.name': 'rabbitmq', 'rhea_rx.connect.attempt': 3 });

    const refused = Object.assign(new Error('refused'), { condition: undefined });
    await expect(traceConnect(source, target, 4, true, () => Promise.reject(refused))).rejects.toBe(refused);
    expect(events.slice(4)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(contexts.at(-1)).toMatchObject({ error: refused, attributes: { 'error.type': 'Error' } });
  });
});
