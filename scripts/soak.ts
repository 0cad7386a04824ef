/**
 * Soak: messages at a steady rate for a long time (30 minutes by default) through a FaultProxy that
 * cuts the connection at random intervals, against RabbitMQ. Reports sent, accepted, received,
 * duplicates, lost (must be 0), reconnects and the heap's slope, and writes a chart.
 *
 *   tsx scripts/soak.ts [options]
 *
 *   --minutes N        how long to send (default 30)
 *   --rate N           messages per second (default 200)
 *   --cut-every A-B    seconds between cuts, drawn at random from A to B (default 20-60)
 *   --url URL          the broker; without it a RabbitMQ node is started with scripts/rabbitmq.sh
 *                      (port --port, default 5689) and stopped at the end
 *   --embedded         use an in-process EmbeddedBroker instead of RabbitMQ (a quick check of the script)
 *   --address A        the queue (default /queue/soak-<time> on RabbitMQ, soak-<time> elsewhere)
 *   --seed N           seed of the cut schedule (default: the time)
 *   --max-heap-slope N the largest heap growth allowed after warm-up, in MB per hour (default 10)
 *   --out DIR          where the report and the chart go (default .brokers/soak)
 *
 * Exit code 0 when nothing was lost, every duplicate is explained (a resend after a cut, S3, or a
 * redelivery of a message whose settlement was lost with the connection, R4), no stream failed and
 * the heap slope is under the limit; 1 otherwise.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createClient, type Outcome } from '../src/index.js';
import { settleWith } from '../operators/index.js';
import { EmbeddedBroker, FaultProxy } from '../src/testing/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE_MS = 10_000;
const DRAIN_TIMEOUT_MS = 120_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('typeof gc === "function" ? gc : () => {}') as () => void;

// --- options -----------------------------------------------------------------------------------

interface Options {
  minutes: number;
  rate: number;
  cutEvery: readonly [number, number];
  url: string | undefined;
  port: number;
  embedded: boolean;
  address: string | undefined;
  seed: number;
  maxHeapSlope: number;
  out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    minutes: 30,
    rate: 200,
    cutEvery: [20, 60],
    url: undefined,
    port: 5689,
    embedded: false,
    address: undefined,
    seed: Date.now() % 2 ** 31,
    maxHeapSlope: 10,
    out: join(ROOT, '.brokers', 'soak'),
  };
  const number = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number, got ${String(value)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => argv[++i];
    switch (arg) {
      case '--minutes':
        options.minutes = number('minutes', value());
        break;
      case '--rate':
        options.rate = Math.max(1, number('rate', value()));
        break;
      case '--cut-every': {
        const [a, b] = (value() ?? '').split('-').map(Number);
        if (!Number.isFinite(a) || !Number.isFinite(b) || a! <= 0 || b! < a!) throw new Error('--cut-every needs A-B in seconds, e.g. 20-60');
        options.cutEvery = [a!, b!];
        break;
      }
      case '--url':
        options.url = value();
        break;
      case '--port':
        options.port = number('port', value());
        break;
      case '--embedded':
        options.embedded = true;
        break;
      case '--address':
        options.address = value();
        break;
      case '--seed':
        options.seed = number('seed', value());
        break;
      case '--max-heap-slope':
        options.maxHeapSlope = number('max-heap-slope', value());
        break;
      case '--out':
        options.out = value() ?? options.out;
        break;
      case '--help':
        console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*|^ \* ?/gm, ''));
        process.exit(0);
        break;
      default:
        throw new Error(`Unknown argument ${arg} (see --help)`);
    }
  }
  return options;
}

// --- helpers -------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A small seeded PRNG, so a run's cut schedule can be repeated. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Per-message counters indexed by message id, growing as ids grow. */
class Counts {
  #bytes = new Uint8Array(1 << 16);
  add(id: number): number {
    while (id >= this.#bytes.length) {
      const bigger = new Uint8Array(this.#bytes.length * 2);
      bigger.set(this.#bytes);
      this.#bytes = bigger;
    }
    this.#bytes[id] = Math.min(255, this.#bytes[id]! + 1);
    return this.#bytes[id]!;
  }
  get(id: number): number {
    return id < this.#bytes.length ? this.#bytes[id]! : 0;
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 120_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)));
  });
}

