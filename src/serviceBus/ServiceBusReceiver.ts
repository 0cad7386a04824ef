import { randomUUID } from 'node:crypto';
import { catchError, defer, from, map, type Observable, switchMap, throwError } from 'rxjs';
import type { RemoteAttach } from '../config/options.js';
import type { Delivery } from '../delivery/Delivery.js';
import { AmqpError } from '../errors/AmqpError.js';
import { ConfigError, OperationTimeoutError } from '../errors/errors.js';
import { completeWhenQuiet } from './completeWhenQuiet.js';
import { amqp } from '../types/amqpTypes.js';
import { annotations, LINK_TIMEOUT, SESSION_FILTER, SESSION_LOCKED_UNTIL } from './constants.js';
import { NoActiveSessionError, SessionLockLostError, toServiceBusError } from './errors.js';
import { log } from './log.js';
import type { ServiceBusContext } from './management.js';
import { LinkPump } from './pump.js';
import {
  type DeadLetterOptions,
  type MessageOrigin,
  ReceivedMessage,
  type ReceiveMode,
  type ServiceBusReceivedMessage,
} from './ServiceBusReceivedMessage.js';
import { lockTokenFromTag, ticksToDate, uuidOf } from './values.js';

/** A sub-queue of a queue or subscription: where dead-lettered messages go, and where messages that could not be forwarded go. */
export type SubQueue = 'deadLetter' | 'transferDeadLetter';

/** Options of `createReceiver`, `acceptSession` and `acceptNextSession`. */
export interface ServiceBusReceiverOptions {
  /**
   * `peekLock`: each message is locked until settled (complete, abandon, dead-letter, defer) or its
   * lock expires. `receiveAndDelete`: removed as it is sent; nothing to settle (at most once).
   * @default 'peekLock'
   */
  receiveMode?: ReceiveMode;
  /** Receive from the dead-letter (or transfer dead-letter) sub-queue instead of the entity itself. */
  subQueue?: SubQueue;
  /**
   * The most messages sent to this receiver and not yet settled: the link credit (R1). Service Bus
   * locks a message when it sends it, so this is also how many locks can tick while messages
   * wait; keep it near the number handled at once.
   * @default 10
   */
  credit?: number;
  /**
   * For `receive()`: stop (complete) after this long with no message and none unsettled, in
   * milliseconds, as azure-servicebus's `max_wait_time`. Also the default wait of `receiveMessages`,
   * and for `acceptNextSession` how long to wait for a free session (at most `operationTimeout`;
   * sent as the link property `com.microsoft:timeout`).
   * @default Infinity (receive until unsubscribed)
   */
  maxWaitTime?: number;
  /** A name for this receiver, sent as the link property `com.microsoft:receiver-name`. @default a generated `SBReceiver-<uuid>` */
  identifier?: string;
}

/** Options of `receiveMessages`. */
export interface ReceiveMessagesOptions {
  /** The most messages to return. @default 1 */
  maxMessageCount?: number;
  /**
   * How long to wait for the first message, in milliseconds; once one has come, the call collects
   * for at most 200 ms more. Resolves with none when nothing came.
   * @default the receiver's `maxWaitTime` (Infinity: wait for a message)
   */
  maxWaitTime?: number;
}

/** Options of `receive()`. */
export interface ReceiveStreamOptions {
  /** Complete after this long with no message, in milliseconds. @default the receiver's `maxWaitTime` */
  maxWaitTime?: number;
}

/** Options of `peekMessages`. */
export interface PeekMessagesOptions {
  /** The sequence number to start at. @default the one after the last message peeked by this receiver, at first 1 */
  fromSequenceNumber?: bigint | number;
}

const receiverKeys = ['receiveMode', 'subQueue', 'credit', 'maxWaitTime', 'identifier'];

/** Receiver options after validation. @internal */
export interface ResolvedReceiverOptions {
  readonly receiveMode: ReceiveMode;
  readonly subQueue: SubQueue | undefined;
  readonly credit: number;
  readonly maxWaitTime: number;
  readonly identifier: string;
}

