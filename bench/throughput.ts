// rhea-rx benchmarks: throughput and CPU per message against raw rhea, Qpid Proton Python and
// rhea-promise; send-to-receive latency at a fixed rate; memory under a slow consumer; head-of-line
// blocking. Every comparison runs its clients interleaved (A B C A B C …) on the same peer.
//
//   npm run bench                       the full run (~11 minutes on 2 cores)
//   npm run bench -- --quick            a smoke run (~1.5 minutes)
//   npm run bench -- --help             every option
//
// Writes bench/results.json, bench/throughput.svg and bench/memory.svg. See bench/README.md.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { protonAvailable } from './lib/clients.js';
import { rheaRxHooks } from './lib/isolation.js';
import { machine } from './lib/machine.js';
import { embeddedLocal, embeddedOwnProcess, type Peer, type PeerId, rabbitInstalled, rabbitmq } from './lib/peers.js';
import { fmtFixed, fmtInt, fmtPct } from './lib/stats.js';
import { barChart, type BarPanel, lineCharts } from './lib/svg.js';
import { headOfLine, type HeadOfLineRow } from './sections/headOfLine.js';
import { latency, type LatencyRow } from './sections/latency.js';
import { memory, type MemoryRun } from './sections/memory.js';
import { CLIENT_LABELS, type ClientId, type Direction, throughput, type ThroughputRow } from './sections/throughput.js';

const HELP = `Usage: npm run bench -- [options]

  --quick                 small counts, 2 rounds, short latency/memory runs (a smoke test)
  --messages N            messages per run with small bodies            (default 50000; quick 5000)
  --large-messages N      messages per run with large bodies            (default 2000; quick 200)
  --awaited-divisor N     the awaited-one-by-one rhea-promise sender moves messages/N (default 10)
  --rounds N              interleaved rounds per comparison             (default 5; quick 2)
  --sizes A,B             body sizes in bytes                           (default 100,65536)
  --credit N              receive credit / prefetch                     (default 1000)
  --window N              concurrent sends of the windowed rhea-promise sender (default 100)
  --sections LIST         throughput,rtt,latency,memory,hol             (default all)
  --rtt-latency MS        rtt section: ms the FaultProxy holds each chunk, each way (default 1)
  --peers LIST            embedded-own,embedded-local,rabbitmq          (default all available)
  --rabbitmq              require RabbitMQ: fail when it is not installed and RABBITMQ_URL is unset
  --no-rabbitmq           leave RabbitMQ out
  --rabbitmq-port N       port of the RabbitMQ node the bench starts    (default 5695)
  --no-proton             leave Qpid Proton Python out
  --out FILE              results file                                  (default bench/results.json)

RabbitMQ: with RABBITMQ_URL set, that broker is used and left alone. Otherwise, when RabbitMQ is
installed (/usr/lib/rabbitmq/bin/rabbitmq-server), the bench starts an isolated node with
scripts/rabbitmq.sh start PORT and stops it at the end (also on Ctrl-C); a node already running on
that port is used and left running.`;

const { values: args } = parseArgs({
  options: {
    help: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    messages: { type: 'string' },
    'large-messages': { type: 'string' },
    'awaited-divisor': { type: 'string', default: '10' },
    rounds: { type: 'string' },
    sizes: { type: 'string', default: '100,65536' },
    credit: { type: 'string', default: '1000' },
    window: { type: 'string', default: '100' },
    sections: { type: 'string', default: 'throughput,rtt,latency,memory,hol' },
    'rtt-latency': { type: 'string', default: '1' },
    peers: { type: 'string', default: 'embedded-own,embedded-local,rabbitmq' },
    rabbitmq: { type: 'boolean', default: false },
    'no-rabbitmq': { type: 'boolean', default: false },
    'rabbitmq-port': { type: 'string', default: '5695' },
    'no-proton': { type: 'boolean', default: false },
    out: { type: 'string', default: fileURLToPath(new URL('./results.json', import.meta.url)) },
  },
});

