import { connect as connectTcp, createServer, isIP, type Server, type Socket } from 'node:net';
import createDebug from 'debug';
import { ConfigError } from '../errors/errors.js';

const log = createDebug('rhea-rx:fault-proxy');

/** Bytes a connection may hold in the proxy per direction before the proxy stops reading from the sender. */
const DEFAULT_BUFFER_SIZE = 64 * 1024;
/** With a bandwidth cap, bytes are written in slices worth this many milliseconds of the cap… */
const SLICE_MS = 20;
/** …but never larger than this, so a high cap still spreads a big chunk over time. */
const MAX_SLICE = 16 * 1024;
/** Random stall durations when `random.stallEvery` is set without `random.stallFor`, in ms. */
const DEFAULT_STALL_FOR: readonly [number, number] = [100, 1000];
/** Mixed into the seed so the cut and stall streams draw independent numbers. */
const CUT_SALT = 0x243f6a88;
const STALL_SALT = 0x85a308d3;

/** A `[min, max]` range of milliseconds, both ends included. */
export type FaultProxyRange = readonly [min: number, max: number];

/** The random fault schedule of {@link FaultProxyOptions.random}; each key switches one kind of fault on. */
export interface FaultProxyRandomFaults {
  /** Cut every connection after a random interval drawn from this range, again and again (ms). @default undefined (no random cuts) */
  cutEvery?: FaultProxyRange;
  /** Start a stall after a random interval drawn from this range, counted from the end of the previous stall (ms). @default undefined (no random stalls) */
  stallEvery?: FaultProxyRange;
  /** How long each random stall lasts (ms). @default [100, 1000] */
  stallFor?: FaultProxyRange;
}

/**
 * The time source of a {@link FaultProxy}: every delay, throttle and random fault goes through it.
 * Inject a manual clock to run a random schedule without waiting for it.
 */
export interface FaultProxyClock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a callback scheduled with `setTimeout` (a handle that already ran is ignored). */
  clearTimeout(handle: unknown): void;
}

/** One client connection forwarded by a {@link FaultProxy}, as handed to `onConnection`. */
export interface FaultProxyConnection {
  /** Sequence number of the connection at this proxy, from 1. */
  readonly id: number;
  /** The client's local port, when known. */
  readonly clientPort: number | undefined;
  /** Destroys both sides of this connection alone, as {@link FaultProxy.cut} does for all. */
  cut(): void;
}

/** A fault the random schedule will inject, from {@link FaultProxy.plannedFaults}. */
export type FaultProxyPlannedFault =
  | { readonly at: number; readonly kind: 'cut' }
  | { readonly at: number; readonly kind: 'stall'; readonly duration: number };

/** A fault the proxy injected, from {@link FaultProxy.faults}. */
export interface FaultProxyFaultRecord {
  /** Milliseconds since `start()` resolved, on the proxy's clock. */
  readonly at: number;
  /** `cut`: connections were destroyed; `stall`: forwarding was paused. */
  readonly kind: 'cut' | 'stall';
  /** `random` for the seeded schedule, `manual` for `cut()`, `stall()` and `connection.cut()`. */
  readonly source: 'random' | 'manual';
  /** For a stall, how long it was set to last (ms); undefined for a stall until `resume()` and for cuts. */
  readonly duration?: number;
  /** Connections open when the fault hit (for a cut: the connections it destroyed). */
  readonly connections: number;
}