/** @internal */
export function resolveReceiverOptions(options: unknown): ResolvedReceiverOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new ConfigError('options', 'Receiver options must be an object');
  }
  const o = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!receiverKeys.includes(key)) throw new ConfigError(key, `Unknown receiver option '${key}'; known options are ${receiverKeys.join(', ')}`);
  }
  const receiveMode = o.receiveMode ?? 'peekLock';
  if (receiveMode !== 'peekLock' && receiveMode !== 'receiveAndDelete') {
    throw new ConfigError('receiveMode', `Invalid option 'receiveMode': expected 'peekLock' or 'receiveAndDelete', got ${JSON.stringify(receiveMode)}`);
  }
  const subQueue = o.subQueue;
  if (subQueue !== undefined && subQueue !== 'deadLetter' && subQueue !== 'transferDeadLetter') {
    throw new ConfigError('subQueue', `Invalid option 'subQueue': expected 'deadLetter' or 'transferDeadLetter', got ${JSON.stringify(subQueue)}`);
  }
  const credit = o.credit ?? 10;
  if (typeof credit !== 'number' || !Number.isInteger(credit) || credit < 1 || credit > 100_000) {
    throw new ConfigError('credit', `Invalid option 'credit': expected an integer from 1 to 100000, got ${String(credit)}`);
  }
  const maxWaitTime = waitTime(o.maxWaitTime, 'maxWaitTime', Infinity);
  const identifier = o.identifier ?? `SBReceiver-${randomUUID()}`;
  if (typeof identifier !== 'string' || identifier.length === 0) throw new ConfigError('identifier', "Invalid option 'identifier': expected a non-empty string");
  return { receiveMode, subQueue, credit, maxWaitTime, identifier };
}

/** A time in milliseconds (0 to 2147483647) or Infinity. @internal */
export function waitTime(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !((value >= 0 && value <= 2_147_483_647) || value === Infinity)) {
    throw new ConfigError(path, `Invalid option '${path}': expected a time in milliseconds from 0 to 2147483647, or Infinity, got ${String(value)}`);
  }
  return value;
}

function sequenceNumbers(value: unknown, path: string): bigint[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((v, i) => {
    if (typeof v === 'bigint' && v >= 0n) return v;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    throw new ConfigError(`${path}[${i}]`, `Invalid ${path}: expected non-negative integers (number or bigint), got ${typeof v}`);
  });
}

/**
 * The part of a receiver that works over `$management` and the settlement helpers: shared by
 * {@link ServiceBusReceiver} and {@link ServiceBusSessionReceiver}.
 */
export abstract class ServiceBusReceiverBase<T> {
  /** The path the receiver reads: `queue`, `topic/Subscriptions/sub`, with `/$DeadLetterQueue` for the sub-queue. */
  readonly entityPath: string;
  /** How this receiver takes messages: locked until settled (`peekLock`) or removed on receipt (`receiveAndDelete`). */
  readonly receiveMode: ReceiveMode;
  /** This receiver's name, sent to the service as `com.microsoft:receiver-name`; see {@link ServiceBusReceiverOptions.identifier}. */
  readonly identifier: string;
  /** @internal The client's connection, management nodes and settings, shared by its receivers. */
  protected readonly context: ServiceBusContext;
  /** @internal The validated receiver options. */
  protected readonly options: ResolvedReceiverOptions;
  /** @internal Set by `close()`; every later call then throws. */
  protected closed = false;
  #nextPeek = 1n;

  /** @internal Made by the `ServiceBusClient` only, through a subclass. */
  protected constructor(context: ServiceBusContext, entityPath: string, options: ResolvedReceiverOptions) {
    this.context = context;
    this.entityPath = entityPath;
    this.options = options;
    this.receiveMode = options.receiveMode;
    this.identifier = options.identifier;
  }

  /** @internal The session, for session receivers. */
  protected abstract get sessionId(): string | undefined;
  /** @internal The link a management request is associated with, if one is attached. */
  protected abstract get linkName(): string | undefined;
  /** @internal Where the messages of a link come from, for their settlement. */
  protected abstract origin(linkName: string | undefined): MessageOrigin;