if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const positive = (value: string | undefined, fallback: number, name: string): number => {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${value}`);
    process.exit(2);
  }
  return n;
};

const quick = args.quick;
const MESSAGES = positive(args.messages, quick ? 5000 : 50_000, 'messages');
const LARGE_MESSAGES = positive(args['large-messages'], quick ? 200 : 2000, 'large-messages');
const AWAITED_DIVISOR = positive(args['awaited-divisor'], 10, 'awaited-divisor');
const ROUNDS = positive(args.rounds, quick ? 2 : 5, 'rounds');
const CREDIT = positive(args.credit, 1000, 'credit');
const WINDOW = positive(args.window, 100, 'window');
const SIZES = args.sizes.split(',').map((s) => positive(s, 0, 'sizes'));
const RTT_LATENCY = positive(args['rtt-latency'], 1, 'rtt-latency');
const SECTIONS = new Set(args.sections.split(','));
const PEERS = new Set(args.peers.split(','));
const LARGE = 1024; // bodies above this count as large
const messagesFor = (size: number) => (size > LARGE ? LARGE_MESSAGES : MESSAGES);

const log = (line: string) => console.error(line);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

const peers: Peer[] = [];
let stopping = false;

async function stopPeers(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const peer of peers.splice(0)) {
    try {
      await peer.stop();
    } catch (error) {
      log(`stopping ${peer.label}: ${String(error)}`);
    }
  }
}

process.on('uncaughtException', (error) => {
  console.error(error);
  void stopPeers().then(() => process.exit(1));
});
process.on('unhandledRejection', (error) => {
  console.error(error);
  void stopPeers().then(() => process.exit(1));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the brokers this run started`);
    void stopPeers().then(() => process.exit(130));
  });
}

function peerOrder(id: PeerId): number {
  return ['embedded-own', 'embedded-local', 'rabbitmq', 'embedded-rtt'].indexOf(id);
}

async function startPeers(): Promise<void> {
  if (PEERS.has('embedded-own')) peers.push(await embeddedOwnProcess());
  if (PEERS.has('embedded-local')) peers.push(await embeddedLocal());
  if (!PEERS.has('rabbitmq') || args['no-rabbitmq']) return;
  const url = process.env.RABBITMQ_URL;
  if (url === undefined && !rabbitInstalled()) {
    if (args.rabbitmq) throw new Error('--rabbitmq: RabbitMQ is not installed (scripts/install-brokers.sh) and RABBITMQ_URL is not set');
    log('RabbitMQ is not installed and RABBITMQ_URL is not set: leaving it out (scripts/install-brokers.sh installs it)');
    return;
  }
  peers.push(await rabbitmq({ url, port: Number(args['rabbitmq-port']), log }));
}

// ---------------------------------------------------------------------------------------------
// Reports