/** Counters of {@link FaultProxy.stats}. */
export interface FaultProxyStats {
  /** Client connections accepted and forwarded since start (refused ones not included). */
  connections: number;
  /** Connections destroyed by a cut (`cut()`, `connection.cut()` or the random schedule). */
  cuts: number;
  /** Bytes forwarded from clients to the target. */
  bytesUp: number;
  /** Bytes forwarded from the target to clients. */
  bytesDown: number;
  /** Connections destroyed on arrival while `refuse()` was on. */
  refused: number;
  /** Stalls started (`stall()` and the random schedule). */
  stalls: number;
  /** Bytes read and not yet forwarded, over every connection and both directions. */
  buffered: number;
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /**
   * Where to forward to: a URL such as `amqp://127.0.0.1:5672` (the port defaults to 5672 for
   * `amqp`, 5671 for `amqps`), or `{ host, port }`. TLS passes through untouched.
   */
  target: string | { host: string; port: number };
  /** TCP port to listen on; 0 picks a free one (read it from `proxy.port`). @default 0 */
  port?: number;
  /** Loopback interface to listen on (`127.x.x.x`, `::1` or `localhost`); other addresses are refused. @default '127.0.0.1' */
  host?: string;
  /**
   * Seed of the random schedule. The schedule depends only on `seed` and `random`, never on traffic,
   * so the same seed gives the same fault times; which connections a fault hits depends on the traffic.
   * @default a random seed, readable from `proxy.seed`
   */
  seed?: number;
  /** A random fault schedule, running from `start()`. @default undefined (no random faults) */
  random?: FaultProxyRandomFaults;
  /** Milliseconds added to every chunk, each way. @default 0 */
  latency?: number;
  /** Cap in bytes per second, per connection and each way; `Infinity` for none. @default Infinity */
  bandwidth?: number;
  /**
   * Bytes a connection may hold in the proxy per direction before the proxy stops reading from the
   * sender (see {@link FaultProxy} for the whole bound). @default 65536
   */
  bufferSize?: number;
  /** Called for every connection the proxy forwards, before any byte is read; errors it throws are logged. @default undefined */
  onConnection?: (connection: FaultProxyConnection) => void;
  /** The time source. @default `performance.now()` with the global timers */
  clock?: FaultProxyClock;
}

interface Settings {
  host: string;
  port: number;
  targetHost: string;
  targetPort: number;
  scheme: 'amqp' | 'amqps';
  seed: number;
  random: ResolvedRandom | undefined;
  latency: number;
  bandwidth: number;
  bufferSize: number;
  clock: FaultProxyClock;
}

interface ResolvedRandom {
  cutEvery: FaultProxyRange | undefined;
  stallEvery: FaultProxyRange | undefined;
  stallFor: FaultProxyRange;
}

/** What the pipes of every connection read live from their proxy. */
interface Conditions {
  readonly clock: FaultProxyClock;
  readonly bufferSize: number;
  latency: number;
  bandwidth: number;
  stalled: boolean;
  forwarded(direction: Direction, bytes: number): void;
}

type Direction = 'up' | 'down';

const systemClock: FaultProxyClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A TCP proxy between a client and a broker that cuts, refuses, stalls or slows connections on
 * command or on a seeded random schedule: chaos for tests of pipelines and of reconnect logic.
 *
 * Bytes are forwarded in order, each way. `latency` holds every chunk for that long after it
 * arrives; `bandwidth` spreads writes so no more than that many bytes per second leave per
 * connection and direction; `stall()` holds everything, including end-of-stream, until it ends.
 *
 * Memory is bounded under backpressure: per connection and direction, the proxy stops reading from
 * the sender once `bufferSize` bytes wait in its queue, so the queue holds at most `bufferSize` plus
 * one read (≤ 64 KiB). Node's socket buffers add at most about one high-water mark (16 KiB) and one
 * chunk on each side, because the proxy writes only while the receiving socket needs no drain.
 * Beyond that, the kernel's TCP buffers fill and the sender's own writes back up, however long a
 * stall lasts. One consequence: with a latency L, a direction carries at most about
 * `bufferSize / L` bytes per second.
 *
 * Socket errors (`ECONNRESET`, `EPIPE`, a target that is down) never throw; they end the connection
 * on both sides and are logged under the debug namespace `rhea-rx:fault-proxy`.
 *
 * @example
 * const broker = await EmbeddedBroker.start();
 * const proxy = await FaultProxy.start({ target: broker.url, latency: 20 });
 * const client = createClient(proxy.url);
 * // … later, in the middle of a pipeline:
 * proxy.cut();                 // the client reconnects through the proxy
 * proxy.stall(500);            // half a second of silence, then everything arrives in order
 * await client.close();
 * await proxy.stop();
 * await broker.stop();
 */
export class FaultProxy {
  /** Called for every connection the proxy forwards; see {@link FaultProxyOptions.onConnection}. */
  onConnection: ((connection: FaultProxyConnection) => void) | undefined;
  /** The seed of the random schedule (the given one, or the one drawn when none was given). */
  readonly seed: number;

