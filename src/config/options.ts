import { ConfigError } from '../errors/errors.js';
import type { OutgoingMessage } from '../delivery/message.js';
import {
  integer,
  invalid,
  oneOf,
  onlyKnownKeys,
  optionalInteger,
  optionalBoolean,
  optionalFunction,
  optionalRecord,
  optionalString,
  optionalStrings,
  optionsObject,
} from './validate.js';

/** Options of `client.receive()`. */
export interface ReceiveOptions {
  /**
   * The most deliveries the application may hold unsettled plus those on their way (R1). Credit
   * returns when deliveries are settled (R2).
   * @default 100
   */
  credit?: number;
  /**
   * The smallest amount of credit worth a flow frame: settled deliveries are granted back once at
   * least this many are due (or after a short idle time when the link has no credit left).
   * @default a quarter of `credit`, at least 1
   */
  creditBatch?: number;
  /**
   * `'peek-lock'`: deliveries stay locked at the broker until settled (at-least-once).
   * `'at-most-once'`: the broker sends them pre-settled; nothing to settle, credit returns on emission.
   * @default 'peek-lock'
   */
  settleMode?: 'peek-lock' | 'at-most-once';
  /** A JMS selector (SQL-92 subset) for brokers that support `apache.org:selector-filter:string`. */
  selector?: string;
  /** Raw source filters (the source's filter-set), keyed by filter name. */
  filter?: Record<string, unknown>;
  /** The link name; a durable subscription needs a stable one. @default a generated unique name */
  linkName?: string;
  /** Ask for a durable source (terminus durability unsettled-state, never expires): durable subscriptions. @default false */
  durable?: boolean;
  /** Source capabilities, e.g. `['topic']` or `['queue']`. */
  capabilities?: string[];
  /** Link properties sent in the attach frame. */
  properties?: Record<string, unknown>;
  /**
   * What `delivery.modify()` does on a peer that cannot take the modified outcome (RabbitMQ before
   * 4.0 ends the whole session on one): `'error'` throws `NotSupportedError` and sends nothing, so
   * the delivery can still be settled another way; `'release'` and `'reject'` settle it that way
   * instead. On peers that support modified, this has no effect.
   * @default 'error'
   */
  onModifyUnsupported?: 'error' | 'release' | 'reject';
  /**
   * Decode every message keeping its AMQP types: `delivery.body` and `delivery.message` hold an
   * `AmqpScalar`, `AmqpArray` or `AmqpDescribed` for each value of a type JavaScript has no type of
   * its own for (`ubyte`, `uint`, `ulong` exact as a bigint, `symbol`, `char`, `uuid`, …), so that
   * what a peer sent can be told apart and sent back exactly. See docs/types.md.
   * @default false (rhea's decode: plain numbers and strings)
   */
  typed?: boolean;
  /**
   * Called each time the peer answers the attach — after a reconnect too — with what it attached.
   * Peers fill in the source there: Azure Service Bus names the session it locked for a receiver
   * that asked for the next available one. Throwing ends the receive stream with that error (and
   * detaches the link).
   */
  onAttach?: (attach: RemoteAttach) => void;
  /**
   * Attach the link again when the peer detaches it with a retryable error (`amqp:link:detach-forced`,
   * a busy or restarting broker), after the reconnect policy's delay. `false` ends the stream with
   * that error instead: for links whose attach grants what a new attach would not get back, such as
   * an Azure Service Bus session lock, or whose refusal the application must see at once.
   * @default true (when the client reconnects)
   */
  reattach?: boolean;
  /**
   * Ask the peer for a dynamic node: a temporary queue it creates for this link and names itself,
   * e.g. the reply queue of a request/response client. Give no address (or `''`); the name the peer
   * chose is in `onAttach`'s `address` and in each delivery's `address`. The node lives as
   * long as the link: after a reconnect the re-attached link gets a new one, with a new name,
   * reported to `onAttach` again. Brokers without dynamic nodes (RabbitMQ before 4.1) refuse the
   * attach: the stream ends with the link error.
   * @default false
   */
  dynamic?: boolean;
  /**
   * How long the peer may take to answer the attach (each time the link attaches, after a
   * reconnect too), in milliseconds. Past it the link is detached; with reconnect on (and
   * `reattach`) it is attached again after the reconnect policy's delay, until the policy's
   * `maxAttempts`; otherwise the stream ends with an `OperationTimeoutError` (retryable: the
   * `reconnect` operator may subscribe again).
   * @default 30000
   */
  attachTimeout?: number;
  /**
   * The largest message this receiver takes, in encoded bytes: announced in the attach
   * (max-message-size), so a well-behaved peer never sends a bigger one. One that does — or a
   * transfer that never ends — is cut off as soon as it passes the limit: the link is detached with
   * `amqp:link:message-size-exceeded` and the stream ends with a `MessageTooLargeError`, before
   * more of it is buffered.
   * @default no limit (AMQP's default)
   */
  maxMessageSize?: number;
}

