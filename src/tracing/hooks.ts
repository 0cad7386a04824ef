/**
 * What the links and the connection manager call to publish on the tracing channels. Every hook
 * is called only after its caller has checked the channel's `hasSubscribers`, so with nobody
 * listening no context object, attribute record or closure is made (docs/tracing.md, "Overhead").
 * @internal
 */
import type { Outcome } from '../delivery/Outcome.js';
import type { SettlementState } from '../delivery/Delivery.js';
import { isOutgoingMessage } from '../delivery/message.js';
import { AmqpError } from '../errors/AmqpError.js';
import {
  type ConnectTraceContext,
  connectChannel,
  type ReceiveTraceContext,
  receiveChannel,
  type SendTraceContext,
  type SendTraceOutcome,
  sendChannel,
  type SettleReason,
  type SettleTraceContext,
  settleChannel,
  type TraceAttributes,
} from './channels.js';

/** What a trace needs from the connection manager (structurally, so this module stays below client/). */
export interface TraceSource {
  /** The peer tried or connected now. */
  readonly target: { readonly host: string; readonly port: number };
  readonly peer: { readonly product: string | undefined; readonly version: string | undefined } | undefined;
  readonly container: { readonly id: string };
}

/** The fields of a rhea message a trace reads (never the body). */
export interface TracedMessage {
  message_id?: unknown;
  correlation_id?: unknown;
  delivery_count?: number | undefined;
  application_properties?: Record<string, unknown> | undefined;
}

/** Counts the trace contexts made, so tests can show that none is made when nobody listens. */
export const traceCounters = { contexts: 0 };

const empty: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * `messaging.system.name` for the peer, from the product in its open frame: the semantic
 * conventions' value where one exists, else `amqp`.
 */
export function messagingSystem(product: string | undefined): string {
  const name = product?.toLowerCase() ?? '';
  if (name.includes('rabbitmq')) return 'rabbitmq';
  if (name.includes('activemq') || name.includes('artemis')) return 'activemq';
  return 'amqp';
}

/** A message-id or correlation-id as text: strings as they are, numbers in decimal, 16 bytes as a UUID, other bytes in hex. */
export function idText(id: unknown): string | undefined {
  if (typeof id === 'string') return id;
  if (typeof id === 'number' || typeof id === 'bigint') return String(id);
  if (Buffer.isBuffer(id)) {
    const hex = id.toString('hex');
    return id.length === 16 ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : hex;
  }
  if (typeof id === 'object' && id !== null && 'value' in id) return idText((id as { value: unknown }).value); // amqp.uuid(…) and kin
  return undefined;
}

/** The attributes every messaging span of this client has. */
function messagingAttributes(source: TraceSource, address: string, type: string, name: string, messageId: unknown, correlationId: unknown): TraceAttributes {
  const system = messagingSystem(source.peer?.product);
  const attributes: TraceAttributes = {
    'messaging.system.name': system,
    'messaging.system': system, // deprecated by messaging.system.name; kept for backends that still read it
    'messaging.operation.type': type,
    'messaging.operation.name': name,
    'messaging.client.id': source.container.id,
    'server.address': source.target.host,
    'server.port': source.target.port,
    'network.protocol.name': 'amqp',
    'network.protocol.version': '1.0',
  };
  if (address === '') attributes['messaging.destination.anonymous'] = true;
  else attributes['messaging.destination.name'] = address;
  const id = idText(messageId);
  if (id !== undefined) attributes['messaging.message.id'] = id;
  const conversation = idText(correlationId);
  if (conversation !== undefined) attributes['messaging.message.conversation_id'] = conversation;
  return attributes;
}

/** A low-cardinality `error.type`: the AMQP condition, else the error's class name. */
function errorType(error: unknown): string {
  if (error instanceof AmqpError && error.condition !== undefined) return error.condition;
  if (error instanceof Error) return error.name;
  return '_OTHER';
}

// ---------------------------------------------------------------------------------------- send