  /**
   * Looks at messages without locking them (`peek-message`): they stay where they are, and cannot
   * be settled. Resolves with at most `maxMessageCount` messages (fewer, or none, when there are
   * not that many from the start point on).
   */
  async peekMessages(maxMessageCount = 1, options: PeekMessagesOptions = {}): Promise<Array<ServiceBusReceivedMessage<T>>> {
    this.checkOpen();
    if (!Number.isInteger(maxMessageCount) || maxMessageCount < 1) {
      throw new ConfigError('maxMessageCount', `Invalid maxMessageCount: expected a positive integer, got ${String(maxMessageCount)}`);
    }
    const from = options.fromSequenceNumber === undefined ? this.#nextPeek : sequenceNumbers(options.fromSequenceNumber, 'fromSequenceNumber')[0]!;
    const management = this.context.management(this.entityPath);
    const found = await management.peek(from, maxMessageCount, this.sessionId, { associatedLinkName: this.linkName });
    const origin = this.origin(this.linkName);
    const messages = found.map((m) => new ReceivedMessage<T>('peeked', m.message, origin));
    const last = messages.at(-1)?.sequenceNumber;
    if (last !== undefined) this.#nextPeek = last + 1n;
    return messages;
  }

  /**
   * Receives deferred messages by their sequence numbers (`receive-by-sequence-number`). They are
   * locked (in peek-lock mode) and settled through `$management`.
   * @throws `MessageNotFoundError` when a sequence number names no deferred message.
   */
  async receiveDeferredMessages(sequenceNumbersToReceive: bigint | number | ReadonlyArray<bigint | number>): Promise<Array<ServiceBusReceivedMessage<T>>> {
    this.checkOpen();
    const numbers = sequenceNumbers(sequenceNumbersToReceive, 'sequenceNumbers');
    if (numbers.length === 0) return [];
    const management = this.context.management(this.entityPath);
    const found = await management.receiveBySequenceNumber(numbers, this.receiveMode === 'receiveAndDelete', this.sessionId, {
      associatedLinkName: this.linkName,
    });
    const origin = this.origin(this.linkName);
    return found.map((m) => new ReceivedMessage<T>('management', m.message, origin, undefined, m.lockToken));
  }

  /** `message.complete()`, as azure-servicebus's `receiver.complete_message(message)`. */
  completeMessage(message: ServiceBusReceivedMessage<unknown>): Promise<void> {
    return message.complete();
  }

  /** `message.abandon(propertiesToModify)`. */
  abandonMessage(message: ServiceBusReceivedMessage<unknown>, propertiesToModify?: Record<string, unknown>): Promise<void> {
    return message.abandon(propertiesToModify);
  }

  /** `message.deadLetter(options)`. */
  deadLetterMessage(message: ServiceBusReceivedMessage<unknown>, options?: DeadLetterOptions): Promise<void> {
    return message.deadLetter(options);
  }

  /** `message.defer(propertiesToModify)`. */
  deferMessage(message: ServiceBusReceivedMessage<unknown>, propertiesToModify?: Record<string, unknown>): Promise<void> {
    return message.defer(propertiesToModify);
  }

  /** @internal Throws an `AmqpError` when this receiver or its client is closed. */
  protected checkOpen(): void {
    if (this.closed) throw new AmqpError(`The receiver for '${this.entityPath}' is closed`);
    if (this.context.isClosed) throw new AmqpError('The Service Bus client is closed');
  }

  /** @internal Deliveries of one link as Service Bus messages; errors in Service Bus's classes. */
  protected messagesOf(deliveries: Observable<Delivery<unknown>>, linkName: string): Observable<ReceivedMessage<T>> {
    return messagesOf<T>(deliveries, this.origin(linkName));
  }
}

/** The receive options of one link of a receiver. */
function linkOptions(
  options: ResolvedReceiverOptions,
  linkName: string,
  extra: {
    filter?: Record<string, unknown>;
    onAttach?: (attach: RemoteAttach) => void;
    credit?: number;
    session?: { attachTimeout: number; serviceTimeout: number | undefined };
  } = {},
) {
  return {
    linkName,
    credit: extra.credit ?? options.credit,
    settleMode: options.receiveMode === 'receiveAndDelete' ? ('at-most-once' as const) : ('peek-lock' as const),
    properties: {
      'com.microsoft:receiver-name': options.identifier,
      // How long the service may hold the attach of a session receiver before it answers with
      // com.microsoft:timeout (no session free), in milliseconds.
      ...(extra.session?.serviceTimeout === undefined ? {} : { [LINK_TIMEOUT]: amqp.uint(extra.session.serviceTimeout) }),
    },
    ...(extra.filter === undefined ? {} : { filter: extra.filter }),
    ...(extra.onAttach === undefined ? {} : { onAttach: extra.onAttach }),
    // A session link is never attached again behind the application's back: a new attach would
    // not get the lock back (or would lock another session). The service may hold the attach of a
    // next-available request until its own operation timeout: wait as long.
    ...(extra.session === undefined ? {} : { reattach: false, attachTimeout: extra.session.attachTimeout }),
  };
}

