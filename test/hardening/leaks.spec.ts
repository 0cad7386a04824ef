/**
 * Leaks: thousands of receive and send subscriptions, reconnects and client closes against an
 * EmbeddedBroker must leave nothing behind — no listener on the rhea connection or container, no
 * session, no timer or socket (`process.getActiveResourcesInfo()`), and nothing the garbage collector
 * cannot take back: every subscriber, delivery, rhea connection and client of a finished cycle is
 * tracked with a WeakRef and must be collected (a real `gc()`, exposed at run time with
 * `v8.setFlagsFromString('--expose-gc')`, so no `--expose-gc` flag or config is needed). The heap
 * after the last batch of cycles must be within a few MB of the heap after the first batch.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Connection } from 'rhea';
import { lastValueFrom, of, Subject, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Client, createClient, type Delivery, message } from 'rhea-rx';
import { connectionManagerOf } from '../../src/client/Client.js';
import { sleep, useBroker, waitFor } from '../support/embedded.js';
import { timed, watchProcess } from './support/guards.js';
import { type PeerConnection, RawPeer } from './support/rawPeer.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

watchProcess({ allowConsoleLog: true });

/** Collects everything collectable: two full collections with a turn of the event loop between (WeakRefs clear after the job). */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(10);
  }
}

/** Objects that must become garbage; `alive()` counts those that did not. */
class Tracker {
  readonly #refs: WeakRef<object>[] = [];
  readonly labels: string[] = [];
  track<T extends object>(value: T, label = ''): T {
    this.#refs.push(new WeakRef(value));
    this.labels.push(label);
    return value;
  }
  async aliveLabels(): Promise<string[]> {
    await collect();
    return this.labels.filter((_, i) => this.#refs[i]!.deref() !== undefined);
  }
  get tracked(): number {
    return this.#refs.length;
  }
}

/** Listener count of every event of an emitter. */
function listeners(emitter: { eventNames(): Array<string | symbol>; listenerCount(name: string | symbol): number }): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0);
}

/** Active handles and requests by type (Timeout, TCPSocketWrap, …), minus the ones test tooling keeps. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** The resource types of which there are more now than in `before` (transient timers that ended are fine). */
function grown(before: Record<string, number>): Record<string, number> {
  const now = resources();
  const more: Record<string, number> = {};
  for (const [type, count] of Object.entries(now)) if (count > (before[type] ?? 0)) more[type] = count - (before[type] ?? 0);
  return more;
}

/** Waits up to `timeout` ms for no resource type to have grown since `before`, then asserts it. */
async function expectNoGrowth(before: Record<string, number>, timeout = 2000): Promise<void> {
  await waitFor(() => Object.keys(grown(before)).length === 0, 'timers and sockets back to the baseline', timeout).catch(() => undefined);
  expect(grown(before), 'active resources (process.getActiveResourcesInfo) grown since the baseline').toEqual({});
}

interface Snapshot {
  readonly connectionListeners: number;
  readonly containerListeners: number;
  readonly sessions: number;
  readonly remoteSessions: number;
}

function snapshot(client: Client, connection: Connection): Snapshot {
  const internals = connection as unknown as { local_channel_map: object; remote_channel_map: object };
  return {
    connectionListeners: listeners(connection as unknown as Parameters<typeof listeners>[0]),
    containerListeners: listeners(connectionManagerOf(client).container as unknown as Parameters<typeof listeners>[0]),
    sessions: Object.keys(internals.local_channel_map).length,
    remoteSessions: Object.keys(internals.remote_channel_map).length,
  };
}

/** The snapshot of the client's current connection once every session it began is begun by the peer too. */
async function settledSnapshot(client: Client): Promise<Snapshot> {
  const connection = await connectionManagerOf(client).acquire();
  await waitFor(() => {
    const s = snapshot(client, connection);
    return s.sessions === s.remoteSessions;
  }, 'every session begun on both sides');
  return snapshot(client, connection);
}

