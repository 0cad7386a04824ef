/**
 * The messaging entities of the Service Bus mode and their message state: sequence numbers,
 * scheduled / active / deferred messages, peek-lock locks with expiry, sessions with their locks
 * and state, and dead-letter sub-queues. No AMQP here: the broker glue drives this model.
 *
 * @internal
 */
import { randomUUID } from 'node:crypto';
import { type AmqpMap, type AmqpValue, amqp, asNumber, mapGet, mapSet } from './codec.js';
import { field, groupId, type MessageSections, withField } from './message.js';

/** The state of a message in its entity (the values of the `x-opt-message-state` annotation). */
export type MessageState = 'active' | 'deferred' | 'scheduled';
export const MESSAGE_STATE_CODE: Record<MessageState, number> = { active: 0, deferred: 1, scheduled: 2 };

export const ANNOTATION = {
  sequenceNumber: 'x-opt-sequence-number',
  enqueuedTime: 'x-opt-enqueued-time',
  lockedUntil: 'x-opt-locked-until',
  lockToken: 'x-opt-lock-token',
  scheduledEnqueueTime: 'x-opt-scheduled-enqueue-time',
  partitionKey: 'x-opt-partition-key',
  messageState: 'x-opt-message-state',
} as const;

/** Who holds a lock: a receiving link (the broker's consumer), or the management node of a connection. */
export interface LockOwner {
  /** Called when the owner's lock is lost by expiry (the message is available again). */
  readonly kind: 'link' | 'management';
  readonly connectionId: number;
}

export interface MessageLock {
  readonly token: string;
  lockedUntil: number;
  readonly owner: LockOwner;
  timer: NodeJS.Timeout | undefined;
}

/** A message stored in an entity. */
export interface StoredSbMessage {
  readonly sequenceNumber: number;
  /** The sections as the client sent them (delivery annotations dropped), with the service's changes. */
  sections: MessageSections;
  readonly enqueuedTime: number;
  state: MessageState;
  scheduledTime: number | undefined;
  scheduleTimer: NodeJS.Timeout | undefined;
  /** Failed delivery attempts so far (the header's delivery-count). */
  deliveryCount: number;
  readonly sessionId: string | undefined;
  lock: MessageLock | undefined;
}

export interface SessionRecord {
  readonly id: string;
  state: Buffer | undefined;
  /** The owner holding the session lock, if any. */
  owner: LockOwner | undefined;
  lockedUntil: number;
  timer: NodeJS.Timeout | undefined;
}

export type EntityKind = 'queue' | 'topic' | 'subscription' | 'deadletter';

/** Callbacks from the model to the broker glue. */
export interface EntityEvents {
  /** Messages may have become available on `entity`: deliver to waiting receivers. */
  available(entity: Entity): void;
  /** A session lock expired: the glue detaches the owner's link. */
  sessionLockExpired(entity: Entity, session: SessionRecord, owner: LockOwner): void;
  /** A message lock held by a link expired. */
  messageLockExpired(entity: Entity, message: StoredSbMessage, lock: MessageLock): void;
}

export interface EntitySettings {
  lockDuration: number;
  maxDeliveryCount: number;
  now: () => number;
}

/** A queue, topic, subscription or dead-letter sub-queue. */
export class Entity {
  /** Messages by sequence number, in sequence order. */
  readonly messages = new Map<number, StoredSbMessage>();
  readonly sessions = new Map<string, SessionRecord>();
  /** Locks by token (of messages still stored). */
  readonly locks = new Map<string, { message: StoredSbMessage; lock: MessageLock }>();
  deadLetter: Entity | undefined;
  readonly subscriptions = new Map<string, Entity>();
  private nextSequence = 1;

  constructor(
    /** The path as declared (`orders`, `events/Subscriptions/audit`, `orders/$DeadLetterQueue`). */
    readonly path: string,
    readonly kind: EntityKind,
    readonly requiresSession: boolean,
    private readonly settings: EntitySettings,
    private readonly events: EntityEvents,
  ) {}

