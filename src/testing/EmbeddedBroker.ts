import { randomUUID } from 'node:crypto';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import createDebug from 'debug';
import rhea from 'rhea';
import type { Connection, Container, EventContext, Receiver, Sender, Session, Source, TerminusOptions } from 'rhea';
import { ConfigError } from '../errors/errors.js';
import { type BrokerLink, ConsumerLink, ProducerLink, type ProducerSettings } from './embedded/links.js';
import {
  markDisconnected,
  separateMixedDispositions,
  setLocalMaxMessageSize,
  setLocalSettleModes,
} from './embedded/rheaInternals.js';
import { type AddressState, type QueueNode, Store } from './embedded/store.js';
import { type CapturedFrame, FrameCapture } from './serviceBus/capture.js';
import {
  resolveServiceBusSettings,
  type ServiceBusControl,
  ServiceBusMode,
  type ServiceBusModeOptions,
  type ServiceBusSettings,
} from './serviceBus/ServiceBusMode.js';
import {
  type AddressStats,
  type BrokerError,
  type BrokerMessage,
  type ModifiedOutcome,
  type Outcome,
  type StoredMessage,
  zeroStats,
} from './embedded/types.js';

export type { AddressStats, BrokerError, BrokerMessage, ModifiedOutcome, StoredMessage } from './embedded/types.js';

const log = createDebug('rhea-rx:broker');

/** The `product` the broker announces in its open frame. */
export const EMBEDDED_BROKER_PRODUCT = 'rhea-rx EmbeddedBroker';
/** The `version` the broker announces in its open frame. */
export const EMBEDDED_BROKER_VERSION = '0.1.0';

/** How long `stop()` waits for clients to answer its close frames before destroying their sockets. */
const STOP_GRACE_MS = 200;
/** Deliveries a session may hold unsettled in each direction (rhea's default, 2048, stalls held deliveries). */
const SESSION_BUFFER_SIZE = 1 << 20;

/** TLS settings for an `amqps` listener. */
export interface EmbeddedBrokerTlsOptions {
  /** The server's private key (PEM). */
  key: string | Buffer;
  /** The server's certificate chain (PEM). */
  cert: string | Buffer;
  /** CA certificates to verify client certificates against (PEM). */
  ca?: string | Buffer;
  /** Ask clients for a certificate (and refuse those the CA does not sign). @default false */
  requestCert?: boolean;
}

/** Options of {@link EmbeddedBroker.start}. */
export interface EmbeddedBrokerOptions {
  /** TCP port to listen on; 0 picks a free one (read it from `broker.port`). @default 0 */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /**
   * Users for SASL PLAIN, name → password. When given, a wrong password fails SASL (clients see
   * `amqp:unauthorized-access`) and ANONYMOUS is refused unless `allowAnonymous` is true.
   * @default undefined (no PLAIN; ANONYMOUS and no-SASL clients are accepted)
   */
  users?: Record<string, string>;
  /**
   * Accept SASL ANONYMOUS (and clients that skip SASL). With neither `users` nor this, no client can
   * connect (PLAIN is offered and always fails).
   * @default true without `users`, false with them
   */
  allowAnonymous?: boolean;
  /** Listen with TLS (`amqps`); `url` then names `localhost`, which the certificate should cover. @default undefined (plain TCP) */
  tls?: EmbeddedBrokerTlsOptions;
  /**
   * Offer SASL EXTERNAL: a client is authenticated by its TLS certificate. Needs `tls` with a `ca`;
   * the broker then asks every client for a certificate, and offers EXTERNAL only to a client whose
   * certificate that CA verified. A client without one still completes the TLS handshake (so it is
   * refused in SASL, with a clear reason, rather than by a reset) and can use the other mechanisms.
   * @default false
   */
  saslExternal?: boolean;
  /** Create unknown addresses on attach; when false an attach to one is refused with `amqp:not-found`. @default true */
  autoCreate?: boolean;
  /** Addresses that exist from the start, as queues (useful with `autoCreate: false`). @default [] */
  queues?: string[];
  /**
   * Addresses that are topics: each receiver attached to a topic gets its own subscription queue for
   * the life of its link, and every message sent to the topic is copied to every subscription.
   * Any address starting with `topic://` is a topic too, and `TOPIC/Subscriptions/NAME` names a
   * durable subscription of `TOPIC` that keeps receiving while no receiver is attached.
   * @default []
   */
  topics?: string[];
  /**
   * Credit window of each client sender: granted in full on attach, then topped up to the full
   * window in one flow frame whenever half of it is used (as brokers do, so that a sender that
   * keeps up never runs dry).
   * @default 1000
   */
  senderCreditWindow?: number;
  /** Where messages from `address` go when rejected or out of delivery attempts. @default (address) => `${address}/$DeadLetterQueue` */
  deadLetter?: (address: string) => string;
  /**
   * A message whose delivery-count reaches this (after a `modified` with delivery-failed, or a
   * detach with the message unsettled) is dead-lettered instead of requeued, as Service Bus does.
   * @default undefined (unlimited)
   */
  maxDeliveryCount?: number;
  /** Largest message, in encoded bytes, a client sender may send; a bigger one detaches its link with `amqp:link:message-size-exceeded`. @default undefined (no limit) */
  maxMessageSize?: number;
  /** The container id in the broker's open frame. @default a random 'rhea-rx-broker-…' id */
  containerId?: string;
  /**
   * Speak Azure Service Bus's AMQP protocol instead of the plain broker's: `$cbs` with SAS tokens,
   * SASL PLAIN with a key name and key, the declared queues, topics, subscriptions and
   * session queues with their dead-letter sub-queues, peek-lock with lock tokens and lock expiry,
   * sessions, `$management` operations, scheduling and deferral. Needs `tls`. Other options that
   * shape addresses and SASL (`users`, `queues`, `topics`, …) do not apply; read the entities
   * through `broker.serviceBus`.
   * @default undefined (the plain broker)
   */
  serviceBus?: ServiceBusModeOptions;
  /** Record every frame clients send, decoded (read with `capturedFrames()`). @default false */
  captureFrames?: boolean;
}

