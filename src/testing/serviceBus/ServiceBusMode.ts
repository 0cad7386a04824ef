/**
 * The Service Bus mode of the EmbeddedBroker: Azure Service Bus's AMQP protocol on rhea's server
 * side — SASL PLAIN with a shared access key, SASL MSSBCBS/ANONYMOUS with SAS tokens put on
 * `$cbs`, entity paths, peek-lock with lock tokens and lock expiry, receive-and-delete, sessions,
 * `$management` request/response, scheduling, deferral and dead-letter sub-queues.
 *
 * @internal The public surface is {@link ServiceBusControl} (as `broker.serviceBus`) and the options.
 */
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import rhea from 'rhea';
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender, Session, Source, TerminusOptions } from 'rhea';
import { ConfigError } from '../../errors/errors.js';
import { type AmqpMap, type AmqpValue, amqp, asString, decodeAt, encode, guidToBytes, mapGet } from './codec.js';
import { Entity, type EntityEvents, type LockOwner, type MessageState, type SessionRecord, type StoredSbMessage } from './entities.js';
import { decodeMessage, encodeMessage, groupId, type MessageSections, property, SECTION } from './message.js';
import { deliveryLimitOf, installDrainReply, requestFlow } from '../embedded/rheaInternals.js';
import { holdAttach, releaseAttach, setLocalAttachExtras, setLocalTerminus, takeRawPayload, tapSession } from './rheaTap.js';
import { parseSasToken, validateSasToken } from './sasToken.js';
import { handleManagement, type ManagementContext, type ManagementResponse } from './management.js';

const log = createDebug('rhea-rx:broker:servicebus');

/** A right a shared access policy grants. `Manage` includes the other two. */
export type ServiceBusRight = 'Manage' | 'Send' | 'Listen';

/** Options of the Service Bus mode (`EmbeddedBroker.start({ serviceBus: … })`). */
export interface ServiceBusModeOptions {
  /**
   * The namespace host name tokens must be issued for (`sr=sb://<namespace>/…`). When unset, any
   * host is accepted and only the entity path of a token's resource is checked.
   */
  namespace?: string;
  /** Shared access policies: key name → key. Tokens and SASL PLAIN are checked against these. */
  keys: Record<string, string>;
  /** Rights per key name. @default every key has Manage (Send and Listen included) */
  keyRights?: Record<string, ServiceBusRight[]>;
  /** How long a message or session lock lasts, ms. @default 30000 */
  lockDuration?: number;
  /** Delivery attempts before a message is dead-lettered (reason `MaxDeliveryCountExceeded`). @default 10 */
  maxDeliveryCount?: number;
  /** The largest message (encoded bytes) a sender may send, announced in the attach. @default 262144 */
  maxMessageSize?: number;
  /**
   * How long a receiver asking for the next available session waits for one before its attach is
   * refused with `com.microsoft:timeout`, ms, unless its link sets `com.microsoft:timeout`. @default 60000
   */
  sessionWaitTimeout?: number;
  /** The entities that exist. Attaching to any other path is refused with `amqp:not-found`. */
  entities?: {
    queues?: string[];
    /** Topic name → its subscriptions. */
    topics?: Record<string, string[]>;
    /** Queues that require sessions. */
    sessionQueues?: string[];
  };
}

interface Grant {
  /** Lower-case entity path prefix ('' for the whole namespace). */
  readonly path: string;
  readonly rights: ReadonlySet<ServiceBusRight>;
  /** ms since epoch; Infinity for PLAIN. */
  readonly expiresAt: number;
  readonly description: string;
}

interface SbConnection {
  readonly id: number;
  readonly connection: Connection;
  grants: Grant[];
  readonly links: Set<SbLink>;
  readonly management: LockOwner;
  grantTimer: NodeJS.Timeout | undefined;
}

type SbLink = Producer | Consumer | RequestLink | ReplyLink;

interface Producer {
  readonly kind: 'producer';
  readonly link: Receiver;
  readonly connection: SbConnection;
  readonly entity: Entity;
}

interface Consumer extends LockOwner {
  readonly kind: 'link';
  readonly link: Sender;
  readonly connection: SbConnection;
  readonly entity: Entity;
  readonly receiveAndDelete: boolean;
  session: SessionRecord | undefined;
  readonly sessionful: boolean;
  waiting: NodeJS.Timeout | undefined;
  closed: boolean;
  /** Set a tick after the attach, so no transfer overtakes the attach frame. */
  attached: boolean;
  /** Transfers handed to rhea on this link (the peer's delivery limit minus this is the credit left). */
  sent: number;
  draining: boolean;
  drainReplyDue: boolean;
}

interface RequestLink {
  readonly kind: 'request';
  readonly link: Receiver;
  readonly connection: SbConnection;
  /** '$cbs', or the entity whose `$management` node this is. */
  readonly node: Entity | '$cbs';
}

interface ReplyLink {
  readonly kind: 'reply';
  readonly link: Sender;
  readonly connection: SbConnection;
  readonly node: Entity | '$cbs';
  readonly replyAddress: string | undefined;
}

/** Peer attach-time terminus fields, as rhea unwraps them. */
interface RemoteTerminus {
  address?: string;
  filter?: Record<string, unknown> | null;
  [field: string]: unknown;
}

const SESSION_FILTER = 'com.microsoft:session-filter';
const LOCKED_UNTIL_UTC = 'com.microsoft:locked-until-utc';
const LINK_TIMEOUT = 'com.microsoft:timeout';
const BATCH_FORMAT = 0x80013700;
/** .NET ticks (100 ns) from 0001-01-01 to the Unix epoch. */
const EPOCH_TICKS = 621355968000000000n;
const CREDIT_WINDOW = 100;
const LOCK_LOST =
  'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue, or was received by a different receiver instance.';
const SESSION_LOCK_LOST = 'The session lock has expired on the MessageSession. Accept a new MessageSession.';

/** A message in an entity, as {@link ServiceBusControl.messages} shows it. */
export interface ServiceBusMessageView {
  /** The sequence number the entity gave it when stored, counting from 1 in each entity. */
  sequenceNumber: number;
  /** Whether it is active, deferred or scheduled. */
  state: MessageState;
  /** Failed deliveries so far (abandoned, lock expired, or its receiver left while holding it); at the entity's maximum it is dead-lettered. */
  deliveryCount: number;
  /** The session it belongs to (its group-id), or `undefined` for a message without one. */
  sessionId: string | undefined;
  /** Whether a receiver holds a live lock on it. */
  locked: boolean;
  /** The message as a client would receive it (rhea's decoding, with the service's annotations). */
  message: Message;
}

