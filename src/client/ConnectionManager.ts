import rhea from 'rhea';
import type { Connection, ConnectionOptions, Container, EventContext } from 'rhea';
import { BehaviorSubject, type Observable } from 'rxjs';
import { AmqpError } from '../errors/AmqpError.js';
import { ConnectionLostError, OperationTimeoutError } from '../errors/errors.js';
import { translate } from '../errors/translate.js';
import { log } from '../log.js';
import { on } from '../links/rheaEvents.js';
import { guardFrames } from './frameGuard.js';
import { installRheaLoggers } from './rheaLoggers.js';
import { connectChannel } from '../tracing/channels.js';
import { traceConnect } from '../tracing/hooks.js';

/** Where the client is in its connection's life. */
export type ClientStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** One step of the connection's life, as `client.state$` shows it. Never holds a secret (C3). */
export interface ClientState {
  /** Where the connection is: `idle` before first use, then `connecting`, `open`, `reconnecting`, `closed`. */
  readonly status: ClientStatus;
  /** Connection attempts made so far, over the client's life (1 for the first). */
  readonly attempt: number;
  /** The URL of the peer tried or connected, with any password hidden. */
  readonly url: string;
  /** The error that ended the previous connection or attempt, if any. */
  readonly error?: AmqpError | undefined;
  /** For `reconnecting`: how long the client waits before this attempt, in milliseconds. */
  readonly delay?: number | undefined;
}

/** What the peer said about itself in its open frame. */
export interface PeerInfo {
  /** `product` from the open frame's properties, e.g. `RabbitMQ`. */
  readonly product: string | undefined;
  /** `version` from the open frame's properties, e.g. `3.10.8`. */
  readonly version: string | undefined;
  /** The peer's container id from its open frame. */
  readonly containerId: string | undefined;
  /** The capabilities the peer offered in its open frame (e.g. `ANONYMOUS-RELAY`). */
  readonly offeredCapabilities: readonly string[];
  /** Every property of the open frame, as sent. */
  readonly properties: Readonly<Record<string, unknown>>;
  /** The largest frame the peer accepts, in bytes, when it set one. */
  readonly maxFrameSize: number | undefined;
}

/** One SASL mechanism the client may use, with what it needs. */
export type SaslMechanism =
  | { readonly name: 'PLAIN'; readonly username: string; readonly password: string }
  | { readonly name: 'ANONYMOUS'; readonly username: string }
  | { readonly name: 'EXTERNAL' };

/** How to reach one peer, already validated. */
export interface ConnectTarget {
  readonly scheme: 'amqp' | 'amqps';
  readonly host: string;
  readonly port: number;
  /** The mechanisms the client may negotiate; undefined for no SASL layer. */
  readonly sasl: readonly SaslMechanism[] | undefined;
  /** The open frame's hostname (a virtual host), when it differs from `host`. */
  readonly hostname?: string | undefined;
  /** TLS options handed to `tls.connect` for amqps. */
  readonly tls?: Record<string, unknown> | undefined;
  /** The redacted URL, for messages and state. */
  readonly display: string;
}

/** When and whether to try again: the delay before attempt `n` (2, 3, …), or undefined to give up. */
export interface ReconnectPolicy {
  delay(attempt: number): number | undefined;
}

export interface ConnectionManagerOptions {
  /** Tried in order, round robin, on every new attempt after a failure (failover, C1). */
  readonly targets: readonly ConnectTarget[];
  readonly containerId: string | undefined;
  readonly connectTimeout: number;
  /** The largest frame the peer may send, announced in the open frame and enforced on input. */
  readonly maxFrameSize: number;
  readonly idleTimeout: number | undefined;
  readonly properties: Record<string, unknown> | undefined;
  /** Undefined: no reconnect; a lost or failed connection ends every link. */
  readonly reconnect: ReconnectPolicy | undefined;
}

/** What one link reports for `client.stats()`. */
export type LinkStats =
  | {
      readonly kind: 'receiver';
      readonly address: string;
      /** The `credit` option: the most deliveries the application may hold plus those in flight. */
      readonly credit: number;
      /** Deliveries emitted and not yet settled. */
      readonly held: number;
      /** Credit granted to the peer and not yet used. */
      readonly linkCredit: number;
      readonly attached: boolean;
    }
  | {
      readonly kind: 'sender';
      readonly address: string;
      /** Sent and not yet settled by the peer. */
      readonly inFlight: number;
      /** Waiting for credit. */
      readonly buffered: number;
      readonly attached: boolean;
    };