interface Settings {
  port: number;
  host: string;
  users: Record<string, string> | undefined;
  allowAnonymous: boolean;
  tls: EmbeddedBrokerTlsOptions | undefined;
  saslExternal: boolean;
  autoCreate: boolean;
  queues: string[];
  topics: Set<string>;
  senderCreditWindow: number;
  deadLetter: (address: string) => string;
  maxDeliveryCount: number | undefined;
  maxMessageSize: number | undefined;
  containerId: string;
  serviceBus: ServiceBusSettings | undefined;
  captureFrames: boolean;
}

interface ConnectionRecord {
  readonly connection: Connection;
  readonly socket: Socket;
  readonly links: Set<BrokerLink>;
  open: boolean;
  gone: boolean;
  rheaDisconnected: boolean;
}

/**
 * An in-process AMQP 1.0 broker for development and tests, built on rhea's server side.
 *
 * It keeps queues and topics in memory and implements the settlement semantics a client has to
 * handle: credit is respected (including drain), `accepted` removes, `released` requeues at the
 * head, `modified` with delivery-failed requeues with delivery-count + 1, `rejected` dead-letters,
 * and deliveries unsettled when their link or connection goes away are requeued. Hooks let a test
 * pause outcomes or credit, force outcomes on a sender, and drop or close connections.
 *
 * It is a dev/test broker: nothing is persisted and nothing is tuned for load. Point production
 * clients at RabbitMQ, ActiveMQ Artemis, Qpid or Azure Service Bus.
 *
 * @example
 * const broker = await EmbeddedBroker.start();
 * broker.enqueue('orders', { body: { id: 1 } });
 * const client = createClient(broker.url);
 * // … receive, settle …
 * await client.close();
 * await broker.stop();
 */
export class EmbeddedBroker {
  private readonly container: Container;
  private readonly server: Server;
  private readonly store: Store;
  private readonly connections = new Map<Connection, ConnectionRecord>();
  private readonly sockets = new Set<Socket>();
  private readonly links = new WeakMap<object, BrokerLink>();
  private readonly producerSettings: ProducerSettings;
  private listeningPort = 0;
  private stopping: Promise<void> | undefined;
  private allGone: (() => void) | undefined;
  private readonly sb: ServiceBusMode | undefined;
  private readonly capture: FrameCapture | undefined;