  private readonly server: Server;
  private readonly clock: FaultProxyClock;
  private readonly conditions: Conditions;
  private readonly connections = new Set<ProxiedConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly faultLog: FaultProxyFaultRecord[] = [];
  private readonly counters = { connections: 0, cuts: 0, bytesUp: 0, bytesDown: 0, refused: 0, stalls: 0 };
  private listeningPort = 0;
  private listeningHost = '127.0.0.1';
  private startedAt = 0;
  private nextId = 1;
  private refusing = false;
  private manualStall = false;
  private randomStall = false;
  private manualStallTimer: unknown;
  private randomStallTimer: unknown;
  private schedule: Iterator<FaultProxyPlannedFault> | undefined;
  private scheduleTimer: unknown;
  private stopping: Promise<void> | undefined;
  private socketsGone: (() => void) | undefined;

  private constructor(private readonly settings: Settings) {
    this.seed = settings.seed;
    this.clock = settings.clock;
    const counters = this.counters;
    this.conditions = {
      clock: settings.clock,
      bufferSize: settings.bufferSize,
      latency: settings.latency,
      bandwidth: settings.bandwidth,
      stalled: false,
      forwarded(direction, bytes) {
        if (direction === 'up') counters.bytesUp += bytes;
        else counters.bytesDown += bytes;
      },
    };
    // why: half-open, so that a client's end-of-stream still lets delayed replies reach it.
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    this.server.on('connection', (socket: Socket) => this.accept(socket));
  }