/** Deliveries as Service Bus messages (the lock token from the delivery tag); errors in Service Bus's classes. */
function messagesOf<T>(deliveries: Observable<Delivery<unknown>>, origin: MessageOrigin): Observable<ReceivedMessage<T>> {
  return deliveries.pipe(
    map((delivery) => {
      const token = delivery.tag === undefined ? undefined : lockTokenFromTag(delivery.tag);
      return new ReceivedMessage<T>('link', delivery.message, origin, delivery, token ?? uuidOf(delivery.message.deliveryAnnotations[annotations.lockToken]));
    }),
    catchError((error: unknown) => throwError(() => toServiceBusError(error))),
  );
}

/**
 * Receives from a queue, a subscription or one of their dead-letter sub-queues (made by
 * `ServiceBusClient.createReceiver`).
 *
 * - {@link receive}: a cold Observable; each subscription attaches a link (after the CBS token is
 *   on the connection) and detaches it on unsubscribe, releasing what is still unsettled (R3).
 * - {@link receiveMessages}: a batch, as a promise; its messages stay settleable after it resolves.
 * - {@link peekMessages}, {@link receiveDeferredMessages}, {@link renewMessageLock}: `$management`.
 */
export class ServiceBusReceiver<T = unknown> extends ServiceBusReceiverBase<T> {
  readonly #pumps = new Set<LinkPump<T>>();

  /** @internal Use `ServiceBusClient.createReceiver`. */
  constructor(context: ServiceBusContext, entityPath: string, options: ResolvedReceiverOptions) {
    super(context, entityPath, options);
  }

  /** @internal Always `undefined`: this receiver has no session. */
  protected get sessionId(): undefined {
    return undefined;
  }

  /** @internal Always `undefined`: management requests are not tied to any one of this receiver's links. */
  protected get linkName(): undefined {
    return undefined;
  }

  /** @internal What messages from `linkName` need for settlement: this entity, its management node, the receive mode. */
  protected origin(linkName: string | undefined): MessageOrigin {
    return {
      entityPath: this.entityPath,
      management: this.context.management(this.entityPath),
      receiveMode: this.receiveMode,
      linkName,
    };
  }

  /**
   * Receives messages as they come, like iterating an azure-servicebus receiver.
   *
   * ```text
   * link      --a--b-----c----------|     maxWaitTime: 5 frames
   * settled      ^a ^b    ^c
   * output    --a--b-----c----|           5 frames with nothing new and nothing unsettled → complete
   * ```
   *
   * `maxWaitTime` counts only while every message emitted is settled — as in a Python loop, where
   * the wait is between handlers — so a long handler is never cut off. At most `credit` messages
   * are unsettled at once (R1): settle them (complete, abandon, …) to get more. Unsubscribing (or
   * completing) detaches the link; messages still unsettled go back to the queue, and settling
   * them afterwards throws `DeliveryAlreadySettledError` (R3). Errors are rhea-rx errors, in
   * Service Bus's classes where it has its own (`MessageLockLostError`, …).
   *
   * @example
   * receiver.receive({ maxWaitTime: 30_000 }).pipe(
   *   concatMap(async (message) => { handle(message.body); await message.complete(); }),
   * ).subscribe();
   */
  receive(options: ReceiveStreamOptions = {}): Observable<ServiceBusReceivedMessage<T>> {
    const maxWaitTime = waitTime(options.maxWaitTime, 'maxWaitTime', this.options.maxWaitTime);
    return defer(() => {
      this.checkOpen();
      const linkName = `receiver-link-${randomUUID()}`;
      return from(this.context.authorize(this.entityPath)).pipe(
        switchMap(() => this.messagesOf(this.context.client.receive<unknown>(this.entityPath, linkOptions(this.options, linkName)), linkName)),
      );
    }).pipe(completeWhenQuiet(maxWaitTime));
  }