  private constructor(private readonly settings: Settings) {
    this.container = rhea.create_container({ id: settings.containerId });
    this.sb = settings.serviceBus
      ? new ServiceBusMode(settings.serviceBus, () => ({ host: urlHost(settings.host, true), port: this.listeningPort }))
      : undefined;
    this.capture = settings.captureFrames ? new FrameCapture() : undefined;
    this.configureSasl();
    this.store = new Store({
      autoCreate: settings.autoCreate,
      isTopic: (address) => settings.topics.has(address) || address.startsWith('topic://'),
      deadLetterAddress: settings.deadLetter,
      maxDeliveryCount: settings.maxDeliveryCount,
    });
    for (const topic of settings.topics) this.store.resolve(topic, true);
    for (const queue of settings.queues) this.store.resolve(queue, true);
    this.producerSettings = {
      creditWindow: settings.senderCreditWindow,
      maxMessageSize: settings.maxMessageSize,
      resolveRelay: (address) => this.store.resolve(address, this.settings.autoCreate),
    };
    this.server = this.createServer();
    this.listenToContainer();
  }

  /**
   * Starts a broker and resolves once it listens.
   *
   * @param options - See {@link EmbeddedBrokerOptions}.
   * @returns The running broker; its `url` and `port` are set.
   * @throws {@link rhea-rx!ConfigError | ConfigError} (as a rejection) when an option is invalid, naming the option; the
   * listen error (e.g. `EADDRINUSE`) when the port cannot be bound.
   */
  static async start(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
    const broker = new EmbeddedBroker(resolveSettings(options));
    await broker.listen();
    return broker;
  }

  /** The URL clients connect to: `amqp://127.0.0.1:PORT`, or `amqps://localhost:PORT` with TLS. */
  get url(): string {
    const scheme = this.settings.tls ? 'amqps' : 'amqp';
    return `${scheme}://${urlHost(this.settings.host, this.settings.tls !== undefined)}:${this.listeningPort}`;
  }

  /** The TCP port the broker listens on. */
  get port(): number {
    return this.listeningPort;
  }

  /**
   * Stores messages at `address` as if a client had sent them: appended to a queue, or copied to
   * every subscription of a topic (a topic without subscriptions drops them). The address is created
   * when missing, whatever `autoCreate` says; `enqueue(address)` with no messages just declares it.
   * A `delivery_count` in a message is kept, so poison messages can be preloaded.
   *
   * @throws TypeError when a message is not an object or cannot be encoded as AMQP (nothing is stored then).
   */
  enqueue(address: string, ...messages: BrokerMessage[]): void {
    if (this.sb) {
      this.sb.send(address, ...(messages as Parameters<ServiceBusMode['send']>[1][]));
      return;
    }
    const copies = messages.map((message, index) => {
      if (typeof message !== 'object' || message === null) {
        throw new TypeError(`EmbeddedBroker.enqueue: message ${index} for '${address}' must be an object like { body }`);
      }
      const copy: BrokerMessage = { ...message };
      try {
        rhea.message.encode(copy);
      } catch (err) {
        throw new TypeError(`EmbeddedBroker.enqueue: message ${index} for '${address}' cannot be encoded as AMQP: ${String(err)}`, {
          cause: err,
        });
      }
      return copy;
    });
    const state = this.mustResolve(address, 'enqueue');
    for (const copy of copies) this.store.publish(state, copy);
  }

  /** Messages at `address` ready to be delivered (not counting delivered-unsettled ones); for a topic, summed over its link-scoped subscriptions. */
  queueDepth(address: string): number {
    if (this.sb) return this.sb.counts(address).active;
    return this.queuesOf(address).reduce((sum, queue) => sum + queue.items.length, 0);
  }

  /** Messages from `address` delivered to a client receiver and not yet settled. */
  unsettledCount(address: string): number {
    if (this.sb) return this.sb.counts(address).locked;
    return this.queuesOf(address).reduce((sum, queue) => sum + queue.inFlight, 0);
  }

  /** A snapshot of the messages queued at `address`, head first (delivered-unsettled ones are not included). */
  messages(address: string): ReadonlyArray<StoredMessage> {
    return this.queuesOf(address).flatMap((queue) =>
      queue.items.toArray().map((entry) => ({
        message: { ...entry.message, delivery_count: entry.deliveryCount, first_acquirer: entry.firstAcquirer },
        deliveryCount: entry.deliveryCount,
        firstAcquirer: entry.firstAcquirer,
      })),
    );
  }

  /** A snapshot of the counters of `address` (all zero for an unknown address). */
  stats(address: string): AddressStats {
    const state = this.store.get(address);
    return { ...(state ? state.stats : zeroStats()) };
  }

