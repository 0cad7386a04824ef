/**
 * Tracing end to end: the diagnostics channels as a raw subscriber sees them, the traceparent in
 * the message, and the OpenTelemetry bridge's spans — through EmbeddedBroker and, where selected,
 * RabbitMQ (the same helpers as test/brokers/invariants.spec.ts).
 */
import { subscribe as subscribeChannel, tracingChannel, unsubscribe as unsubscribeChannel } from 'node:diagnostics_channel';
import { context, propagation, type SpanContext, SpanKind, SpanStatusCode, type TextMapPropagator, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { firstValueFrom, lastValueFrom, of, tap, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Client,
  CONNECT_CHANNEL,
  createClient,
  type Delivery,
  message,
  RECEIVE_CHANNEL,
  SEND_CHANNEL,
  SendFailedError,
  SETTLE_CHANNEL,
} from 'rhea-rx';
import { instrumentRheaRx } from 'rhea-rx/opentelemetry';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from 'rhea-rx/testing';
import { traceCounters } from '../../src/tracing/hooks.js';
import { waitFor } from '../support/embedded.js';
import { forEachPeer, type Peer, usePeer } from '../support/peers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('tracing.spec');
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(() => {
  context.disable();
  propagation.disable();
});

/** Clients closed, the bridge stopped and spans forgotten after each test. */
function useTracing(): { client(url: string): Client; instrument(): void } {
  const clients: Client[] = [];
  let stop: (() => void) | undefined;
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ timeout: 2000 }).catch(() => undefined)));
    stop?.();
    stop = undefined;
    exporter.reset();
  });
  return {
    client(url) {
      const client = createClient(url);
      clients.push(client);
      return client;
    },
    instrument() {
      stop = instrumentRheaRx({ tracerProvider: provider });
    },
  };
}

function span(name: string): ReadableSpan {
  const found = exporter.getFinishedSpans().filter((s) => s.name === name);
  expect(found.map((s) => s.name), `exactly one span named '${name}'`).toEqual([name]);
  return found[0]!;
}

async function spanNamed(name: string): Promise<ReadableSpan> {
  await waitFor(() => exporter.getFinishedSpans().some((s) => s.name === name), `a span named '${name}'`, 5000);
  return span(name);
}

/**
 * Receives one delivery, accepts it inside the handler (unless the peer sent it settled: the Proton
 * C broker pre-settles what it sends), and reports the span active there.
 */
async function receiveAndAccept(client: Client, address: string): Promise<{ delivery: Delivery<unknown>; active: SpanContext | undefined }> {
  let active: SpanContext | undefined;
  const delivery = await firstValueFrom(
    client.receive(address, { credit: 1 }).pipe(
      tap((d) => {
        active = trace.getActiveSpan()?.spanContext();
        if (!d.settled) d.accept();
      }),
    ),
  );
  return { delivery, active };
}

const portOf = (url: string) => Number(new URL(url).port);
const systemOf = (peer: Peer) => (peer.name === 'rabbitmq' ? 'rabbitmq' : 'amqp');

