import type { Delivery, ModifyOptions, RejectError, SettlementState } from '../delivery/Delivery.js';
import type { AmqpMessage, MessageId } from '../delivery/message.js';
import type { AmqpError } from '../errors/AmqpError.js';
import { DeliveryAlreadySettledError, NotSupportedError } from '../errors/errors.js';
import { plainBody } from './amqp.js';
import { annotations, DEAD_LETTER_CONDITION, deadLetterProperties, dispositionStatus } from './constants.js';
import { MessageLockLostError, MessageSettleFailedError, SessionLockLostError, toServiceBusError } from './errors.js';
import { log } from './log.js';
import type { ManagementClient } from './management.js';
import { toBigInt, toDate, toText } from './values.js';

/** How a receiver takes messages: locked until settled (`peekLock`), or removed on receipt (`receiveAndDelete`). */
export type ReceiveMode = 'peekLock' | 'receiveAndDelete';

/** Where a message is in its entity: `active`, set aside (`deferred`), or waiting for its enqueue time (`scheduled`). */
export type MessageState = 'active' | 'deferred' | 'scheduled';

/** Options of {@link ServiceBusReceivedMessage.deadLetter}. */
export interface DeadLetterOptions {
  /** Why the message is dead-lettered; the dead-lettered message's `deadLetterReason`. */
  reason?: string;
  /** A longer explanation; the dead-lettered message's `deadLetterErrorDescription`. */
  errorDescription?: string;
}

/**
 * A message received from a queue or subscription (azure-servicebus's `ServiceBusReceivedMessage`),
 * with Service Bus's settlement: {@link complete}, {@link abandon}, {@link deadLetter}, {@link defer}.
 *
 * It is also a rhea-rx {@link Delivery}, so the operators work on it: `accept()` completes,
 * `reject(error)` dead-letters (the error's name as the reason, its message as the description),
 * `release()` gives it back unchanged, `modify()` abandons — or defers, with `undeliverableHere`.
 *
 * Settle it once. A message received in peek-lock mode stays locked until settled or until its
 * lock expires (`lockedUntilUtc`; see `renewLocks`). A peeked message, or one received in
 * receive-and-delete mode, cannot be settled. Messages received by sequence number (deferred
 * ones) are settled through the entity's `$management` node; the others on their link, as
 * azure-servicebus does.
 */