  /**
   * Links attached to `address` now, from the broker's side: `senders` serve client receivers,
   * `receivers` serve client senders.
   */
  linkCount(address: string): { senders: number; receivers: number } {
    const state = this.store.get(address);
    return { senders: state?.consumers.size ?? 0, receivers: state?.producers.size ?? 0 };
  }

  /** Client connections that completed the AMQP open and are still connected. */
  connectionCount(): number {
    let count = 0;
    for (const record of this.connections.values()) if (record.open && !record.gone) count += 1;
    return count;
  }

  /**
   * Keeps the outcomes of transfers from client senders to `address`: messages are stored at once
   * but the broker sends no disposition until {@link EmbeddedBroker.resumeOutcomes}. Creates the address if needed.
   */
  pauseOutcomes(address: string): void {
    const state = this.mustResolve(address, 'pauseOutcomes');
    state.outcomesPaused = true;
  }

  /** Sends every outcome withheld by {@link EmbeddedBroker.pauseOutcomes} and settles immediately again. */
  resumeOutcomes(address: string): void {
    const state = this.store.get(address);
    if (!state) return;
    state.outcomesPaused = false;
    for (const pending of [...state.withheld]) pending.settle();
  }

  /** Stops granting credit to client senders on `address`; credit they already have is left alone. Creates the address if needed. */
  pauseCredit(address: string): void {
    const state = this.mustResolve(address, 'pauseCredit');
    state.creditPaused = true;
  }

  /** Grants credit again: every client sender on `address` without credit gets a full window. */
  resumeCredit(address: string): void {
    const state = this.store.get(address);
    if (!state) return;
    state.creditPaused = false;
    for (const producer of state.producers) (producer as ProducerLink).grantIfDue();
  }

  /**
   * Gives the next `count` transfers from client senders to `address` a `rejected` outcome (with
   * `error` when given) instead of `accepted`; they are not stored.
   */
  rejectNext(address: string, count: number, error?: BrokerError): void {
    this.force(address, 'rejectNext', count, { kind: 'rejected', error: error ? { ...error } : undefined });
  }

  /** Gives the next `count` transfers from client senders to `address` a `released` outcome; they are not stored. */
  releaseNext(address: string, count: number): void {
    this.force(address, 'releaseNext', count, { kind: 'released' });
  }

  /** Gives the next `count` transfers from client senders to `address` a `modified` outcome; they are not stored. */
  modifyNext(address: string, count: number, modified: ModifiedOutcome = {}): void {
    this.force(address, 'modifyNext', count, {
      kind: 'modified',
      deliveryFailed: modified.deliveryFailed ?? true,
      undeliverableHere: modified.undeliverableHere ?? false,
      annotations: modified.annotations ? { ...modified.annotations } : undefined,
    });
  }

  /**
   * The Service Bus mode's entities and helpers (connection strings, messages by state, session state).
   *
   * @throws TypeError when the broker was not started with `serviceBus`.
   */
  get serviceBus(): ServiceBusControl {
    if (!this.sb) throw new TypeError('EmbeddedBroker.serviceBus: start the broker with the serviceBus option');
    return this.sb;
  }

  /**
   * The frames clients sent so far, decoded; normalized (ids, timestamps, secrets replaced by
   * placeholders) unless `normalize` is false. See {@link FrameCapture}.
   *
   * @throws TypeError when the broker was not started with `captureFrames: true`.
   */
  capturedFrames(options: { normalize?: boolean; dropPort?: boolean } = {}): CapturedFrame[] {
    if (!this.capture) throw new TypeError('EmbeddedBroker.capturedFrames: start the broker with captureFrames: true');
    return this.capture.frames(options);
  }

  /** Forgets the frames captured so far. */
  clearCapturedFrames(): void {
    this.capture?.clear();
  }

  /** Destroys every client socket at once, with no close frame: what a crash or a cut cable looks like. */
  dropConnections(): void {
    for (const record of this.connections.values()) record.socket.destroy();
    for (const socket of this.sockets) socket.destroy();
  }

  /** Sends a close frame (carrying `error` when given) to every client connection. */
  closeConnections(error?: BrokerError): void {
    for (const record of this.connections.values()) {
      try {
        record.connection.close(error ? { ...error } : undefined);
      } catch (err) {
        log('[%s] close failed: %O', connectionId(record.connection), err);
      }
    }
  }