/** A snapshot of the client's links and connection, for watching a pipeline. */
export interface ClientStats {
  /** The connection's status, as in {@link ClientState.status}. */
  readonly status: ClientStatus;
  /** Connection attempts after a loss or failure, over the client's life. */
  readonly reconnects: number;
  /** One entry per link open now, receivers and senders. */
  readonly links: readonly LinkStats[];
}

/** What a link hears about the connection under it. */
export interface ConnectionWatcher {
  /** The connection is gone and a new one is being made: drop what belonged to the old one. */
  lost(error: AmqpError): void;
  /** A new connection is open: attach again. */
  restored(connection: Connection): void;
  /** The connection is gone for good (no reconnect, a non-retryable error, attempts used up). */
  failed(error: AmqpError): void;
}

let nextConnectionId = 1;

/**
 * Owns the client's one rhea connection at a time: opens it lazily on first use, reconnects with
 * backoff across the failover list when it is lost (C1), fails fast on authentication errors (C2),
 * tells links when it is lost and restored, and closes it. The only place that creates a rhea
 * container for a client. rhea's own reconnect is off: it drops unsettled deliveries both ways.
 */
export class ConnectionManager {
  readonly container: Container;
  readonly id = `c${nextConnectionId++}`;
  readonly #state: BehaviorSubject<ClientState>;
  readonly #options: ConnectionManagerOptions;
  readonly #watchers = new Set<ConnectionWatcher>();
  readonly #reporters = new Set<() => LinkStats>();
  #reconnects = 0;
  readonly #closeListeners = new Set<(deadline: number) => Promise<void> | void>();
  readonly #openHooks = new Set<(connection: Connection) => Promise<void>>();
  #connection: Connection | undefined;
  #opening: Promise<Connection> | undefined;
  #attempt = 0;
  /** Retries it took to open the current connection, and when it opened (see {@link STABLE_AFTER_MS}). */
  #openedAfterRetries = 0;
  #openedAt = 0;
  #targetIndex = 0;
  #closed = false;
  #peer: PeerInfo | undefined;
  #removers: Array<() => void> = [];
  /** Cancels the wait between attempts when the client closes. */
  #cancelWait: (() => void) | undefined;
  /** The close in progress or done, which every `close()` call returns. */
  #closing: Promise<void> | undefined;

  constructor(options: ConnectionManagerOptions) {
    installRheaLoggers();
    this.#options = options;
    this.container = rhea.create_container(options.containerId === undefined ? {} : { id: options.containerId });
    // rhea re-emits unhandled link and connection errors here, and Node throws on an unheard
    // 'error'. Every error we care about is handled where it happens; a late one only gets logged.
    this.container.on('error', (error: unknown) => {
      log.connection('[%s] late error from rhea: %s', this.id, error instanceof Error ? error.message : String(error));
    });
    this.#state = new BehaviorSubject<ClientState>({ status: 'idle', attempt: 0, url: options.targets[0]!.display });
  }

  get state$(): Observable<ClientState> {
    return this.#state.asObservable();
  }

  get state(): ClientState {
    return this.#state.value;
  }

