/**
 * `rhea-rx/opentelemetry`: turns the library's `node:diagnostics_channel` traces into
 * OpenTelemetry spans. Needs `@opentelemetry/api` (an optional peer dependency of rhea-rx; the
 * core package never loads it). See docs/tracing.md.
 *
 * @packageDocumentation
 * @module rhea-rx/opentelemetry
 */
import { tracingChannel, type TracingChannelSubscribers } from 'node:diagnostics_channel';
import {
  type Context,
  context as otelContext,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import {
  CONNECT_CHANNEL,
  type ConnectTraceContext,
  RECEIVE_CHANNEL,
  type ReceiveTraceContext,
  SEMCONV_VERSION,
  SEND_CHANNEL,
  type SendTraceContext,
  SETTLE_CHANNEL,
  type SettleTraceContext,
  type TraceContextBase,
} from '../tracing/index.js';
import { ConfigError } from '../errors/errors.js';

/** Options of {@link instrumentRheaRx}. */
export interface InstrumentRheaRxOptions {
  /**
   * Where the spans go.
   * @default the global tracer provider (`trace.getTracerProvider()`), looked up once, now
   */
  tracerProvider?: TracerProvider;
  /**
   * Make a `connect` span for each connection attempt, reconnect attempts included.
   * @default true
   */
  connect?: boolean;
  /**
   * Make a settle span (`accept orders`, `reject orders`, …) for each settlement, a child of the
   * delivery's process span.
   * @default true
   */
  settle?: boolean;
}

/** The name of the tracer the bridge makes its spans with (the instrumentation scope). */
export const INSTRUMENTATION_NAME = 'rhea-rx';

/** Reads only string-valued application properties: a propagator never sees a number or a map. */
const stringGetter: TextMapGetter<Readonly<Record<string, unknown>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

const noop = (): void => {};

const OPTION_NAMES: ReadonlySet<string> = new Set(['tracerProvider', 'connect', 'settle']);

/** @throws {@link rhea-rx!ConfigError | ConfigError} naming the option that is wrong. */
function checkOptions(options: unknown): asserts options is InstrumentRheaRxOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', `instrumentRheaRx options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) throw new ConfigError(key, `instrumentRheaRx has no option '${key}' (known: ${[...OPTION_NAMES].join(', ')})`);
  }
  const { tracerProvider, connect, settle } = options as Record<string, unknown>;
  if (tracerProvider !== undefined && typeof (tracerProvider as { getTracer?: unknown } | null)?.getTracer !== 'function') {
    throw new ConfigError('tracerProvider', 'instrumentRheaRx option tracerProvider must be an OpenTelemetry TracerProvider (an object with getTracer())');
  }
  for (const [name, value] of [['connect', connect], ['settle', settle]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new ConfigError(name, `instrumentRheaRx option ${name} must be a boolean, got ${typeof value}`);
  }
}

function statusOf(error: unknown): string {
  return error instanceof Error ? error.message : 'error';
}

/**
 * Subscribes to rhea-rx's tracing channels and makes OpenTelemetry spans from them, until the
 * returned function is called.
 *
 * - **send**: a `PRODUCER` span `send <address>` per message, from the moment the message is handed
 *   to the link until its outcome; `rejected` (and a failed, dropped or abandoned send) sets the
 *   status to error. The span's context is injected into the message's application properties
 *   with the configured propagator (W3C `traceparent`/`tracestate` by default), unless the message
 *   already carries that property.
 * - **receive**: a `CONSUMER` span `process <address>` around the emission of each delivery,
 *   whose parent is the context extracted from the message, so the producer's and the consumer's
 *   spans share one trace; the application's handler runs with it active.
 * - **settle**: a `CLIENT` span `accept <address>` (or `reject`, `release`, `modify`) per
 *   settlement, a child of the delivery's process span.
 * - **connect**: a `CLIENT` span `connect` per connection attempt.
 *
 * With OpenTelemetry's propagation API a user's own propagator is used for inject and extract.
 * Nothing of a message body or a credential is recorded.
 *
 * @param options - See {@link InstrumentRheaRxOptions}.
 * @returns A disposer: unsubscribes from every channel. Calling it again does nothing; spans
 *   already started still end.
 * @throws {@link rhea-rx!ConfigError | ConfigError} when an option is unknown or of the wrong type, naming it.
 * @example
 * import { instrumentRheaRx } from 'rhea-rx/opentelemetry';
 * const stop = instrumentRheaRx({ tracerProvider });
 * // … the client's sends, receives and settlements now make spans …
 * stop();
 */
