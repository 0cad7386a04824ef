/**
 * FaultProxy between raw rhea clients and an EmbeddedBroker, and between plain sockets and an echo
 * or sink server: forwarding, cut, refuse, stall, throttling, the seeded schedule and teardown.
 */
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import rhea from 'rhea';
import type { Connection, ConnectionOptions, Delivery, EventContext, Message } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker, FaultProxy, type FaultProxyOptions } from '../../src/testing/index.js';

// ---------------------------------------------------------------------------------------------
// helpers

type Clock = NonNullable<FaultProxyOptions['clock']>;

const proxies: FaultProxy[] = [];
const brokers: EmbeddedBroker[] = [];
const servers: Server[] = [];
const serverSockets = new Set<Socket>();
const sockets: Socket[] = [];
const clients: Connection[] = [];

afterEach(async () => {
  for (const connection of clients.splice(0)) {
    try {
      if (!connection.is_closed()) connection.close();
    } catch {
      // already gone
    }
  }
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
  for (const socket of serverSockets) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function startProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = await FaultProxy.start(options);
  proxies.push(proxy);
  return proxy;
}

async function startBroker(): Promise<EmbeddedBroker> {
  const broker = await EmbeddedBroker.start();
  brokers.push(broker);
  return broker;
}

/** A TCP server on port 0: `echo` writes back what it reads (and ends when the client ends), `sink` counts it. */
async function startServer(kind: 'echo' | 'sink'): Promise<{ port: number; received: () => number; open: () => number }> {
  let received = 0;
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    serverSockets.add(socket);
    open.add(socket);
    socket.on('close', () => {
      serverSockets.delete(socket);
      open.delete(socket);
    });
    socket.on('error', () => {});
    if (kind === 'echo') socket.pipe(socket);
    else socket.on('data', (data: Buffer) => (received += data.length)).on('end', () => socket.end());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return { port: address.port, received: () => received, open: () => open.size };
}

/** A plain socket to `port` that records what it reads. */
async function openSocket(port: number): Promise<{ socket: Socket; data: () => Buffer; ended: Promise<void>; closed: Promise<void> }> {
  const socket = connectTcp({ port, host: '127.0.0.1' });
  sockets.push(socket);
  socket.setNoDelay(true);
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve) => socket.once('end', resolve));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, data: () => Buffer.concat(chunks), ended, closed };
}

/** A payload whose every byte depends on its position, so reordering or loss shows. */
function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

interface EventSource {
  once(event: string, listener: (context: EventContext) => void): unknown;
  off(event: string, listener: (context: EventContext) => void): unknown;
}