  get peer(): PeerInfo | undefined {
    return this.#peer;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The peer tried or connected now (host, port, redacted URL), for trace attributes. @internal */
  get target(): ConnectTarget {
    return this.#options.targets[this.#targetIndex]!;
  }

  /** The client's reconnect policy, which links also use to attach again after a retryable detach; undefined when off. */
  get reconnectPolicy(): ReconnectPolicy | undefined {
    return this.#options.reconnect;
  }

  /** The open connection, or an error saying why there is none. Opens it (with retries) on first use. */
  acquire(): Promise<Connection> {
    if (this.#closed) return Promise.reject(new AmqpError(`The client for ${this.#display()} is closed`));
    if (this.#connection !== undefined) return Promise.resolve(this.#connection);
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  /** Registers what a link reports to `stats()`; returns the remover. */
  report(source: () => LinkStats): () => void {
    this.#reporters.add(source);
    return () => this.#reporters.delete(source);
  }

  /** A snapshot of every link's counters and the connection's state. */
  stats(): ClientStats {
    return { status: this.#state.value.status, reconnects: this.#reconnects, links: [...this.#reporters].map((report) => report()) };
  }

  /** Registers a link's watcher; returns the remover. */
  watch(watcher: ConnectionWatcher): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /**
   * Calls `listener` when the client starts closing, before the connection goes; the close waits
   * for the promise it returns (links settle what is in flight) until `deadline` (epoch ms).
   */
  onClose(listener: (deadline: number) => Promise<void> | void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Runs `hook` on every new connection once the peer's open frame has arrived and before any link
   * may use it: `acquire()` resolves, and links re-attach after a reconnect, only once every hook
   * has resolved. A hook that rejects fails that attempt with its error (translated: an
   * authentication failure is not retried, C2). The attempt's `connectTimeout` covers the hooks.
   * Claims-based authorization (Azure Service Bus's `$cbs`) puts its tokens here.
   * @internal
   */
  beforeOpen(hook: (connection: Connection) => Promise<void>): () => void {
    this.#openHooks.add(hook);
    return () => this.#openHooks.delete(hook);
  }

  #display(): string {
    return this.#options.targets[this.#targetIndex]!.display;
  }

  #emit(status: ClientStatus, error?: AmqpError, delay?: number): void {
    this.#state.next({
      status,
      attempt: this.#attempt,
      url: this.#display(),
      ...(error ? { error } : {}),
      ...(delay === undefined ? {} : { delay }),
    });
  }

  /**
   * Attempts until a connection opens, the error is not retryable (C2), the policy gives up, or
   * the client closes. Each failed attempt moves to the next URL of the failover list.
   */
  async #connect(lastError?: AmqpError, retriesBefore = 0): Promise<Connection> {
    const { reconnect, targets } = this.#options;
    const closedError = () => new AmqpError(`The client for ${this.#display()} is closed`, { cause: lastError });
    for (let retry = retriesBefore; ; ) {
      if (this.#closed) throw closedError();
      if (lastError !== undefined) {
        // A retry: wait as the policy says (delay(1) before the first retry, and so on).
        const delay = reconnect?.delay(++retry);
        if (delay === undefined) {
          this.#emit(this.#closed ? 'closed' : 'idle', lastError);
          throw lastError;
        }
        this.#attempt++;
        this.#reconnects++;
        this.#emit('reconnecting', lastError, delay);
        log.reconnect('[%s] attempt %d in %d ms after: %s', this.id, this.#attempt, delay, lastError.message);
        await this.#wait(delay);
        if (this.#closed) throw closedError();
      } else {
        this.#attempt++;
        this.#emit('connecting');
      }
      try {
        const target = targets[this.#targetIndex]!;
        const connection = await (connectChannel.hasSubscribers ? traceConnect(this, target, this.#attempt, lastError !== undefined, () => this.#open(target)) : this.#open(target));
        this.#openedAfterRetries = retry;
        this.#openedAt = performance.now();
        return connection;
      } catch (error) {
        lastError = error as AmqpError;
        if (!lastError.retryable || reconnect === undefined) {
          this.#emit(this.#closed ? 'closed' : 'idle', lastError);
          throw lastError;
        }
        this.#targetIndex = (this.#targetIndex + 1) % targets.length;
      }
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#cancelWait = () => {
        this.#cancelWait = undefined;
        done();
      };
    });
  }

  /** One attempt at one peer: resolves when the peer's open frame arrives. */
  #open(target: ConnectTarget): Promise<Connection> {
    const { connectTimeout, idleTimeout, maxFrameSize, properties } = this.#options;
    const id = `${this.id}.${this.#attempt}`;
    log.connection('[%s] connecting to %s', id, target.display);
    const options: Record<string, unknown> = {
      id,
      host: target.host,
      port: target.port,
      reconnect: false,
      max_frame_size: maxFrameSize,
      ...(target.hostname === undefined ? {} : { hostname: target.hostname }),
      ...(target.sasl === undefined ? {} : { sasl_mechanisms: saslMechanisms(target.sasl) }),
      ...(idleTimeout === undefined ? {} : { idle_time_out: idleTimeout }),
      ...(properties === undefined ? {} : { properties }),
      ...(target.scheme === 'amqps' ? { transport: 'tls', ...target.tls } : {}),
    };
    return new Promise<Connection>((resolve, reject) => {
      const connection = this.container.connect(options as unknown as ConnectionOptions);
      guardFrames(connection, maxFrameSize);
      // AMQP frames are small and often wait on an answer (a flow, a disposition): Nagle's
      // algorithm with delayed ACKs would hold them for ~40 ms. rhea sets this only when a link
      // is opened on its default session, and ours are opened on sessions of their own.
      (connection as unknown as { socket?: { setNoDelay?(on: boolean): void } }).socket?.setNoDelay?.(true);
      let opened = false;
      let lastError: unknown;
      const removers: Array<() => void> = [];
      const cleanup = () => {
        for (const remove of removers) remove();
        removers.length = 0;
        clearTimeout(timer);
      };
      let failed = false;
      const fail = (error: AmqpError) => {
        failed = true;
        cleanup();
        destroy(connection);
        log.connection('[%s] %s', id, error.message);
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new OperationTimeoutError(`Connecting to ${target.display} took longer than ${connectTimeout} ms`));
      }, connectTimeout);
      const unreadable = (cause: unknown): void => {
        const reason = cause instanceof Error ? cause.message : String(cause);
        const error = new ConnectionLostError(`Protocol error on the connection to ${target.display}: ${reason}`, {
          condition: 'amqp:connection:framing-error',
          description: reason,
          retryable: true,
          cause,
        });
        if (opened) this.#lose(connection, error, id);
        else if (!failed) fail(error);
      };
      const opens = (context: EventContext): void => {
        opened = true;
        clearTimeout(timer);
        if (this.#closed) {
          fail(new AmqpError(`The client for ${target.display} is closed`));
          return;
        }
        this.#connection = connection;
        this.#removers = removers;
        this.#peer = readPeer(context.connection);
        log.connection('[%s] open (peer %s %s)', id, this.#peer.product ?? '?', this.#peer.version ?? '?');
        this.#emit('open');
        resolve(connection);
      };
      removers.push(
        on(connection, 'connection_open', (context: EventContext) => {
          if (this.#openHooks.size === 0) {
            opens(context);
            return;
          }
          // The hooks run first, still under the attempt's timer: no link may use the connection before.
          runHooks([...this.#openHooks], connection).then(
            () => {
              if (!failed) opens(context);
            },
            (error: unknown) => {
              if (!failed) fail(translate(error, 'connection', target.display));
            },
          );
        }),
        on(connection, 'connection_error', (context: EventContext) => {
          lastError = context.error ?? context.connection.error ?? lastError;
        }),
        // Bytes rhea cannot read: a wrong protocol header, a bad or oversized frame (frameGuard),
        // or a frame its decoder or handlers throw on. rhea then only half-closes the socket and
        // waits for the peer's FIN, which a broken peer may never send: the connection ends here.
        on(connection, 'protocol_error', (error: unknown) => unreadable(error)),
        on(connection, 'error', (error: unknown) => {
          if (error !== undefined && error === (connection as unknown as { saved_error?: unknown }).saved_error) unreadable(error);
          else log.connection('[%s] late error from rhea: %s', id, error instanceof Error ? error.message : String(error));
        }),
        on(connection, 'connection_close', (context: EventContext) => {
          lastError = context.error ?? context.connection.error ?? lastError;
          if (opened) this.#lose(connection, lastError, id);
        }),
        on(connection, 'disconnected', (context: EventContext) => {
          const error = lastError ?? context.error ?? context.connection.error;
          if (opened) {
            this.#lose(connection, error, id);
          } else {
            fail(translate(error ?? { message: 'the peer closed the connection before it opened' }, 'connection', target.display));
          }
        }),
      );
    });
  }

  /** The open connection went away: tell the links, then reconnect or give up. */
  #lose(connection: Connection, cause: unknown, id: string): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    for (const remove of this.#removers) remove();
    this.#removers = [];
    destroy(connection);
    const error = translate(cause ?? { message: 'the connection was closed by the peer' }, 'connection', this.#display());
    log.connection('[%s] lost: %s', id, error.message);
    const watchers = [...this.#watchers];
    if (this.#options.reconnect === undefined || !error.retryable || this.#closed) {
      this.#emit(this.#closed ? 'closed' : 'idle', error);
      for (const watcher of watchers) watcher.failed(error);
      return;
    }
    for (const watcher of watchers) watcher.lost(error);
    // The next attempt starts at the next URL of the failover list.
    this.#targetIndex = (this.#targetIndex + 1) % this.#options.targets.length;
    // A connection that did not stay up counts as one more failed attempt in a row: a peer that
    // accepts and then drops every connection is backed off from, not reconnected at a steady rate.
    const retriesBefore = performance.now() - this.#openedAt < STABLE_AFTER_MS ? this.#openedAfterRetries : 0;
    this.#opening ??= this.#connect(error, retriesBefore).finally(() => {
      this.#opening = undefined;
    });
    this.#opening.then(
      (restored) => {
        for (const watcher of [...this.#watchers]) watcher.restored(restored);
      },
      (failure: AmqpError) => {
        if (this.#closed) return; // a close we started: the close listeners complete the links
        for (const watcher of [...this.#watchers]) watcher.failed(failure);
      },
    );
  }

  /**
   * Closes the connection: lets links finish (until `timeout` ms), sends close and waits for the
   * peer's answer, then destroys the socket. Stops any reconnect in progress. Idempotent: a later
   * call returns the first call's promise, which resolves when the close is done.
   */
  close(timeout: number): Promise<void> {
    this.#closing ??= this.#close(timeout);
    return this.#closing;
  }

  async #close(timeout: number): Promise<void> {
    this.#closed = true;
    this.#cancelWait?.();
    const opening = this.#opening;
    if (opening !== undefined) await opening.catch(() => undefined);
    const deadline = Date.now() + timeout;
    const closing = [...this.#closeListeners].map((listener) => Promise.resolve().then(() => listener(deadline)));
    this.#closeListeners.clear();
    await Promise.allSettled(closing);
    const connection = this.#connection;
    this.#connection = undefined;
    for (const remove of this.#removers) remove();
    this.#removers = [];
    if (connection !== undefined && !connection.is_closed()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          for (const remove of removers) remove();
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        const removers = [
          on(connection, 'connection_close', done),
          on(connection, 'disconnected', done),
          // Bytes rhea cannot read while the close is under way: nothing more to wait for.
          on(connection, 'protocol_error', done),
          on(connection, 'error', (error: unknown) => {
            if (error === (connection as unknown as { saved_error?: unknown }).saved_error) done();
          }),
        ];
        connection.close();
      });
      destroy(connection);
    }
    this.#watchers.clear();
    this.#emit('closed');
    this.#state.complete();
  }
}

/** Runs the before-open hooks one after the other: a later hook may rely on what an earlier one did. */
async function runHooks(hooks: ReadonlyArray<(connection: Connection) => Promise<void>>, connection: Connection): Promise<void> {
  for (const hook of hooks) await hook(connection);
}

/** rhea's client-side SASL table with exactly the mechanisms allowed; the peer's order picks one. */
function saslMechanisms(allowed: readonly SaslMechanism[]): unknown {
  const mechanisms = (rhea as unknown as { sasl: { client_mechanisms(): Record<string, (...args: string[]) => void> } }).sasl.client_mechanisms();
  for (const m of allowed) {
    if (m.name === 'PLAIN') mechanisms.enable_plain!(m.username, m.password);
    else if (m.name === 'ANONYMOUS') mechanisms.enable_anonymous!(m.username);
    else mechanisms.enable_external!();
  }
  return mechanisms;
}

/**
 * How long a connection must stay open before the reconnect backoff starts over from its first
 * delay. A connection lost sooner continues the backoff where the attempts that opened it left
 * off (and counts towards `maxAttempts`), so a peer that accepts each connection and then breaks
 * it is retried at growing intervals rather than at a steady `initialDelay`.
 */
export const STABLE_AFTER_MS = 5_000;

/**
 * Destroys the connection's socket and stops rhea's timers for it. rhea learns of a socket's end
 * only from its 'end' and 'error' events, which a local destroy does not emit: its heartbeat
 * timers (with an idle timeout) would otherwise fire on the dead connection later, write to the
 * destroyed socket and keep the process alive until then. When this runs inside rhea's handling
 * of incoming bytes (a close frame from the peer), rhea arms its idle timer again once that
 * handling returns: the timers are stopped again then.
 */
function destroy(connection: Connection): void {
  const c = connection as unknown as {
    socket?: { destroy(): void };
    heartbeat_in?: NodeJS.Timeout;
    heartbeat_out?: NodeJS.Timeout;
    abort_idle?: NodeJS.Timeout;
  };
  c.socket?.destroy();
  const stopTimers = (): void => {
    for (const timer of ['heartbeat_in', 'heartbeat_out', 'abort_idle'] as const) {
      clearTimeout(c[timer]);
      c[timer] = undefined;
    }
  };
  stopTimers();
  setImmediate(stopTimers);
}

function readPeer(connection: Connection): PeerInfo {
  const open = (connection as unknown as { remote?: { open?: Record<string, unknown> } }).remote?.open ?? {};
  const properties = (open.properties as Record<string, unknown> | undefined) ?? {};
  const caps = open.offered_capabilities;
  const offeredCapabilities = Array.isArray(caps) ? caps.map(String) : caps === undefined || caps === null ? [] : [String(caps)];
  const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v));
  return {
    product: text(properties.product),
    version: text(properties.version),
    containerId: text(open.container_id),
    offeredCapabilities,
    properties,
    maxFrameSize: typeof open.max_frame_size === 'number' ? open.max_frame_size : undefined,
  };
}