/** What the peer put in its attach frame for a receiver link (AMQP 1.0 section 2.7.3). */
export interface RemoteAttach {
  /** The link name. */
  readonly name: string;
  /** The source address the peer attached, if it sent a source. */
  readonly address: string | undefined;
  /** The source's filter set as the peer sent it, keyed by filter name; empty when none. */
  readonly filter: Readonly<Record<string, unknown>>;
  /** The link properties the peer sent; empty when none. */
  readonly properties: Readonly<Record<string, unknown>>;
  /** False when the peer answered without a source: it refuses the link, and a detach with the reason follows. */
  readonly hasSource: boolean;
}

/** What the peer's attach frame says about a sender link, for the send option `onAttach`. */
export interface RemoteTargetAttach {
  /** The link name. */
  readonly name: string;
  /** The target address the peer attached; undefined for the anonymous relay or a refusal. */
  readonly address: string | undefined;
  /** The largest message the peer takes on this link, in encoded bytes, when it set one. */
  readonly maxMessageSize: number | undefined;
  /** The link properties the peer sent; empty when none. */
  readonly properties: Readonly<Record<string, unknown>>;
  /** False when the peer answered without a target: it refuses the link, and a detach with the reason follows. */
  readonly hasTarget: boolean;
}

/** Options of `client.send()` and `client.sendFrom()`. */
export interface SendOptions<T = unknown> {
  /**
   * The most messages sent and not yet settled by the peer (S2). At most 2048 (rhea's session window).
   * @default 1000
   */
  maxInFlight?: number;
  /**
   * How many messages from a push source may wait for credit before the overflow policy applies (S2).
   * @default 10000
   */
  bufferSize?: number;
  /**
   * What happens when the buffer is full: `'error'` ends the stream with a `SendFailedError`
   * whose cause is a `BufferOverflowError` listing the unsent messages; `'drop-newest'` and
   * `'drop-oldest'` drop one message and call `onDrop` with it.
   * @default 'error'
   */
  overflow?: 'error' | 'drop-newest' | 'drop-oldest';
  /** Called with each message dropped by a `drop-*` overflow policy. */
  onDrop?: (message: T | OutgoingMessage<T>) => void;
  /** The link name. @default a generated unique name */
  linkName?: string;
  /**
   * Ask for a durable target (terminus durability unsettled-state, never expires). RabbitMQ declares
   * the queue of a `/queue/NAME` address with the target's durability, so sending there to a durable
   * queue — every quorum queue — needs it (otherwise the attach fails with `amqp:precondition-failed`),
   * and in a vhost whose default queue type is quorum it makes the queue declared on attach a quorum
   * queue. It is about the terminus, not the messages: those are durable by `header.durable`.
   * @default false
   */
  durable?: boolean;
  /** Target capabilities, e.g. `['queue']`. */
  capabilities?: string[];
  /** Link properties sent in the attach frame. */
  properties?: Record<string, unknown>;
  /**
   * How long the peer may take to answer the attach (each time the link attaches, after a
   * reconnect too), in milliseconds. Past it the link is detached; with reconnect on it is
   * attached again after the reconnect policy's delay (until its `maxAttempts`), the messages
   * waiting for it kept; otherwise the stream ends with a `SendFailedError` listing every message
   * without an outcome, whose `cause` is an `OperationTimeoutError`.
   * @default 30000
   */
  attachTimeout?: number;
  /**
   * Called each time the peer answers the attach — after a re-attach or a reconnect too — with what
   * it attached (the target, its max-message-size). Throwing ends the send stream with that error,
   * listing every message without an outcome.
   */
  onAttach?: (attach: RemoteTargetAttach) => void;
}

/** Receive options after validation. */
export interface ResolvedReceiveOptions {
  readonly credit: number;
  readonly creditBatch: number;
  readonly settleMode: 'peek-lock' | 'at-most-once';
  readonly selector: string | undefined;
  readonly filter: Record<string, unknown> | undefined;
  readonly linkName: string | undefined;
  readonly durable: boolean;
  readonly capabilities: readonly string[] | undefined;
  readonly properties: Record<string, unknown> | undefined;
  readonly onModifyUnsupported: 'error' | 'release' | 'reject';
  readonly typed: boolean;
  readonly onAttach: ((attach: RemoteAttach) => void) | undefined;
  readonly reattach: boolean;
  readonly dynamic: boolean;
  readonly attachTimeout: number;
  readonly maxMessageSize: number | undefined;
}

/** Send options after validation. */
export interface ResolvedSendOptions<T> {
  readonly maxInFlight: number;
  readonly bufferSize: number;
  readonly overflow: 'error' | 'drop-newest' | 'drop-oldest';
  readonly onDrop: ((message: T | OutgoingMessage<T>) => void) | undefined;
  readonly linkName: string | undefined;
  readonly durable: boolean;
  readonly capabilities: readonly string[] | undefined;
  readonly properties: Record<string, unknown> | undefined;
  readonly attachTimeout: number;
  readonly onAttach: ((attach: RemoteTargetAttach) => void) | undefined;
}