forEachPeer('tracing through a broker', (peer) => {
  const broker = usePeer(peer);
  const env = useTracing();

  it('a send span and the process span of the same message share one trace; the settle span is a child of the process span', async () => {
    env.instrument();
    const q = peer.queue('trace');
    const client = env.client(broker.url);
    const outcomes = await tracer.startActiveSpan('job', async (job) => {
      try {
        return await lastValueFrom(of(message('hello', { properties: { messageId: 'm-1', correlationId: 'c-1' } })).pipe(client.send(q), toArray()));
      } finally {
        job.end();
      }
    });
    expect(outcomes.map((o) => o.state)).toEqual(['accepted']);
    const { delivery, active } = await receiveAndAccept(client, q);

    const [job, send, processed] = [span('job'), await spanNamed(`send ${q}`), await spanNamed(`process ${q}`)];
    const traceId = job.spanContext().traceId;
    // send: a child of the application's span, its context carried in the message
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.spanContext().traceId).toBe(traceId);
    expect(send.parentSpanContext?.spanId).toBe(job.spanContext().spanId);
    expect(delivery.message.applicationProperties.traceparent).toBe(`00-${traceId}-${send.spanContext().spanId}-01`);
    // process: the consumer side joins the producer's trace, and the handler runs inside it
    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(processed.spanContext().traceId).toBe(traceId);
    expect(processed.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(active?.spanId).toBe(processed.spanContext().spanId);

    const common = {
      'messaging.system.name': systemOf(peer),
      'messaging.system': systemOf(peer),
      'messaging.destination.name': q,
      'messaging.message.id': 'm-1',
      'messaging.message.conversation_id': 'c-1',
      'server.address': '127.0.0.1',
      'server.port': portOf(broker.url),
      'network.protocol.name': 'amqp',
    };
    expect(send.attributes).toMatchObject({ ...common, 'messaging.operation.type': 'send', 'messaging.operation.name': 'send', 'rhea_rx.outcome': 'accepted', 'rhea_rx.resent': false });
    expect(send.attributes['error.type']).toBeUndefined();
    expect(send.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(processed.attributes).toMatchObject({ ...common, 'messaging.operation.type': 'process', 'messaging.operation.name': 'process' });
    // settle: a child of the process span (a peer that sends deliveries settled gets none)
    if (delivery.settled && peer.name === 'proton-c') {
      expect(exporter.getFinishedSpans().some((s) => s.name === `accept ${q}`)).toBe(false);
    } else {
      const accepted = await spanNamed(`accept ${q}`);
      expect(accepted.kind).toBe(SpanKind.CLIENT);
      expect(accepted.parentSpanContext?.spanId).toBe(processed.spanContext().spanId);
      expect(accepted.attributes).toMatchObject({ ...common, 'messaging.operation.type': 'settle', 'messaging.operation.name': 'accept', 'rhea_rx.settle.reason': 'application' });
    }

    const connect = exporter.getFinishedSpans().filter((s) => s.name === 'connect');
    expect(connect.length).toBeGreaterThanOrEqual(1);
    expect(connect[0]!.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': portOf(broker.url), 'messaging.system.name': systemOf(peer), 'rhea_rx.connect.attempt': 1 });
  });

  it("keeps the application's own traceparent, without changing its message object", async () => {
    env.instrument();
    const q = peer.queue('trace-own');
    const client = env.client(broker.url);
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const applicationProperties = Object.freeze({ traceparent: own, region: 'eu' }); // a write would throw
    const input = message('mine', { applicationProperties });
    await lastValueFrom(of(input).pipe(client.send(q), toArray()));
    expect(input.applicationProperties).toBe(applicationProperties);
    expect(Object.keys(applicationProperties)).toEqual(['traceparent', 'region']);

    const { delivery } = await receiveAndAccept(client, q);
    expect(delivery.message.applicationProperties).toMatchObject({ traceparent: own, region: 'eu' });
    const processed = await spanNamed(`process ${q}`);
    // The consumer follows the traceparent the message carries: the application's.
    expect(processed.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(processed.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });

  it('uses the propagator the application configured', async () => {
    // A propagator of the test's own, with its own header: nothing W3C about it.
    const custom: TextMapPropagator = {
      inject(ctx, carrier, setter) {
        const sc = trace.getSpanContext(ctx);
        if (sc !== undefined) setter.set(carrier, 'x-test-trace', `${sc.traceId}:${sc.spanId}`);
      },
      extract(ctx, carrier, getter) {
        const value = getter.get(carrier, 'x-test-trace');
        if (typeof value !== 'string') return ctx;
        const [traceId, spanId] = value.split(':');
        return trace.setSpanContext(ctx, { traceId: traceId!, spanId: spanId!, traceFlags: 1, isRemote: true });
      },
      fields: () => ['x-test-trace'],
    };
    propagation.disable();
    propagation.setGlobalPropagator(custom);
    try {
      env.instrument();
      const q = peer.queue('trace-custom');
      const client = env.client(broker.url);
      await lastValueFrom(of('hello').pipe(client.send(q), toArray()));
      const { delivery } = await receiveAndAccept(client, q);
      const send = await spanNamed(`send ${q}`);
      const processed = await spanNamed(`process ${q}`);
      expect(delivery.message.applicationProperties).toEqual({ 'x-test-trace': `${send.spanContext().traceId}:${send.spanContext().spanId}` });
      expect(processed.spanContext().traceId).toBe(send.spanContext().traceId);
      expect(processed.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });
});

describe('tracing against EmbeddedBroker', () => {
  const env = useTracing();
  const brokers: EmbeddedBroker[] = [];
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });
  const start = async (options?: EmbeddedBrokerOptions) => {
    const broker = await EmbeddedBroker.start(options);
    brokers.push(broker);
    return broker;
  };

  it('builds no trace context and adds no property when nobody subscribes', async () => {
    for (const name of [CONNECT_CHANNEL, SEND_CHANNEL, RECEIVE_CHANNEL, SETTLE_CHANNEL]) expect(tracingChannel(name).hasSubscribers, name).toBe(false);
    const broker = await start();
    const client = env.client(broker.url);
    const before = traceCounters.contexts;
    await lastValueFrom(of('a', 'b', 'c').pipe(client.send('q'), toArray()));
    const { delivery } = await receiveAndAccept(client, 'q');
    expect(delivery.message.applicationProperties).toEqual({});
    expect(traceCounters.contexts).toBe(before);

    // The same workload with one subscriber does build them: the counter can tell.
    const stop = (() => {
      const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
      tracingChannel(SEND_CHANNEL).subscribe(handlers);
      return () => tracingChannel(SEND_CHANNEL).unsubscribe(handlers);
    })();
    try {
      await lastValueFrom(of('d').pipe(client.send('q'), toArray()));
    } finally {
      stop();
    }
    expect(traceCounters.contexts).toBe(before + 1);
  });

  it('publishes each channel’s events in order, with the semantic-convention attributes', async () => {
    const broker = await start();
    const events: Array<[string, string, Record<string, unknown>, unknown]> = [];
    const unsubscribers: Array<() => void> = [];
    for (const name of [CONNECT_CHANNEL, SEND_CHANNEL, RECEIVE_CHANNEL, SETTLE_CHANNEL]) {
      for (const event of ['start', 'end', 'asyncStart', 'asyncEnd', 'error']) {
        const channel = `tracing:${name}:${event}`;
        const listener = (ctx: unknown) => {
          const c = ctx as Record<string, unknown> & { carrier: Record<string, unknown> };
          if (name === SEND_CHANNEL && event === 'start') c.carrier.traceparent = '00-11111111111111111111111111111111-2222222222222222-01';
          events.push([name, event, { ...c, attributes: { ...(c.attributes as object) } }, ctx]);
        };
        subscribeChannel(channel, listener);
        unsubscribers.push(() => unsubscribeChannel(channel, listener));
      }
    }
    try {
      const client = env.client(broker.url);
      await lastValueFrom(of(message({ n: 1 }, { properties: { messageId: 7, correlationId: 'order-7' } })).pipe(client.send('orders'), toArray()));
      await receiveAndAccept(client, 'orders');
    } finally {
      for (const unsubscribe of unsubscribers) unsubscribe();
    }
    const of_ = (name: string) => events.filter(([n]) => n === name);
    expect(of_(CONNECT_CHANNEL).map(([, e]) => e)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(of_(SEND_CHANNEL).map(([, e]) => e)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(of_(RECEIVE_CHANNEL).map(([, e]) => e)).toEqual(['start', 'end']);
    expect(of_(SETTLE_CHANNEL).map(([, e]) => e)).toEqual(['start', 'end']);

    const connect = of_(CONNECT_CHANNEL).at(-1)![2];
    expect(connect).toMatchObject({ operation: 'connect', attempt: 1, reconnect: false, url: broker.url });
    expect(connect.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': portOf(broker.url), 'url.scheme': 'amqp', 'messaging.system.name': 'amqp' });

    const sent = of_(SEND_CHANNEL).at(-1)![2];
    expect(sent).toMatchObject({ operation: 'send', address: 'orders', outcome: 'accepted', resent: false });
    expect(sent.attributes).toEqual({
      'messaging.system.name': 'amqp',
      'messaging.system': 'amqp',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.client.id': expect.any(String),
      'messaging.destination.name': 'orders',
      'messaging.message.id': '7',
      'messaging.message.conversation_id': 'order-7',
      'server.address': '127.0.0.1',
      'server.port': portOf(broker.url),
      'network.protocol.name': 'amqp',
      'network.protocol.version': '1.0',
      'rhea_rx.outcome': 'accepted',
      'rhea_rx.resent': false,
    });

    const received = of_(RECEIVE_CHANNEL)[0]![2];
    expect(received).toMatchObject({ operation: 'process', address: 'orders', deliveryCount: 0, traceparent: '00-11111111111111111111111111111111-2222222222222222-01', tracestate: undefined });
    expect(received.attributes).toMatchObject({ 'messaging.operation.type': 'process', 'messaging.destination.name': 'orders', 'messaging.message.id': '7' });

    const settled = of_(SETTLE_CHANNEL)[0]![2];
    expect(settled).toMatchObject({ operation: 'settle', state: 'accepted', reason: 'application', address: 'orders' });
    expect(of_(SETTLE_CHANNEL)[0]![3]).toHaveProperty('receive', of_(RECEIVE_CHANNEL)[0]![3]); // the same object: a bridge finds its span
    expect(settled.attributes).toMatchObject({ 'messaging.operation.type': 'settle', 'messaging.operation.name': 'accept', 'server.port': portOf(broker.url) });
  });

  it('a rejected message ends its send span with an error status and the condition as error.type', async () => {
    env.instrument();
    const broker = await start();
    broker.rejectNext('q', 1, { condition: 'amqp:precondition-failed', description: 'no room' });
    const client = env.client(broker.url);
    const outcomes = await lastValueFrom(of('a', 'b').pipe(client.send('q'), toArray()));
    expect(outcomes.map((o) => o.state)).toEqual(['rejected', 'accepted']);
    await waitFor(() => exporter.getFinishedSpans().filter((s) => s.name === 'send q').length === 2, 'two send spans');
    const [rejected, accepted] = exporter.getFinishedSpans().filter((s) => s.name === 'send q');
    expect(rejected!.status).toEqual({ code: SpanStatusCode.ERROR, message: "The peer rejected the message sent to 'q'" });
    expect(rejected!.attributes).toMatchObject({ 'error.type': 'amqp:precondition-failed', 'rhea_rx.outcome': 'rejected' });
    expect(accepted!.status.code).toBe(SpanStatusCode.UNSET);
    expect(accepted!.attributes['error.type']).toBeUndefined();
  });

  it('a send that fails ends every open send span with an error naming no value', async () => {
    env.instrument();
    const broker = await start();
    const client = env.client(broker.url);
    const huge = 2n ** 70n; // no AMQP long holds it: the send fails (MessageEncodeError)
    await expect(lastValueFrom(of('fine' as unknown, huge).pipe(client.send('q'), toArray()))).rejects.toThrow(SendFailedError);
    await waitFor(() => exporter.getFinishedSpans().some((s) => s.status.code === SpanStatusCode.ERROR), 'a failed send span');
    const failed = exporter.getFinishedSpans().filter((s) => s.name === 'send q' && s.status.code === SpanStatusCode.ERROR);
    expect(failed).toHaveLength(2); // the one that could not be encoded, and the one waiting before it
    for (const s of failed) {
      expect(s.attributes).toMatchObject({ 'error.type': 'rhea-rx:encode', 'rhea_rx.outcome': 'failed' });
      expect(s.status.message).toBe("Sending to 'q' failed: a message could not be encoded (at body)");
      expect(JSON.stringify(s.attributes)).not.toContain(String(huge));
    }
  });

  it('puts no password and no body in any span, attribute or channel context', async () => {
    const password = 'pw-0e4c1d-secret';
    const body = 'BODY-2f9a7c-payload';
    const broker = await start({ users: { alice: password } });
    const url = broker.url.replace('amqp://', `amqp://alice:${password}@`);
    const contexts: string[] = [];
    const record = (ctx: unknown) => {
      const { carrier: _carrier, ...rest } = ctx as Record<string, unknown>; // the receive carrier is the message's own properties
      contexts.push(JSON.stringify(rest, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    };
    const handlers = { start: record, end: record, asyncStart: record, asyncEnd: record, error: record };
    const channels = [CONNECT_CHANNEL, SEND_CHANNEL, RECEIVE_CHANNEL, SETTLE_CHANNEL].map((n) => tracingChannel(n));
    for (const c of channels) c.subscribe(handlers);
    env.instrument();
    try {
      const client = env.client(url);
      broker.rejectNext('q', 1, { condition: 'amqp:not-allowed' });
      await lastValueFrom(of(body, message(body, { applicationProperties: { kind: 'x' } })).pipe(client.send('q'), toArray()));
      await receiveAndAccept(client, 'q');
    } finally {
      for (const c of channels) c.unsubscribe(handlers);
    }
    await spanNamed('accept q');
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThanOrEqual(5);
    const everything = [
      ...contexts,
      ...spans.map((s) => JSON.stringify({ name: s.name, attributes: s.attributes, status: s.status, events: s.events, links: s.links })),
    ].join('\n');
    expect(contexts.length).toBeGreaterThan(10);
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(body);
    expect(everything).toContain('alice:***@'); // the URL is there, redacted as in state$ (C3)
  });

  it('the disposer unsubscribes: no more spans and no traceparent afterwards', async () => {
    const broker = await start();
    const client = env.client(broker.url);
    const stop = instrumentRheaRx({ tracerProvider: provider });
    for (const name of [CONNECT_CHANNEL, SEND_CHANNEL, RECEIVE_CHANNEL, SETTLE_CHANNEL]) expect(tracingChannel(name).hasSubscribers, name).toBe(true);
    await lastValueFrom(of('traced').pipe(client.send('q'), toArray()));
    stop();
    stop(); // twice is harmless
    for (const name of [CONNECT_CHANNEL, SEND_CHANNEL, RECEIVE_CHANNEL, SETTLE_CHANNEL]) expect(tracingChannel(name).hasSubscribers, name).toBe(false);
    const before = exporter.getFinishedSpans().length;
    expect(exporter.getFinishedSpans().map((s) => s.name)).toContain('send q');
    await lastValueFrom(of('untraced').pipe(client.send('q'), toArray()));
    const first = await receiveAndAccept(client, 'q');
    const second = await receiveAndAccept(client, 'q');
    expect(first.delivery.message.applicationProperties.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(second.delivery.message.applicationProperties).toEqual({});
    expect(exporter.getFinishedSpans().length).toBe(before);
  });

  it('traces each reconnect attempt as its own connect span', async () => {
    env.instrument();
    const broker = await start();
    const port = portOf(broker.url);
    await broker.stop();
    brokers.length = 0;
    const client = createClient({ url: `amqp://127.0.0.1:${port}`, reconnect: { initialDelay: 20, maxDelay: 20, jitter: 0 } });
    try {
      const outcome = lastValueFrom(of('late').pipe(client.send('q'), toArray()));
      await waitFor(() => exporter.getFinishedSpans().filter((s) => s.name === 'connect').length >= 2, 'two failed attempts');
      brokers.push(await EmbeddedBroker.start({ port }));
      expect((await outcome).map((o) => o.state)).toEqual(['accepted']);
    } finally {
      await client.close({ timeout: 2000 });
    }
    const connects = exporter.getFinishedSpans().filter((s) => s.name === 'connect');
    const attempts = connects.map((s) => s.attributes['rhea_rx.connect.attempt']);
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    expect(connects[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(connects[0]!.attributes['error.type']).toEqual(expect.any(String));
    expect(connects[1]!.attributes['rhea_rx.connect.reconnect']).toBe(true);
    const last = connects.at(-1)!;
    expect(last.status.code).toBe(SpanStatusCode.UNSET);
    expect(last.parentSpanContext).toBeUndefined(); // a reconnect belongs to no caller's trace
  });
});
