// One slow consumer in a process of its own, for the memory benchmark (run by sections/memory.ts):
//   node --expose-gc --import tsx bench/memoryConsumer.ts '<json>'
// with { client: 'rhea-rx' | 'rhea', url, address, credit, seconds, intervalMs, workMs }.
// Both clients run the same handler: await a shared resource that serves one call at a time and
// takes `workMs` per call, then accept. Memory is sampled after a full GC; each sample is printed as
// a JSON line, then a final { done: true } line. The baseline is taken before the client connects.
import { performance } from 'node:perf_hooks';
import type { EventContext } from 'rhea';
import { createClient } from 'rhea-rx';
import { rheaConnect } from './lib/rheaUtil.js';

interface Args {
  client: 'rhea-rx' | 'rhea';
  url: string;
  address: string;
  credit: number;
  seconds: number;
  intervalMs: number;
  workMs: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

let received = 0;
let processed = 0;
let sink = 0;
/** Set when sampling is over: handlers still waiting for the resource then settle nothing. */
let stopping = false;

// The slow resource: one call at a time, `workMs` each (a database, a remote API …).
let tail: Promise<void> = Promise.resolve();
function slowWork(): Promise<void> {
  const turn = tail.then(() => new Promise<void>((resolve) => setTimeout(resolve, args.workMs)));
  tail = turn;
  return turn;
}

function sample(t0: number, phase: string): void {
  gc();
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      t: (performance.now() - t0) / 1000,
      phase,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      rss: m.rss,
      received,
      processed,
    })}\n`,
  );
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let stop: () => Promise<void>;
  if (args.client === 'rhea-rx') {
    sample(t0, 'baseline');
    const client = createClient(args.url);
    const sub = client.receive<string>(args.address, { credit: args.credit }).subscribe(async (d) => {
      received++;
      await slowWork();
      if (stopping) return; // the subscription has ended and released what it held
      sink += d.body.length;
      d.accept();
      processed++;
    });
    stop = async () => {
      sub.unsubscribe();
      await client.close({ timeout: 1000 });
    };
  } else {
    sample(t0, 'baseline');
    const connection = await rheaConnect(args.url);
    const receiver = connection.open_receiver({ source: args.address, credit_window: args.credit, autoaccept: false });
    receiver.on('message', async (context: EventContext) => {
      received++;
      await slowWork();
      if (stopping) return;
      sink += (context.message!.body as string).length;
      context.delivery!.accept();
      processed++;
    });
    stop = async () => {
      connection.close();
    };
  }
  const timer = setInterval(() => sample(t0, 'run'), args.intervalMs);
  await new Promise((resolve) => setTimeout(resolve, args.seconds * 1000));
  clearInterval(timer);
  sample(t0, 'end');
  process.stdout.write(`${JSON.stringify({ done: true, sink })}\n`);
  stopping = true;
  await stop();
  process.exit(0);
}

void main();