function next(source: EventSource, event: string, timeoutMs = 3000): Promise<EventContext> {
  return new Promise((resolve, reject) => {
    const listener = (context: EventContext): void => {
      clearTimeout(timer);
      resolve(context);
    };
    const timer = setTimeout(() => {
      source.off(event, listener);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    source.once(event, listener);
  });
}

/** A raw rhea client connection to `port` (own container, no reconnect, nothing printed). */
function connect(port: number): Connection {
  const container = rhea.create_container();
  for (const event of ['error', 'disconnected', 'protocol_error', 'connection_error', 'session_error']) {
    container.on(event, () => {});
  }
  const connection = container.connect({ host: '127.0.0.1', port, reconnect: false } as ConnectionOptions);
  clients.push(connection);
  return connection;
}

async function connected(port: number): Promise<Connection> {
  const connection = connect(port);
  await next(connection, 'connection_open');
  return connection;
}

function receiver(connection: Connection, source: string, credit: number): Array<{ message: Message; delivery: Delivery }> {
  const link = connection.open_receiver({ source, credit_window: 0, autoaccept: false });
  const got: Array<{ message: Message; delivery: Delivery }> = [];
  link.on('message', (context: EventContext) => {
    if (context.message && context.delivery) got.push({ message: context.message, delivery: context.delivery });
  });
  link.on('receiver_error', () => {});
  link.add_credit(credit);
  return got;
}

/** Round trip of one byte through the echo server behind the proxy, in ms. */
async function roundTrip(client: { socket: Socket; data: () => Buffer }): Promise<number> {
  const before = client.data().length;
  const started = performance.now();
  client.socket.write('x');
  await waitFor(() => client.data().length > before, 'the echo');
  return performance.now() - started;
}

/** A clock that moves only when told to; timers run in time order, then in the order they were set. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let sequence = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout(callback, ms) {
      sequence += 1;
      timers.set(sequence, { at: now + ms, callback });
      return sequence;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let due: [number, { at: number; callback: () => void }] | undefined;
        for (const entry of timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].callback();
      }
      now = end;
    },
  };
}

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

// ---------------------------------------------------------------------------------------------

describe('FaultProxy', () => {
  describe('forwarding', () => {
    it('carries 100 AMQP messages to the broker and back, in order', async () => {
      const broker = await startBroker();
      const proxy = await startProxy({ target: broker.url });
      expect(proxy.url).toBe(`amqp://127.0.0.1:${proxy.port}`);
      const connection = await connected(proxy.port);
      const got = receiver(connection, 'q', 100);
      const link = connection.open_sender({ target: 'q' });
      let accepted = 0;
      link.on('accepted', () => (accepted += 1));
      await next(link, 'sendable');
      for (let i = 0; i < 100; i++) link.send({ body: `m${i}` });
      await waitFor(() => got.length === 100 && accepted === 100, '100 messages and outcomes');
      expect(got.map((g) => g.message.body)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
      expect(proxy.connectionCount()).toBe(1);
      const stats = proxy.stats();
      expect(stats).toMatchObject({ connections: 1, cuts: 0, refused: 0, buffered: 0 });
      expect(stats.bytesUp).toBeGreaterThan(100 * 10);
      expect(stats.bytesDown).toBeGreaterThan(100 * 10);
    });

    it('forwards raw bytes in order and passes a half-close through', async () => {
      const echo = await startServer('echo');
      const proxy = await startProxy({ target: { host: '127.0.0.1', port: echo.port } });
      const client = await openSocket(proxy.port);
      const payload = pattern(1 << 20);
      client.socket.end(payload);
      await client.ended;
      expect(client.data().equals(payload)).toBe(true);
      await client.closed;
      await waitFor(() => proxy.connectionCount() === 0, 'the connection to be forgotten');
      expect(proxy.stats()).toMatchObject({ bytesUp: payload.length, bytesDown: payload.length });
    });

    it('closes the client side when the target is down', async () => {
      const gone = await startServer('sink');
      const port = gone.port;
      await new Promise<void>((resolve) => servers.pop()?.close(() => resolve()));
      const proxy = await startProxy({ target: `amqp://127.0.0.1:${port}` });
      const connection = connect(proxy.port);
      await next(connection, 'disconnected');
      expect(proxy.connectionCount()).toBe(0);
    });
  });

  describe('faults on command', () => {
    it('cut() drops both sides without close frames; the broker requeues; new connections still work', async () => {
      const broker = await startBroker();
      broker.enqueue('q', { body: 'a' }, { body: 'b' }, { body: 'c' });
      const proxy = await startProxy({ target: broker.url });
      const connection = await connected(proxy.port);
      const got = receiver(connection, 'q', 3);
      await waitFor(() => got.length === 3, '3 deliveries');
      expect(broker.unsettledCount('q')).toBe(3);
      let closeFrame = false;
      connection.on('connection_close', () => (closeFrame = true));
      const disconnected = next(connection, 'disconnected');
      proxy.cut();
      expect(proxy.connectionCount()).toBe(0);
      await disconnected;
      expect(closeFrame).toBe(false);
      await waitFor(() => broker.connectionCount() === 0, 'the broker to see the cut');
      expect(broker.queueDepth('q')).toBe(3);
      expect(broker.messages('q').map((m) => [m.message.body, m.deliveryCount])).toEqual([
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ]);
      expect(proxy.stats().cuts).toBe(1);
      expect(proxy.faults()).toEqual([{ at: expect.any(Number), kind: 'cut', source: 'manual', connections: 1 }]);
      const again = receiver(await connected(proxy.port), 'q', 3);
      await waitFor(() => again.length === 3, 'redelivery through the proxy');
    });

    it('refuse() destroys new connections until turned off, and leaves open ones alone', async () => {
      const broker = await startBroker();
      const proxy = await startProxy({ target: broker.url });
      const open = await connected(proxy.port);
      proxy.refuse();
      const refused = connect(proxy.port);
      let opened = false;
      refused.on('connection_open', () => (opened = true));
      await next(refused, 'disconnected');
      expect(opened).toBe(false);
      expect(proxy.stats()).toMatchObject({ connections: 1, refused: 1 });
      expect(broker.connectionCount()).toBe(1);
      expect(open.is_open()).toBe(true);
      proxy.refuse(false);
      await connected(proxy.port);
      expect(broker.connectionCount()).toBe(2);
    });

    it('stall() holds AMQP traffic and resume() delivers all of it in order', async () => {
      const broker = await startBroker();
      const proxy = await startProxy({ target: broker.url });
      const connection = await connected(proxy.port);
      const got = receiver(connection, 'q', 50);
      await waitFor(() => broker.stats('q').creditGranted === 50, 'credit at the broker');
      proxy.stall();
      expect(proxy.stalled).toBe(true);
      broker.enqueue('q', ...Array.from({ length: 50 }, (_, i) => ({ body: i })));
      await delay(150);
      expect(got).toHaveLength(0);
      expect(proxy.stats().buffered).toBeGreaterThan(0);
      proxy.resume();
      await waitFor(() => got.length === 50, '50 deliveries');
      expect(got.map((g) => g.message.body)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(proxy.stats()).toMatchObject({ stalls: 1, buffered: 0 });
    });

    it('stall(ms) ends by itself, holding end-of-stream too', async () => {
      const echo = await startServer('echo');
      const proxy = await startProxy({ target: { host: '127.0.0.1', port: echo.port } });
      const client = await openSocket(proxy.port);
      const started = performance.now();
      proxy.stall(120);
      client.socket.end('hello');
      await client.ended;
      expect(performance.now() - started).toBeGreaterThanOrEqual(115);
      expect(client.data().toString()).toBe('hello');
      expect(proxy.stalled).toBe(false);
      expect(proxy.faults()).toEqual([{ at: expect.any(Number), kind: 'stall', source: 'manual', duration: 120, connections: 1 }]);
    });

    it('a stall holds at most bufferSize plus one read per direction; the rest backs up to the sender', async () => {
      const echo = await startServer('echo');
      const bufferSize = 32 * 1024;
      const proxy = await startProxy({ target: { host: '127.0.0.1', port: echo.port }, bufferSize });
      const client = await openSocket(proxy.port);
      proxy.stall();
      const payload = pattern(16 << 20);
      client.socket.end(payload);
      await delay(200);
      const held = proxy.stats();
      expect(held.bytesUp).toBe(0);
      expect(held.buffered).toBeGreaterThan(0);
      expect(held.buffered).toBeLessThanOrEqual(bufferSize + 64 * 1024);
      expect(client.socket.writableLength).toBeGreaterThan(0);
      proxy.resume();
      await client.ended;
      expect(client.data().equals(payload)).toBe(true);
    });

    it('onConnection hands out each connection, which can be cut alone', async () => {
      const echo = await startServer('echo');
      const seen: Array<{ id: number; cut(): void }> = [];
      const proxy = await startProxy({
        target: { host: '127.0.0.1', port: echo.port },
        onConnection: (connection) => seen.push(connection),
      });
      const first = await openSocket(proxy.port);
      const second = await openSocket(proxy.port);
      await waitFor(() => seen.length === 2, 'two connections');
      expect(seen.map((c) => c.id)).toEqual([1, 2]);
      seen[0]?.cut();
      await first.closed;
      expect(await roundTrip(second)).toBeLessThan(1000);
      expect(proxy.connectionCount()).toBe(1);
      expect(proxy.stats().cuts).toBe(1);
    });
  });

  describe('throttling', () => {
    it('latency delays every chunk each way, and slow() changes it live', async () => {
      const echo = await startServer('echo');
      const proxy = await startProxy({ target: { host: '127.0.0.1', port: echo.port }, latency: 60 });
      const client = await openSocket(proxy.port);
      const slowTrip = await roundTrip(client);
      expect(slowTrip).toBeGreaterThanOrEqual(120);
      expect(slowTrip).toBeLessThan(1000);
      proxy.slow({ latency: 0 });
      expect(await roundTrip(client)).toBeLessThan(60);
    });

    it('bandwidth caps a big transfer, and slow() lifts the cap', async () => {
      const sink = await startServer('sink');
      const proxy = await startProxy({ target: { host: '127.0.0.1', port: sink.port }, bandwidth: 256 * 1024 });
      const client = await openSocket(proxy.port);
      const size = 128 * 1024;
      let started = performance.now();
      client.socket.write(pattern(size));
      await waitFor(() => sink.received() === size, 'the capped transfer');
      const capped = performance.now() - started;
      expect(capped).toBeGreaterThanOrEqual(400); // 0.5 s at the cap, less one 20 ms slice
      expect(capped).toBeLessThan(3000);
      proxy.slow({ bandwidth: Infinity });
      started = performance.now();
      client.socket.write(pattern(size));
      await waitFor(() => sink.received() === 2 * size, 'the free transfer');
      expect(performance.now() - started).toBeLessThan(capped / 2);
    });
  });

  describe('random faults', () => {
    const random = { cutEvery: [100, 400], stallEvery: [200, 600], stallFor: [50, 150] } as const;

    it('the same seed plans and injects the same faults; another seed does not', async () => {
      const target = { host: '127.0.0.1', port: 9 };
      const clocks = [manualClock(), manualClock(), manualClock()];
      const [a, b, c] = await Promise.all(
        [42, 42, 7].map((seed, i) => startProxy({ target, seed, random, clock: clocks[i] as Clock })),
      );
      if (!a || !b || !c) throw new Error('proxies not started');
      const plan = a.plannedFaults(5000);
      expect(plan.length).toBeGreaterThan(10);
      expect(b.plannedFaults(5000)).toEqual(plan);
      expect(c.plannedFaults(5000)).not.toEqual(plan);
      expect(a.seed).toBe(42);

      const cuts = plan.filter((f) => f.kind === 'cut').map((f) => f.at);
      cuts.forEach((at, i) => expect(at - (cuts[i - 1] ?? 0)).toBeGreaterThanOrEqual(100));
      cuts.forEach((at, i) => expect(at - (cuts[i - 1] ?? 0)).toBeLessThanOrEqual(400));
      for (const fault of plan) if (fault.kind === 'stall') expect(fault.duration).toBeGreaterThanOrEqual(50);

      for (const clock of clocks) clock.advance(5000);
      const injected = (proxy: FaultProxy) =>
        proxy.faults().map(({ at, kind, duration }) => (kind === 'cut' ? { at, kind } : { at, kind, duration }));
      expect(injected(a)).toEqual(plan);
      expect(injected(b)).toEqual(plan);
      expect(injected(c)).toEqual(c.plannedFaults(5000));
      expect(a.stats().stalls).toBe(plan.filter((f) => f.kind === 'stall').length);
    });

    it('random cuts hit live connections, and clients can come back', async () => {
      const echo = await startServer('echo');
      const proxy = await startProxy({ target: { host: '127.0.0.1', port: echo.port }, seed: 1, random: { cutEvery: [150, 200] } });
      const client = await openSocket(proxy.port);
      await client.closed;
      await waitFor(() => proxy.faults().some((f) => f.connections === 1), 'a recorded cut');
      expect(proxy.faults().every((f) => f.kind === 'cut' && f.source === 'random')).toBe(true);
      expect(proxy.stats().cuts).toBe(1);
      // The next cut is at least 150 ms away: time enough to come back and be served.
      const again = await openSocket(proxy.port);
      expect(await roundTrip(again)).toBeLessThan(100);
    });
  });

  describe('lifecycle', () => {
    it('stop() is idempotent and leaves no listener, socket or timer behind', async () => {
      const echo = await startServer('echo');
      await delay(20); // let sockets of earlier tests finish closing
      const baseline = countResources();
      const proxy = await startProxy({ target: { host: '127.0.0.1', port: echo.port }, latency: 500, random: { stallEvery: [1000, 2000] } });
      const client = await openSocket(proxy.port);
      client.socket.write('held by the latency');
      proxy.stall(10_000);
      await waitFor(() => echo.open() === 1, 'the target connection');
      const first = proxy.stop();
      expect(proxy.stop()).toBe(first);
      await first;
      await client.closed;
      await waitFor(() => echo.open() === 0, 'the target side to close');
      expect(proxy.connectionCount()).toBe(0);
      const after = countResources();
      expect(after.TCPServerWrap ?? 0).toBe(baseline.TCPServerWrap ?? 0);
      expect(after.TCPSocketWrap ?? 0).toBe(baseline.TCPSocketWrap ?? 0);
      expect(after.Timeout ?? 0).toBeLessThanOrEqual(baseline.Timeout ?? 0);
      await expect(openSocket(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('rejects invalid options with a ConfigError naming the option', async () => {
      const target = 'amqp://127.0.0.1:5672';
      const cases: Array<[FaultProxyOptions, string]> = [
        [{ target: 'not a url' }, 'target'],
        [{ target, host: '0.0.0.0' }, 'host'],
        [{ target, latency: -1 }, 'latency'],
        [{ target, bandwidth: 0 }, 'bandwidth'],
        [{ target, random: { cutEvery: [0, 10] } }, 'random.cutEvery'],
        [{ target, random: { stallEvery: [10, 20], stallFor: [30, 20] } }, 'random.stallFor'],
        [{ target, seed: 1.5 }, 'seed'],
      ];
      for (const [options, option] of cases) {
        await expect(FaultProxy.start(options)).rejects.toMatchObject({ name: 'ConfigError', option });
      }
      const proxy = await startProxy({ target });
      expect(() => proxy.slow({ latency: Number.NaN })).toThrow(expect.objectContaining({ name: 'ConfigError' }));
      expect(() => proxy.stall(-5)).toThrow(expect.objectContaining({ name: 'ConfigError' }));
    });
  });
});