/** Least-squares slope of y over x. */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

// --- the chart ---------------------------------------------------------------------------------

interface Sample {
  /** Seconds since the start. */
  t: number;
  heapMB: number;
  rssMB: number;
  sent: number;
  accepted: number;
  received: number;
  reconnects: number;
}

/** Two panels, heap and throughput over time, with a line at each cut. Plain SVG, no dependency. */
function chart(title: string, samples: readonly Sample[], cutsAt: readonly number[], warmup: number): string {
  const W = 900;
  const H = 260;
  const M = { left: 60, right: 20, top: 30, bottom: 30 };
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const x = (t: number) => M.left + (t / tMax) * (W - M.left - M.right);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const panel = (top: number, label: string, series: Array<{ name: string; color: string; points: Array<[number, number]> }>): string => {
    const yMax = Math.max(1, ...series.flatMap((s) => s.points.map(([, v]) => v))) * 1.1;
    const y = (v: number) => top + M.top + (1 - v / yMax) * (H - M.top - M.bottom);
    const parts = [
      `<text x="${M.left}" y="${top + 18}" font-size="13" font-weight="600">${esc(label)}</text>`,
      `<line x1="${M.left}" y1="${y(0)}" x2="${W - M.right}" y2="${y(0)}" stroke="#999"/>`,
      `<line x1="${M.left}" y1="${y(yMax)}" x2="${M.left}" y2="${y(0)}" stroke="#999"/>`,
      `<text x="${M.left - 6}" y="${y(yMax) + 4}" font-size="10" text-anchor="end">${yMax.toFixed(yMax < 10 ? 1 : 0)}</text>`,
      `<text x="${M.left - 6}" y="${y(0) + 4}" font-size="10" text-anchor="end">0</text>`,
      `<text x="${W - M.right}" y="${y(0) + 16}" font-size="10" text-anchor="end">${Math.round(tMax / 60)} min</text>`,
      `<rect x="${M.left}" y="${y(yMax)}" width="${x(warmup) - M.left}" height="${y(0) - y(yMax)}" fill="#eee"/>`,
      ...cutsAt.map((t) => `<line x1="${x(t)}" y1="${y(yMax)}" x2="${x(t)}" y2="${y(0)}" stroke="#e33" stroke-opacity="0.25"/>`),
    ];
    series.forEach((s, i) => {
      const d = s.points.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
      parts.push(`<text x="${W - M.right - 160 + i * 80}" y="${top + 18}" font-size="11" fill="${s.color}">${esc(s.name)}</text>`);
    });
    return parts.join('\n');
  };
  const rate = (key: 'accepted' | 'received'): Array<[number, number]> =>
    samples.slice(1).map((s, i) => [s.t, (s[key] - samples[i]![key]) / Math.max(1e-9, s.t - samples[i]!.t)]);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${2 * H + 40}" font-family="system-ui, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${M.left}" y="20" font-size="15" font-weight="700">${esc(title)}</text>`,
    `<g transform="translate(0,20)">`,
    panel(0, 'Heap after GC and RSS (MB); grey: warm-up, red: cuts', [
      { name: 'heap', color: '#1f6feb', points: samples.map((s) => [s.t, s.heapMB]) },
      { name: 'rss', color: '#8957e5', points: samples.map((s) => [s.t, s.rssMB]) },
    ]),
    panel(H, 'Messages per second', [
      { name: 'accepted', color: '#2da44e', points: rate('accepted') },
      { name: 'received', color: '#bf8700', points: rate('received') },
    ]),
    `</g></svg>`,
  ].join('\n');
}