export interface ServiceBusReceivedMessage<T = unknown> extends Delivery<T> {
  /** The body: the bytes of a data section (what Service Bus clients send a string or bytes as), else the AMQP value. */
  readonly body: T;
  /** The application's identifier of the message (the `message-id` property), when the sender set one. */
  readonly messageId: MessageId | undefined;
  /** The session it belongs to (the group-id). */
  readonly sessionId: string | undefined;
  /** The key that placed the message in a partition of a partitioned entity (`x-opt-partition-key`), if any. */
  readonly partitionKey: string | undefined;
  /** The `correlation-id` property, e.g. the `messageId` of the request this message answers; `undefined` when not set. */
  readonly correlationId: MessageId | undefined;
  /** The MIME type of the body (the `content-type` property), when the sender set one. */
  readonly contentType: string | undefined;
  /** The application's label for the message (the `subject` property), when the sender set one. */
  readonly subject: string | undefined;
  /** The address the sender meant the message for (the `to` property); the service does not route by it. */
  readonly to: string | undefined;
  /** The address to send a reply to (the `reply-to` property), when the sender set one. */
  readonly replyTo: string | undefined;
  /** The session a reply should go to (the `reply-to-group-id` property), when the sender set one. */
  readonly replyToSessionId: string | undefined;
  /** The application properties, as received (an empty object when there are none); includes the dead-letter ones. */
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  /** The time to live, in milliseconds. */
  readonly timeToLive: number | undefined;
  /** The number the service gave the message, unique in its entity (exact: a 64-bit integer). */
  readonly sequenceNumber: bigint | undefined;
  /** The sequence number given at the message's first enqueue, which an auto-forwarded message keeps (`x-opt-enqueue-sequence-number`). */
  readonly enqueuedSequenceNumber: bigint | undefined;
  /** When the service accepted the message into the entity (`x-opt-enqueued-time`); `undefined` when absent. */
  readonly enqueuedTimeUtc: Date | undefined;
  /** When the message expires: enqueued time plus time to live. */
  readonly expiresAtUtc: Date | undefined;
  /** For a scheduled message, when it is (or was) to be enqueued (`x-opt-scheduled-enqueue-time`); otherwise `undefined`. */
  readonly scheduledEnqueueTimeUtc: Date | undefined;
  /** The lock token (a UUID): the delivery tag, or for a deferred message the one the service sent along. */
  readonly lockToken: string | undefined;
  /** Until when the message is locked; updated by {@link renewLock}. */
  readonly lockedUntilUtc: Date | undefined;
  /** For a dead-lettered message, why it was dead-lettered (the `DeadLetterReason` application property). */
  readonly deadLetterReason: string | undefined;
  /** For a dead-lettered message, the longer explanation given with it (the `DeadLetterErrorDescription` application property). */
  readonly deadLetterErrorDescription: string | undefined;
  /** The entity a dead-lettered message came from. */
  readonly deadLetterSource: string | undefined;
  /** Whether the message is active, deferred or scheduled (`x-opt-message-state`); `'active'` when the service does not say. */
  readonly state: MessageState;
  /** True for a message from `peekMessages`: not locked, cannot be settled. */
  readonly isPeeked: boolean;
  /** Why background lock renewal stopped, when it stopped before the message was settled (see `renewLocks`). */
  readonly autoRenewError: AmqpError | undefined;
  /**
   * Done: the service removes the message.
   * @throws (rejects) {@link DeliveryAlreadySettledError}, `MessageLockLostError`, `SessionLockLostError`, `NotSupportedError`.
   */
  complete(): Promise<void>;
  /** Give it back to be received again (delivery count + 1), optionally changing application properties. */
  abandon(propertiesToModify?: Record<string, unknown>): Promise<void>;
  /** Move it to the dead-letter sub-queue. */
  deadLetter(options?: DeadLetterOptions): Promise<void>;
  /** Set it aside: it can then be received only by its sequence number (`receiveDeferredMessages`). */
  defer(propertiesToModify?: Record<string, unknown>): Promise<void>;
  /** Extends the message's lock; resolves with the new `lockedUntilUtc`. Not for session messages (renew the session lock). */
  renewLock(): Promise<Date>;
  /** The body as text (UTF-8 of the bytes), as azure-servicebus's `str(message)`. */
  toString(): string;
}

/**
 * What a message needs from the receiver it came from.
 * @internal
 */
export interface MessageOrigin {
  readonly entityPath: string;
  readonly management: ManagementClient;
  readonly receiveMode: ReceiveMode;
  /** For a session receiver: its session, whose lock covers the message. */
  readonly session?: { readonly sessionId: string; readonly lockLost: AmqpError | undefined } | undefined;
  /** The link a request about this message is associated with. */
  readonly linkName: string | undefined;
  /** The clock (tests). */
  readonly now?: () => number;
}

type Operation = 'complete' | 'abandon' | 'deadLetter' | 'defer';

const stateNames: Readonly<Record<number, MessageState>> = { 0: 'active', 1: 'deferred', 2: 'scheduled' };

/**
 * The implementation: a message from a link (wrapping its {@link Delivery}), from a management
 * response (deferred: settled through `$management`), or peeked (not settleable).
 * @internal
 */
export class ReceivedMessage<T = unknown> implements ServiceBusReceivedMessage<T> {
  readonly #origin: MessageOrigin;
  readonly #delivery: Delivery<unknown> | undefined;
  readonly #message: AmqpMessage<unknown>;
  readonly #kind: 'link' | 'management' | 'peeked';
  readonly #lockToken: string | undefined;
  readonly #settledListeners = new Set<() => void>();
  #lockedUntil: Date | undefined;
  #settledAs: SettlementState | undefined;
  #autoRenewError: AmqpError | undefined;

  constructor(
    kind: 'link' | 'management' | 'peeked',
    message: AmqpMessage<unknown>,
    origin: MessageOrigin,
    delivery?: Delivery<unknown>,
    lockToken?: string,
  ) {
    this.#kind = kind;
    this.#message = message;
    this.#origin = origin;
    this.#delivery = delivery;
    this.#lockToken = lockToken;
    this.#lockedUntil = toDate(message.messageAnnotations[annotations.lockedUntil]);
  }

  // -- the Delivery side ------------------------------------------------------------------------