const sizeLabel = (size: number) => (size >= 1024 && size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`);

function find(rows: ThroughputRow[], peer: PeerId, size: number, direction: Direction, client: ClientId): ThroughputRow | undefined {
  return rows.find((r) => r.peer === peer && r.size === size && r.direction === direction && r.client === client);
}

/** The throughput table; with `versus`, a last column with each client's rate over that client's. */
function throughputTable(rows: ThroughputRow[], versus?: ClientId): string {
  const extra = versus === undefined ? '' : ` vs ${CLIENT_LABELS[versus]} |`;
  const lines = [
    `| peer | body | case | client | msg/s (median) | spread | vs raw rhea | CPU µs/msg | CPU vs raw rhea | main thread µs/msg | broker CPU |${extra}`,
    `| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${versus === undefined ? '' : ' ---: |'}`,
  ];
  for (const r of rows) {
    const raw = find(rows, r.peer, r.size, r.direction, 'rhea');
    const ratio = raw ? r.median / raw.median : Number.NaN;
    const cpuRatio = raw ? r.cpuMedian / raw.cpuMedian : Number.NaN;
    const base = versus === undefined ? undefined : find(rows, r.peer, r.size, r.direction, versus);
    const versusCell = versus === undefined ? '' : ` ${base ? fmtFixed(r.median / base.median, 1) : '–'} |`;
    const count = r.messages === messagesFor(r.size) ? '' : ` (${fmtInt(r.messages)} msgs)`;
    lines.push(
      `| ${r.peerLabel} | ${sizeLabel(r.size)} | ${r.direction === 'receive' ? 'receive and accept' : 'send with outcomes'} | ${CLIENT_LABELS[r.client]}${count} | ${fmtInt(r.median)} | ${fmtPct(r.spread)} | ${fmtFixed(ratio, 2)} | ${fmtFixed(r.cpuMedian, 1)} | ${fmtFixed(cpuRatio, 2)} | ${Number.isFinite(r.mainMedian) ? fmtFixed(r.mainMedian, 1) : '–'} | ${Number.isFinite(r.peerCpuMedian) ? `${Math.round(r.peerCpuMedian)} %` : '–'} |${versusCell}`,
    );
  }
  return lines.join('\n');
}

interface Goal {
  peer: PeerId;
  peerLabel: string;
  size: number;
  receiveVsRaw: number;
  /** The send operator (whole source buffered). */
  sendVsRaw: number;
  /** sendFrom (pulled as credit allows). */
  sendFromVsRaw: number;
  receiveCpuVsRaw: number;
  sendCpuVsRaw: number;
  sendFromCpuVsRaw: number;
  receiveVsProton: number;
  sendVsAwaited: number;
  sendFromVsAwaited: number;
}

function goals(rows: ThroughputRow[]): Goal[] {
  const out: Goal[] = [];
  const keys = new Map<string, ThroughputRow>();
  for (const r of rows) keys.set(`${r.peer}|${r.size}`, r);
  for (const r of keys.values()) {
    const get = (d: Direction, c: ClientId) => find(rows, r.peer, r.size, d, c);
    const ratio = (a?: ThroughputRow, b?: ThroughputRow, field: 'median' | 'cpuMedian' = 'median') => (a && b ? a[field] / b[field] : Number.NaN);
    out.push({
      peer: r.peer,
      peerLabel: r.peerLabel,
      size: r.size,
      receiveVsRaw: ratio(get('receive', 'rhea-rx'), get('receive', 'rhea')),
      sendVsRaw: ratio(get('send', 'rhea-rx'), get('send', 'rhea')),
      sendFromVsRaw: ratio(get('send', 'rhea-rx-from'), get('send', 'rhea')),
      receiveCpuVsRaw: ratio(get('receive', 'rhea-rx'), get('receive', 'rhea'), 'cpuMedian'),
      sendCpuVsRaw: ratio(get('send', 'rhea-rx'), get('send', 'rhea'), 'cpuMedian'),
      sendFromCpuVsRaw: ratio(get('send', 'rhea-rx-from'), get('send', 'rhea'), 'cpuMedian'),
      receiveVsProton: ratio(get('receive', 'rhea-rx'), get('receive', 'proton')),
      sendVsAwaited: ratio(get('send', 'rhea-rx'), get('send', 'rhea-promise-awaited')),
      sendFromVsAwaited: ratio(get('send', 'rhea-rx-from'), get('send', 'rhea-promise-awaited')),
    });
  }
  return out;
}

function goalTable(gs: Goal[]): string {
  const mark = (v: number, target: number, lowerIsBetter = false) =>
    Number.isFinite(v) ? `${fmtFixed(v, 2)} ${(lowerIsBetter ? v <= target : v >= target) ? '✓' : '✗'}` : '–';
  const lines = [
    '| peer | body | receive vs rhea (≥ 1.0) | send / sendFrom vs rhea (≥ 1.0) | receive CPU vs rhea (≤ 1.05) | send / sendFrom CPU vs rhea (≤ 1.05) | receive vs Proton (≥ 2) | send / sendFrom vs rhea-promise awaited (≥ 10) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const g of gs) {
    lines.push(
      `| ${g.peerLabel} | ${sizeLabel(g.size)} | ${mark(g.receiveVsRaw, 1)} | ${mark(g.sendVsRaw, 1)} / ${mark(g.sendFromVsRaw, 1)} | ${mark(g.receiveCpuVsRaw, 1.05, true)} | ${mark(g.sendCpuVsRaw, 1.05, true)} / ${mark(g.sendFromCpuVsRaw, 1.05, true)} | ${mark(g.receiveVsProton, 2)} | ${mark(g.sendVsAwaited, 10)} / ${mark(g.sendFromVsAwaited, 10)} |`,
    );
  }
  return lines.join('\n');
}

function latencyTable(rows: LatencyRow[]): string {
  const ms = (x: number) => fmtFixed(x, 2);
  const lines = [
    '| peer | rate | client | received/s | samples | p50 ms | p99 ms | p99.9 ms | max ms | p99.9 from schedule ms |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.peerLabel} | ${fmtInt(r.rate)}/s | ${r.client === 'rhea' ? 'raw rhea' : 'rhea-rx'} | ${fmtInt(r.achievedRate)} | ${fmtInt(r.samples)}${r.lost ? ` (${r.lost} lost)` : ''} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ${ms(r.max)} | ${ms(r.scheduledP999)} |`,
    );
  }
  return lines.join('\n');
}

