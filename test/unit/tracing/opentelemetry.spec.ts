import { tracingChannel } from 'node:diagnostics_channel';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONNECT_CHANNEL, ConfigError, RECEIVE_CHANNEL, SEND_CHANNEL, SETTLE_CHANNEL } from 'rhea-rx';
import { INSTRUMENTATION_NAME, instrumentRheaRx } from 'rhea-rx/opentelemetry';
import { sendOutcome, startSend, type TraceSource, traceDelivery, traceSettle, withTraceHeaders } from '../../../src/tracing/hooks.js';

const source: TraceSource = { target: { host: '127.0.0.1', port: 5672 }, peer: undefined, container: { id: 'c' } };
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const stops: Array<() => void> = [];
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  exporter.reset();
});
const instrument = (options: Parameters<typeof instrumentRheaRx>[0] = {}) => {
  const stop = instrumentRheaRx({ tracerProvider: provider, ...options });
  stops.push(stop);
  return stop;
};
const subscribed = () => [CONNECT_CHANNEL, SEND_CHANNEL, RECEIVE_CHANNEL, SETTLE_CHANNEL].map((n) => tracingChannel(n).hasSubscribers);

describe('instrumentRheaRx', () => {
  it.each([
    [null, 'options'],
    [[], 'options'],
    [{ tracer: {} }, 'tracer'],
    [{ tracerProvider: {} }, 'tracerProvider'],
    [{ connect: 'yes' }, 'connect'],
    [{ settle: 1 }, 'settle'],
  ])('refuses %o with a ConfigError naming %s', (options, option) => {
    expect(() => instrumentRheaRx(options as never)).toThrow(ConfigError);
    try {
      instrumentRheaRx(options as never);
    } catch (error) {
      expect((error as ConfigError).option).toBe(option);
    }
    expect(subscribed()).toEqual([false, false, false, false]);
  });

  it('subscribes to the channels asked for, and its disposer unsubscribes from all of them', () => {
    const stop = instrument({ connect: false, settle: false });
    expect(subscribed()).toEqual([false, true, true, false]);
    stop();
    expect(subscribed()).toEqual([false, false, false, false]);
    instrument();
    expect(subscribed()).toEqual([true, true, true, true]);
  });

  it('makes a producer span per message, injecting its context, with an error status when rejected', () => {
    instrument();
    const trace1 = startSend(source, 'q', 'a');
    expect(trace1.carrier).toEqual({}); // no propagator registered: the API's default injects nothing
    withTraceHeaders({ body: 'a' }, trace1);
    expect(exporter.getFinishedSpans()).toEqual([]); // open until the outcome
    sendOutcome(trace1, { state: 'rejected', message: 'a', error: { condition: 'amqp:not-allowed' }, resent: false }, () => {});
    const [span] = exporter.getFinishedSpans();
    expect(span).toMatchObject({ name: 'send q', kind: SpanKind.PRODUCER, status: { code: SpanStatusCode.ERROR } });
    expect(span!.instrumentationScope.name).toBe(INSTRUMENTATION_NAME);
    expect(span!.instrumentationScope.schemaUrl).toBe('https://opentelemetry.io/schemas/1.45.0');
    expect(span!.attributes).toMatchObject({ 'error.type': 'amqp:not-allowed', 'rhea_rx.outcome': 'rejected' });
  });

  it('makes the process span active while the delivery is emitted, and the settle span its child', () => {
    instrument();
    const delivery = {};
    let active: string | undefined;
    traceDelivery(source, 'q', delivery, {}, () => {
      active = trace.getActiveSpan()?.spanContext().spanId;
      traceSettle(delivery, 'q', 'accepted', 'application', {}, () => {});
    });
    const processed = exporter.getFinishedSpans().find((s) => s.name === 'process q')!;
    const settled = exporter.getFinishedSpans().find((s) => s.name === 'accept q')!;
    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(active).toBe(processed.spanContext().spanId);
    expect(settled.parentSpanContext?.spanId).toBe(processed.spanContext().spanId);
    expect(processed.parentSpanContext).toBeUndefined(); // no traceparent in the message: a new trace
  });
});