  /**
   * Receives a batch, as azure-servicebus's `receive_messages(max_message_count, max_wait_time)`:
   * waits up to `maxWaitTime` for a first message, then collects for at most 200 ms more, up to
   * `maxMessageCount`. Resolves with what came, possibly nothing.
   *
   * The link stays attached until every returned message is settled (or the receiver closes), so
   * they can be completed after the call; messages that arrive after it returned go straight back
   * to the queue.
   *
   * @example
   * const messages = await receiver.receiveMessages({ maxMessageCount: 5, maxWaitTime: 10_000 });
   * for (const message of messages) await message.complete();
   */
  async receiveMessages(options: ReceiveMessagesOptions = {}): Promise<Array<ServiceBusReceivedMessage<T>>> {
    this.checkOpen();
    const maxMessageCount = options.maxMessageCount ?? 1;
    if (!Number.isInteger(maxMessageCount) || maxMessageCount < 1 || maxMessageCount > 100_000) {
      throw new ConfigError('maxMessageCount', `Invalid option 'maxMessageCount': expected an integer from 1 to 100000, got ${String(maxMessageCount)}`);
    }
    const maxWaitTime = waitTime(options.maxWaitTime, 'maxWaitTime', this.options.maxWaitTime);
    const linkName = `receiver-link-${randomUUID()}`;
    await this.context.authorize(this.entityPath);
    const pump = new LinkPump<T>(
      this.messagesOf(this.context.client.receive<unknown>(this.entityPath, linkOptions(this.options, linkName, { credit: maxMessageCount })), linkName),
    );
    this.#pumps.add(pump);
    pump.onEnd(() => this.#pumps.delete(pump));
    pump.start();
    let taken: Array<ReceivedMessage<T>> = [];
    try {
      taken = await pump.take(maxMessageCount, maxWaitTime);
    } finally {
      pump.closeWhenSettled(taken);
    }
    return taken;
  }

  /**
   * Extends the lock of a message (`renew-lock`) and resolves with its new `lockedUntilUtc`.
   * @throws `MessageLockLostError` when the lock is already gone.
   */
  renewMessageLock(message: ServiceBusReceivedMessage<unknown>): Promise<Date> {
    return message.renewLock();
  }

  /**
   * Takes no more calls, and detaches the links of batches whose messages are not all settled yet
   * (those messages go back to the entity). Streams from {@link receive} end when unsubscribed.
   */
  close(): Promise<void> {
    this.closed = true;
    for (const pump of this.#pumps) pump.close();
    this.#pumps.clear();
    return Promise.resolve();
  }
}

/**
 * A locked session of a session-enabled queue or subscription (made by
 * `ServiceBusClient.acceptSession` or `acceptNextSession`): one link holds the session lock for as
 * long as the receiver is open; the session's messages come only to it, in order.
 *
 * Messages the link delivers wait here until received (at most `credit` of them, R1). The session
 * lock covers every message: renew it with {@link renewSessionLock} or `renewSessionLock(session)`.
 * When the lock is lost — the service detaches the link, or the connection drops (the link is not
 * re-attached: another receiver may hold the session by then) — every receive fails with
 * `SessionLockLostError` and the messages received can no longer be settled.
 */
export class ServiceBusSessionReceiver<T = unknown> extends ServiceBusReceiverBase<T> {
  readonly #pump: LinkPump<T>;
  readonly #linkName: string;
  readonly #session: SessionState;
  #lockedUntil: Date | undefined;

  /** @internal Use `ServiceBusClient.acceptSession` or `acceptNextSession`. */
  constructor(
    context: ServiceBusContext,
    entityPath: string,
    options: ResolvedReceiverOptions,
    accepted: { pump: LinkPump<T>; linkName: string; session: SessionState; lockedUntil: Date | undefined },
  ) {
    super(context, entityPath, options);
    this.#pump = accepted.pump;
    this.#linkName = accepted.linkName;
    this.#session = accepted.session;
    this.#lockedUntil = accepted.lockedUntil;
    const session = this.#session;
    this.#pump.onEnd((error) => {
      if (this.closed) return;
      const failure = toServiceBusError(error);
      session.lockLost =
        failure instanceof SessionLockLostError
          ? failure
          : new SessionLockLostError(`The link holding session '${session.sessionId}' of '${entityPath}' ended${failure instanceof Error ? `: ${failure.message}` : ''}`, {
              cause: failure,
            });
      log.receiver('[%s] session %s lost: %s', entityPath, session.sessionId, session.lockLost.message);
    });
  }