  /**
   * Closes every connection (`amqp:connection:forced`), then the listener, leaving no open handle.
   * Clients that do not answer within a short grace period have their sockets destroyed.
   * Idempotent: later calls return the same promise. Counters and queues stay readable.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    this.closeConnections({ condition: 'amqp:connection:forced', description: 'EmbeddedBroker stopped' });
    await this.connectionsGone(STOP_GRACE_MS);
    this.dropConnections();
    await serverClosed;
    for (const record of [...this.connections.values()]) this.teardown(record);
    this.sb?.dispose();
  }

  private connectionsGone(timeoutMs: number): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.allGone = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.allGone = done;
    });
  }

  private listen(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        const address = this.server.address();
        this.listeningPort = typeof address === 'object' && address !== null ? address.port : this.settings.port;
        this.capture?.setPort(this.listeningPort);
        this.server.on('error', (err) => log('listener error: %O', err));
        log('listening on %s', this.url);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen({ port: this.settings.port, host: this.settings.host });
    });
  }

  private createServer(): Server {
    const tls = this.settings.tls;
    // With SASL EXTERNAL every client is asked for a certificate, and an unverified one is judged in
    // SASL (rhea offers EXTERNAL only on an authorized socket) rather than refused in the handshake.
    const external = this.settings.saslExternal;
    const server = tls
      ? createTlsServer(
          {
            key: tls.key,
            cert: tls.cert,
            ca: tls.ca,
            requestCert: external || (tls.requestCert ?? false),
            ...(external ? { rejectUnauthorized: false } : {}),
          },
          (socket) => this.accept(socket),
        )
      : createNetServer();
    server.on('connection', (socket: Socket) => {
      // Frames are small and often answered by one frame (a flow for a transfer): without this,
      // Nagle's algorithm and delayed ACKs hold them for ~40 ms.
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', (err) => log('socket error: %s', err.message));
      if (!tls) this.accept(socket);
    });
    if (tls) server.on('tlsClientError', (err: Error) => log('TLS handshake failed: %s', err.message));
    return server;
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const connection = this.container.create_connection({
      container_id: this.settings.containerId,
      properties: { product: EMBEDDED_BROKER_PRODUCT, version: EMBEDDED_BROKER_VERSION },
      offered_capabilities: ['ANONYMOUS-RELAY'],
      session_buffer_size: SESSION_BUFFER_SIZE,
      enable_sasl_external: this.settings.saslExternal,
      receiver_options: { credit_window: 0, autoaccept: false },
      sender_options: { autosettle: true, treat_modified_as_released: false },
      ...this.sb?.connectionOptions(),
    } as unknown as Parameters<Container['create_connection']>[0]);
    const record: ConnectionRecord = {
      connection,
      socket,
      links: new Set(),
      open: false,
      gone: false,
      rheaDisconnected: false,
    };
    this.connections.set(connection, record);
    socket.on('close', () => this.onSocketClosed(record));
    this.capture?.attach(socket);
    connection.accept(socket);
  }

  private configureSasl(): void {
    if (this.sb) {
      this.sb.configureSasl(this.container);
      return;
    }
    const mechanisms = this.container.sasl_server_mechanisms as {
      enable_plain(check: (user: string, password: string) => boolean): void;
      enable_anonymous(): void;
    };
    const users = this.settings.users;
    if (users) {
      mechanisms.enable_plain((user, password) => Object.hasOwn(users, user) && users[user] === password);
    } else if (!this.settings.allowAnonymous) {
      // why: with no mechanism at all rhea falls back to ANONYMOUS; offer a PLAIN nobody passes instead.
      mechanisms.enable_plain(() => false);
    }
    if (this.settings.allowAnonymous) mechanisms.enable_anonymous();
  }

  private listenToContainer(): void {
    const on = (event: string, handler: (context: EventContext) => void): void => {
      this.container.on(event, (context: EventContext) => {
        try {
          handler(context);
        } catch (err) {
          log('%s handler failed: %O', event, err);
        }
      });
    };
    // why: rhea rethrows unhandled link/session errors as 'error' on the container and prints
    // protocol errors and disconnects to the console when nobody listens.
    this.container.on('error', (err: unknown) => log('container error: %O', err));
    on('protocol_error', (context) => log('protocol error: %O', context));
    on('connection_open', (context) => {
      const record = this.connections.get(context.connection);
      if (record) record.open = true;
    });
    on('connection_close', (context) => this.closeLinks(this.connections.get(context.connection)));
    on('connection_error', (context) => this.closeLinks(this.connections.get(context.connection)));
    on('disconnected', (context) => {
      const record = this.connections.get(context.connection);
      if (!record) return;
      record.rheaDisconnected = true;
      this.teardown(record);
    });
    on('session_open', (context) => {
      if (context.session) separateMixedDispositions(context.session);
    });
    on('session_close', (context) => this.closeLinks(this.connections.get(context.connection), context.session));
    on('session_error', (context) => this.closeLinks(this.connections.get(context.connection), context.session));
    if (this.sb) {
      this.sb.install(this.container);
      return;
    }
    on('sender_open', (context) => this.onClientReceiverAttach(context));
    on('receiver_open', (context) => this.onClientSenderAttach(context));
    on('sender_close', (context) => this.onDetach(context.sender));
    on('receiver_close', (context) => this.onDetach(context.receiver));
    on('sender_flow', (context) => this.consumerOf(context)?.onFlow());
    on('sender_draining', (context) => this.consumerOf(context)?.onDraining());
    for (const kind of ['accepted', 'released', 'rejected', 'modified', 'settled'] as const) {
      on(kind, (context) => {
        const consumer = this.consumerOf(context);
        if (consumer && context.delivery) consumer.onOutcome(context.delivery, outcomeOf(kind, context.delivery.remote_state));
      });
    }
    on('message', (context) => {
      const producer = context.receiver ? this.links.get(context.receiver) : undefined;
      if (producer instanceof ProducerLink && context.delivery && context.message !== undefined) {
        producer.onMessage(context.message, context.delivery, producer.tap?.current());
      }
    });
  }

  /** A client receiver attached: the broker serves it from a queue. */
  private onClientReceiverAttach(context: EventContext): void {
    const sender = context.sender;
    const record = this.connections.get(context.connection);
    if (!sender || !record || record.gone) return;
    const source = remoteTerminus(sender.source);
    const presettled = sender.snd_settle_mode === 1;
    setLocalSettleModes(sender, presettled ? 1 : 0, sender.rcv_settle_mode === 1 ? 1 : 0);
    let state: AddressState | undefined;
    let queue: QueueNode | undefined;
    let ownsQueue = false;
    if (source?.dynamic) {
      state = this.store.createDynamic(`dynamic/${randomUUID()}`);
      queue = state.queue;
      ownsQueue = true;
    } else {
      const address = typeof source?.address === 'string' ? source.address : undefined;
      if (!address) {
        refuse(sender, 'amqp:invalid-field', 'a receiver needs a source address (or a dynamic source)');
        return;
      }
      state = this.store.resolve(address, this.settings.autoCreate);
      if (!state) {
        refuse(sender, 'amqp:not-found', `no such address: ${address}`);
        return;
      }
      if (state.kind === 'topic') {
        queue = this.store.subscribe(state);
        ownsQueue = true;
      } else {
        queue = state.queue;
      }
    }
    if (!queue) {
      refuse(sender, 'amqp:internal-error', 'address has no queue');
      return;
    }
    sender.set_source({ ...source, address: state.address } as Source);
    sender.set_target((remoteTerminus(sender.target) ?? {}) as TerminusOptions);
    const consumer = new ConsumerLink(sender, state, queue, this.store, presettled, ownsQueue);
    this.register(record, consumer);
    log('[%s/%s] client receives from %s%s', connectionId(context.connection), sender.name, state.address, presettled ? ' (settled)' : '');
  }