  /** Whether clients may send to it. */
  get acceptsSends(): boolean {
    return this.kind === 'queue' || this.kind === 'topic';
  }

  /** Whether clients may receive from it. */
  get acceptsReceivers(): boolean {
    return this.kind !== 'topic';
  }

  takeSequenceNumber(): number {
    return this.nextSequence++;
  }

  /**
   * Stores a message sent by a client (or scheduled through management). A topic copies it into
   * every subscription under one sequence number. Returns the sequence number.
   */
  enqueue(sections: MessageSections, options: { sequenceNumber?: number; scheduled?: boolean } = {}): number {
    const sequenceNumber = options.sequenceNumber ?? this.takeSequenceNumber();
    if (this.kind === 'topic') {
      for (const subscription of this.subscriptions.values()) subscription.enqueue(sections, { ...options, sequenceNumber });
      return sequenceNumber;
    }
    const now = this.settings.now();
    const scheduledAt = asNumber(mapGet(sections.messageAnnotations, ANNOTATION.scheduledEnqueueTime));
    const message: StoredSbMessage = {
      sequenceNumber,
      sections: { ...sections, deliveryAnnotations: undefined },
      enqueuedTime: now,
      state: 'active',
      scheduledTime: undefined,
      scheduleTimer: undefined,
      deliveryCount: 0,
      sessionId: groupId(sections),
      lock: undefined,
    };
    if (scheduledAt !== undefined && scheduledAt > now) {
      message.state = 'scheduled';
      message.scheduledTime = scheduledAt;
      message.scheduleTimer = setTimeout(() => this.activate(message), scheduledAt - now);
      message.scheduleTimer.unref?.();
    }
    this.messages.set(sequenceNumber, message);
    if (message.sessionId !== undefined) this.session(message.sessionId);
    if (message.state === 'active') this.events.available(this);
    return sequenceNumber;
  }

  /** Stores a dead-lettered or copied message as it is (keeping its sequence number). */
  adopt(source: StoredSbMessage, sections: MessageSections): void {
    const message: StoredSbMessage = {
      ...source,
      sections,
      state: 'active',
      scheduledTime: undefined,
      scheduleTimer: undefined,
      lock: undefined,
    };
    this.messages.set(message.sequenceNumber, message);
    this.events.available(this);
  }

  private activate(message: StoredSbMessage): void {
    message.scheduleTimer = undefined;
    if (this.messages.get(message.sequenceNumber) !== message || message.state !== 'scheduled') return;
    message.state = 'active';
    this.events.available(this);
  }

  /** Cancels a scheduled message; false when there is no such scheduled message. */
  cancelScheduled(sequenceNumber: number): boolean {
    const message = this.messages.get(sequenceNumber);
    if (!message || message.state !== 'scheduled') return false;
    clearTimeout(message.scheduleTimer);
    this.messages.delete(sequenceNumber);
    return true;
  }

  /** Whether a message has outlived its time-to-live (it is then dropped). */
  private expired(message: StoredSbMessage, now: number): boolean {
    const ttl = asNumber(field(message.sections.header, 2));
    return ttl !== undefined && ttl > 0 && message.enqueuedTime + ttl <= now;
  }

  /**
   * The next message a receiver may take: active, unlocked, in sequence order; with `sessionId`
   * only that session's, without it only messages that have no session.
   */
  nextAvailable(sessionId: string | undefined): StoredSbMessage | undefined {
    const now = this.settings.now();
    for (const message of this.messages.values()) {
      if (message.state !== 'active' || message.lock) continue;
      if (message.sessionId !== sessionId) continue;
      if (this.expired(message, now)) {
        this.remove(message);
        continue;
      }
      return message;
    }
    return undefined;
  }

  /** The first unlocked session (in the order of its first available message) with a message to deliver. */
  nextAvailableSession(): SessionRecord | undefined {
    const now = this.settings.now();
    for (const message of this.messages.values()) {
      if (message.state !== 'active' || message.lock || message.sessionId === undefined) continue;
      const session = this.session(message.sessionId);
      if (this.sessionLocked(session, now)) continue;
      return session;
    }
    return undefined;
  }