function heapMB(): number {
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

describe('leaks (EmbeddedBroker)', () => {
  const env = useBroker();

  it('4,000 receive and send subscriptions, held deliveries released at each end, leave nothing behind', async () => {
    const broker = await env.start();
    broker.enqueue('r', ...Array.from({ length: 200 }, (_, i) => ({ body: i })));
    const client = env.client({ reconnect: { initialDelay: 10 } });
    const connection = await connectionManagerOf(client).acquire();
    // Warm up: one of each, so lazily created state (rhea's caches, JIT) is in the baseline.
    await lastValueFrom(of(0).pipe(client.send('s')));
    const warm = client.receive('r', { credit: 2 }).subscribe((d) => d.release());
    await waitFor(() => broker.linkCount('r').senders === 1, 'the warm-up receiver');
    warm.unsubscribe();
    await waitFor(() => broker.linkCount('r').senders === 0, 'the warm-up detach');
    await collect();
    const before = snapshot(client, connection);
    const resourcesBefore = resources();

    const tracker = new Tracker();
    const BATCHES = 80;
    const WIDTH = 25; // receivers and senders per batch: 80 × 25 × 2 = 4,000 subscriptions
    const heap: number[] = [];
    // One batch in a function of its own, so that nothing of it stays reachable from this frame.
    const runBatch = async (batch: number): Promise<void> => {
      const held: Delivery[] = [];
      const subs: Subscription[] = [];
      for (let i = 0; i < WIDTH; i++) {
        // Receivers that hold what they get (credit 2); every other one is unsubscribed before its attach is answered.
        const sub = client.receive<number>('r', { credit: 2 }).subscribe((d) => held.push(tracker.track(d, `delivery of batch ${batch}`)));
        subs.push(tracker.track(sub, `receiver ${batch}.${i}`));
      }
      const sent = Array.from({ length: WIDTH }, (_, i) => lastValueFrom(of(message(batch * WIDTH + i)).pipe(client.send('s'))));
      const early = subs.filter((_, i) => i % 2 === 1);
      for (const sub of early) sub.unsubscribe();
      await Promise.all(sent);
      const kept = subs.length - early.length;
      await waitFor(() => broker.linkCount('r').senders === kept, 'the receivers to attach', 5000);
      for (const sub of subs) sub.unsubscribe();
      await waitFor(() => broker.linkCount('r').senders === 0 && broker.linkCount('s').receivers === 0, 'every link detached', 5000);
    };
    for (let batch = 0; batch < BATCHES; batch++) {
      await runBatch(batch);
      if (batch === 9 || batch === BATCHES - 1) {
        await collect();
        heap.push(heapMB());
      }
    }
    // Every held delivery went back to the broker when its subscription ended (R3).
    await waitFor(() => broker.unsettledCount('r') === 0, 'no delivery left locked');
    expect(broker.queueDepth('r')).toBe(200);
    expect(broker.stats('s').received).toBe(BATCHES * WIDTH + 1);
    await collect();
    expect(snapshot(client, connection)).toEqual(before);
    await expectNoGrowth(resourcesBefore, 2000);
    expect(tracker.tracked).toBeGreaterThan(BATCHES * WIDTH);
    expect(await tracker.aliveLabels()).toEqual([]);
    const growth = heap[1]! - heap[0]!;
    console.log(`leaks: ${BATCHES * WIDTH * 2} subscriptions; heap after batch 10 ${heap[0]!.toFixed(1)} MB, after batch ${BATCHES} ${heap[1]!.toFixed(1)} MB`);
    expect(growth).toBeLessThan(3);
  });

  it('40 reconnects with receivers and senders live leave one connection, no stale listener, and the old connections collected', async () => {
    const broker = await env.start();
    // Connections that last less than 5 s continue the backoff: a low cap keeps 40 rounds quick.
    const client = env.client({ reconnect: { initialDelay: 5, maxDelay: 20 } });
    const manager = connectionManagerOf(client);
    const tracker = new Tracker();
    const inputs = Array.from({ length: 5 }, () => new Subject<number>());
    const outcomes: number[] = [];
    const subs = [
      ...Array.from({ length: 5 }, () => client.receive('r').subscribe((d) => d.accept())),
      ...inputs.map((input) => input.pipe(client.send<number>('r')).subscribe((o) => outcomes.push(o.message as number))),
    ];
    await waitFor(() => broker.linkCount('r').senders === 5 && broker.linkCount('r').receivers === 5, 'every link attached');
    const baseline = await settledSnapshot(client);
    const resourcesBefore = resources();
    let opens = 0;
    client.state$.subscribe((s) => (opens += s.status === 'open' ? 1 : 0));
    let sent = 0;
    // One round in a function of its own, so that nothing of it stays reachable from this frame.
    const round = async (n: number): Promise<void> => {
      const opened = opens;
      const old = tracker.track(await manager.acquire(), `connection ${n}`);
      broker.dropConnections();
      await waitFor(
        () => opens > opened && broker.connectionCount() === 1 && broker.linkCount('r').senders === 5 && broker.linkCount('r').receivers === 5,
        'the connection and the links back',
        5000,
      );
      expect(await manager.acquire()).not.toBe(old);
      for (const input of inputs) input.next(sent++);
    };
    for (let n = 0; n < 40; n++) await round(n);
    await waitFor(() => outcomes.length === sent, 'an outcome for every message', 5000);
    expect(await settledSnapshot(client)).toEqual(baseline);
    await expectNoGrowth(resourcesBefore, 2000);
    expect(await tracker.aliveLabels()).toEqual([]); // no old connection is kept by a listener or a link
    for (const sub of subs) sub.unsubscribe();
    await waitFor(() => broker.linkCount('r').senders === 0 && broker.linkCount('r').receivers === 0, 'every link detached');
  });

  it('300 clients opened and closed leave no socket, timer or client behind', async () => {
    const broker = await env.start();
    await collect();
    const resourcesBefore = resources();
    const heapBefore = heapMB();
    const tracker = new Tracker();
    for (let batch = 0; batch < 30; batch++) {
      const clients: Client[] = [];
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const client = tracker.track(createClient({ url: broker.url, idleTimeout: 60_000 }), `client of batch ${batch}`);
          clients.push(client);
          const held = new Promise<void>((resolve) => {
            client.receive('r', { credit: 1 }).subscribe(() => resolve());
          });
          await lastValueFrom(of(1).pipe(client.send('r')));
          await held; // one delivery held unsettled at close: released by it (R3)
        }),
      );
      await Promise.all(clients.map((c) => timed(c.close(), 2000, 'close')));
      clients.length = 0;
    }
    await waitFor(() => broker.connectionCount() === 0, 'every connection closed');
    expect(broker.unsettledCount('r')).toBe(0);
    expect(broker.queueDepth('r')).toBe(300);
    await expectNoGrowth(resourcesBefore, 2000);
    expect(await tracker.aliveLabels()).toEqual([]);
    console.log(`leaks: 300 clients; heap ${heapBefore.toFixed(1)} MB before, ${heapMB().toFixed(1)} MB after`);
    expect(heapMB() - heapBefore).toBeLessThan(5);
  });
});

