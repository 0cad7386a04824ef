import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import type { OutcomeState } from '../delivery/Outcome.js';
import type { SettlementState } from '../delivery/Delivery.js';

/**
 * The `node:diagnostics_channel` tracing channel for connection attempts: one trace per attempt,
 * the first one and every reconnect attempt. Its events are published on
 * `tracing:rhea-rx:connect:start`, `:end`, `:asyncStart`, `:asyncEnd` and `:error`; the context
 * is a {@link ConnectTraceContext}.
 *
 * @example
 * import { tracingChannel } from 'node:diagnostics_channel';
 * tracingChannel(CONNECT_CHANNEL).subscribe({
 *   start: (ctx) => {}, end: () => {}, asyncStart: () => {},
 *   asyncEnd: (ctx) => log('connected', ctx.attributes['server.address']),
 *   error: (ctx) => log('attempt failed', ctx.error),
 * });
 */
export const CONNECT_CHANNEL = 'rhea-rx:connect';

/**
 * The tracing channel for sent messages: one trace per message. `start` fires when the message
 * is handed to the send engine, before it is encoded (a subscriber may add trace headers to
 * {@link SendTraceContext.carrier} then); `end` once it is encoded and buffered; `asyncStart` and
 * `asyncEnd` around the delivery of its outcome; `error` before them when the peer rejected it or
 * the send failed.
 */
export const SEND_CHANNEL = 'rhea-rx:send';

/**
 * The tracing channel for received messages: `start` and `end` around the emission of each
 * delivery to the subscriber (the application's handler runs between them, so a process span can
 * be made); `error` if the emission throws. The context is a {@link ReceiveTraceContext}.
 */
export const RECEIVE_CHANNEL = 'rhea-rx:receive';

/**
 * The tracing channel for settlements: `start` and `end` around `accept()`, `reject()`,
 * `release()` and `modify()` of a received delivery, and around the release of the deliveries a
 * receive subscription still holds when it ends (R3). The context is a {@link SettleTraceContext}.
 */
export const SETTLE_CHANNEL = 'rhea-rx:settle';

/**
 * The version of the OpenTelemetry semantic conventions that the attribute names and values in
 * the trace contexts follow (messaging spans, https://opentelemetry.io/docs/specs/semconv/messaging/).
 */
export const SEMCONV_VERSION = '1.45.0';

/** Span attributes: OpenTelemetry semantic-convention names, plus a few `rhea_rx.*` ones. */
export type TraceAttributes = Record<string, string | number | boolean>;

/** What every trace context has. */
export interface TraceContextBase {
  /**
   * Attributes for a span, under OpenTelemetry semantic-convention names (see
   * {@link SEMCONV_VERSION}). Complete at `start`; outcome and error attributes are added before
   * `asyncEnd` (send, connect) or `end` (receive, settle). Never holds a body or a secret.
   */
  readonly attributes: TraceAttributes;
  /**
   * Set before `error` is published. The library's own errors here carry no message body (a
   * send failure does not list the unsettled messages); a receive error is what the handler threw.
   */
  error?: unknown;
}

/** The context of one connection attempt, published on {@link CONNECT_CHANNEL}. */
export interface ConnectTraceContext extends TraceContextBase {
  /** Always `'connect'`: this context traces one connection attempt. */
  readonly operation: 'connect';
  /** The peer's URL, with any password hidden. */
  readonly url: string;
  /** The client's attempt number (1 for the first connection). */
  readonly attempt: number;
  /** True when this attempt follows a failed attempt or a lost connection. */
  readonly reconnect: boolean;
  /** What the peer's open frame said, set before `asyncEnd` when the attempt succeeded. */
  peer?: { readonly product: string | undefined; readonly version: string | undefined };
}

/** How a traced send ended: an AMQP outcome, or one of the ways a message ends without one. */
export type SendTraceOutcome = OutcomeState | 'failed' | 'dropped' | 'abandoned';

/** The context of one sent message, published on {@link SEND_CHANNEL}. */
export interface SendTraceContext extends TraceContextBase {
  /** Always `'send'`: this context traces one message, from encoding to its outcome. */
  readonly operation: 'send';
  /** The target address. */
  readonly address: string;
  /**
   * Trace headers to carry in the message: entries a subscriber adds during `start` (a W3C
   * `traceparent` and `tracestate`, or whatever an OpenTelemetry propagator injects) are written
   * into the message's application properties. A property the message already has is kept as
   * the application set it; the application's message object is never changed.
   */
  readonly carrier: Record<string, string>;
  /** How it ended; set before `asyncStart`. `dropped`: an overflow drop policy discarded it; `abandoned`: the send subscription ended first. */
  outcome?: SendTraceOutcome;
  /** True when the outcome is for a copy sent again after a connection loss (S3). */
  resent?: boolean;
}

/** The context of one delivery handed to the application, published on {@link RECEIVE_CHANNEL}. */
export interface ReceiveTraceContext extends TraceContextBase {
  /** Always `'process'` (OpenTelemetry's name for handling a received message): one delivery handed to the application. */
  readonly operation: 'process';
  /** The source address. */
  readonly address: string;
  /** The message's `traceparent` application property (W3C trace context), if it has one. */
  readonly traceparent: string | undefined;
  /** The message's `tracestate` application property, if it has one. */
  readonly tracestate: string | undefined;
  /**
   * The message's application properties, for a propagator to extract a trace context from. Read
   * it; do not change it.
   */
  readonly carrier: Readonly<Record<string, unknown>>;
  /** How many earlier attempts to deliver this message failed (the header's delivery-count). */
  readonly deliveryCount: number;
  /**
   * A subscriber may set this during `start`: the library then emits the delivery through it, so
   * that the application's handler runs inside the subscriber's context (with OpenTelemetry, the
   * process span active). It must call `emit` exactly once, synchronously, and return its result.
   */
  enter?: (emit: () => void) => void;
}

/** Who settled a delivery. */
export type SettleReason = 'application' | 'detach';

/** The context of one settlement, published on {@link SETTLE_CHANNEL}. */
export interface SettleTraceContext extends TraceContextBase {
  /** Always `'settle'`: this context traces one settlement of a delivery. */
  readonly operation: 'settle';
  /** The source address of the delivery. */
  readonly address: string;
  /** The outcome the delivery is settled with. */
  readonly state: SettlementState;
  /** `application`: accept/reject/release/modify; `detach`: released because its receive subscription ended (R3). */
  readonly reason: SettleReason;
  /**
   * The delivery's {@link ReceiveTraceContext}, when its emission was traced: a subscriber finds
   * the process span it made there (as a child of which to record the settlement).
   */
  readonly receive: ReceiveTraceContext | undefined;
}

/** @internal */
export const connectChannel: TracingChannel<unknown, ConnectTraceContext> = tracingChannel(CONNECT_CHANNEL);
/** @internal */
export const sendChannel: TracingChannel<unknown, SendTraceContext> = tracingChannel(SEND_CHANNEL);
/** @internal */
export const receiveChannel: TracingChannel<unknown, ReceiveTraceContext> = tracingChannel(RECEIVE_CHANNEL);
/** @internal */
export const settleChannel: TracingChannel<unknown, SettleTraceContext> = tracingChannel(SETTLE_CHANNEL);