// --- the run -----------------------------------------------------------------------------------

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  let stopBroker: () => Promise<void> = async () => undefined;
  let target: string;
  let kind: 'rabbitmq' | 'embedded' | 'url';
  if (options.url !== undefined) {
    target = options.url;
    kind = 'url';
  } else if (options.embedded) {
    const broker = await EmbeddedBroker.start();
    target = broker.url;
    kind = 'embedded';
    stopBroker = () => broker.stop();
  } else {
    const script = join(ROOT, 'scripts', 'rabbitmq.sh');
    console.log(`starting RabbitMQ on port ${options.port} (scripts/rabbitmq.sh)…`);
    await run(script, ['start', String(options.port)]);
    target = `amqp://127.0.0.1:${options.port}`;
    kind = 'rabbitmq';
    stopBroker = async () => void (await run(script, ['stop', String(options.port)]).catch(() => undefined));
  }
  const address = options.address ?? (kind === 'rabbitmq' ? `/queue/soak-${stamp}` : `soak-${stamp}`);
  const proxy = await FaultProxy.start({ target });
  const reconnect = { initialDelay: 50, maxDelay: 2000 };
  const sender = createClient({ url: proxy.url, reconnect });
  const receiver = createClient({ url: proxy.url, reconnect });
  let reconnects = 0;
  for (const client of [sender, receiver]) client.state$.subscribe((s) => (s.status === 'reconnecting' ? reconnects++ : undefined));

  const outcomes = new Counts(); // ids with an outcome (must be 1 each)
  const acceptedIds = new Counts();
  const resent = new Counts();
  const seen = new Counts();
  const redelivered = new Counts();
  const states = { accepted: 0, rejected: 0, released: 0, modified: 0 };
  let sent = 0; // produced and handed to the sender
  let received = 0;
  let doubleOutcomes = 0;
  let failure: unknown;
  let producing = true;
  let sendDone = false;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const end = options.minutes * 60;

  async function* produce(): AsyncGenerator<number> {
    for (let id = 0; producing && elapsed() < end; id++) {
      const due = (id * 1000) / options.rate;
      const wait = due - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
      sent++;
      yield id;
    }
  }
  const sending = sender.sendFrom(produce(), address, { maxInFlight: 500 }).subscribe({
    next: (o: Outcome<number>) => {
      const id = o.message as number;
      if (outcomes.add(id) > 1) doubleOutcomes++;
      states[o.state]++;
      if (o.state === 'accepted') acceptedIds.add(id);
      if (o.resent) resent.add(id);
    },
    error: (e: unknown) => (failure ??= e),
    complete: () => (sendDone = true),
  });
  const consuming = receiver
    .receive<number>(address, { credit: 200 })
    .pipe(
      settleWith(
        (d) => {
          const id = d.body;
          if (d.deliveryCount > 0 || d.message.header.firstAcquirer === false) redelivered.add(id);
          seen.add(id);
          received++;
        },
        { concurrency: 20 },
      ),
    )
    .subscribe({ error: (e: unknown) => (failure ??= e) });

  // Cuts at random intervals while messages are produced.
  const random = mulberry32(options.seed);
  const cutsAt: number[] = [];
  let stopCutting: () => void = () => undefined;
  const cutting = (async () => {
    for (;;) {
      const [a, b] = options.cutEvery;
      // A wait that stopCutting() ends at once, so the drain does not wait for the next cut.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, (a + random() * (b - a)) * 1000);
        stopCutting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (!producing || elapsed() >= end || failure !== undefined) return;
      proxy.cut();
      cutsAt.push(elapsed());
    }
  })();

  // Samples, printed as they come.
  const samples: Sample[] = [];
  const sample = () => {
    gc();
    const memory = process.memoryUsage();
    const s: Sample = {
      t: elapsed(),
      heapMB: memory.heapUsed / 2 ** 20,
      rssMB: memory.rss / 2 ** 20,
      sent,
      accepted: states.accepted,
      received,
      reconnects,
    };
    samples.push(s);
    console.log(
      `${(s.t / 60).toFixed(1).padStart(5)} min  sent ${sent}  accepted ${states.accepted}  received ${received}  cuts ${cutsAt.length}  reconnects ${reconnects}  heap ${s.heapMB.toFixed(1)} MB  rss ${s.rssMB.toFixed(0)} MB`,
    );
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);
  console.log(`soak: ${options.minutes} min at ${options.rate} msg/s to ${address} on ${kind} (${target}) through a FaultProxy; cuts every ${options.cutEvery.join('-')} s (seed ${options.seed})`);

  // Send for the time given, then let every accepted message arrive.
  while (elapsed() < end && failure === undefined) await sleep(250);
  producing = false;
  stopCutting();
  await cutting;
  const drainStart = performance.now();
  const allIn = () => {
    if (!sendDone) return false;
    for (let id = 0; id < sent; id++) if (acceptedIds.get(id) > 0 && seen.get(id) === 0) return false;
    return true;
  };
  while (failure === undefined && !allIn() && performance.now() - drainStart < DRAIN_TIMEOUT_MS) await sleep(500);
  clearInterval(sampler);
  sample();
  sending.unsubscribe();
  consuming.unsubscribe();
  const peer = sender.peer;
  await Promise.all([sender.close({ timeout: 5000 }), receiver.close({ timeout: 5000 })]);
  await proxy.stop();
  await stopBroker();

  // The books.
  let accepted = 0;
  let lost = 0;
  let unique = 0;
  let unexplained = 0;
  let withoutOutcome = 0;
  for (let id = 0; id < sent; id++) {
    if (outcomes.get(id) === 0) withoutOutcome++;
    const n = seen.get(id);
    if (n > 0) unique++;
    if (acceptedIds.get(id) > 0) {
      accepted++;
      if (n === 0) lost++;
    }
    if (n > 1 && resent.get(id) === 0) unexplained += Math.max(0, n - 1 - redelivered.get(id));
  }
  const warmup = Math.min(Math.max(120, end * 0.1), end / 2);
  const heapSlope = slope(samples.filter((s) => s.t >= warmup).map((s) => [s.t / 3600, s.heapMB] as const)); // MB per hour
  const report = {
    date: started.toISOString(),
    machine: { cpu: cpuModel(), cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.type()} ${os.release()}` },
    broker: { kind, product: peer?.product, version: peer?.version },
    minutes: options.minutes,
    rate: options.rate,
    seed: options.seed,
    sent,
    outcomes: states,
    withoutOutcome,
    doubleOutcomes,
    accepted,
    received,
    unique,
    duplicates: received - unique,
    unexplainedDuplicates: unexplained,
    lost,
    cuts: cutsAt.length,
    reconnects,
    heap: { startMB: samples[0]?.heapMB, endMB: samples.at(-1)?.heapMB, slopeMBPerHour: heapSlope, warmupSeconds: warmup },
    failure: failure === undefined ? undefined : String(failure),
  };
  mkdirSync(options.out, { recursive: true });
  const base = join(options.out, `soak-${stamp}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...report, samples, cutsAt }, null, 2)}\n`);
  const title = `rhea-rx soak, ${started.toISOString().slice(0, 10)}: ${options.minutes} min at ${options.rate} msg/s, ${cutsAt.length} cuts, ${lost} lost (${report.broker.product ?? kind} ${report.broker.version ?? ''})`;
  writeFileSync(`${base}.svg`, chart(title, samples, cutsAt, warmup));

  const ok = failure === undefined && lost === 0 && unexplained === 0 && withoutOutcome === 0 && doubleOutcomes === 0 && heapSlope <= options.maxHeapSlope;
  console.log(`\n${JSON.stringify(report, null, 2)}`);
  console.log(`\nreport: ${base}.json\nchart:  ${base}.svg\n${ok ? 'PASS' : 'FAIL'}: lost ${lost}, unexplained duplicates ${unexplained}, without outcome ${withoutOutcome}, heap slope ${heapSlope.toFixed(2)} MB/h (limit ${options.maxHeapSlope})${failure === undefined ? '' : `, failure: ${String(failure)}`}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