describe('leaks: nothing keeps the process alive after close()', () => {
  it.each([
    ['the peer never answers the close', 'close'],
    ['the peer ended the connection with a close frame first', 'peer-closes'],
  ] as const)('a child process exits at once after close(), with heartbeats on, when %s', async (_, mode) => {
    const peer = await RawPeer.start(async (p: PeerConnection) => {
      await p.handshake({ idle_time_out: 60_000 }); // the peer wants heartbeats too
      await p.answerBegin();
      await p.answerAttach(); // and then it never answers anything, the close included…
      if (mode === 'peer-closes') p.send(0, 'close', { error: { condition: 'amqp:connection:forced', description: 'bye' } }); // …or it closes
    });
    try {
      const script = fileURLToPath(new URL('./support/closeAndExit.ts', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', script, peer.url, '60000', mode], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      let closedAt: number | undefined;
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (closedAt === undefined && output.includes('closed')) closedAt = performance.now();
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const code = await timed(exited, 15_000, 'the child to exit').catch((error: unknown) => {
        child.kill('SIGKILL');
        throw new Error(`${String(error)}; output: ${output}`);
      });
      expect(code.value, output).toBe(0);
      expect(closedAt, output).toBeDefined();
      // rhea's heartbeat timers (120 s here) would keep it alive if the library left them running.
      expect(performance.now() - closedAt!).toBeLessThan(1500);
    } finally {
      await peer.stop();
    }
  }, 20_000);
});