/** @internal A traced send; the link keeps it with the message until its outcome. */
export class SendTrace implements SendTraceContext {
  readonly operation = 'send' as const;
  readonly carrier: Record<string, string> = {};
  outcome?: SendTraceOutcome;
  resent?: boolean;
  error?: unknown;
  #encoded = false;
  #done = false;
  readonly #source: TraceSource;

  constructor(
    source: TraceSource,
    readonly address: string,
    readonly attributes: TraceAttributes,
  ) {
    this.#source = source;
    traceCounters.contexts++;
  }

  /** The message is encoded and buffered: the synchronous part is over. */
  encoded(): void {
    if (this.#encoded) return;
    this.#encoded = true;
    sendChannel.end.publish(this);
  }

  /** Ends the trace (once): `error` (if any), then `end` if still due, then `asyncStart`, `then()`, `asyncEnd`. */
  finish(outcome: SendTraceOutcome, error: AmqpError | undefined, then?: () => void): void {
    if (this.#done) {
      then?.();
      return;
    }
    this.#done = true;
    this.outcome = outcome;
    this.attributes['rhea_rx.outcome'] = outcome;
    // A message handed over before the connection opened (or moved to another peer by failover)
    // learns only now which peer took it.
    const peer = this.#source.peer;
    if (peer !== undefined && outcome !== 'dropped' && outcome !== 'abandoned' && outcome !== 'failed') {
      const system = messagingSystem(peer.product);
      this.attributes['messaging.system.name'] = system;
      this.attributes['messaging.system'] = system;
      this.attributes['server.address'] = this.#source.target.host;
      this.attributes['server.port'] = this.#source.target.port;
    }
    if (error !== undefined) {
      this.error = error;
      this.attributes['error.type'] = error.condition ?? error.name;
      sendChannel.error.publish(this);
    }
    this.encoded();
    sendChannel.asyncStart.publish(this);
    try {
      then?.();
    } finally {
      sendChannel.asyncEnd.publish(this);
    }
  }
}

/**
 * Starts the trace of one message handed to the send engine, before it is encoded: subscribers
 * of `start` may fill {@link SendTraceContext.carrier}.
 */
export function startSend(source: TraceSource, address: string, input: unknown): SendTrace {
  const properties = isOutgoingMessage(input) ? input.properties : undefined;
  const trace = new SendTrace(source, address, messagingAttributes(source, address, 'send', 'send', properties?.messageId, properties?.correlationId));
  sendChannel.start.publish(trace);
  return trace;
}

/**
 * Writes the trace headers subscribers put in the carrier into the encoded message's application
 * properties — a new object: the section may still be the application's own — keeping any the
 * message already has; then publishes `end`.
 */
export function withTraceHeaders<M extends { body?: unknown; application_properties?: Record<string, unknown> | undefined }>(encoded: M, trace: SendTrace): M {
  const own = encoded.application_properties;
  let added: Record<string, string> | undefined;
  for (const key of Object.keys(trace.carrier)) {
    const value = trace.carrier[key];
    if (typeof value !== 'string' || (own !== undefined && Object.hasOwn(own, key))) continue;
    (added ??= {})[key] = value;
  }
  if (added !== undefined) encoded.application_properties = { ...own, ...added };
  trace.encoded();
  return encoded;
}

/** Publishes the outcome of a traced message around its delivery to the application (`deliver`). */
export function sendOutcome<T>(trace: SendTrace, outcome: Outcome<T>, deliver: (outcome: Outcome<T>) => void): void {
  trace.resent = outcome.resent;
  trace.attributes['rhea_rx.resent'] = outcome.resent;
  const error =
    outcome.state === 'rejected'
      ? new AmqpError(`The peer rejected the message sent to '${trace.address}'`, {
          condition: outcome.error?.condition,
          description: outcome.error?.description,
        })
      : undefined;
  trace.finish(outcome.state, error, () => deliver(outcome));
}

/**
 * Ends the traces of messages left without an outcome when the send fails. The error in the
 * context is a new one, without the failed send's `unsettled` list (message bodies) and, for a
 * message that could not be encoded, naming only the path of the value (never the value).
 */
export function sendFailed(entries: Iterable<{ readonly trace?: SendTrace | undefined } | undefined>, failure: unknown): void {
  let error: AmqpError | undefined;
  for (const entry of entries) {
    if (entry?.trace === undefined) continue;
    error ??= traceError(entry.trace.address, failure);
    entry.trace.finish('failed', error);
  }
}

/** Ends the trace of a message an overflow drop policy discarded. */
export function sendDropped(trace: SendTrace): void {
  trace.finish('dropped', new AmqpError(`The message for '${trace.address}' was dropped: the send buffer was full`, { condition: 'rhea-rx:dropped' }));
}

/** Ends the traces still open when a send stream ends without reporting their outcomes (unsubscribed). */
export function sendAbandoned(groups: ReadonlyArray<Iterable<{ readonly trace?: SendTrace | undefined } | undefined>>): void {
  for (const entries of groups) {
    for (const entry of entries) {
      if (entry?.trace === undefined) continue;
      entry.trace.finish(
        'abandoned',
        new AmqpError(`The send to '${entry.trace.address}' ended before the peer settled the message`, { condition: 'rhea-rx:abandoned' }),
      );
    }
  }
}

function traceError(address: string, failure: unknown): AmqpError {
  for (let cause = failure, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    const path = (cause as { path?: unknown }).path;
    if (cause.name === 'MessageEncodeError' && typeof path === 'string') {
      return new AmqpError(`Sending to '${address}' failed: a message could not be encoded (at ${path})`, { condition: 'rhea-rx:encode' });
    }
  }
  const amqp = failure instanceof AmqpError ? failure : undefined;
  return new AmqpError(failure instanceof Error ? failure.message : `Sending to '${address}' failed`, {
    condition: amqp?.condition ?? (failure instanceof Error ? failure.name : undefined),
    description: amqp?.description,
    retryable: amqp?.retryable,
  });
}

// ------------------------------------------------------------------------------------- receive

/** The receive context of each traced delivery, for its settlement; gone with the delivery. */
const received = new WeakMap<object, ReceiveTraceContext>();

class ReceiveTrace implements ReceiveTraceContext {
  readonly operation = 'process' as const;
  enter?: (emit: () => void) => void;
  error?: unknown;