  /**
   * Starts a proxy and resolves once it listens; the random schedule, if any, starts now.
   *
   * @param options - See {@link FaultProxyOptions}.
   * @returns The running proxy; its `url` and `port` are set.
   * @throws {@link rhea-rx!ConfigError | ConfigError} (as a rejection) when an option is invalid, naming the option; the
   * listen error (e.g. `EADDRINUSE`) when the port cannot be bound.
   */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(resolveSettings(options));
    proxy.onConnection = options.onConnection;
    await proxy.listen();
    proxy.startedAt = proxy.clock.now();
    proxy.startSchedule();
    return proxy;
  }

  /** The URL clients connect to, e.g. `amqp://127.0.0.1:PORT` (`amqps://localhost:PORT` for an `amqps` target). */
  get url(): string {
    if (this.settings.scheme === 'amqps') return `amqps://localhost:${this.listeningPort}`;
    const host = this.listeningHost.includes(':') ? `[${this.listeningHost}]` : this.listeningHost;
    return `amqp://${host}:${this.listeningPort}`;
  }

  /** The TCP port the proxy listens on. */
  get port(): number {
    return this.listeningPort;
  }

  /** True while bytes are held by `stall()` or a random stall. */
  get stalled(): boolean {
    return this.conditions.stalled;
  }

  /**
   * Destroys every current connection at once, on both sides, without forwarding anything more: no
   * AMQP close frame reaches either peer. Bytes still held are dropped. New connections are still accepted.
   */
  cut(): void {
    this.cutAll('manual');
  }

  /**
   * While on, destroys every new connection as soon as it arrives, as if the broker were down;
   * connections already open are left alone (combine with `cut()` for an outage).
   *
   * @param on - Refuse (true) or accept again (false). @default true
   */
  refuse(on = true): void {
    this.refusing = on;
    log('[%d] refuse %s', this.listeningPort, on ? 'on' : 'off');
  }

  /**
   * Stops forwarding bytes both ways, on every connection, old and new: they are held (within the
   * bound described on {@link FaultProxy}) and delivered in order when the stall ends. A new stall
   * replaces the end of an earlier manual one.
   *
   * @param ms - How long to stall, in milliseconds. @default until `resume()`
   * @throws {@link rhea-rx!ConfigError | ConfigError} when `ms` is not a non-negative number.
   */
  stall(ms?: number): void {
    if (ms !== undefined && !(Number.isFinite(ms) && ms >= 0)) {
      throw new ConfigError('ms', `stall(ms) needs a non-negative number of milliseconds, got ${String(ms)}`);
    }
    this.clearTimer(this.manualStallTimer);
    this.manualStallTimer = undefined;
    this.manualStall = true;
    this.recordStall('manual', ms);
    if (ms !== undefined) {
      this.manualStallTimer = this.clock.setTimeout(() => {
        this.manualStallTimer = undefined;
        this.manualStall = false;
        this.updateStall();
      }, ms);
    }
    this.updateStall();
  }

  /** Ends every stall now, manual or random (the random schedule goes on), and forwards what was held. */
  resume(): void {
    this.clearTimer(this.manualStallTimer);
    this.clearTimer(this.randomStallTimer);
    this.manualStallTimer = undefined;
    this.randomStallTimer = undefined;
    this.manualStall = false;
    this.randomStall = false;
    this.updateStall();
  }

  /**
   * Changes throttling live, for open connections too; a key left out keeps its setting.
   *
   * @param options - `latency` in ms (0 for none); `bandwidth` in bytes per second per connection
   * and direction (`Infinity` for none).
   * @throws {@link rhea-rx!ConfigError | ConfigError} when a value is out of range.
   */
  slow(options: { latency?: number; bandwidth?: number }): void {
    if (options.latency !== undefined) this.conditions.latency = checkLatency(options.latency);
    if (options.bandwidth !== undefined) {
      this.conditions.bandwidth = checkBandwidth(options.bandwidth);
      for (const connection of this.connections) connection.resetThrottle();
    }
    log('[%d] latency %d ms, bandwidth %d B/s', this.listeningPort, this.conditions.latency, this.conditions.bandwidth);
    this.pumpAll();
  }

  /** Connections forwarded now (cut or closed ones are not counted). */
  connectionCount(): number {
    return this.connections.size;
  }

  /** A snapshot of the counters. */
  stats(): FaultProxyStats {
    let buffered = 0;
    for (const connection of this.connections) buffered += connection.buffered();
    return { ...this.counters, buffered };
  }

  /** The faults injected so far, oldest first (manual and random). */
  faults(): ReadonlyArray<FaultProxyFaultRecord> {
    return this.faultLog.map((record) => ({ ...record }));
  }

  /**
   * The faults the random schedule injects from start until `horizonMs` (inclusive), in order. A pure
   * function of `seed` and `random`: two proxies with the same both plan the same list.
   *
   * @throws {@link rhea-rx!ConfigError | ConfigError} when `horizonMs` is not a non-negative finite number.
   */
  plannedFaults(horizonMs: number): FaultProxyPlannedFault[] {
    if (!(Number.isFinite(horizonMs) && horizonMs >= 0)) {
      throw new ConfigError('horizonMs', `plannedFaults needs a finite horizon in ms, got ${String(horizonMs)}`);
    }
    const planned: FaultProxyPlannedFault[] = [];
    if (!this.settings.random) return planned;
    for (const fault of planFaults(this.seed, this.settings.random)) {
      if (fault.at > horizonMs) break;
      planned.push(fault);
    }
    return planned;
  }

  /**
   * Stops listening, destroys every connection and cancels every timer; resolves once every socket
   * is closed, leaving no open handle. Idempotent: later calls return the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.clearTimer(this.scheduleTimer);
    this.clearTimer(this.manualStallTimer);
    this.clearTimer(this.randomStallTimer);
    this.scheduleTimer = this.manualStallTimer = this.randomStallTimer = undefined;
    this.schedule = undefined;
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    for (const connection of [...this.connections]) connection.destroy();
    for (const socket of this.sockets) socket.destroy();
    const socketsClosed = new Promise<void>((resolve) => {
      if (this.sockets.size === 0) resolve();
      else this.socketsGone = resolve;
    });
    await Promise.all([serverClosed, socketsClosed]);
    // why: 'close' fires before libuv has released the listening handle; one turn later it is gone.
    await new Promise<void>((resolve) => setImmediate(resolve));
    log('[%d] stopped', this.listeningPort);
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
        if (typeof address === 'object' && address !== null) {
          this.listeningPort = address.port;
          this.listeningHost = address.address;
        }
        this.server.on('error', (err) => log('[%d] listener error: %s', this.listeningPort, err.message));
        log('[%d] forwarding to %s:%d (seed %d)', this.listeningPort, this.settings.targetHost, this.settings.targetPort, this.seed);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen({ port: this.settings.port, host: this.settings.host });
    });
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.stopping || this.refusing) {
      if (this.refusing) this.counters.refused += 1;
      log('[%d] refused a connection', this.listeningPort);
      client.destroy();
      return;
    }
    const upstream = connectTcp({ host: this.settings.targetHost, port: this.settings.targetPort, allowHalfOpen: true });
    this.track(upstream);
    const id = this.nextId++;
    this.counters.connections += 1;
    const connection = new ProxiedConnection(id, `${this.listeningPort}/${id}`, client, upstream, this.conditions, {
      cut: (c) => this.cutOne(c),
      gone: (c) => this.connections.delete(c),
    });
    this.connections.add(connection);
    log('[%d/%d] accepted from port %s', this.listeningPort, id, String(client.remotePort));
    if (this.onConnection) {
      try {
        this.onConnection(connection);
      } catch (err) {
        log('[%d/%d] onConnection threw: %O', this.listeningPort, id, err);
      }
    }
    // why: the server pauses new sockets (pauseOnConnect) so no byte is read before the pipes listen.
    if (!client.destroyed) client.resume();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) this.socketsGone?.();
    });
  }

  private cutAll(source: 'manual' | 'random'): void {
    const victims = [...this.connections];
    this.record({ kind: 'cut', source, connections: victims.length });
    this.counters.cuts += victims.length;
    log('[%d] %s cut of %d connection(s)', this.listeningPort, source, victims.length);
    for (const connection of victims) connection.destroy();
  }

  private cutOne(connection: ProxiedConnection): void {
    if (!this.connections.has(connection)) return;
    this.record({ kind: 'cut', source: 'manual', connections: 1 });
    this.counters.cuts += 1;
    connection.destroy();
  }

  private recordStall(source: 'manual' | 'random', duration: number | undefined): void {
    this.counters.stalls += 1;
    this.record({ kind: 'stall', source, duration, connections: this.connections.size });
  }

  private record(fault: Omit<FaultProxyFaultRecord, 'at'>): void {
    const at = Math.round((this.clock.now() - this.startedAt) * 1000) / 1000;
    const { duration, ...rest } = fault;
    this.faultLog.push(duration === undefined ? { at, ...rest } : { at, ...rest, duration });
  }

  private updateStall(): void {
    const stalled = this.manualStall || this.randomStall;
    if (stalled === this.conditions.stalled) return;
    this.conditions.stalled = stalled;
    log('[%d] %s', this.listeningPort, stalled ? 'stalled' : 'resumed');
    if (!stalled) this.pumpAll();
  }

  private pumpAll(): void {
    for (const connection of this.connections) connection.pump();
  }

  private startSchedule(): void {
    if (!this.settings.random) return;
    this.schedule = planFaults(this.seed, this.settings.random)[Symbol.iterator]();
    this.scheduleNext();
  }

  private scheduleNext(): void {
    const next = this.schedule?.next();
    if (!next || next.done) return;
    const fault = next.value;
    // why: timed from start, not from the previous timer, so late timers do not shift the schedule.
    const delay = Math.max(0, this.startedAt + fault.at - this.clock.now());
    this.scheduleTimer = this.clock.setTimeout(() => {
      this.scheduleTimer = undefined;
      try {
        this.inject(fault);
      } catch (err) {
        log('[%d] random fault failed: %O', this.listeningPort, err);
      }
      this.scheduleNext();
    }, delay);
  }

  private inject(fault: FaultProxyPlannedFault): void {
    if (fault.kind === 'cut') {
      this.cutAll('random');
      return;
    }
    this.clearTimer(this.randomStallTimer);
    this.randomStall = true;
    this.recordStall('random', fault.duration);
    this.randomStallTimer = this.clock.setTimeout(() => {
      this.randomStallTimer = undefined;
      this.randomStall = false;
      this.updateStall();
    }, fault.duration);
    this.updateStall();
  }

  private clearTimer(handle: unknown): void {
    if (handle !== undefined) this.clock.clearTimeout(handle);
  }
}

// ---------------------------------------------------------------------------------------------
// one forwarded connection: two sockets, two pipes

interface ConnectionOwner {
  cut(connection: ProxiedConnection): void;
  gone(connection: ProxiedConnection): void;
}

class ProxiedConnection implements FaultProxyConnection {
  readonly clientPort: number | undefined;
  private readonly up: Pipe;
  private readonly down: Pipe;
  private closedSockets = 0;
  private destroyed = false;

  constructor(
    readonly id: number,
    private readonly tag: string,
    private readonly client: Socket,
    private readonly upstream: Socket,
    conditions: Conditions,
    private readonly owner: ConnectionOwner,
  ) {
    this.clientPort = client.remotePort;
    // Frames are small and often answered by one frame; Nagle would hold them (see EmbeddedBroker).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.up = new Pipe('up', client, upstream, conditions);
    this.down = new Pipe('down', upstream, client, conditions);
    upstream.on('connect', () => {
      log('[%s] connected to the target', tag);
      this.up.pump();
    });
    for (const [socket, side] of [
      [client, 'client'],
      [upstream, 'target'],
    ] as const) {
      socket.on('error', (err: NodeJS.ErrnoException) => log('[%s] %s socket: %s', tag, side, err.code ?? err.message));
      socket.on('close', (hadError: boolean) => this.onClose(side, hadError));
    }
  }

  cut(): void {
    this.owner.cut(this);
  }

  pump(): void {
    this.up.pump();
    this.down.pump();
  }

  resetThrottle(): void {
    this.up.resetThrottle();
    this.down.resetThrottle();
  }

  buffered(): number {
    return this.up.queued + this.down.queued;
  }

  /** Destroys both sockets at once and drops what is held; safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.up.dispose();
    this.down.dispose();
    this.client.destroy();
    this.upstream.destroy();
    this.owner.gone(this);
  }

  private onClose(side: 'client' | 'target', hadError: boolean): void {
    this.closedSockets += 1;
    if (this.destroyed) return;
    if (hadError) {
      // An abort on one side (reset, refused, broken pipe) aborts the other: nothing more can be delivered.
      log('[%s] %s side failed, closing the other side', this.tag, side);
      this.destroy();
      return;
    }
    // A clean close means both directions of that socket ended; the other side finishes on its own
    // once what is held for it is flushed (the pipe ends it), so only forget the connection then.
    if (this.closedSockets === 2) {
      this.up.dispose();
      this.down.dispose();
      this.destroyed = true;
      this.owner.gone(this);
      log('[%s] closed', this.tag);
    }
  }
}

interface Chunk {
  data: Buffer;
  offset: number;
  arrivedAt: number;
}

/** Forwards one direction in order, with latency, bandwidth, stall and backpressure. */
class Pipe {
  queued = 0;
  private chunks: Chunk[] = [];
  private first = 0;
  private sourcePaused = false;
  private sourceEnded = false;
  private endSent = false;
  private waitingForDrain = false;
  private timer: unknown;
  private timerDue = Infinity;
  private nextFreeAt = 0;
  private disposed = false;