const MiB = 2 ** 20;

function memoryTable(runs: MemoryRun[], config: { credit: number; size: number }): string {
  const lines = [
    '| client | processed | most held at once | heap + external growth, second half (median) | peak heap + external growth | peak RSS growth | credit × size |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of runs) {
    lines.push(
      `| ${r.client === 'rhea' ? 'raw rhea (credit_window, async handler)' : 'rhea-rx'} | ${fmtInt(r.processed)} | ${fmtInt(r.peakHeld)} | ${fmtFixed(r.steadyGrowth / MiB, 1)} MiB | ${fmtFixed(r.peakGrowth / MiB, 1)} MiB | ${fmtFixed(r.peakRssGrowth / MiB, 1)} MiB | ${fmtFixed((config.credit * config.size) / MiB, 2)} MiB |`,
    );
  }
  return lines.join('\n');
}

function holTable(rows: HeadOfLineRow[]): string {
  const lines = [
    '| peer | messages | rhea-rx msg/s | rhea-rx, first held, msg/s | ratio | raw rhea, first held: received after it |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const completed = r.rawCompleted.some(Boolean) ? ' (completed!)' : ' then stalled';
    lines.push(
      `| ${r.peerLabel} | ${fmtInt(r.messages)} | ${fmtInt(r.rheaRxMedian)} | ${fmtInt(r.rheaRxHeldMedian)} | ${fmtFixed(r.rheaRxHeldMedian / r.rheaRxMedian, 2)} | ${fmtInt(r.rawAfterHeldMedian)}${completed} |`,
    );
  }
  return lines.join('\n');
}

const COLORS: Record<string, string> = {
  'rhea-rx': '#d9480f',
  'rhea-rx sendFrom': '#f59f00',
  'raw rhea': '#1c7ed6',
  'Qpid Proton Python': '#2b8a3e',
  'rhea-promise, window': '#ae3ec9',
  'rhea-promise, awaited': '#868e96',
};

function throughputSvg(rows: ThroughputRow[], subtitle: string): string {
  const panels: BarPanel[] = [];
  for (const size of SIZES) {
    for (const direction of ['receive', 'send'] as const) {
      const sel = rows.filter((r) => r.size === size && r.direction === direction);
      if (sel.length === 0) continue;
      const peerIds = [...new Set(sel.map((r) => r.peer))].sort((a, b) => peerOrder(a) - peerOrder(b));
      panels.push({
        title: `${direction === 'receive' ? 'Receive and accept' : 'Send with outcomes'}, ${sizeLabel(size)} bodies (${fmtInt(messagesFor(size))} messages)`,
        groups: peerIds.map((peer) => ({
          label: sel.find((r) => r.peer === peer)!.peerLabel,
          bars: sel
            .filter((r) => r.peer === peer)
            .map((r) => ({ series: CLIENT_LABELS[r.client], value: r.median, min: r.min, max: r.max, note: `${fmtInt(r.median)} · ${fmtFixed(r.cpuMedian, 1)} µs CPU` })),
        })),
      });
    }
  }
  return barChart('rhea-rx throughput, msg/s (median, whiskers: min–max of the rounds)', subtitle, panels, COLORS, 'messages per second');
}