/** Test-side access to the Service Bus mode (`broker.serviceBus`). */
export interface ServiceBusControl {
  /** `Endpoint=sb://HOST:PORT/;SharedAccessKeyName=…;SharedAccessKey=…` for a key (the first by default). */
  connectionString(keyName?: string, options?: { entityPath?: string }): string;
  /** Stores messages at an entity as if a client had sent them (a topic copies them to its subscriptions). */
  send(entityPath: string, ...messages: Message[]): number[];
  /** Messages of an entity (any state, locked or not) in sequence order. */
  messages(entityPath: string): ServiceBusMessageView[];
  /** Message counts of an entity by state, and how many are locked. */
  counts(entityPath: string): { active: number; deferred: number; scheduled: number; locked: number };
  /** A session's state as last set, or undefined. */
  sessionState(queuePath: string, sessionId: string): Buffer | undefined;
  /** Whether a session is locked by a receiver now. */
  sessionLocked(queuePath: string, sessionId: string): boolean;
}

/** A resolved Service Bus mode setting, for the EmbeddedBroker. */
export interface ServiceBusSettings {
  namespace: string | undefined;
  keys: Record<string, string>;
  rights: Record<string, Set<ServiceBusRight>>;
  lockDuration: number;
  maxDeliveryCount: number;
  maxMessageSize: number;
  sessionWaitTimeout: number;
  queues: string[];
  topics: Record<string, string[]>;
  sessionQueues: string[];
}

/** Checks and completes the options; throws {@link ConfigError} naming the bad one. */
export function resolveServiceBusSettings(options: ServiceBusModeOptions): ServiceBusSettings {
  if (typeof options !== 'object' || options === null) throw new ConfigError('serviceBus', 'serviceBus must be an object');
  const keys = options.keys;
  if (typeof keys !== 'object' || keys === null || Object.keys(keys).length === 0) {
    throw new ConfigError('serviceBus.keys', 'serviceBus.keys must map at least one key name to its key');
  }
  for (const [name, key] of Object.entries(keys)) {
    if (typeof key !== 'string' || key.length === 0) throw new ConfigError('serviceBus.keys', `the key of '${name}' must be a non-empty string`);
  }
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`serviceBus.${name}`, `serviceBus.${name} must be a positive integer, got ${String(value)}`);
    return v;
  };
  const rights: Record<string, Set<ServiceBusRight>> = {};
  for (const name of Object.keys(keys)) {
    const given = options.keyRights?.[name] ?? ['Manage'];
    for (const right of given) {
      if (!['Manage', 'Send', 'Listen'].includes(right)) {
        throw new ConfigError('serviceBus.keyRights', `unknown right '${String(right)}' for '${name}' (Manage, Send or Listen)`);
      }
    }
    rights[name] = new Set(given.includes('Manage') ? ['Manage', 'Send', 'Listen'] : given);
  }
  const entities = options.entities ?? {};
  return {
    namespace: options.namespace?.toLowerCase(),
    keys: { ...keys },
    rights,
    lockDuration: positive('lockDuration', options.lockDuration, 30_000),
    maxDeliveryCount: positive('maxDeliveryCount', options.maxDeliveryCount, 10),
    maxMessageSize: positive('maxMessageSize', options.maxMessageSize, 262_144),
    sessionWaitTimeout: positive('sessionWaitTimeout', options.sessionWaitTimeout, 60_000),
    queues: [...(entities.queues ?? [])],
    topics: { ...(entities.topics ?? {}) },
    sessionQueues: [...(entities.sessionQueues ?? [])],
  };
}

/** Strips `scheme://host[:port]/` and surrounding slashes from an address. */
export function entityPathOf(address: string): string {
  return address.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/^\/+|\/+$/g, '');
}

/** The host of an `sb://host:port/path` resource, lower case and without the port (undefined when none). */
function hostOf(resource: string): string | undefined {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)/i.exec(resource);
  return match ? (match[1] as string).replace(/:\d+$/, '').toLowerCase() : undefined;
}

/** The Service Bus mode: attach with {@link ServiceBusMode.install} to the broker's container. */
export class ServiceBusMode implements ServiceBusControl {
  private readonly entities = new Map<string, Entity>();
  private readonly connections = new Map<Connection, SbConnection>();
  private readonly consumers = new Map<Entity, Consumer[]>();
  private readonly sessionWaiters = new Map<Entity, Consumer[]>();
  private connectionCount = 0;
  private disposed = false;