  /** A client sender attached: the broker stores what it sends. */
  private onClientSenderAttach(context: EventContext): void {
    const receiver = context.receiver;
    const record = this.connections.get(context.connection);
    if (!receiver || !record || record.gone) return;
    const target = remoteTerminus(receiver.target);
    setLocalSettleModes(receiver, toSndSettleMode(receiver.snd_settle_mode), 0);
    let state: AddressState | undefined;
    if (target?.dynamic) {
      state = this.store.resolve(`dynamic/${randomUUID()}`, true);
    } else if (typeof target?.address === 'string' && target.address.length > 0) {
      state = this.store.resolve(target.address, this.settings.autoCreate);
      if (!state) {
        refuse(receiver, 'amqp:not-found', `no such address: ${target.address}`);
        return;
      }
    }
    receiver.set_target({ ...target, ...(state ? { address: state.address } : {}) } as TerminusOptions);
    receiver.set_source((remoteTerminus(receiver.source) ?? {}) as Source);
    if (this.settings.maxMessageSize !== undefined) setLocalMaxMessageSize(receiver, this.settings.maxMessageSize);
    const producer = new ProducerLink(receiver, state, this.store, this.producerSettings);
    this.register(record, producer);
    producer.grantIfDue();
    log('[%s/%s] client sends to %s', connectionId(context.connection), receiver.name, state?.address ?? '(anonymous relay)');
  }