export function instrumentRheaRx(options: InstrumentRheaRxOptions = {}): () => void {
  checkOptions(options);
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  const tracer: Tracer = provider.getTracer(INSTRUMENTATION_NAME, undefined, { schemaUrl: `https://opentelemetry.io/schemas/${SEMCONV_VERSION}` });
  const spans = new WeakMap<object, Span>(); // trace context → its span, for this instrumentation only

  const fail = (ctx: { readonly error?: unknown }): void => {
    const span = spans.get(ctx);
    span?.setStatus({ code: SpanStatusCode.ERROR, message: statusOf(ctx.error) });
  };

  /** Ends the span of `ctx` with the attributes as they are now, and forgets it. */
  const finish = (ctx: TraceContextBase): void => {
    const span = spans.get(ctx);
    if (span === undefined) return;
    span.setAttributes(ctx.attributes);
    span.end();
    spans.delete(ctx);
  };

  const send: TracingChannelSubscribers<SendTraceContext> = {
    start: (ctx) => {
      const parent = otelContext.active();
      const span = tracer.startSpan(`send ${ctx.address}`, { kind: SpanKind.PRODUCER, attributes: ctx.attributes }, parent);
      spans.set(ctx, span);
      propagation.inject(trace.setSpan(parent, span), ctx.carrier);
    },
    end: noop,
    asyncStart: noop,
    error: fail,
    asyncEnd: finish,
  };

  const receive: TracingChannelSubscribers<ReceiveTraceContext> = {
    start: (ctx) => {
      // The parent is the producer's context carried in the message, never the ambient context
      // of the socket callback this runs in (that belongs to whoever opened the connection).
      const parent: Context = propagation.extract(ROOT_CONTEXT, ctx.carrier, stringGetter);
      const span = tracer.startSpan(`process ${ctx.address}`, { kind: SpanKind.CONSUMER, attributes: ctx.attributes }, parent);
      spans.set(ctx, span);
      const active = trace.setSpan(parent, span);
      ctx.enter = (emit) => otelContext.with(active, emit);
    },
    end: (ctx) => {
      const span = spans.get(ctx);
      if (span === undefined) return;
      span.setAttributes(ctx.attributes);
      span.end(); // kept in the map (weakly): the settlement's span is its child
    },
    asyncStart: noop,
    asyncEnd: noop,
    error: fail,
  };

  const settle: TracingChannelSubscribers<SettleTraceContext> = {
    start: (ctx) => {
      const processSpan = ctx.receive === undefined ? undefined : spans.get(ctx.receive);
      const parent = processSpan === undefined ? otelContext.active() : trace.setSpan(otelContext.active(), processSpan);
      const span = tracer.startSpan(`${String(ctx.attributes['messaging.operation.name'])} ${ctx.address}`, { kind: SpanKind.CLIENT, attributes: ctx.attributes }, parent);
      spans.set(ctx, span);
    },
    end: finish,
    asyncStart: noop,
    asyncEnd: noop,
    error: fail,
  };

  const connect: TracingChannelSubscribers<ConnectTraceContext> = {
    start: (ctx) => {
      // A first connection belongs to whatever opened it; a reconnect to nobody in particular.
      const parent = ctx.reconnect ? ROOT_CONTEXT : otelContext.active();
      spans.set(ctx, tracer.startSpan('connect', { kind: SpanKind.CLIENT, attributes: ctx.attributes }, parent));
    },
    end: noop,
    asyncStart: noop,
    error: fail,
    asyncEnd: finish,
  };

  const subscriptions: Array<() => void> = [];
  const subscribe = <C extends object>(name: string, handlers: TracingChannelSubscribers<C>): void => {
    const channel = tracingChannel<unknown, C>(name);
    channel.subscribe(handlers);
    subscriptions.push(() => channel.unsubscribe(handlers));
  };
  subscribe(SEND_CHANNEL, send);
  subscribe(RECEIVE_CHANNEL, receive);
  if (options.settle !== false) subscribe(SETTLE_CHANNEL, settle);
  if (options.connect !== false) subscribe(CONNECT_CHANNEL, connect);

  return () => {
    for (const unsubscribe of subscriptions.splice(0)) unsubscribe();
  };
}