  constructor(
    readonly address: string,
    readonly attributes: TraceAttributes,
    readonly carrier: Readonly<Record<string, unknown>>,
    readonly traceparent: string | undefined,
    readonly tracestate: string | undefined,
    readonly deliveryCount: number,
  ) {
    traceCounters.contexts++;
  }
}

/**
 * Emits one delivery to the application between `start` and `end` on the receive channel, through
 * the context's `enter` when a subscriber set one.
 */
export function traceDelivery(source: TraceSource, address: string, delivery: object, message: TracedMessage, emit: () => void): void {
  const carrier = message.application_properties ?? empty;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const context = new ReceiveTrace(
    address,
    messagingAttributes(source, address, 'process', 'process', message.message_id, message.correlation_id),
    carrier,
    text(carrier.traceparent),
    text(carrier.tracestate),
    message.delivery_count ?? 0,
  );
  received.set(delivery, context);
  receiveChannel.start.runStores(context, () => {
    let emitted = false;
    const once = () => {
      if (emitted) return;
      emitted = true;
      emit();
    };
    try {
      if (context.enter === undefined) once();
      else context.enter(once);
      once(); // an `enter` that did not call it must not lose the delivery
    } catch (error) {
      context.error = error;
      context.attributes['error.type'] = errorType(error);
      receiveChannel.error.publish(context);
      throw error;
    } finally {
      receiveChannel.end.publish(context);
    }
  });
}

// -------------------------------------------------------------------------------------- settle

const OPERATION_NAMES: Readonly<Record<SettlementState, string>> = { accepted: 'accept', rejected: 'reject', released: 'release', modified: 'modify' };

class SettleTrace implements SettleTraceContext {
  readonly operation = 'settle' as const;
  error?: unknown;