  private register(record: ConnectionRecord, link: BrokerLink): void {
    record.links.add(link);
    this.links.set(link.link, link);
  }

  private onDetach(link: Sender | Receiver | undefined): void {
    if (!link) return;
    const brokerLink = this.links.get(link);
    if (!brokerLink) return;
    if (brokerLink instanceof ConsumerLink) {
      // Settle what the client settled just before detaching, as it said, rather than requeue it.
      for (const delivery of [...brokerLink.outcomesPending()]) {
        const state = delivery.remote_state as { constructor: { composite_type: string } };
        const kind = state.constructor.composite_type as 'accepted' | 'released' | 'rejected' | 'modified';
        brokerLink.onOutcome(delivery, outcomeOf(kind, state));
      }
    }
    brokerLink.close();
    this.links.delete(link);
    this.connections.get(link.connection)?.links.delete(brokerLink);
  }

  private consumerOf(context: EventContext): ConsumerLink | undefined {
    const link = context.sender ? this.links.get(context.sender) : undefined;
    return link instanceof ConsumerLink ? link : undefined;
  }

  /** Closes the broker side of the record's links (all, or those of one session). */
  private closeLinks(record: ConnectionRecord | undefined, session?: Session): void {
    if (!record) return;
    for (const link of [...record.links]) {
      if (session && link.link.session !== session) continue;
      link.close();
      record.links.delete(link);
      this.links.delete(link.link);
    }
  }

  private onSocketClosed(record: ConnectionRecord): void {
    // why: rhea watches 'end' and 'error' but not 'close'; a socket destroyed here (dropConnections)
    // would otherwise leave its heartbeat timers and endpoint state behind.
    if (!record.rheaDisconnected) {
      record.rheaDisconnected = true;
      try {
        markDisconnected(record.connection);
      } catch (err) {
        log('[%s] disconnect handling failed: %O', connectionId(record.connection), err);
      }
    }
    this.teardown(record);
  }

  private teardown(record: ConnectionRecord): void {
    if (record.gone) return;
    record.gone = true;
    this.closeLinks(record);
    this.connections.delete(record.connection);
    this.sb?.connectionGone(record.connection);
    log('[%s] connection gone', connectionId(record.connection));
    if (this.connections.size === 0) this.allGone?.();
  }

  private queuesOf(address: string): QueueNode[] {
    return this.store.get(address)?.queues() ?? [];
  }

  private mustResolve(address: string, method: string): AddressState {
    const state = this.store.resolve(address, true);
    if (!state) throw new TypeError(`EmbeddedBroker.${method}: '${address}' names a subscription of a queue, not of a topic`);
    return state;
  }

  private force(address: string, method: string, count: number, outcome: Outcome): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new TypeError(`EmbeddedBroker.${method}: count must be a non-negative integer, got ${String(count)}`);
    }
    if (count === 0) return;
    this.mustResolve(address, method).forced.push({ outcome, remaining: count });
  }
}