  /** The id of the locked session. */
  get sessionId(): string {
    return this.#session.sessionId;
  }

  /** Until when the session is locked, as the service said at attach and at each renewal. */
  get sessionLockedUntilUtc(): Date | undefined {
    return this.#lockedUntil;
  }

  /** The error that ended the session lock, once it is lost. */
  get sessionLockLost(): AmqpError | undefined {
    return this.#session.lockLost;
  }

  /** @internal The name of the link that holds the session; management requests are tied to it. */
  protected get linkName(): string {
    return this.#linkName;
  }

  /** @internal What this session's messages need for settlement, including the session whose lock covers them. */
  protected origin(): MessageOrigin {
    return sessionOrigin(this.context, this.entityPath, this.options, this.#session, this.#linkName);
  }

  /**
   * The session's messages: those waiting, then those that come. Completes after `maxWaitTime`
   * with none (the receiver's default); unsubscribing keeps the session (messages not taken wait
   * for the next receive). One receive at a time.
   */
  receive(options: ReceiveStreamOptions = {}): Observable<ServiceBusReceivedMessage<T>> {
    const maxWaitTime = waitTime(options.maxWaitTime, 'maxWaitTime', this.options.maxWaitTime);
    return defer(() => {
      this.checkSession();
      return this.#pump.messages();
    }).pipe(
      catchError((error: unknown) => throwError(() => this.#session.lockLost ?? toServiceBusError(error))),
      completeWhenQuiet(maxWaitTime),
    );
  }

  /** A batch of the session's messages; see `ServiceBusReceiver.receiveMessages`. */
  async receiveMessages(options: ReceiveMessagesOptions = {}): Promise<Array<ServiceBusReceivedMessage<T>>> {
    this.checkSession();
    const maxMessageCount = options.maxMessageCount ?? 1;
    if (!Number.isInteger(maxMessageCount) || maxMessageCount < 1) {
      throw new ConfigError('maxMessageCount', `Invalid option 'maxMessageCount': expected a positive integer, got ${String(maxMessageCount)}`);
    }
    const maxWaitTime = waitTime(options.maxWaitTime, 'maxWaitTime', this.options.maxWaitTime);
    try {
      return await this.#pump.take(maxMessageCount, maxWaitTime);
    } catch (error) {
      throw this.#session.lockLost ?? toServiceBusError(error);
    }
  }

  /** The session's state (`get-session-state`), or undefined when none is set. */
  getSessionState(): Promise<Buffer | undefined> {
    this.checkSession();
    return this.context.management(this.entityPath).getSessionState(this.sessionId, { associatedLinkName: this.#linkName });
  }

  /** Sets the session's state (`set-session-state`); a string is stored as its UTF-8 bytes, `null` clears it. */
  async setSessionState(state: Buffer | string | null): Promise<void> {
    this.checkSession();
    const bytes = state === null ? null : typeof state === 'string' ? Buffer.from(state, 'utf8') : state;
    if (bytes !== null && !Buffer.isBuffer(bytes)) throw new ConfigError('state', 'The session state is a Buffer, a string or null');
    await this.context.management(this.entityPath).setSessionState(this.sessionId, bytes, { associatedLinkName: this.#linkName });
  }

  /** Extends the session lock (`renew-session-lock`); resolves with the new `sessionLockedUntilUtc`. */
  async renewSessionLock(): Promise<Date> {
    this.checkSession();
    const until = await this.context.management(this.entityPath).renewSessionLock(this.sessionId, { associatedLinkName: this.#linkName });
    this.#lockedUntil = until;
    return until;
  }

  /** Releases the session: detaches its link; unsettled messages go back. */
  close(): Promise<void> {
    this.closed = true;
    this.#pump.close();
    return Promise.resolve();
  }

  /** @internal Throws when the receiver or its client is closed, or the `SessionLockLostError` once the session lock is lost. */
  protected checkSession(): void {
    this.checkOpen();
    if (this.#session.lockLost !== undefined) throw this.#session.lockLost;
  }
}

/** A session receiver's session: its id (known once the service names it) and how its lock was lost. @internal */
interface SessionState {
  sessionId: string;
  lockLost: AmqpError | undefined;
}

function sessionOrigin(context: ServiceBusContext, entityPath: string, options: ResolvedReceiverOptions, session: SessionState, linkName: string): MessageOrigin {
  return { entityPath, management: context.management(entityPath), receiveMode: options.receiveMode, session, linkName };
}

/**
 * Attaches a session link and resolves once the service has locked a session: the given one, or
 * the next available one (`sessionId` undefined). The session filter goes on the source as
 * azure-servicebus sends it (`com.microsoft:session-filter` → the id, or null); the service names
 * the session it locked in its attach, with the lock's expiry in the link property
 * `com.microsoft:locked-until-utc` (.NET ticks).
 *
 * A next-available request that the service ends with `com.microsoft:timeout` — or that is not
 * answered within the operation timeout — fails with `NoActiveSessionError`.
 * @internal
 */
export async function acceptSession<T>(
  context: ServiceBusContext,
  entityPath: string,
  sessionId: string | undefined,
  options: ResolvedReceiverOptions,
): Promise<ServiceBusSessionReceiver<T>> {
  if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId.length === 0)) {
    throw new ConfigError('sessionId', 'A session id is a non-empty string');
  }
  if (context.isClosed) throw new AmqpError('The Service Bus client is closed');
  await context.authorize(entityPath);
  const linkName = `receiver-link-${randomUUID()}`;
  const session: SessionState = { sessionId: sessionId ?? '', lockLost: undefined };
  let lockedUntil: Date | undefined;
  let attaches = 0;
  let attached = false;
  let resolveAttach: () => void = () => undefined;
  const whenAttached = new Promise<void>((resolve) => {
    resolveAttach = resolve;
  });
  const onAttach = (attach: RemoteAttach): void => {
    if (!attach.hasSource) return; // refused: the detach with the reason follows
    if (++attaches > 1) {
      // A re-attach after a connection loss: the lock went with the connection, and another receiver
      // may hold the session by now (or "the next available one" would be another session).
      throw new SessionLockLostError(`The connection holding session '${session.sessionId}' of '${entityPath}' was lost`);
    }
    const granted = attach.filter[SESSION_FILTER];
    const id = typeof granted === 'string' && granted.length > 0 ? granted : sessionId;
    if (id === undefined) throw new NoActiveSessionError(`'${entityPath}' attached the link without naming a session`);
    session.sessionId = id;
    lockedUntil = ticksToDate(attach.properties[SESSION_LOCKED_UNTIL]);
    attached = true;
    resolveAttach();
  };
  // A next-available request waits for a free session for maxWaitTime when one is given (told to the
  // service as com.microsoft:timeout), else as long as the service holds it, up to the operation timeout.
  const wait = Math.max(1, Math.min(options.maxWaitTime, context.operationTimeout));
  const deliveries = context.client.receive<unknown>(
    entityPath,
    linkOptions(options, linkName, {
      filter: { [SESSION_FILTER]: sessionId ?? null },
      onAttach,
      session: { attachTimeout: wait, serviceTimeout: options.maxWaitTime === Infinity ? undefined : wait },
    }),
  );
  const pump = new LinkPump<T>(messagesOf<T>(deliveries, sessionOrigin(context, entityPath, options, session, linkName)));
  const ended = new Promise<never>((_resolve, reject) => {
    pump.onEnd((error) => {
      if (attached) return;
      const failure = toServiceBusError(error ?? new AmqpError(`The session link to '${entityPath}' ended before a session was locked`));
      reject(
        sessionId === undefined && failure instanceof OperationTimeoutError
          ? new NoActiveSessionError(`No session of '${entityPath}' is available`, { cause: failure })
          : failure,
      );
    });
  });
  ended.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    // A fallback: the link's own attach timeout (the same) normally answers first.
    timer = setTimeout(() => {
      reject(
        sessionId === undefined
          ? new NoActiveSessionError(`No session of '${entityPath}' became available within ${wait} ms`)
          : new OperationTimeoutError(`Session '${sessionId}' of '${entityPath}' was not locked within ${wait} ms`),
      );
    }, wait + 5_000);
  });
  timeout.catch(() => undefined);
  pump.start();
  try {
    await Promise.race([whenAttached, ended, timeout]);
  } catch (error) {
    pump.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  log.receiver('[%s] session %s locked until %s', entityPath, session.sessionId, lockedUntil?.toISOString() ?? '?');
  return new ServiceBusSessionReceiver<T>(context, entityPath, options, { pump, linkName, session, lockedUntil });
}