  constructor(
    readonly address: string,
    readonly attributes: TraceAttributes,
    readonly state: SettlementState,
    readonly reason: SettleReason,
    readonly receive: ReceiveTraceContext | undefined,
  ) {
    traceCounters.contexts++;
  }
}

/**
 * Runs `settle` (the link's bookkeeping and the disposition) between `start` and `end` on the
 * settle channel. The server and client attributes come from the delivery's receive context, when
 * its emission was traced.
 */
export function traceSettle(delivery: object, address: string, state: SettlementState, reason: SettleReason, message: TracedMessage, settle: () => void): void {
  const receive = received.get(delivery);
  const name = OPERATION_NAMES[state];
  const attributes: TraceAttributes = {};
  if (receive !== undefined) {
    for (const key of Object.keys(receive.attributes)) if (key !== 'error.type') attributes[key] = receive.attributes[key]!;
  } else {
    attributes['network.protocol.name'] = 'amqp';
    attributes['network.protocol.version'] = '1.0';
    attributes['messaging.destination.name'] = address;
    const id = idText(message.message_id);
    if (id !== undefined) attributes['messaging.message.id'] = id;
    const conversation = idText(message.correlation_id);
    if (conversation !== undefined) attributes['messaging.message.conversation_id'] = conversation;
  }
  attributes['messaging.operation.type'] = 'settle';
  attributes['messaging.operation.name'] = name;
  attributes['rhea_rx.settle.reason'] = reason;
  const context = new SettleTrace(address, attributes, state, reason, receive);
  settleChannel.start.runStores(context, () => {
    try {
      settle();
    } catch (error) {
      context.error = error;
      context.attributes['error.type'] = errorType(error);
      settleChannel.error.publish(context);
      throw error;
    } finally {
      settleChannel.end.publish(context);
    }
  });
}

// ------------------------------------------------------------------------------------- connect

class ConnectTrace implements ConnectTraceContext {
  readonly operation = 'connect' as const;
  peer?: { readonly product: string | undefined; readonly version: string | undefined };
  error?: unknown;

  constructor(
    readonly url: string,
    readonly attempt: number,
    readonly reconnect: boolean,
    readonly attributes: TraceAttributes,
  ) {
    traceCounters.contexts++;
  }
}

/**
 * Traces one connection attempt: `start` and `end` around starting it, then `asyncStart` and
 * `asyncEnd` when it opens or fails (`error` first). The context gets the peer's product and
 * version, never the rhea connection (whose options hold the credentials).
 */
export function traceConnect<C>(
  source: Pick<TraceSource, 'container' | 'peer'>,
  target: { readonly host: string; readonly port: number; readonly scheme: string; readonly display: string },
  attempt: number,
  reconnect: boolean,
  open: () => Promise<C>,
): Promise<C> {
  const context = new ConnectTrace(target.display, attempt, reconnect, {
    'server.address': target.host,
    'server.port': target.port,
    'url.scheme': target.scheme,
    'network.protocol.name': 'amqp',
    'network.protocol.version': '1.0',
    'network.transport': 'tcp',
    'messaging.client.id': source.container.id,
    'rhea_rx.connect.attempt': attempt,
    'rhea_rx.connect.reconnect': reconnect,
  });
  const failed = (error: unknown): never => {
    context.error = error;
    context.attributes['error.type'] = errorType(error);
    connectChannel.error.publish(context);
    throw error;
  };
  let opening: Promise<C>;
  connectChannel.start.publish(context);
  try {
    opening = open();
  } catch (error) {
    failed(error);
    throw error; // not reached: `failed` throws
  } finally {
    connectChannel.end.publish(context);
  }
  return opening.then(
    (connection) => {
      const peer = source.peer;
      context.peer = { product: peer?.product, version: peer?.version };
      const system = messagingSystem(peer?.product);
      context.attributes['messaging.system.name'] = system;
      context.attributes['messaging.system'] = system;
      connectChannel.asyncStart.publish(context);
      connectChannel.asyncEnd.publish(context);
      return connection;
    },
    (error: unknown) => {
      try {
        failed(error);
      } finally {
        connectChannel.asyncStart.publish(context);
        connectChannel.asyncEnd.publish(context);
      }
    },
  ) as Promise<C>;
}