  session(id: string): SessionRecord {
    let session = this.sessions.get(id);
    if (!session) {
      session = { id, state: undefined, owner: undefined, lockedUntil: 0, timer: undefined };
      this.sessions.set(id, session);
    }
    return session;
  }

  sessionLocked(session: SessionRecord, now = this.settings.now()): boolean {
    return session.owner !== undefined && session.lockedUntil > now;
  }

  /** Locks a session for `owner` (false when another owner holds it). */
  lockSession(session: SessionRecord, owner: LockOwner): boolean {
    if (this.sessionLocked(session) && session.owner !== owner) return false;
    session.owner = owner;
    this.renewSessionLock(session);
    return true;
  }

  renewSessionLock(session: SessionRecord): number {
    clearTimeout(session.timer);
    session.lockedUntil = this.settings.now() + this.settings.lockDuration;
    session.timer = setTimeout(() => {
      const owner = session.owner;
      session.timer = undefined;
      if (!owner) return;
      this.releaseSession(session, owner);
      this.events.sessionLockExpired(this, session, owner);
    }, this.settings.lockDuration);
    session.timer.unref?.();
    return session.lockedUntil;
  }

  /** Releases a session lock held by `owner` (its message locks go back, counting a failed delivery). */
  releaseSession(session: SessionRecord, owner: LockOwner): void {
    if (session.owner !== owner) return;
    clearTimeout(session.timer);
    session.timer = undefined;
    session.owner = undefined;
    session.lockedUntil = 0;
    for (const { message, lock } of [...this.locks.values()]) {
      if (message.sessionId === session.id && lock.owner === owner) this.unlock(message, { failed: true });
    }
    this.events.available(this);
  }

  /**
   * Locks a message for `owner`. Messages of a session share the session's lock expiry and have no
   * timer of their own.
   */
  lock(message: StoredSbMessage, owner: LockOwner): MessageLock {
    const lock: MessageLock = { token: randomUUID(), lockedUntil: 0, owner, timer: undefined };
    message.lock = lock;
    this.locks.set(lock.token, { message, lock });
    if (this.sessionBound(message, owner)) {
      lock.lockedUntil = this.session(message.sessionId as string).lockedUntil;
    } else {
      this.renewLock(lock);
    }
    return lock;
  }

  renewLock(lock: MessageLock): number {
    clearTimeout(lock.timer);
    lock.lockedUntil = this.settings.now() + this.settings.lockDuration;
    lock.timer = setTimeout(() => this.expireLock(lock), this.settings.lockDuration);
    lock.timer.unref?.();
    return lock.lockedUntil;
  }

  private expireLock(lock: MessageLock): void {
    const held = this.locks.get(lock.token);
    if (!held || held.lock !== lock) return;
    this.unlock(held.message, { failed: true });
    this.events.messageLockExpired(this, held.message, lock);
    this.events.available(this);
  }

  /** The live lock with `token`, or undefined when it expired, was released or its message settled. */
  liveLock(token: string): { message: StoredSbMessage; lock: MessageLock } | undefined {
    const held = this.locks.get(token.toLowerCase());
    if (!held) return undefined;
    const now = this.settings.now();
    if (this.sessionBound(held.message, held.lock.owner)) {
      const session = this.sessions.get(held.message.sessionId as string);
      return session && session.owner === held.lock.owner && session.lockedUntil > now ? held : undefined;
    }
    return held.lock.lockedUntil > now ? held : undefined;
  }

  /** Whether a lock lives as long as its session's lock (a session receiver's message). */
  sessionBound(message: StoredSbMessage, owner: LockOwner): boolean {
    return message.sessionId !== undefined && this.requiresSession && owner.kind === 'link';
  }

  private dropLock(message: StoredSbMessage): void {
    if (!message.lock) return;
    clearTimeout(message.lock.timer);
    this.locks.delete(message.lock.token);
    message.lock = undefined;
  }