  constructor(
    private readonly direction: Direction,
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly conditions: Conditions,
  ) {
    from.on('data', (data: Buffer) => this.push(data));
    from.on('end', () => {
      this.sourceEnded = true;
      this.pump();
    });
    to.on('drain', () => {
      this.waitingForDrain = false;
      this.pump();
    });
  }

  resetThrottle(): void {
    this.nextFreeAt = 0;
  }

  dispose(): void {
    this.disposed = true;
    this.cancelTimer();
    this.chunks = [];
    this.first = 0;
    this.queued = 0;
  }

  /** Writes what is due now and sets a timer for the rest; never throws. */
  pump(): void {
    if (this.disposed) return;
    const { conditions, to } = this;
    while (!conditions.stalled) {
      if (to.destroyed || to.writableEnded) {
        this.dispose();
        return;
      }
      if (to.connecting || this.waitingForDrain) return;
      const chunk = this.chunks[this.first];
      if (!chunk) {
        if (this.sourceEnded && !this.endSent) {
          this.endSent = true;
          to.end();
        }
        return;
      }
      const now = conditions.clock.now();
      const due = chunk.arrivedAt + conditions.latency;
      if (due > now) {
        this.wakeAt(due, now);
        return;
      }
      let size = chunk.data.length - chunk.offset;
      if (Number.isFinite(conditions.bandwidth)) {
        if (this.nextFreeAt > now) {
          this.wakeAt(this.nextFreeAt, now);
          return;
        }
        const slice = Math.max(1, Math.min(MAX_SLICE, Math.floor((conditions.bandwidth * SLICE_MS) / 1000)));
        size = Math.min(size, slice);
        // why: from max(…, now), so an idle link does not save up credit for a burst.
        this.nextFreeAt = Math.max(this.nextFreeAt, now) + (size * 1000) / conditions.bandwidth;
      }
      const bytes = chunk.data.subarray(chunk.offset, chunk.offset + size);
      chunk.offset += size;
      if (chunk.offset === chunk.data.length) this.shift();
      this.queued -= size;
      conditions.forwarded(this.direction, size);
      if (!to.write(bytes)) this.waitingForDrain = true;
      this.resumeSourceIfRoom();
    }
  }

