// Scale-out on a real distributed broker: a 3-node RabbitMQ 3.10 cluster with quorum queues. Nodes
// are SIGKILLed while messages are sent and consumed, the broker nacks publishes, and competing
// consumer processes share a queue by credit. Every run prints its counts.
//
// Runs only when PEERS names `rabbitmq-cluster` (see test/support/peers.ts). The cluster is formed
// here, in beforeAll, on free ports, and torn down in afterAll, epmd included.
import { afterAll, beforeAll, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { brokersRequired, Cluster, selfStartedPeer, VHOST } from './cluster.js';
import { Worker } from './workers.js';
import { clusterClient, drain, type ReceiveBooks, type SendBooks, sendAll, tally } from './workload.js';

const MESSAGES = 20_000;

let counter = 0;
function uniqueQueue(base: string): string {
  counter += 1;
  return `${base}-${process.pid.toString(36)}${Date.now().toString(36)}${counter}`;
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: unknown): void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // whoever awaits it sees the rejection; unawaited it is not unhandled
  return { promise, resolve, reject };
}

async function until(condition: () => boolean, what: string, timeout: number, failed: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    const failure = failed();
    if (failure !== undefined) throw new Error(`${what}: ${failure}`);
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const skipped = selfStartedPeer('rabbitmq-cluster');
const suite = skipped === undefined ? describe : describe.skip;

suite(`a 3-node RabbitMQ cluster with quorum queues${skipped === undefined ? '' : ` [skipped: ${skipped}]`}`, () => {
  let cluster: Cluster | undefined;
  let startError: string | undefined;
  const workers: Worker[] = [];
  /** Node restarts under way: awaited before the next test and before teardown. */
  const restarts: Promise<unknown>[] = [];

  beforeAll(async () => {
    const t0 = Date.now();
    try {
      cluster = await Cluster.start();
    } catch (error) {
      startError = error instanceof Error ? error.message : String(error);
      if (brokersRequired()) throw error;
      process.stderr.write(`[peers] SKIPPING every test on rabbitmq-cluster: the cluster did not form: ${startError}\n`);
      return;
    }
    console.log(`cluster: ${cluster.urls.join(', ')} formed in ${cluster.formedInMs} ms; with the quorum vhost '${VHOST}' ready in ${Date.now() - t0} ms`);
  }, 180_000);

  afterAll(async () => {
    // Workers first (each closes its client; SIGKILL by PID if it does not exit), then the nodes.
    await Promise.allSettled(workers.map((w) => w.stop(5000)));
    await Promise.allSettled(restarts);
    await cluster?.stop();
  }, 150_000);

  beforeEach(async () => {
    await Promise.allSettled(restarts.splice(0));
    const back = await cluster?.ensureAllUp();
    if (back !== undefined && back.length > 0) console.log(`nodes ${back.join(', ')} were down after the previous test: restarted`);
  }, 120_000);

  function up(ctx: TestContext): Cluster {
    if (cluster !== undefined) return cluster;
    return ctx.skip(`the cluster did not form: ${startError ?? 'unknown reason'}`);
  }

  /** Restarts a killed node in the background; the test awaits it before it ends. */
  function restart(c: Cluster, port: number): Promise<void> {
    const done = c.resume(port);
    restarts.push(done.catch(() => undefined));
    return done;
  }

  const placements = [
    { name: "on the leader's node", sender: (c: Cluster) => c.ports[0]!, leader: (c: Cluster) => c.ports[0]! },
    { name: 'on another node', sender: (c: Cluster) => c.ports[2]!, leader: (c: Cluster) => c.ports[1]! },
  ];

  for (const placement of placements) {
    it(`leader kill while sending ${MESSAGES.toLocaleString('en')} messages, sender ${placement.name}: every accepted message is received, duplicates are resent ones`, async (ctx) => {
      const c = up(ctx);
      const leader = placement.leader(c);
      const senderPort = placement.sender(c);
      const queue = uniqueQueue('leader-kill');
      const address = `/queue/${queue}`;
      await c.declare(queue, leader);
      expect(await c.leader(queue)).toBe(leader);

      const kill = deferred();
      let outcomesAtKill = 0;
      let killMs = 0;
      let restarted: Promise<void> | undefined;
      const t0 = Date.now();
      const sender = clusterClient(c.urlsFrom(senderPort));
      let received: ReceiveBooks;
      let sent: SendBooks;
      try {
        sent = await sendAll(sender, address, MESSAGES, {
          onOutcome: (books) => {
            if (outcomesAtKill > 0 || books.outcomes.size < MESSAGES / 2) return;
            outcomesAtKill = books.outcomes.size;
            c.kill(leader).then(() => {
              killMs = Date.now() - t0;
              restarted = restart(c, leader);
              kill.resolve();
            }, kill.reject);
          },
          // The source waits at 60 % for the kill to have happened: it lands mid-stream, always.
          pause: (i) => (i === MESSAGES * 0.6 ? kill.promise : undefined),
        });
      } finally {
        await sender.close({ timeout: 2000 }).catch(() => undefined);
      }
      await kill.promise;
      await restarted;
      await c.allMembersOnline(queue);
      const newLeader = await c.leader(queue);
      const receiver = clusterClient(c.urlsFrom(c.ports[1]!));
      try {
        received = await drain(receiver, address, sent.outcomes.keys());
      } finally {
        await receiver.close({ timeout: 2000 }).catch(() => undefined);
      }

      const t = tally(sent, received);
      console.log(
        `leader kill, sender ${placement.name}: ${JSON.stringify({
          ...t,
          leader: `${leader} -> ${newLeader}`,
          senderOn: senderPort,
          killedAtOutcome: outcomesAtKill,
          killedAtMs: killMs,
          senderConnections: sent.opened.map((u) => new URL(u).port),
          sendMs: sent.ms,
          receiveMs: received.ms,
          totalMs: Date.now() - t0,
        })}`,
      );
      expect(outcomesAtKill).toBeLessThan(MESSAGES * 0.6);
      expect(t.sent).toBe(MESSAGES);
      expect(t.accepted).toBe(MESSAGES);
      expect(t.lost).toBe(0);
      expect(t.unique).toBe(MESSAGES);
      expect(t.unexplainedDuplicates).toBe(0);
      if (senderPort === leader) {
        // Its node died under it: it failed over to the next node of the list.
        expect(t.reconnects).toBeGreaterThanOrEqual(1);
        expect(sent.opened[1]).not.toBe(c.urls[c.ports.indexOf(leader)]);
      }
    }, 150_000);
  }

  it(`node kill while 3 worker processes consume ${MESSAGES.toLocaleString('en')} messages: the worker on it fails over and goes on, every message is processed`, async (ctx) => {
    const c = up(ctx);
    const queue = uniqueQueue('workers');
    const address = `/queue/${queue}`;
    const victim = c.ports[0]!; // worker w0's node, and the queue's leader: the hardest case
    const credit = 100;
    await c.declare(queue, victim);
    const sender = clusterClient(c.urlsFrom(c.ports[1]!));
    const sent = await sendAll(sender, address, MESSAGES).finally(() => sender.close({ timeout: 2000 }).catch(() => undefined));
    expect(sent.outcomes.size).toBe(MESSAGES);

    const t0 = Date.now();
    const seen = new Map<number, number>();
    let killAt: { union: number; perWorker: number[] } | undefined;
    let killed: Promise<void> | undefined;
    let killError: unknown;
    let restarted: Promise<void> | undefined;
    const team: Worker[] = [];
    const onProcessed = (ids: number[]): void => {
      for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      if (killAt === undefined && seen.size >= MESSAGES * 0.3) {
        killAt = { union: seen.size, perWorker: team.map((w) => w.processed.length) };
        killed = c.kill(victim).then(
          () => {
            restarted = restart(c, victim);
          },
          (error: unknown) => {
            killError = error;
          },
        );
      }
    };
    c.ports.forEach((port, i) => {
      team.push(new Worker({ name: `w${i}`, urls: c.urlsFrom(port), vhost: VHOST, address, credit, concurrency: 20, workMs: 1 }, onProcessed));
    });
    workers.push(...team);
    const trouble = (): string | undefined => {
      if (killError !== undefined) return `the kill failed: ${String(killError)}`;
      for (const w of team) {
        if (w.errors.length > 0) return `${w.name} failed: ${w.errors.join('; ')}`;
        if (w.exitCode !== undefined) return `${w.name} exited with ${w.exitCode}`;
      }
      return undefined;
    };
    try {
      await until(() => seen.size === MESSAGES, `all ${MESSAGES} messages processed`, 120_000, trouble);
    } finally {
      await Promise.all(team.map((w) => w.stop()));
    }
    const ms = Date.now() - t0;
    await killed;
    await restarted;
    await c.allMembersOnline(queue);

    const victimUrl = c.urls[0]!;
    const w0 = team[0]!;
    const processed = team.map((w) => w.processed.length);
    const total = processed.reduce((a, b) => a + b, 0);
    const reattaches = team.reduce((n, w) => n + Math.max(0, w.attaches - 1), 0);
    console.log(
      `node kill while consuming: ${JSON.stringify({
        messages: MESSAGES,
        processed: total,
        unique: seen.size,
        duplicates: total - seen.size,
        lost: MESSAGES - seen.size,
        killedNode: victim,
        killedAtProcessed: killAt?.union,
        workers: team.map((w, i) => ({
          name: w.name,
          processed: processed[i],
          afterKill: processed[i]! - (killAt?.perWorker[i] ?? 0),
          afterFailover: w.opened.length > 1 ? processed[i]! - w.processedAtOpen[1]! : undefined,
          connections: w.opened.map((u) => new URL(u).port),
          attaches: w.attaches,
          maxHeld: w.stats?.maxHeld,
          skippedStale: w.stats?.skippedStale,
          beyondCreditFromBroker: w.beyondCredit,
        })),
        ms,
      })}`,
    );
    expect(killAt).toBeDefined();
    expect(seen.size).toBe(MESSAGES); // every message processed at least once: lost = 0
    // w0 lost its node, failed over to another one and went on working there.
    expect(w0.opened.length).toBeGreaterThanOrEqual(2);
    expect(w0.opened[0]).toBe(victimUrl);
    expect(w0.opened[1]).not.toBe(victimUrl);
    expect(processed[0]! - w0.processedAtOpen[1]!).toBeGreaterThan(0);
    for (const w of team) {
      expect(w.exitCode).toBe(0);
      expect(w.stats?.maxHeld).toBeLessThanOrEqual(credit);
    }
    // A message is processed twice only when its worker lost the link it came on before the accept
    // got through; a link holds at most `credit` deliveries, so each lost link explains at most that.
    expect(total - seen.size).toBeLessThanOrEqual(credit * Math.max(1, reattaches));
  }, 200_000);

  it('a publish RabbitMQ nacks (reject-publish, queue full): the connection resets, the messages in flight are resent, none is accepted without being enqueued, none is lost', async (ctx) => {
    const c = up(ctx);
    const queue = uniqueQueue('nack');
    const maxLength = 100;
    const count = 2000;
    const leader = c.ports[1]!;
    await c.declare(queue, leader, { maxLength, overflow: 'reject-publish' });
    // The queue has arguments: `/queue/NAME` would declare it again without them and fail
    // (amqp:precondition-failed), so it is addressed as an existing queue.
    const address = `/amq/queue/${queue}`;
    const sender = clusterClient(c.urlsFrom(leader));
    const receiver = clusterClient(c.urlsFrom(c.ports[2]!));
    let draining: Promise<ReceiveBooks> | undefined;
    const ids = Array.from({ length: count }, (_, i) => i);
    // The consumer starts only once the broker has nacked a publish (the first connection loss), so
    // the queue is full for sure; then it drains the queue while the sender goes on.
    const startConsumer = () => (draining ??= drain(receiver, address, ids, { timeout: 90_000 }));
    const fallback = setTimeout(startConsumer, 20_000); // bounded, should the broker never nack
    try {
      const sent = await sendAll(sender, address, count, {
        maxInFlight: 100,
        onState: (s) => {
          if (s.status === 'reconnecting') startConsumer();
        },
      });
      clearTimeout(fallback);
      const received = await startConsumer();
      const t = tally(sent, received);
      console.log(
        `broker nack: ${JSON.stringify({
          ...t,
          maxLength,
          acceptedBeforeTheFirstReset: sent.outcomesAtFirstLoss,
          senderConnections: sent.opened.map((u) => new URL(u).port),
          sendMs: sent.ms,
        })}`,
      );
      expect(t.reconnects).toBeGreaterThanOrEqual(1); // the nack reset the connection
      expect(t.resent).toBeGreaterThan(0); //           what was in flight then was sent again
      expect(t.sent).toBe(count);
      expect(t.accepted).toBe(count);
      expect(t.lost).toBe(0); //                        no message reported accepted is missing
      expect(t.unique).toBe(count);
      expect(t.unexplainedDuplicates).toBe(0);
    } finally {
      clearTimeout(fallback);
      await draining?.catch(() => undefined);
      await Promise.all([sender.close({ timeout: 2000 }), receiver.close({ timeout: 2000 })].map((p) => p.catch(() => undefined)));
    }
  }, 150_000);

  it('fair spread: credit 10 per worker and one worker 10× slower: it processes about a tenth of what each fast worker does', async (ctx) => {
    const c = up(ctx);
    const queue = uniqueQueue('spread');
    const address = `/queue/${queue}`;
    const count = 2000;
    const credit = 10;
    const fastMs = 10;
    await c.declare(queue, c.ports[0]!);
    const seen = new Set<number>();
    // The split while the queue still had a backlog: at the end the fast workers find it empty while
    // the slow one still works through the deliveries its credit let it take.
    let steady: number[] | undefined;
    const team: Worker[] = c.ports.map(
      (port, i) =>
        new Worker(
          { name: i === 2 ? 'slow' : `fast${i}`, urls: c.urlsFrom(port), vhost: VHOST, address, credit, concurrency: 1, workMs: i === 2 ? fastMs * 10 : fastMs },
          (ids) => {
            for (const id of ids) seen.add(id);
            if (steady === undefined && seen.size >= count * 0.9) steady = team.map((w) => w.processed.length);
          },
        ),
    );
    workers.push(...team);
    const trouble = (): string | undefined => {
      const w = team.find((x) => x.errors.length > 0 || x.exitCode !== undefined);
      return w === undefined ? undefined : `${w.name} ${w.errors.length > 0 ? `failed: ${w.errors.join('; ')}` : `exited with ${w.exitCode}`}`;
    };
    const t0 = Date.now();
    const sender = clusterClient(c.urlsFrom(c.ports[1]!));
    try {
      // Every worker attached before the first message: none gets a head start.
      await until(() => team.every((w) => w.attaches > 0), 'the workers to attach', 30_000, trouble);
      await sendAll(sender, address, count);
      await until(() => seen.size === count, `all ${count} messages processed`, 90_000, trouble);
    } finally {
      await Promise.all(team.map((w) => w.stop()));
      await sender.close({ timeout: 2000 }).catch(() => undefined);
    }
    const split = (counts: number[]) => Number((counts[2]! / ((counts[0]! + counts[1]!) / 2)).toFixed(3));
    const final = team.map((w) => w.processed.length);
    const ratio = split(steady!);
    console.log(
      `fair spread: ${JSON.stringify({
        messages: count,
        credit,
        workMs: { fast: fastMs, slow: fastMs * 10 },
        processedAt90Percent: { fast0: steady![0], fast1: steady![1], slow: steady![2], slowToFast: ratio },
        processedInAll: { fast0: final[0], fast1: final[1], slow: final[2], slowToFast: split(final) },
        // Measured per message (a timer under load takes longer than asked) and busy share of each worker's run.
        msPerMessage: team.map((w) => Number(((w.stats?.busyMs ?? 0) / Math.max(1, w.stats?.processed ?? 1)).toFixed(1))),
        busy: team.map((w) => Number(((w.stats?.busyMs ?? 0) / Math.max(1, w.stats?.spanMs ?? 1)).toFixed(2))),
        maxHeld: team.map((w) => w.stats?.maxHeld),
        beyondCreditFromBroker: team.map((w) => w.beyondCredit),
        ms: Date.now() - t0,
      })}`,
    );
    expect(seen.size).toBe(count);
    expect(ratio).toBeGreaterThan(0.05);
    expect(ratio).toBeLessThan(0.2);
    for (const w of team) expect(w.stats?.maxHeld).toBeLessThanOrEqual(credit);
  }, 150_000);
});