  /**
   * Releases a message's lock. With `failed`, the attempt counts (delivery-count + 1) and a message
   * out of attempts is dead-lettered. `modify` entries are set in its application properties.
   */
  unlock(message: StoredSbMessage, options: { failed: boolean; modify?: AmqpMap }): void {
    this.dropLock(message);
    this.applyModifications(message, options.modify);
    if (options.failed) {
      message.deliveryCount += 1;
      if (this.kind !== 'deadletter' && message.deliveryCount >= this.settings.maxDeliveryCount) {
        this.deadLetterMessage(message, {
          reason: 'MaxDeliveryCountExceeded',
          description: `Message could not be consumed after ${this.settings.maxDeliveryCount} delivery attempts.`,
        });
        return;
      }
    }
    if (message.state === 'active') this.events.available(this);
  }

  /** Completes (removes) a message. */
  complete(message: StoredSbMessage): void {
    this.remove(message);
  }

  /** Defers a message: it stays, but only receive-by-sequence-number hands it out. */
  defer(message: StoredSbMessage, modify?: AmqpMap): void {
    this.dropLock(message);
    this.applyModifications(message, modify);
    message.state = 'deferred';
  }

  /** Moves a message to the dead-letter sub-queue with the reason and description as application properties. */
  deadLetterMessage(message: StoredSbMessage, details: { reason?: string; description?: string; modify?: AmqpMap }): void {
    this.remove(message);
    this.applyModifications(message, details.modify);
    let properties = message.sections.applicationProperties;
    if (details.reason !== undefined) properties = mapSet(properties, amqp.string('DeadLetterReason'), amqp.string(details.reason));
    if (details.description !== undefined) {
      properties = mapSet(properties, amqp.string('DeadLetterErrorDescription'), amqp.string(details.description));
    }
    const sections: MessageSections = { ...message.sections, ...(properties ? { applicationProperties: properties } : {}) };
    this.deadLetter?.adopt({ ...message, state: 'active' }, sections);
  }

  remove(message: StoredSbMessage): void {
    this.dropLock(message);
    clearTimeout(message.scheduleTimer);
    this.messages.delete(message.sequenceNumber);
  }

  private applyModifications(message: StoredSbMessage, modify: AmqpMap | undefined): void {
    if (!modify || modify.value.length === 0) return;
    let properties = message.sections.applicationProperties;
    for (const [key, value] of modify.value) {
      const name = key.type === 'string' || key.type === 'symbol' ? amqp.string(key.value) : key;
      properties = mapSet(properties, name, value);
    }
    message.sections = { ...message.sections, ...(properties ? { applicationProperties: properties } : {}) };
  }

  /**
   * The sections to deliver: the stored ones with the header's delivery-count and the service's
   * annotations (sequence number, enqueued time, state, and locked-until for a locked message).
   */
  deliverySections(message: StoredSbMessage, extra: { lockedUntil?: number; lockToken?: string } = {}): MessageSections {
    let annotations = message.sections.messageAnnotations;
    const set = (name: string, value: AmqpValue): void => {
      annotations = mapSet(annotations, amqp.symbol(name), value);
    };
    set(ANNOTATION.sequenceNumber, amqp.long(message.sequenceNumber));
    set(ANNOTATION.enqueuedTime, amqp.timestamp(message.scheduledTime ?? message.enqueuedTime));
    set(ANNOTATION.messageState, amqp.long(MESSAGE_STATE_CODE[message.state]));
    if (extra.lockedUntil !== undefined) set(ANNOTATION.lockedUntil, amqp.timestamp(extra.lockedUntil));
    const header = withField(message.sections.header, 4, amqp.uint(message.deliveryCount));
    const sections: MessageSections = { ...message.sections, header, messageAnnotations: annotations };
    if (extra.lockToken !== undefined) {
      sections.deliveryAnnotations = amqp.symbolMap({ [ANNOTATION.lockToken]: amqp.uuid(extra.lockToken) });
    }
    return sections;
  }

  /** Stops every timer (broker stop). */
  dispose(): void {
    for (const message of this.messages.values()) {
      clearTimeout(message.scheduleTimer);
      clearTimeout(message.lock?.timer);
    }
    for (const session of this.sessions.values()) clearTimeout(session.timer);
  }
}