  private push(data: Buffer): void {
    if (this.disposed) return;
    this.chunks.push({ data, offset: 0, arrivedAt: this.conditions.clock.now() });
    this.queued += data.length;
    if (this.queued >= this.conditions.bufferSize && !this.sourcePaused) {
      this.sourcePaused = true;
      this.from.pause();
    }
    this.pump();
  }

  private shift(): void {
    this.first += 1;
    // Compact now and then instead of Array#shift on every chunk.
    if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    } else if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    }
  }

  private resumeSourceIfRoom(): void {
    if (this.sourcePaused && this.queued <= this.conditions.bufferSize / 2 && !this.from.destroyed) {
      this.sourcePaused = false;
      this.from.resume();
    }
  }

  private wakeAt(due: number, now: number): void {
    if (this.timer !== undefined && this.timerDue <= due) return;
    this.cancelTimer();
    this.timerDue = due;
    this.timer = this.conditions.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.pump();
    }, Math.max(1, Math.ceil(due - now)));
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.conditions.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }
}

// ---------------------------------------------------------------------------------------------
// the seeded schedule

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same sequence in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function draw(random: () => number, [min, max]: FaultProxyRange): number {
  return Math.round(min + random() * (max - min));
}

function* cutTimes(seed: number, every: FaultProxyRange): Generator<FaultProxyPlannedFault> {
  const random = mulberry32(seed ^ CUT_SALT);
  let at = 0;
  for (;;) {
    at += draw(random, every);
    yield { at, kind: 'cut' };
  }
}