  constructor(
    private readonly settings: ServiceBusSettings,
    private readonly endpoint: () => { host: string; port: number },
  ) {
    const events: EntityEvents = {
      available: (entity) => this.pump(entity),
      sessionLockExpired: (entity, session, owner) => this.onSessionLockExpired(entity, session, owner),
      messageLockExpired: (_entity, message, lock) => log('lock %s of message %d expired', lock.token, message.sequenceNumber),
    };
    const entitySettings = { lockDuration: settings.lockDuration, maxDeliveryCount: settings.maxDeliveryCount, now: () => Date.now() };
    const add = (path: string, kind: 'queue' | 'topic' | 'subscription', requiresSession: boolean): Entity => {
      const key = path.toLowerCase();
      if (this.entities.has(key)) throw new ConfigError('serviceBus.entities', `entity '${path}' is declared twice`);
      const entity = new Entity(path, kind, requiresSession, entitySettings, events);
      this.entities.set(key, entity);
      if (kind !== 'topic') {
        const dlqPath = `${path}/$DeadLetterQueue`;
        const dlq = new Entity(dlqPath, 'deadletter', false, entitySettings, events);
        entity.deadLetter = dlq;
        this.entities.set(dlqPath.toLowerCase(), dlq);
      }
      return entity;
    };
    for (const queue of settings.queues) add(queue, 'queue', false);
    for (const queue of settings.sessionQueues) add(queue, 'queue', true);
    for (const [topic, subscriptions] of Object.entries(settings.topics)) {
      const entity = add(topic, 'topic', false);
      for (const name of subscriptions) entity.subscriptions.set(name.toLowerCase(), add(`${topic}/Subscriptions/${name}`, 'subscription', false));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Wiring

  /** The options the broker adds to each connection it accepts. */
  connectionOptions(): Record<string, unknown> {
    return {
      offered_capabilities: undefined,
      sender_options: { autosettle: true, treat_modified_as_released: false },
      receiver_options: { credit_window: 0, autoaccept: false },
    };
  }

  /** Installs the SASL mechanisms: PLAIN (key name / key, or key name / SAS token), MSSBCBS and ANONYMOUS. */
  configureSasl(container: Container): void {
    const mechanisms = container.sasl_server_mechanisms as unknown as Record<string, () => unknown> & { enable_anonymous(): void };
    const check = (user: string, password: string): boolean => this.checkPlain(user, password);
    mechanisms['PLAIN'] = () => new PlainMechanism(check);
    mechanisms.enable_anonymous();
    mechanisms['MSSBCBS'] = () => ({
      outcome: undefined as boolean | undefined,
      username: undefined as string | undefined,
      start(this: { outcome?: boolean; username?: string }): void {
        this.outcome = true;
        this.username = '$cbs';
      },
    });
  }

  private checkPlain(user: string, password: string): boolean {
    if (password.startsWith('SharedAccessSignature ')) return validateSasToken(password, this.settings.keys).ok;
    return Object.hasOwn(this.settings.keys, user) && this.settings.keys[user] === password;
  }

  /** Registers the mode's handlers on the broker's container. */
  install(container: Container): void {
    const on = (event: string, handler: (context: EventContext) => void): void => {
      container.on(event, (context: EventContext) => {
        if (this.disposed) return;
        try {
          handler(context);
        } catch (err) {
          log('%s handler failed: %O', event, err);
        }
      });
    };
    on('connection_open', (context) => this.connectionOf(context.connection));
    on('session_open', (context) => {
      if (context.session) tapSession(context.session);
    });
    on('sender_open', (context) => this.onClientReceiverAttach(context));
    on('receiver_open', (context) => this.onClientSenderAttach(context));
    // why setImmediate: rhea reads a disposition and a detach (or end) in one pass but raises the
    // outcome events only afterwards, on its next tick; releasing the link's messages at once
    // would lose the settlements the client made just before it detached.
    const later = (run: () => void) => setImmediate(() => {
      if (this.disposed) return;
      try {
        run();
      } catch (err) {
        log('deferred detach failed: %O', err);
      }
    });
    on('sender_close', (context) => later(() => this.onDetach(context.sender)));
    on('receiver_close', (context) => later(() => this.onDetach(context.receiver)));
    on('session_close', (context) => later(() => this.dropLinks(context.connection, context.session)));
    on('session_error', (context) => later(() => this.dropLinks(context.connection, context.session)));
    on('connection_close', (context) => this.connectionGone(context.connection));
    on('connection_error', (context) => this.connectionGone(context.connection));
    on('disconnected', (context) => this.connectionGone(context.connection));
    on('sender_flow', (context) => {
      const consumer = context.sender ? this.linkOf(context.connection, context.sender) : undefined;
      if (consumer?.kind !== 'link') return;
      consumer.draining = false;
      this.pump(consumer.entity);
    });
    on('sender_draining', (context) => {
      const consumer = context.sender ? this.linkOf(context.connection, context.sender) : undefined;
      if (consumer?.kind !== 'link') return;
      consumer.draining = true;
      this.pump(consumer.entity);
    });
    for (const kind of ['accepted', 'released', 'rejected', 'modified', 'settled'] as const) {
      on(kind, (context) => this.onOutcome(context, kind));
    }
    on('message', (context) => this.onMessage(context));
  }

  /** Forgets a connection: its links' locks go back and their sessions are released. */
  connectionGone(connection: Connection): void {
    const record = this.connections.get(connection);
    if (!record) return;
    this.connections.delete(connection);
    clearTimeout(record.grantTimer);
    for (const link of [...record.links]) this.releaseLink(link);
  }

  /** Stops every timer. */
  dispose(): void {
    this.disposed = true;
    for (const record of [...this.connections.values()]) this.connectionGone(record.connection);
    for (const entity of this.entities.values()) entity.dispose();
  }

  private connectionOf(connection: Connection): SbConnection {
    let record = this.connections.get(connection);
    if (!record) {
      const id = ++this.connectionCount;
      record = { id, connection, grants: [], links: new Set(), management: { kind: 'management', connectionId: id }, grantTimer: undefined };
      const plain = plainUserOf(connection);
      if (plain !== undefined) {
        const token = plain.password.startsWith('SharedAccessSignature ') ? parseSasToken(plain.password) : undefined;
        const keyName = token?.keyName ?? plain.user;
        record.grants.push({
          path: token ? entityPathOf(token.resource).toLowerCase() : '',
          rights: this.settings.rights[keyName] ?? new Set(),
          expiresAt: token ? token.expiry * 1000 : Infinity,
          description: `SASL PLAIN '${plain.user}'`,
        });
      }
      this.connections.set(connection, record);
    }
    return record;
  }

  private linkOf(connection: Connection, link: Sender | Receiver): SbLink | undefined {
    const record = this.connections.get(connection);
    if (!record) return undefined;
    for (const l of record.links) if (l.link === link) return l;
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Attach

  private resolve(address: string | undefined): { entity?: Entity; management: boolean; cbs: boolean; path: string } {
    const path = entityPathOf(address ?? '');
    if (path === '$cbs') return { management: false, cbs: true, path };
    const management = /\/\$management$/i.test(path);
    const entityPath = management ? path.replace(/\/\$management$/i, '') : path;
    const entity = this.entities.get(entityPath.toLowerCase());
    return { ...(entity ? { entity } : {}), management, cbs: false, path: entityPath };
  }

  private resourceUri(path: string): string {
    const { host, port } = this.endpoint();
    return `sb://${this.settings.namespace ?? host}${this.settings.namespace ? '' : `:${port}`}/${path}`;
  }

  /** Whether the connection may use `entity` with `right`; a reason when not. */
  private authorize(record: SbConnection, entity: Entity, right: ServiceBusRight | 'any'): string | undefined {
    const now = Date.now();
    const path = entity.path.toLowerCase();
    const covering = record.grants.filter(
      (g) => g.expiresAt > now && (g.path === '' || path === g.path || path.startsWith(`${g.path}/`)),
    );
    if (covering.some((g) => right === 'any' || g.rights.has(right))) return undefined;
    const claim = right === 'any' ? 'Listen' : right;
    return `Unauthorized access. '${claim}' claim(s) are required to perform this operation. Resource: '${this.resourceUri(entity.path)}'.`;
  }

  private refuse(link: Sender | Receiver, condition: string, description: string): void {
    log('attach of %s refused: %s (%s)', link.name, condition, description);
    setLocalTerminus(link, link.is_sender() ? 'source' : 'target', null);
    link.close({ condition, description });
  }

  /** A client receiver attached: a consumer of an entity, or the reply link of `$cbs` / `$management`. */
  private onClientReceiverAttach(context: EventContext): void {
    const sender = context.sender;
    if (!sender) return;
    const record = this.connectionOf(context.connection);
    const source = (sender.source ?? {}) as RemoteTerminus;
    const target = (sender.target ?? {}) as RemoteTerminus;
    const resolved = this.resolve(source.address);
    sender.set_target({ ...(target.address !== undefined ? { address: target.address } : {}) } as TerminusOptions);
    if (resolved.cbs || resolved.management) {
      if (resolved.management && !resolved.entity) {
        this.refuse(sender, 'amqp:not-found', `The messaging entity '${this.resourceUri(resolved.path)}' could not be found.`);
        return;
      }
      if (resolved.management && resolved.entity) {
        const denied = this.authorize(record, resolved.entity, 'any');
        if (denied) return this.refuse(sender, 'amqp:unauthorized-access', denied);
      }
      sender.set_source({ address: source.address } as Source);
      const reply: ReplyLink = {
        kind: 'reply',
        link: sender,
        connection: record,
        node: resolved.entity ?? '$cbs',
        replyAddress: target.address,
      };
      record.links.add(reply);
      return;
    }
    const entity = resolved.entity;
    if (!entity) {
      this.refuse(sender, 'amqp:not-found', `The messaging entity '${this.resourceUri(resolved.path)}' could not be found.`);
      return;
    }
    if (!entity.acceptsReceivers) {
      this.refuse(sender, 'amqp:not-allowed', `Cannot receive from topic '${entity.path}': receive from one of its subscriptions.`);
      return;
    }
    const denied = this.authorize(record, entity, 'Listen');
    if (denied) return this.refuse(sender, 'amqp:unauthorized-access', denied);
    const filter = source.filter ?? undefined;
    const sessionful = filter !== undefined && filter !== null && Object.hasOwn(filter, SESSION_FILTER);
    if (sessionful && !entity.requiresSession) {
      this.refuse(sender, 'amqp:not-allowed', `It is not possible for an entity that does not require sessions to create a session receiver. Entity: '${entity.path}'.`);
      return;
    }
    if (!sessionful && entity.requiresSession) {
      this.refuse(sender, 'amqp:not-allowed', `It is not possible for an entity that requires sessions to create a non-sessionful message receiver. Entity: '${entity.path}'.`);
      return;
    }
    const receiveAndDelete = sender.snd_settle_mode === 1;
    const consumer: Consumer = {
      kind: 'link',
      connectionId: record.id,
      link: sender,
      connection: record,
      entity,
      receiveAndDelete,
      session: undefined,
      sessionful,
      waiting: undefined,
      closed: false,
      attached: false,
      sent: 0,
      draining: false,
      drainReplyDue: false,
    };
    installDrainReply(sender, () => {
      const due = consumer.drainReplyDue;
      consumer.drainReplyDue = false;
      return due;
    });
    const { snd, rcv } = { snd: receiveAndDelete ? 1 : 0, rcv: sender.rcv_settle_mode === 1 ? 1 : 0 };
    const attach = (sender as unknown as { local: { attach: { snd_settle_mode?: number; rcv_settle_mode?: number } } }).local.attach;
    attach.snd_settle_mode = snd;
    attach.rcv_settle_mode = rcv;
    record.links.add(consumer);
    if (!sessionful) {
      sender.set_source(copyTerminus(source) as unknown as Source);
      this.addConsumer(consumer);
      return;
    }
    const wanted = sessionFilterValue(filter?.[SESSION_FILTER]);
    if (wanted !== undefined) {
      const session = entity.session(wanted);
      if (!entity.lockSession(session, consumer)) {
        record.links.delete(consumer);
        this.refuse(sender, 'com.microsoft:session-cannot-be-locked', `The requested session '${wanted}' cannot be accepted. It may be locked by another receiver.`);
        return;
      }
      this.bindSession(consumer, session, source);
      return;
    }
    const session = entity.nextAvailableSession();
    if (session && entity.lockSession(session, consumer)) {
      this.bindSession(consumer, session, source);
      return;
    }
    // Wait for a session with messages, answering the attach only then (as the service does).
    holdAttach(sender);
    const properties = (sender as unknown as { remote?: { attach?: { properties?: Record<string, unknown> } } }).remote?.attach?.properties;
    const timeout = asPositive(properties?.[LINK_TIMEOUT]) ?? this.settings.sessionWaitTimeout;
    consumer.waiting = setTimeout(() => {
      consumer.waiting = undefined;
      this.removeWaiter(consumer);
      record.links.delete(consumer);
      releaseAttach(sender);
      this.refuse(sender, 'com.microsoft:timeout', `The operation did not complete within the allocated time ${timeout} ms for object session.`);
    }, timeout);
    consumer.waiting.unref?.();
    const waiters = this.sessionWaiters.get(entity) ?? [];
    waiters.push(consumer);
    this.sessionWaiters.set(entity, waiters);
    (consumer as { source?: RemoteTerminus }).source = source;
  }

  private bindSession(consumer: Consumer, session: SessionRecord, source: RemoteTerminus): void {
    consumer.session = session;
    const sender = consumer.link;
    sender.set_source({ ...copyTerminus(source), filter: { [SESSION_FILTER]: session.id } } as unknown as Source);
    const ticks = BigInt(session.lockedUntil) * 10_000n + EPOCH_TICKS;
    const bytes = Buffer.alloc(8);
    bytes.writeBigInt64BE(ticks);
    setLocalAttachExtras(sender, { properties: { [LOCKED_UNTIL_UTC]: rhea.types.wrap_long(bytes) } });
    this.addConsumer(consumer);
  }

  private addConsumer(consumer: Consumer): void {
    const list = this.consumers.get(consumer.entity) ?? [];
    list.push(consumer);
    this.consumers.set(consumer.entity, list);
    // why: rhea writes queued transfers before a pending attach in the same pass; send from the
    // tick after the one that writes our attach.
    setImmediate(() => {
      consumer.attached = true;
      this.pump(consumer.entity);
    });
    log('[%d] %s receives from %s%s', consumer.connection.id, consumer.link.name, consumer.entity.path, consumer.session ? ` (session ${consumer.session.id})` : '');
    this.pump(consumer.entity);
  }

  private removeWaiter(consumer: Consumer): void {
    const waiters = this.sessionWaiters.get(consumer.entity);
    if (!waiters) return;
    const index = waiters.indexOf(consumer);
    if (index >= 0) waiters.splice(index, 1);
  }

  /** A client sender attached: a producer to an entity, or the request link of `$cbs` / `$management`. */
  private onClientSenderAttach(context: EventContext): void {
    const receiver = context.receiver;
    if (!receiver) return;
    const record = this.connectionOf(context.connection);
    const target = (receiver.target ?? {}) as RemoteTerminus;
    const source = (receiver.source ?? {}) as RemoteTerminus;
    receiver.set_source({ ...(source.address !== undefined ? { address: source.address } : {}) } as Source);
    const resolved = this.resolve(target.address);
    if (resolved.cbs || resolved.management) {
      if (resolved.management && !resolved.entity) {
        this.refuse(receiver, 'amqp:not-found', `The messaging entity '${this.resourceUri(resolved.path)}' could not be found.`);
        return;
      }
      if (resolved.management && resolved.entity) {
        const denied = this.authorize(record, resolved.entity, 'any');
        if (denied) return this.refuse(receiver, 'amqp:unauthorized-access', denied);
      }
      receiver.set_target({ address: target.address } as TerminusOptions);
      record.links.add({ kind: 'request', link: receiver, connection: record, node: resolved.entity ?? '$cbs' });
      receiver.add_credit(CREDIT_WINDOW);
      return;
    }
    const entity = resolved.entity;
    if (!entity) {
      this.refuse(receiver, 'amqp:not-found', `The messaging entity '${this.resourceUri(resolved.path)}' could not be found.`);
      return;
    }
    if (!entity.acceptsSends) {
      this.refuse(receiver, 'amqp:not-allowed', `Cannot send to '${entity.path}': only queues and topics accept messages.`);
      return;
    }
    const denied = this.authorize(record, entity, 'Send');
    if (denied) return this.refuse(receiver, 'amqp:unauthorized-access', denied);
    receiver.set_target(copyTerminus(target) as unknown as TerminusOptions);
    setLocalAttachExtras(receiver, { maxMessageSize: this.settings.maxMessageSize });
    record.links.add({ kind: 'producer', link: receiver, connection: record, entity });
    receiver.add_credit(CREDIT_WINDOW);
    log('[%d] %s sends to %s', record.id, receiver.name, entity.path);
  }

  private onDetach(link: Sender | Receiver | undefined): void {
    if (!link) return;
    const sb = this.linkOf(link.connection, link);
    if (sb) this.releaseLink(sb);
  }

  private dropLinks(connection: Connection, session: Session | undefined): void {
    const record = this.connections.get(connection);
    if (!record) return;
    for (const link of [...record.links]) if (!session || link.link.session === session) this.releaseLink(link);
  }

  private releaseLink(link: SbLink): void {
    link.connection.links.delete(link);
    if (link.kind !== 'link') return;
    const consumer = link;
    if (consumer.closed) return;
    consumer.closed = true;
    clearTimeout(consumer.waiting);
    this.removeWaiter(consumer);
    const list = this.consumers.get(consumer.entity);
    if (list) {
      const index = list.indexOf(consumer);
      if (index >= 0) list.splice(index, 1);
    }
    const entity = consumer.entity;
    for (const { message, lock } of [...entity.locks.values()]) {
      if (lock.owner === consumer) entity.unlock(message, { failed: true });
    }
    if (consumer.session) entity.releaseSession(consumer.session, consumer);
    this.pump(entity);
  }

  // -------------------------------------------------------------------------------------------
  // Delivery

  /** Hands available messages to the entity's consumers with credit, round robin, and sessions to waiters. */
  private pump(entity: Entity): void {
    if (this.disposed) return;
    const waiters = this.sessionWaiters.get(entity);
    while (waiters && waiters.length > 0) {
      const session = entity.nextAvailableSession();
      if (!session) break;
      const consumer = waiters.shift() as Consumer;
      clearTimeout(consumer.waiting);
      consumer.waiting = undefined;
      if (!entity.lockSession(session, consumer)) continue;
      this.bindSession(consumer, session, (consumer as { source?: RemoteTerminus }).source ?? {});
      releaseAttach(consumer.link);
    }
    const consumers = this.consumers.get(entity) ?? [];
    const credit = (c: Consumer): number => (c.closed || !c.attached ? 0 : deliveryLimitOf(c.link) - c.sent);
    let progress = true;
    while (progress) {
      progress = false;
      for (const consumer of [...consumers]) {
        if (credit(consumer) <= 0) continue;
        if (consumer.sessionful && !consumer.session) continue;
        const message = entity.nextAvailable(consumer.session?.id);
        if (!message) continue;
        this.deliver(consumer, message);
        progress = true;
      }
    }
    for (const consumer of consumers) {
      if (!consumer.draining || !consumer.attached || consumer.closed) continue;
      // AMQP 1.0 §2.6.7: asked to drain with nothing left to send: use up the credit and say so.
      consumer.draining = false;
      consumer.sent = deliveryLimitOf(consumer.link);
      consumer.drainReplyDue = true;
      requestFlow(consumer.link);
    }
  }

  private deliver(consumer: Consumer, message: StoredSbMessage): void {
    const entity = consumer.entity;
    consumer.sent += 1;
    if (consumer.receiveAndDelete) {
      entity.remove(message);
      const bytes = encodeMessage(entity.deliverySections(message));
      consumer.link.send(bytes, guidToBytes(randomUUID()), 0);
      return;
    }
    const lock = entity.lock(message, consumer);
    const bytes = encodeMessage(entity.deliverySections(message, { lockedUntil: lock.lockedUntil }));
    const delivery = consumer.link.send(bytes, guidToBytes(lock.token), 0);
    deliveryTokens.set(delivery, lock.token);
  }

  private onOutcome(context: EventContext, kind: 'accepted' | 'released' | 'rejected' | 'modified' | 'settled'): void {
    const sender = context.sender;
    const delivery = context.delivery;
    if (!sender || !delivery) return;
    const consumer = this.linkOf(context.connection, sender);
    if (consumer?.kind !== 'link' || consumer.receiveAndDelete) return;
    const token = deliveryTokens.get(delivery);
    if (token === undefined) return;
    if (kind === 'settled' && handled.has(delivery)) return;
    handled.add(delivery);
    const entity = consumer.entity;
    const held = entity.liveLock(token);
    const state = (delivery.remote_state ?? {}) as {
      error?: { condition?: string; description?: string; info?: Record<string, unknown> };
      delivery_failed?: boolean;
      undeliverable_here?: boolean;
      message_annotations?: Record<string, unknown>;
    };
    if (!held || held.lock.owner !== consumer) {
      const sessionLost = consumer.sessionful;
      const error = sessionLost
        ? { condition: 'com.microsoft:session-lock-lost', description: SESSION_LOCK_LOST }
        : { condition: 'com.microsoft:message-lock-lost', description: LOCK_LOST };
      log('settlement of %s with an expired lock: %s', token, error.condition);
      if (!delivery.remote_settled) delivery.update(true, outcomes.rejected({ error }).described());
      return;
    }
    const { message } = held;
    const modify = state.message_annotations ? plainToMap(state.message_annotations) : undefined;
    let reply: unknown;
    switch (kind) {
      case 'accepted':
      case 'settled':
        entity.complete(message);
        reply = outcomes.accepted().described();
        break;
      case 'released':
        entity.unlock(message, { failed: false });
        reply = outcomes.released().described();
        break;
      case 'modified':
        if (state.undeliverable_here) entity.defer(message, modify);
        else entity.unlock(message, { failed: state.delivery_failed === true, ...(modify ? { modify } : {}) });
        reply = outcomes.modified({ delivery_failed: state.delivery_failed, undeliverable_here: state.undeliverable_here }).described();
        break;
      case 'rejected': {
        const info = state.error?.info ?? {};
        const reason = typeof info['DeadLetterReason'] === 'string' ? info['DeadLetterReason'] : undefined;
        const description =
          typeof info['DeadLetterErrorDescription'] === 'string'
            ? info['DeadLetterErrorDescription']
            : typeof state.error?.description === 'string'
              ? state.error.description
              : undefined;
        entity.deadLetterMessage(message, { ...(reason !== undefined ? { reason } : {}), ...(description !== undefined ? { description } : {}) });
        reply = outcomes.rejected(state.error ? { error: { condition: state.error.condition, description: state.error.description } } : {}).described();
        break;
      }
    }
    if (!delivery.remote_settled) delivery.update(true, reply);
    this.pump(entity);
  }

  private onSessionLockExpired(entity: Entity, session: SessionRecord, owner: LockOwner): void {
    const consumer = (this.consumers.get(entity) ?? []).find((c) => c === owner);
    if (!consumer || consumer.closed) return;
    log('session %s of %s: lock expired, detaching %s', session.id, entity.path, consumer.link.name);
    consumer.session = undefined;
    this.releaseLink(consumer);
    consumer.link.close({ condition: 'com.microsoft:session-lock-lost', description: SESSION_LOCK_LOST });
  }

  // -------------------------------------------------------------------------------------------
  // Incoming messages: sends, put-token, management requests

  private onMessage(context: EventContext): void {
    const receiver = context.receiver;
    const delivery = context.delivery;
    if (!receiver || !delivery) return;
    const raw = takeRawPayload(receiver);
    const link = this.linkOf(context.connection, receiver);
    if (!link || raw === undefined) return;
    const credit = (receiver as unknown as { credit: number }).credit;
    if (credit < CREDIT_WINDOW / 2) receiver.add_credit(CREDIT_WINDOW - credit);
    const format = (delivery as unknown as { format?: number }).format ?? 0;
    if (link.kind === 'producer') {
      this.onSend(link, delivery, raw, format);
      return;
    }
    if (link.kind !== 'request') return;
    let request: MessageSections;
    try {
      request = decodeMessage(raw);
    } catch (err) {
      settle(delivery, outcomes.rejected({ error: { condition: 'amqp:decode-error', description: String(err) } }).described());
      return;
    }
    settle(delivery, outcomes.accepted().described());
    const response = link.node === '$cbs' ? this.putToken(link.connection, request) : this.manage(link.connection, link.node, request, receiver.name);
    // why: rhea writes a session's transfers before its dispositions in one pass; uamqp's management
    // client must see the request settled before the response arrives, as the service orders them.
    setImmediate(() => {
      if (!this.disposed) this.reply(link, request, response);
    });
  }

  private onSend(producer: Producer, delivery: Delivery, raw: Buffer, format: number): void {
    const reject = (condition: string, description: string): void => {
      settle(delivery, outcomes.rejected({ error: { condition, description } }).described());
    };
    if (raw.length > this.settings.maxMessageSize) {
      producer.link.close({
        condition: 'amqp:link:message-size-exceeded',
        description: `The received message (size: ${raw.length} bytes) exceeds the limit (${this.settings.maxMessageSize} bytes) currently allowed on the link.`,
      });
      return;
    }
    const denied = this.authorize(producer.connection, producer.entity, 'Send');
    if (denied) return reject('amqp:unauthorized-access', denied);
    let messages: MessageSections[];
    try {
      messages = format === BATCH_FORMAT ? batchMessages(raw) : [decodeMessage(raw)];
    } catch (err) {
      return reject('amqp:decode-error', `The message could not be decoded: ${String(err)}`);
    }
    const entity = producer.entity;
    const sessionful = entity.kind === 'topic' ? false : entity.requiresSession;
    if (sessionful && messages.some((m) => groupId(m) === undefined)) {
      return reject(
        'amqp:not-allowed',
        'The SessionId was not set on a message, and it cannot be sent to the entity. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.',
      );
    }
    for (const message of messages) entity.enqueue(message);
    settle(delivery, outcomes.accepted().described());
  }

  /** Answers a `$cbs` put-token: validates the SAS token and grants its resource to the connection. */
  private putToken(record: SbConnection, request: MessageSections): ManagementResponse {
    const props = request.applicationProperties;
    const operation = asString(mapGet(props, 'operation'));
    const type = asString(mapGet(props, 'type'));
    const audience = asString(mapGet(props, 'name'));
    const fail = (status: number, description: string): ManagementResponse => ({ cbs: true, status, description });
    if (operation !== 'put-token') return fail(400, `BadRequest: unsupported operation '${operation ?? ''}' on $cbs.`);
    if (audience === undefined) return fail(400, 'BadRequest: the put-token request has no name (audience).');
    if (type !== 'servicebus.windows.net:sastoken') {
      return fail(401, `InvalidToken: token type '${type ?? ''}' is not supported here (only servicebus.windows.net:sastoken).`);
    }
    const token = bodyString(request);
    if (token === undefined) return fail(400, 'BadRequest: the put-token request carries no token string.');
    const checked = validateSasToken(token, this.settings.keys);
    if (!checked.ok) return fail(checked.status, checked.description);
    const { resource, keyName, expiry } = checked.token;
    const namespace = this.settings.namespace;
    if (namespace !== undefined && hostOf(resource) !== namespace) {
      return fail(401, `InvalidAudience: The token's resource '${resource}' is not in namespace '${namespace}'.`);
    }
    const tokenPath = entityPathOf(resource).toLowerCase();
    const audiencePath = entityPathOf(audience).toLowerCase();
    if (tokenPath !== '' && audiencePath !== tokenPath && !audiencePath.startsWith(`${tokenPath}/`)) {
      return fail(401, `InvalidAudience: The token's resource '${resource}' does not cover the audience '${audience}'.`);
    }
    record.grants.push({
      path: tokenPath,
      rights: this.settings.rights[keyName] as Set<ServiceBusRight>,
      expiresAt: expiry * 1000,
      description: `token for '${resource}'`,
    });
    this.scheduleGrantExpiry(record);
    log('[%d] put-token for %s (%s) accepted', record.id, audience, keyName);
    return { cbs: true, status: 202, description: 'Accepted' };
  }

  /** Detaches the links a connection is no longer authorized for, each time one of its tokens expires. */
  private scheduleGrantExpiry(record: SbConnection): void {
    clearTimeout(record.grantTimer);
    const now = Date.now();
    record.grants = record.grants.filter((g) => g.expiresAt > now);
    const next = Math.min(...record.grants.map((g) => g.expiresAt));
    if (!Number.isFinite(next)) return;
    record.grantTimer = setTimeout(() => {
      record.grantTimer = undefined;
      for (const link of [...record.links]) {
        if (link.kind !== 'producer' && link.kind !== 'link') continue;
        const denied = this.authorize(record, link.entity, link.kind === 'producer' ? 'Send' : 'Listen');
        if (!denied) continue;
        this.releaseLink(link);
        link.link.close({ condition: 'amqp:unauthorized-access', description: `ExpiredToken: the token authorizing this link has expired. ${denied}` });
      }
      this.scheduleGrantExpiry(record);
    }, Math.max(0, next - now) + 5);
    record.grantTimer.unref?.();
  }

  private manage(record: SbConnection, entity: Entity, request: MessageSections, linkName: string): ManagementResponse {
    const context: ManagementContext = {
      entity,
      connection: record.management,
      now: Date.now(),
      authorize: (right) => this.authorize(record, entity, right),
      consumerFor: (associatedLink) => {
        for (const link of record.links) if (link.kind === 'link' && link.link.name === associatedLink) return link;
        return undefined;
      },
      sessionOwnedHere: (sessionId) => {
        const session = entity.sessions.get(sessionId);
        if (!session?.owner || !entity.sessionLocked(session)) return undefined;
        return session.owner.connectionId === record.id ? session : undefined;
      },
    };
    log('[%d] management request on %s via %s', record.id, entity.path, linkName);
    return handleManagement(context, request);
  }

  /** Sends a response on the reply link the request names (`reply-to`), else the node's reply link on the connection. */
  private reply(request: RequestLink, message: MessageSections, response: ManagementResponse): void {
    const replyTo = asString(property(message, 'reply-to'));
    const candidates = [...request.connection.links].filter((l): l is ReplyLink => l.kind === 'reply' && l.node === request.node);
    const link =
      candidates.find((l) => replyTo !== undefined && l.replyAddress === replyTo) ??
      candidates.find((l) => l.link.session === request.link.session) ??
      candidates[0];
    if (!link) {
      log('no reply link for a request on %s', request.node === '$cbs' ? '$cbs' : request.node.path);
      return;
    }
    const requestId = property(message, 'message-id') ?? property(message, 'correlation-id') ?? amqp.null();
    const applicationProperties = response.cbs
      ? amqp.stringMap({ 'status-code': amqp.int(response.status), 'status-description': amqp.string(response.description) })
      : amqp.stringMap({
          statusCode: amqp.int(response.status),
          statusDescription: amqp.string(response.description),
          ...(response.condition ? { errorCondition: amqp.symbol(response.condition) } : {}),
        });
    const properties = amqp.list([
      amqp.uuid(randomUUID()),
      amqp.null(),
      replyTo !== undefined ? amqp.string(replyTo) : amqp.null(),
      amqp.null(),
      amqp.null(),
      requestId,
    ]);
    log('[%d] %s response %d (%s) via %s', request.connection.id, request.node === '$cbs' ? '$cbs' : request.node.path, response.status, response.description, link.link.name);
    const body = response.body ? encode(amqp.described(amqp.ulong(SECTION.amqpValue), response.body)) : Buffer.alloc(0);
    const bytes = encodeMessage({ properties, applicationProperties, body });
    link.link.send(bytes, Buffer.from(randomUUID().replace(/-/g, ''), 'hex'), 0);
  }

  // -------------------------------------------------------------------------------------------
  // ServiceBusControl

  private mustGet(entityPath: string, method: string): Entity {
    const entity = this.entities.get(entityPathOf(entityPath).toLowerCase());
    if (!entity) throw new TypeError(`serviceBus.${method}: no entity '${entityPath}' (declare it in serviceBus.entities)`);
    return entity;
  }

  connectionString(keyName?: string, options: { entityPath?: string } = {}): string {
    const name = keyName ?? (Object.keys(this.settings.keys)[0] as string);
    const key = this.settings.keys[name];
    if (key === undefined) throw new TypeError(`serviceBus.connectionString: no key named '${name}'`);
    const { host, port } = this.endpoint();
    const entity = options.entityPath ? `;EntityPath=${options.entityPath}` : '';
    return `Endpoint=sb://${host}:${port}/;SharedAccessKeyName=${name};SharedAccessKey=${key}${entity}`;
  }

  send(entityPath: string, ...messages: Message[]): number[] {
    const entity = this.mustGet(entityPath, 'send');
    if (!entity.acceptsSends) throw new TypeError(`serviceBus.send: '${entityPath}' is not a queue or topic`);
    const decoded = messages.map((m) => decodeMessage(rhea.message.encode(m)));
    return decoded.map((sections) => entity.enqueue(sections));
  }

  messages(entityPath: string): ServiceBusMessageView[] {
    const entity = this.mustGet(entityPath, 'messages');
    const source = entity.kind === 'topic' ? [] : [...entity.messages.values()];
    return source.map((m) => ({
      sequenceNumber: m.sequenceNumber,
      state: m.state,
      deliveryCount: m.deliveryCount,
      sessionId: m.sessionId,
      locked: m.lock !== undefined && entity.liveLock(m.lock.token) !== undefined,
      message: rhea.message.decode(encodeMessage(entity.deliverySections(m))) as unknown as Message,
    }));
  }

  counts(entityPath: string): { active: number; deferred: number; scheduled: number; locked: number } {
    const views = this.messages(entityPath);
    return {
      active: views.filter((v) => v.state === 'active' && !v.locked).length,
      deferred: views.filter((v) => v.state === 'deferred').length,
      scheduled: views.filter((v) => v.state === 'scheduled').length,
      locked: views.filter((v) => v.locked).length,
    };
  }

  sessionState(queuePath: string, sessionId: string): Buffer | undefined {
    return this.mustGet(queuePath, 'sessionState').sessions.get(sessionId)?.state;
  }

  sessionLocked(queuePath: string, sessionId: string): boolean {
    const entity = this.mustGet(queuePath, 'sessionLocked');
    const session = entity.sessions.get(sessionId);
    return session !== undefined && entity.sessionLocked(session);
  }
}

interface Outcome {
  described(): unknown;
}

/** SASL PLAIN that remembers the credentials it verified, so the connection can be authorized by them. */
class PlainMechanism {
  outcome: boolean | undefined = undefined;
  username: string | undefined = undefined;
  verified: { user: string; password: string } | undefined = undefined;

  constructor(private readonly check: (user: string, password: string) => boolean) {}

  start(response: Buffer | undefined): void {
    const parts = (response ?? Buffer.alloc(0)).toString('utf8').split('\0');
    if (parts.length !== 3) {
      this.outcome = false;
      return;
    }
    const [, user = '', password = ''] = parts;
    this.outcome = this.check(user, password);
    if (this.outcome) {
      this.username = user;
      this.verified = { user, password };
    }
  }
}

/** The key name and password a connection authenticated with over SASL PLAIN, if it did. */
function plainUserOf(connection: Connection): { user: string; password: string } | undefined {
  const transport = (connection as unknown as { sasl_transport?: { transports?: Record<number, unknown>; mechanism?: unknown } }).sasl_transport;
  const server = (transport?.transports?.[3] ?? transport) as { mechanism?: unknown } | undefined;
  return server?.mechanism instanceof PlainMechanism ? server.mechanism.verified : undefined;
}

/** rhea's outcome constructors (its typings do not declare them). */
const outcomes = rhea.message as unknown as {
  accepted(): Outcome;
  released(): Outcome;
  rejected(fields: { error?: { condition?: string; description?: string } }): Outcome;
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean }): Outcome;
};

const deliveryTokens = new WeakMap<Delivery, string>();
const handled = new WeakSet<Delivery>();

function settle(delivery: Delivery, state: unknown): void {
  const d = delivery as unknown as { remote_settled?: boolean; update(settled: boolean, state: unknown): void };
  if (d.remote_settled) {
    d.update(true, undefined);
    return;
  }
  d.update(true, state);
}

/** The messages of a batch (format 0x80013700): each data section is an encoded message. */
function batchMessages(raw: Buffer): MessageSections[] {
  const outer = decodeMessage(raw);
  const out: MessageSections[] = [];
  let offset = 0;
  while (offset < outer.body.length) {
    const { value, end } = decodeAt(outer.body, offset);
    offset = end;
    if (value.type === 'described' && value.value.type === 'binary') out.push(decodeMessage(value.value.value));
  }
  return out;
}

/** The string in a message's amqp-value body, if that is what it carries. */
function bodyString(message: MessageSections): string | undefined {
  if (message.body.length === 0) return undefined;
  const { value } = decodeAt(message.body, 0);
  return value.type === 'described' ? asString(value.value) : undefined;
}

function sessionFilterValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'value' in value && typeof (value as { value: unknown }).value === 'string') {
    return (value as { value: string }).value;
  }
  return undefined;
}

function asPositive(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : undefined;
  return n !== undefined && n > 0 ? n : undefined;
}

/** The terminus fields the broker echoes (the address exactly as the client gave it). */
function copyTerminus(terminus: RemoteTerminus): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['address', 'durable', 'expiry_policy', 'timeout']) {
    if (terminus[key] !== undefined && terminus[key] !== null) out[key] = terminus[key];
  }
  return out;
}

/** Properties-to-modify from an outcome (rhea-decoded) as a typed map: strings, booleans, numbers (int when whole). */
function plainToMap(values: Record<string, unknown>): AmqpMap {
  const entries: Array<readonly [AmqpValue, AmqpValue]> = [];
  for (const [key, value] of Object.entries(values)) {
    let typed: AmqpValue;
    if (typeof value === 'string') typed = amqp.string(value);
    else if (typeof value === 'boolean') typed = amqp.bool(value);
    else if (typeof value === 'number') typed = Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? amqp.int(value) : amqp.double(value);
    else if (value === null || value === undefined) typed = amqp.null();
    else typed = amqp.string(String(value));
    entries.push([amqp.string(key), typed]);
  }
  return amqp.map(entries);
}