function memorySvg(runs: MemoryRun[], config: { credit: number; size: number; backlog: number; workMs: number }, subtitle: string): string {
  const color = (c: string) => (c === 'rhea' ? COLORS['raw rhea']! : COLORS['rhea-rx']!);
  const name = (c: string) => (c === 'rhea' ? 'raw rhea' : 'rhea-rx');
  const rx = runs.find((r) => r.client === 'rhea-rx');
  const bound = rx ? (rx.baseline.heapUsed + rx.baseline.external + config.credit * config.size) / MiB : undefined;
  return lineCharts(`Memory under a slow consumer (${fmtInt(config.backlog)} × ${sizeLabel(config.size)} waiting, ${config.workMs} ms per message)`, subtitle, [
    {
      title: 'Client memory after GC',
      yLabel: 'MiB',
      xLabel: 'seconds',
      series: runs.flatMap((r) => [
        { name: `${name(r.client)} heap + external`, color: color(r.client), points: [r.baseline, ...r.samples].map((s) => [s === r.baseline ? 0 : s.t, (s.heapUsed + s.external) / MiB] as [number, number]) },
        { name: `${name(r.client)} RSS`, color: color(r.client), dashed: true, points: [r.baseline, ...r.samples].map((s) => [s === r.baseline ? 0 : s.t, s.rss / MiB] as [number, number]) },
      ]),
      refs: bound === undefined ? [] : [{ y: bound, label: `rhea-rx baseline + credit × size (${config.credit} × ${sizeLabel(config.size)})`, color: COLORS['rhea-rx']! }],
    },
    {
      title: 'Messages received and not yet processed',
      yLabel: 'messages',
      xLabel: 'seconds',
      series: runs.map((r) => ({ name: name(r.client), color: color(r.client), points: [[0, 0] as [number, number], ...r.samples.map((s) => [s.t, s.received - s.processed] as [number, number])] })),
      refs: [{ y: config.credit, label: `credit ${config.credit}`, color: '#555' }],
    },
  ]);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const info = machine();
  const proton = !args['no-proton'] && (await protonAvailable());
  if (!args['no-proton'] && !proton) log('Qpid Proton Python (/usr/bin/python3 with module proton) not found: leaving it out');
  log(`rhea-rx benchmarks on ${info.cpus} × ${info.model}, Node ${info.node}, load ${info.loadAverageAtStart.join(' ')}`);
  await startPeers();
  log(`peers: ${peers.map((p) => `${p.label} (${p.product})`).join('; ')}`);

  const results: Record<string, unknown> = {
    generatedAt: new Date().toISOString(),
    machine: info,
    config: {
      quick,
      messages: MESSAGES,
      largeMessages: LARGE_MESSAGES,
      awaitedDivisor: AWAITED_DIVISOR,
      rounds: ROUNDS,
      sizes: SIZES,
      credit: CREDIT,
      window: WINDOW,
      peers: peers.map((p) => ({ id: p.id, label: p.label, product: p.product })),
      proton,
      /** rhea functions rhea-rx replaces process-wide; restored for the baseline clients' runs. */
      rheaRxHooksRestoredForBaselines: rheaRxHooks,
    },
  };
  const report: string[] = [];
  const write = () => writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
  const subtitle = `${info.cpus} × ${info.model}, Node ${info.node}, rhea ${info.rhea}; ${ROUNDS} interleaved rounds`;

  try {
    if (SECTIONS.has('throughput')) {
      log(`\n[throughput] ${SIZES.map((s) => `${fmtInt(messagesFor(s))} × ${sizeLabel(s)}`).join(', ')}, credit ${CREDIT}, ${ROUNDS} rounds (${elapsed()})`);
      const rows: ThroughputRow[] = [];
      for (const peer of peers) {
        rows.push(
          ...(await throughput(peer, {
            sizes: SIZES,
            messages: messagesFor,
            awaitedMessages: (size) => Math.max(1, Math.floor(messagesFor(size) / AWAITED_DIVISOR)),
            rounds: ROUNDS,
            credit: CREDIT,
            window: WINDOW,
            proton,
            log,
          })),
        );
      }
      rows.sort((a, b) => a.size - b.size || peerOrder(a.peer) - peerOrder(b.peer) || a.direction.localeCompare(b.direction));
      results.throughput = rows;
      results.goals = goals(rows);
      write();
      writeFileSync(fileURLToPath(new URL('./throughput.svg', import.meta.url)), throughputSvg(rows, subtitle));
      report.push('## Throughput and CPU per message', '', throughputTable(rows), '', '## Goals', '', goalTable(results.goals as Goal[]));
    }

    if (SECTIONS.has('rtt')) {
      // The send cases again, 100-byte bodies, with a round trip like a network's between the
      // clients and the broker: what awaiting each outcome costs once a round trip is not ~0.1 ms.
      const size = Math.min(...SIZES);
      log(`\n[round trip] ${fmtInt(messagesFor(size))} × ${sizeLabel(size)} through a FaultProxy holding each chunk ${RTT_LATENCY} ms each way (${elapsed()})`);
      const peer = await embeddedOwnProcess({ latency: RTT_LATENCY });
      peers.push(peer);
      const rows = await throughput(peer, {
        sizes: [size],
        messages: messagesFor,
        awaitedMessages: () => Math.max(1, Math.floor(messagesFor(size) / (AWAITED_DIVISOR * 10))),
        rounds: ROUNDS,
        credit: CREDIT,
        window: WINDOW,
        proton: false,
        directions: ['send'],
        log,
      });
      peers.splice(peers.indexOf(peer), 1);
      await peer.stop();
      results.roundTrip = { latencyEachWayMs: RTT_LATENCY, rows };
      write();
      const awaited = rows.find((r) => r.client === 'rhea-promise-awaited');
      report.push(
        '',
        `## Sending over a round trip: a FaultProxy holding each chunk ${RTT_LATENCY} ms each way (${sizeLabel(size)} bodies)`,
        '',
        awaited ? `One awaited send took ${fmtFixed(1000 / awaited.median, 2)} ms at the median: the round trip the proxy makes.` : '',
        '',
        throughputTable(rows, 'rhea-promise-awaited'),
      );
    }

    if (SECTIONS.has('latency')) {
      const latencyPeers = peers.filter((p) => p.id !== 'embedded-local');
      const seconds = (rate: number) => (quick ? 1.5 : rate >= 10_000 ? 3 : 5);
      log(`\n[latency] 1,000 and 10,000 msg/s, ${quick ? 1 : 2} rounds (${elapsed()})`);
      const rows: LatencyRow[] = [];
      for (const peer of latencyPeers) {
        rows.push(...(await latency(peer, { rates: [1000, 10_000], seconds, warmup: quick ? 0.5 : 1, rounds: quick ? 1 : 2, credit: CREDIT, log })));
      }
      results.latency = rows;
      write();
      report.push('', '## Latency, send call to receive handler (100-byte bodies)', '', latencyTable(rows));
    }

    if (SECTIONS.has('hol')) {
      const holPeers = peers.filter((p) => p.id !== 'embedded-local');
      log(`\n[head of line] first delivery held unsettled (${elapsed()})`);
      const rows: HeadOfLineRow[] = [];
      for (const peer of holPeers) {
        rows.push(await headOfLine(peer, { messages: quick ? 5000 : 20_000, rounds: quick ? 1 : 3, credit: CREDIT, quietMs: 2000, log }));
      }
      results.headOfLine = rows;
      write();
      report.push('', '## Head-of-line: the first delivery held unsettled (100-byte bodies)', '', holTable(rows));
    }

    if (SECTIONS.has('memory')) {
      const config = {
        backlog: quick ? 20_000 : 200_000,
        size: 16 * 1024,
        credit: 100,
        seconds: quick ? 5 : 20,
        intervalMs: 500,
        workMs: 1,
      };
      log(`\n[memory] slow consumer, EmbeddedBroker in its own process (${elapsed()})`);
      const runs = await memory({ ...config, log });
      results.memory = { config, runs };
      write();
      writeFileSync(
        fileURLToPath(new URL('./memory.svg', import.meta.url)),
        memorySvg(runs, config, `${info.cpus} × ${info.model}, Node ${info.node}; each client in a fresh process, sampled every ${config.intervalMs} ms after a full GC; credit / credit_window ${config.credit}`),
      );
      report.push(
        '',
        `## Memory: ${fmtInt(config.backlog)} × ${sizeLabel(config.size)} waiting, ${config.workMs} ms per message, credit ${config.credit}, ${config.seconds} s`,
        '',
        memoryTable(runs, config),
      );
    }
  } finally {
    await stopPeers();
    info.loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
    results.durationSeconds = Math.round((Date.now() - started) / 1000);
    write();
  }
  console.log(report.join('\n'));
  console.log(`\n${elapsed()}; load average at the end ${info.loadAverageAtEnd!.join(' ')}; results in ${args.out}`);
}

main().catch(async (error: unknown) => {
  console.error(error);
  await stopPeers();
  process.exit(1);
});