function* stallTimes(seed: number, every: FaultProxyRange, lasting: FaultProxyRange): Generator<FaultProxyPlannedFault> {
  const random = mulberry32(seed ^ STALL_SALT);
  let at = 0;
  for (;;) {
    at += draw(random, every);
    const duration = draw(random, lasting);
    yield { at, kind: 'stall', duration };
    at += duration;
  }
}

/** The merged, endless, time-ordered schedule (cuts before stalls at equal times). */
function* planFaults(seed: number, random: ResolvedRandom): Generator<FaultProxyPlannedFault> {
  const cuts = random.cutEvery ? cutTimes(seed, random.cutEvery) : undefined;
  const stalls = random.stallEvery ? stallTimes(seed, random.stallEvery, random.stallFor) : undefined;
  let cut = cuts?.next().value as FaultProxyPlannedFault | undefined;
  let stall = stalls?.next().value as FaultProxyPlannedFault | undefined;
  while (cut || stall) {
    if (cut && (!stall || cut.at <= stall.at)) {
      yield cut;
      cut = cuts?.next().value as FaultProxyPlannedFault | undefined;
    } else if (stall) {
      yield stall;
      stall = stalls?.next().value as FaultProxyPlannedFault | undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// options

function resolveSettings(options: FaultProxyOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'FaultProxy options must be an object with at least a target');
  }
  const target = resolveTarget(options.target);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('port', `port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new ConfigError('host', `FaultProxy listens on loopback only (127.x.x.x, ::1 or localhost), got '${String(host)}'`);
  }
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) {
    throw new ConfigError('seed', `seed must be an integer, got ${String(options.seed)}`);
  }
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
  if (!Number.isInteger(bufferSize) || bufferSize < 1) {
    throw new ConfigError('bufferSize', `bufferSize must be a positive integer of bytes, got ${String(options.bufferSize)}`);
  }
  if (options.onConnection !== undefined && typeof options.onConnection !== 'function') {
    throw new ConfigError('onConnection', 'onConnection must be a function (connection) => void');
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new ConfigError('clock', 'clock needs now(), setTimeout(callback, ms) and clearTimeout(handle)');
  }
  return {
    host,
    port,
    ...target,
    seed: options.seed ?? Math.floor(Math.random() * 2 ** 32),
    random: resolveRandom(options.random),
    latency: checkLatency(options.latency ?? 0, 'latency'),
    bandwidth: checkBandwidth(options.bandwidth ?? Infinity, 'bandwidth'),
    bufferSize,
    clock,
  };
}

function resolveTarget(target: FaultProxyOptions['target']): Pick<Settings, 'targetHost' | 'targetPort' | 'scheme'> {
  if (typeof target === 'string') {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new ConfigError('target', `target must be a URL like 'amqp://127.0.0.1:5672' or { host, port }, got '${target}'`);
    }
    const scheme = url.protocol === 'amqps:' ? 'amqps' : 'amqp';
    const defaultPort = { 'amqp:': 5672, 'amqps:': 5671 }[url.protocol];
    const port = url.port ? Number(url.port) : defaultPort;
    if (!url.hostname || port === undefined) {
      throw new ConfigError('target', `target needs a host and a port (or an amqp/amqps scheme), got '${target}'`);
    }
    return { targetHost: url.hostname.replace(/^\[|\]$/g, ''), targetPort: port, scheme };
  }
  if (typeof target !== 'object' || target === null || typeof target.host !== 'string' || target.host === '') {
    throw new ConfigError('target', 'target must be a URL like amqp://127.0.0.1:5672 or { host, port }');
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    throw new ConfigError('target.port', `target.port must be an integer from 1 to 65535, got ${String(target.port)}`);
  }
  return { targetHost: target.host, targetPort: target.port, scheme: 'amqp' };
}

function resolveRandom(random: FaultProxyRandomFaults | undefined): ResolvedRandom | undefined {
  if (random === undefined) return undefined;
  if (typeof random !== 'object' || random === null) {
    throw new ConfigError('random', 'random must be an object like { cutEvery: [min, max] }');
  }
  const cutEvery = random.cutEvery && checkRange(random.cutEvery, 'random.cutEvery', true);
  const stallEvery = random.stallEvery && checkRange(random.stallEvery, 'random.stallEvery', true);
  const stallFor = checkRange(random.stallFor ?? DEFAULT_STALL_FOR, 'random.stallFor', false);
  if (!cutEvery && !stallEvery) return undefined;
  return { cutEvery, stallEvery, stallFor };
}

function checkRange(range: FaultProxyRange, name: string, positive: boolean): FaultProxyRange {
  const ok =
    Array.isArray(range) &&
    range.length === 2 &&
    range.every((value) => typeof value === 'number' && Number.isFinite(value)) &&
    (positive ? range[0] > 0 : range[0] >= 0) &&
    range[0] <= range[1];
  if (!ok) {
    const low = positive ? '0 < min' : '0 ≤ min';
    throw new ConfigError(name, `${name} must be [min, max] in ms with ${low} ≤ max, got ${JSON.stringify(range)}`);
  }
  return [range[0], range[1]];
}

function checkLatency(latency: number, name = 'latency'): number {
  if (typeof latency !== 'number' || !Number.isFinite(latency) || latency < 0) {
    throw new ConfigError(name, `${name} must be a non-negative number of milliseconds, got ${String(latency)}`);
  }
  return latency;
}

function checkBandwidth(bandwidth: number, name = 'bandwidth'): number {
  if (typeof bandwidth !== 'number' || Number.isNaN(bandwidth) || bandwidth <= 0) {
    throw new ConfigError(name, `${name} must be a positive number of bytes per second (Infinity for none), got ${String(bandwidth)}`);
  }
  return bandwidth;
}

function isLoopback(host: unknown): host is string {
  if (typeof host !== 'string') return false;
  if (host === 'localhost' || host === '::1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