  get body(): T {
    return plainBody(this.#message.body) as T;
  }

  get message(): AmqpMessage<T> {
    return this.#message as AmqpMessage<T>;
  }

  get deliveryCount(): number {
    return this.#message.header.deliveryCount ?? 0;
  }

  get address(): string {
    return this.#origin.entityPath;
  }

  get settled(): boolean {
    if (this.#kind === 'link') return this.#delivery!.settled;
    return this.#settledAs !== undefined || this.#kind === 'peeked';
  }

  get settledAs(): SettlementState | undefined {
    return this.#kind === 'link' ? this.#delivery!.settledAs : this.#settledAs;
  }

  get tag(): Buffer | undefined {
    return this.#delivery?.tag;
  }

  accept(): void {
    this.#settleSync('complete');
  }

  reject(error?: RejectError | Error | string): void {
    this.#settleSync('deadLetter', undefined, deadLetterOptionsOf(error));
  }

  release(): void {
    if (this.#kind === 'link') {
      this.#check('abandon');
      this.#delivery!.release();
      this.#notifySettled();
      return;
    }
    this.#settleSync('abandon');
  }

  modify(options: ModifyOptions = {}): void {
    if (this.#kind === 'link') {
      this.#check(options.undeliverableHere === true ? 'defer' : 'abandon');
      this.#delivery!.modify(options);
      this.#notifySettled();
      return;
    }
    this.#settleSync(options.undeliverableHere === true ? 'defer' : 'abandon', options.annotations);
  }

  // -- the Service Bus side ---------------------------------------------------------------------

  get messageId(): MessageId | undefined {
    return this.#message.properties.messageId;
  }

  get sessionId(): string | undefined {
    return this.#message.properties.groupId;
  }

  get partitionKey(): string | undefined {
    return toText(this.#message.messageAnnotations[annotations.partitionKey]);
  }

  get correlationId(): MessageId | undefined {
    return this.#message.properties.correlationId;
  }

  get contentType(): string | undefined {
    return this.#message.properties.contentType;
  }

  get subject(): string | undefined {
    return this.#message.properties.subject;
  }

  get to(): string | undefined {
    return this.#message.properties.to;
  }

  get replyTo(): string | undefined {
    return this.#message.properties.replyTo;
  }

  get replyToSessionId(): string | undefined {
    return this.#message.properties.replyToGroupId;
  }

  get applicationProperties(): Readonly<Record<string, unknown>> {
    return this.#message.applicationProperties;
  }

  get timeToLive(): number | undefined {
    return this.#message.header.ttl;
  }

  get sequenceNumber(): bigint | undefined {
    return toBigInt(this.#message.messageAnnotations[annotations.sequenceNumber]);
  }

  get enqueuedSequenceNumber(): bigint | undefined {
    return toBigInt(this.#message.messageAnnotations[annotations.enqueueSequenceNumber]);
  }

  get enqueuedTimeUtc(): Date | undefined {
    return toDate(this.#message.messageAnnotations[annotations.enqueuedTime]);
  }

  get expiresAtUtc(): Date | undefined {
    const enqueued = this.enqueuedTimeUtc;
    const ttl = this.timeToLive;
    return enqueued === undefined || ttl === undefined ? undefined : new Date(enqueued.getTime() + ttl);
  }

  get scheduledEnqueueTimeUtc(): Date | undefined {
    return toDate(this.#message.messageAnnotations[annotations.scheduledEnqueueTime]);
  }

  get lockToken(): string | undefined {
    return this.#lockToken;
  }

  get lockedUntilUtc(): Date | undefined {
    return this.#lockedUntil;
  }

  get deadLetterReason(): string | undefined {
    return toText(this.#message.applicationProperties[deadLetterProperties.reason]);
  }

  get deadLetterErrorDescription(): string | undefined {
    return toText(this.#message.applicationProperties[deadLetterProperties.description]);
  }

  get deadLetterSource(): string | undefined {
    return toText(this.#message.messageAnnotations[annotations.deadLetterSource]);
  }

  get state(): MessageState {
    const code = toBigInt(this.#message.messageAnnotations[annotations.messageState]);
    return code === undefined ? 'active' : (stateNames[Number(code)] ?? 'active');
  }

  get isPeeked(): boolean {
    return this.#kind === 'peeked';
  }

  get autoRenewError(): AmqpError | undefined {
    return this.#autoRenewError;
  }

  complete(): Promise<void> {
    return this.#settle('complete');
  }

  abandon(propertiesToModify?: Record<string, unknown>): Promise<void> {
    return this.#settle('abandon', propertiesToModify);
  }

  deadLetter(options: DeadLetterOptions = {}): Promise<void> {
    return this.#settle('deadLetter', undefined, options);
  }

  defer(propertiesToModify?: Record<string, unknown>): Promise<void> {
    return this.#settle('defer', propertiesToModify);
  }

  async renewLock(): Promise<Date> {
    this.#checkLocked('renew the lock of');
    if (this.#origin.session !== undefined) {
      throw new NotSupportedError(`Cannot renew the lock of a message from session '${this.#origin.session.sessionId}': messages of a session share its lock; renew the session lock`);
    }
    if (this.settled) {
      throw new DeliveryAlreadySettledError(`Cannot renew the lock of a message from '${this.address}': it is settled`, 'settled');
    }
    const token = this.#lockToken;
    if (token === undefined) throw new NotSupportedError(`Cannot renew the lock of a message from '${this.address}': it has no lock token`);
    const [until] = await this.#origin.management.renewLock([token], { associatedLinkName: this.#origin.linkName });
    if (until === undefined || Number.isNaN(until.getTime())) throw new MessageLockLostError(`renew-lock on '${this.address}' returned no expiry`);
    this.#lockedUntil = until;
    return until;
  }

  toString(): string {
    const body: unknown = this.body;
    if (Buffer.isBuffer(body)) return body.toString('utf8');
    if (typeof body === 'string') return body;
    try {
      return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) ?? String(body);
    } catch {
      return String(body);
    }
  }

  // -- internals ----------------------------------------------------------------------------------

  /**
   * Calls `listener` once when this message is settled by the application (not by a link's
   * teardown). Returns the remover.
   * @internal
   */
  onSettled(listener: () => void): () => void {
    if (this.#settledAs !== undefined || (this.#kind === 'link' && this.#delivery!.settledAs !== undefined)) {
      listener();
      return () => undefined;
    }
    this.#settledListeners.add(listener);
    return () => this.#settledListeners.delete(listener);
  }

  /** Whether the message has a lock of its own to renew: received locked, not from a session. @internal */
  get hasRenewableLock(): boolean {
    return this.#kind !== 'peeked' && this.#origin.receiveMode === 'peekLock' && this.#origin.session === undefined && this.#lockToken !== undefined;
  }

  /** Records why background renewal stopped. @internal */
  setAutoRenewError(error: AmqpError): void {
    this.#autoRenewError = error;
  }

  #notifySettled(): void {
    const listeners = [...this.#settledListeners];
    this.#settledListeners.clear();
    for (const listener of listeners) listener();
  }

  /** Settlement that has to be synchronous (the Delivery methods): a management one runs in the background. */
  #settleSync(operation: Operation, propertiesToModify?: Record<string, unknown>, deadLetter?: DeadLetterOptions): void {
    if (this.#kind === 'link') {
      this.#settleOnLink(operation, propertiesToModify, deadLetter);
      return;
    }
    this.#settle(operation, propertiesToModify, deadLetter).catch((error: unknown) => {
      log.receiver('[%s] %s through $management failed: %s', this.address, operation, error instanceof Error ? error.message : String(error));
    });
  }

  async #settle(operation: Operation, propertiesToModify?: Record<string, unknown>, deadLetter?: DeadLetterOptions): Promise<void> {
    if (this.#kind === 'link') {
      this.#settleOnLink(operation, propertiesToModify, deadLetter);
      return;
    }
    this.#check(operation);
    const token = this.#lockToken;
    if (token === undefined) throw new NotSupportedError(`Cannot ${verb(operation)} a message from '${this.address}': it has no lock token`);
    const status = dispositionStatus[operation];
    this.#settledAs = settlementOf(operation);
    try {
      await this.#origin.management.updateDisposition(
        status,
        [token],
        {
          ...(operation === 'deadLetter' ? { deadLetterReason: deadLetter?.reason ?? '', deadLetterDescription: deadLetter?.errorDescription ?? '' } : {}),
          ...(propertiesToModify === undefined ? {} : { propertiesToModify }),
          ...(this.#origin.session === undefined ? {} : { sessionId: this.#origin.session.sessionId }),
        },
        { associatedLinkName: this.#origin.linkName },
      );
    } catch (error) {
      this.#settledAs = undefined; // not settled: the application may try again
      const failure = toServiceBusError(error) as AmqpError;
      if (failure.name === 'MessageLockLostError' || failure.name === 'SessionLockLostError') throw failure;
      throw new MessageSettleFailedError(`Could not ${verb(operation)} a message from '${this.address}' through $management: ${failure.message}`, {
        condition: failure.condition,
        description: failure.description,
        retryable: failure.retryable,
        cause: failure,
      });
    }
    this.#notifySettled();
  }

  /** Settles on the link the message came on, with the outcome azure-servicebus uses for each operation. */
  #settleOnLink(operation: Operation, propertiesToModify?: Record<string, unknown>, deadLetter?: DeadLetterOptions): void {
    this.#check(operation);
    const delivery = this.#delivery!;
    switch (operation) {
      case 'complete':
        delivery.accept();
        break;
      case 'abandon':
        delivery.modify({ deliveryFailed: true, undeliverableHere: false, ...(propertiesToModify === undefined ? {} : { annotations: propertiesToModify }) });
        break;
      case 'defer':
        delivery.modify({ deliveryFailed: true, undeliverableHere: true, ...(propertiesToModify === undefined ? {} : { annotations: propertiesToModify }) });
        break;
      case 'deadLetter': {
        const reason = deadLetter?.reason ?? null;
        const description = deadLetter?.errorDescription ?? null;
        delivery.reject({
          condition: DEAD_LETTER_CONDITION,
          ...(description === null ? {} : { description }),
          info: { [deadLetterProperties.reason]: reason, [deadLetterProperties.description]: description },
        });
        break;
      }
    }
    this.#notifySettled();
  }

  /** Refuses a settlement that cannot work, before anything reaches the wire. */
  #check(operation: Operation): void {
    this.#checkLocked(verb(operation));
    if (this.#kind !== 'link' && this.#settledAs !== undefined) {
      throw new DeliveryAlreadySettledError(`Cannot ${verb(operation)} a message from '${this.address}': it was already settled as ${this.#settledAs}`, 'settled');
    }
    if (this.#kind === 'link' && this.#delivery!.settled) return; // the delivery throws its own, precise error
    const session = this.#origin.session;
    if (session?.lockLost !== undefined) {
      throw new SessionLockLostError(`Cannot ${verb(operation)} a message of session '${session.sessionId}': the session lock was lost`, { cause: session.lockLost });
    }
    const now = this.#origin.now?.() ?? Date.now();
    if (session === undefined && this.#lockedUntil !== undefined && this.#lockedUntil.getTime() <= now) {
      throw new MessageLockLostError(`Cannot ${verb(operation)} a message from '${this.address}': its lock expired at ${this.#lockedUntil.toISOString()}`, {
        ...(this.#autoRenewError === undefined ? {} : { cause: this.#autoRenewError }),
      });
    }
  }

  #checkLocked(action: string): void {
    if (this.#kind === 'peeked') {
      throw new NotSupportedError(`Cannot ${action} a peeked message from '${this.address}': peeked messages are not locked; receive it to settle it`);
    }
    if (this.#origin.receiveMode === 'receiveAndDelete') {
      throw new NotSupportedError(`Cannot ${action} a message from '${this.address}': it was received in receiveAndDelete mode and is already removed`);
    }
  }
}

function verb(operation: Operation): string {
  return operation === 'deadLetter' ? 'dead-letter' : operation;
}

function settlementOf(operation: Operation): SettlementState {
  switch (operation) {
    case 'complete':
      return 'accepted';
    case 'deadLetter':
      return 'rejected';
    default:
      return 'modified';
  }
}

/** `reject(error)` as a dead-letter: the reason and description the error gives. */
function deadLetterOptionsOf(error: RejectError | Error | string | undefined): DeadLetterOptions {
  if (error === undefined) return {};
  if (typeof error === 'string') return { reason: error };
  if (error instanceof Error) return { reason: error.name, errorDescription: error.message };
  return {
    ...(error.condition === undefined ? {} : { reason: error.condition }),
    ...(error.description === undefined ? {} : { errorDescription: error.description }),
  };
}