function resolveSettings(options: EmbeddedBrokerOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'EmbeddedBroker options must be an object');
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('port', `port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const window = options.senderCreditWindow ?? 1000;
  if (!Number.isInteger(window) || window < 1) {
    throw new ConfigError('senderCreditWindow', `senderCreditWindow must be a positive integer, got ${String(window)}`);
  }
  for (const name of ['maxDeliveryCount', 'maxMessageSize'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ConfigError(name, `${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (options.users !== undefined && (typeof options.users !== 'object' || options.users === null)) {
    throw new ConfigError('users', 'users must be an object mapping user names to passwords');
  }
  if (options.deadLetter !== undefined && typeof options.deadLetter !== 'function') {
    throw new ConfigError('deadLetter', 'deadLetter must be a function (address) => dead-letter address');
  }
  if (options.tls !== undefined && (!options.tls.key || !options.tls.cert)) {
    throw new ConfigError('tls', 'tls needs both key and cert');
  }
  if (options.saslExternal !== undefined && typeof options.saslExternal !== 'boolean') {
    throw new ConfigError('saslExternal', `saslExternal must be true or false, got ${String(options.saslExternal)}`);
  }
  if (options.saslExternal === true && !options.tls?.ca) {
    throw new ConfigError('saslExternal', 'saslExternal needs tls with a ca to verify client certificates against');
  }
  if (options.serviceBus !== undefined && options.tls === undefined) {
    throw new ConfigError('tls', 'serviceBus needs tls: Service Bus clients connect with amqps');
  }
  return {
    port,
    host: options.host ?? '127.0.0.1',
    users: options.users ? { ...options.users } : undefined,
    allowAnonymous: options.allowAnonymous ?? options.users === undefined,
    tls: options.tls,
    saslExternal: options.saslExternal ?? false,
    autoCreate: options.autoCreate ?? true,
    queues: [...(options.queues ?? [])],
    topics: new Set(options.topics ?? []),
    senderCreditWindow: window,
    deadLetter: options.deadLetter ?? ((address) => `${address}/$DeadLetterQueue`),
    maxDeliveryCount: options.maxDeliveryCount,
    maxMessageSize: options.maxMessageSize,
    containerId: options.containerId ?? `rhea-rx-broker-${randomUUID()}`,
    serviceBus: options.serviceBus === undefined ? undefined : resolveServiceBusSettings(options.serviceBus),
    captureFrames: options.captureFrames === true,
  };
}

/** The host to put in `url`: loopback and wildcard addresses become 127.0.0.1 (or localhost with TLS). */
function urlHost(host: string, tls: boolean): string {
  const local = ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', ''].includes(host);
  if (local) return tls ? 'localhost' : '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

interface RemoteTerminus {
  address?: string;
  durable?: number;
  expiry_policy?: string;
  timeout?: number;
  dynamic?: boolean;
}

/** The fields of a peer's source or target the broker echoes back (filters are not echoed: not applied). */
function remoteTerminus(terminus: unknown): RemoteTerminus | undefined {
  if (!terminus || typeof terminus !== 'object') return undefined;
  const fields = terminus as Record<string, unknown>;
  const out: RemoteTerminus = {};
  if (typeof fields.address === 'string') out.address = fields.address;
  if (typeof fields.durable === 'number') out.durable = fields.durable;
  if (typeof fields.expiry_policy === 'string') out.expiry_policy = fields.expiry_policy;
  if (typeof fields.timeout === 'number') out.timeout = fields.timeout;
  if (fields.dynamic === true) out.dynamic = true;
  return out;
}

function refuse(link: Sender | Receiver, condition: string, description: string): void {
  log('[%s/%s] attach refused: %s (%s)', connectionId(link.connection), link.name, condition, description);
  link.close({ condition, description });
}

function toSndSettleMode(mode: unknown): 0 | 1 | 2 {
  return mode === 0 || mode === 1 ? mode : 2;
}

function connectionId(connection: Connection): string {
  const options = connection.options as { id?: string };
  return options.id ?? '?';
}

/** Turns a rhea outcome event and the delivery's remote state into an {@link rhea-rx!Outcome | Outcome}. */
function outcomeOf(kind: 'accepted' | 'released' | 'rejected' | 'modified' | 'settled', state: unknown): Outcome {
  const fields = (state ?? {}) as {
    error?: { condition?: unknown; description?: unknown } | null;
    delivery_failed?: unknown;
    undeliverable_here?: unknown;
    message_annotations?: unknown;
  };
  switch (kind) {
    case 'released':
      return { kind: 'released' };
    case 'rejected': {
      const error = fields.error;
      if (!error || typeof error.condition !== 'string') return { kind: 'rejected' };
      return {
        kind: 'rejected',
        error: {
          condition: error.condition,
          ...(typeof error.description === 'string' ? { description: error.description } : {}),
        },
      };
    }
    case 'modified': {
      const annotations = fields.message_annotations;
      return {
        kind: 'modified',
        deliveryFailed: fields.delivery_failed === true,
        undeliverableHere: fields.undeliverable_here === true,
        annotations:
          annotations && typeof annotations === 'object' ? { ...(annotations as Record<string, unknown>) } : undefined,
      };
    }
    default:
      // A settlement without an outcome counts as accepted (the message was consumed).
      return { kind: 'accepted' };
  }
}