const receiveKeys = [
  'credit',
  'creditBatch',
  'settleMode',
  'selector',
  'filter',
  'linkName',
  'durable',
  'capabilities',
  'properties',
  'onModifyUnsupported',
  'typed',
  'onAttach',
  'reattach',
  'dynamic',
  'attachTimeout',
  'maxMessageSize',
];
const sendKeys = ['maxInFlight', 'bufferSize', 'overflow', 'onDrop', 'linkName', 'durable', 'capabilities', 'properties', 'attachTimeout', 'onAttach'];

/** Largest credit accepted: far beyond any sensible window, small enough to keep arithmetic exact. */
const MAX_CREDIT = 1_000_000;
/** rhea's session window for unsettled outgoing transfers. */
const MAX_IN_FLIGHT = 2048;
/** The longest `setTimeout` delay Node honours. */
const MAX_TIMER_DELAY = 2_147_483_647;
/** The default `attachTimeout`, as `connectTimeout`'s. */
const DEFAULT_ATTACH_TIMEOUT = 30_000;

/**
 * Validates `client.receive()` options at call time.
 * @throws {@link ConfigError} naming the option, what was expected and what was given.
 */
export function resolveReceiveOptions(options: unknown): ResolvedReceiveOptions {
  const o = optionsObject(options, '');
  onlyKnownKeys(o, receiveKeys, '');
  const credit = integer(o.credit, 'credit', 1, MAX_CREDIT, 100);
  const creditBatch = integer(o.creditBatch, 'creditBatch', 1, credit, Math.max(1, Math.floor(credit / 4)));
  if (o.durable !== undefined && typeof o.durable !== 'boolean') invalid('durable', 'true or false', o.durable);
  if (o.typed !== undefined && typeof o.typed !== 'boolean') invalid('typed', 'true or false', o.typed);
  return {
    credit,
    creditBatch,
    settleMode: oneOf(o.settleMode, 'settleMode', ['peek-lock', 'at-most-once'], 'peek-lock'),
    selector: optionalString(o.selector, 'selector'),
    filter: optionalRecord(o.filter, 'filter'),
    linkName: optionalString(o.linkName, 'linkName'),
    durable: o.durable === true,
    capabilities: optionalStrings(o.capabilities, 'capabilities'),
    properties: optionalRecord(o.properties, 'properties'),
    onModifyUnsupported: oneOf(o.onModifyUnsupported, 'onModifyUnsupported', ['error', 'release', 'reject'], 'error'),
    typed: o.typed === true,
    onAttach: optionalFunction<(attach: RemoteAttach) => void>(o.onAttach, 'onAttach'),
    reattach: optionalBoolean(o.reattach, 'reattach') ?? true,
    dynamic: optionalBoolean(o.dynamic, 'dynamic') ?? false,
    attachTimeout: integer(o.attachTimeout, 'attachTimeout', 1, MAX_TIMER_DELAY, DEFAULT_ATTACH_TIMEOUT),
    maxMessageSize: optionalInteger(o.maxMessageSize, 'maxMessageSize', 1, Number.MAX_SAFE_INTEGER),
  };
}

/**
 * Validates `client.send()` / `client.sendFrom()` options at call time.
 * @throws {@link ConfigError} naming the option, what was expected and what was given.
 */
export function resolveSendOptions<T>(options: unknown): ResolvedSendOptions<T> {
  const o = optionsObject(options, '');
  onlyKnownKeys(o, sendKeys, '');
  const overflow = oneOf(o.overflow, 'overflow', ['error', 'drop-newest', 'drop-oldest'], 'error');
  const onDrop = optionalFunction<(message: T | OutgoingMessage<T>) => void>(o.onDrop, 'onDrop');
  if (onDrop !== undefined && overflow === 'error') {
    throw new ConfigError('onDrop', "Invalid option 'onDrop': it is called only with overflow 'drop-newest' or 'drop-oldest', but overflow is 'error'");
  }
  if (o.durable !== undefined && typeof o.durable !== 'boolean') invalid('durable', 'true or false', o.durable);
  return {
    maxInFlight: integer(o.maxInFlight, 'maxInFlight', 1, MAX_IN_FLIGHT, 1000),
    bufferSize: integer(o.bufferSize, 'bufferSize', 1, 10_000_000, 10_000),
    overflow,
    onDrop,
    linkName: optionalString(o.linkName, 'linkName'),
    durable: o.durable === true,
    capabilities: optionalStrings(o.capabilities, 'capabilities'),
    properties: optionalRecord(o.properties, 'properties'),
    attachTimeout: integer(o.attachTimeout, 'attachTimeout', 1, MAX_TIMER_DELAY, DEFAULT_ATTACH_TIMEOUT),
    onAttach: optionalFunction<(attach: RemoteTargetAttach) => void>(o.onAttach, 'onAttach'),
  };
}
