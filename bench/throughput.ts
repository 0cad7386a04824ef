// Throughput of rhea-rx against raw rhea, in one process and one run, interleaved (A B A B …):
// receive-and-accept and send-with-outcomes, 100-byte bodies, credit 1000.
// Peers: EmbeddedBroker in its own process (the realistic case), EmbeddedBroker in this process, and
// RabbitMQ when RABBITMQ_URL is set. Run: npm run bench [-- --messages 50000 --rounds 5]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import rhea from 'rhea';
import type { Connection, EventContext } from 'rhea';
import { lastValueFrom, range, map, count } from 'rxjs';
import { createClient } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '5' },
    credit: { type: 'string', default: '1000' },
  },
});
const N = Number(args.messages);
const ROUNDS = Number(args.rounds);
const CREDIT = Number(args.credit);
const BODY = 'x'.repeat(100);

interface Peer {
  name: string;
  url: string;
  /** Puts N messages on `queue` before a receive run. */
  fill(queue: string): Promise<void>;
}

let queueSeq = 0;
const nextQueue = (kind: string) => `bench-${kind}-${process.pid}-${queueSeq++}`;

function rheaConnect(url: string): Promise<Connection> {
  const u = new URL(url);
  const container = rhea.create_container();
  return new Promise((resolve, reject) => {
    const c = container.connect({
      host: u.hostname,
      port: Number(u.port),
      reconnect: false,
      ...(u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : {}),
    });
    c.once('connection_open', () => resolve(c));
    c.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected')));
  });
}

function closeRhea(c: Connection): Promise<void> {
  return new Promise((resolve) => {
    c.once('connection_close', () => resolve());
    c.once('disconnected', () => resolve());
    c.close();
    setTimeout(resolve, 2000).unref();
  });
}

/** Raw rhea sender: pumps on 'sendable', counts 'accepted'. */
async function rawSend(url: string, queue: string): Promise<number> {
  const c = await rheaConnect(url);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const sender = c.open_sender(queue);
    let sent = 0;
    let accepted = 0;
    const pump = () => {
      while (sent < N && sender.sendable()) {
        sender.send({ body: BODY });
        sent++;
      }
    };
    sender.on('sendable', pump);
    sender.on('accepted', () => {
      if (++accepted === N) resolve();
    });
  });
  const ms = performance.now() - t0;
  await closeRhea(c);
  return ms;
}

/** rhea-rx: client.send with per-message outcomes. */
async function adapterSend(url: string, queue: string): Promise<number> {
  const client = createClient(url);
  const t0 = performance.now();
  const outcomes = await lastValueFrom(
    range(0, N).pipe(
      map(() => BODY),
      client.send(queue, { bufferSize: N }),
      count(),
    ),
  );
  const ms = performance.now() - t0;
  if (outcomes !== N) throw new Error(`expected ${N} outcomes, got ${outcomes}`);
  await client.close();
  return ms;
}

/** Raw rhea receiver: credit window 1000 with autoaccept. */
async function rawReceive(url: string, queue: string): Promise<number> {
  const c = await rheaConnect(url);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const receiver = c.open_receiver({ source: queue, credit_window: CREDIT, autoaccept: true });
    let received = 0;
    receiver.on('message', () => {
      if (++received === N) resolve();
    });
  });
  const ms = performance.now() - t0;
  await closeRhea(c);
  return ms;
}

/** rhea-rx: client.receive with credit 1000, each delivery accepted. */
async function adapterReceive(url: string, queue: string): Promise<number> {
  const client = createClient(url);
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    const sub = client.receive(queue, { credit: CREDIT }).subscribe({
      next: (d) => {
        d.accept();
        if (++received === N) {
          sub.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
  const ms = performance.now() - t0;
  await client.close();
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

async function benchPeer(peer: Peer): Promise<Record<string, unknown>> {
  const cases = [
    { name: 'send-with-outcomes', raw: rawSend, adapter: adapterSend, needsFill: false },
    { name: 'receive-and-accept', raw: rawReceive, adapter: adapterReceive, needsFill: true },
  ];
  const results: Record<string, unknown> = {};
  for (const c of cases) {
    const raw: number[] = [];
    const adapter: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [which, fn, into] of [
        ['raw', c.raw, raw],
        ['adapter', c.adapter, adapter],
      ] as const) {
        const queue = nextQueue(`${c.name}-${which}`);
        if (c.needsFill) await peer.fill(queue);
        const ms = await fn(peer.url, queue);
        into.push((N / ms) * 1000);
        if (!c.needsFill) await drain(peer.url, queue);
      }
    }
    const r = median(raw);
    const a = median(adapter);
    results[c.name] = { raw: r, adapter: a, ratio: a / r, rawSpread: spread(raw), adapterSpread: spread(adapter) };
    console.log(
      `${peer.name.padEnd(24)} ${c.name.padEnd(20)} raw rhea ${fmt(r)} ±${fmt(spread(raw) / 2)}  rhea-rx ${fmt(a)} ±${fmt(spread(adapter) / 2)}  ratio ${(a / r).toFixed(2)}`,
    );
  }
  return results;
}

const fmt = (rate: number) => `${Math.round(rate).toLocaleString('en-US')} msg/s`.padStart(14);

/** Empties a queue after a send run, so the broker does not grow across rounds. */
async function drain(url: string, queue: string): Promise<void> {
  const c = await rheaConnect(url);
  await new Promise<void>((resolve) => {
    let received = 0;
    const receiver = c.open_receiver({ source: queue, credit_window: 1000, autoaccept: true });
    receiver.on('message', () => {
      if (++received === N) resolve();
    });
  });
  await closeRhea(c);
}

async function fillWithRhea(url: string, queue: string): Promise<void> {
  const c = await rheaConnect(url);
  await new Promise<void>((resolve) => {
    const sender = c.open_sender(queue);
    let sent = 0;
    let accepted = 0;
    sender.on('sendable', () => {
      while (sent < N && sender.sendable()) {
        sender.send({ body: BODY });
        sent++;
      }
    });
    sender.on('accepted', () => {
      if (++accepted === N) resolve();
    });
  });
  await closeRhea(c);
}

/** Starts an EmbeddedBroker in a child process; `fill` asks it to enqueue over IPC. */
async function brokerProcess(): Promise<Peer & { stop(): void }> {
  const child = fork(fileURLToPath(new URL('./brokerProcess.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve) => child.once('message', (m: { url: string }) => resolve(m.url)));
  return {
    name: 'embedded (own process)',
    url,
    fill: (queue) =>
      new Promise<void>((resolve) => {
        child.once('message', () => resolve());
        child.send({ fill: queue, count: N, size: BODY.length });
      }),
    stop: () => child.send({ stop: true }),
  };
}

async function main(): Promise<void> {
  console.log(`${N.toLocaleString('en-US')} × 100-byte messages, credit ${CREDIT}, ${ROUNDS} rounds interleaved, median (± half the spread)`);
  const remote = await brokerProcess();
  const broker = await EmbeddedBroker.start();
  const peers: Peer[] = [
    remote,
    {
      name: 'embedded (this process)',
      url: broker.url,
      fill: async (queue) => {
        for (let i = 0; i < N; i++) broker.enqueue(queue, { body: BODY });
      },
    },
  ];
  const rabbit = process.env.RABBITMQ_URL;
  if (rabbit) peers.push({ name: 'rabbitmq', url: rabbit, fill: (queue) => fillWithRhea(rabbit, queue) });
  else console.log('(set RABBITMQ_URL to include RabbitMQ)');
  for (const peer of peers) await benchPeer(peer);
  await broker.stop();
  remote.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
