// Throughput and CPU per message: every client on every peer and body size, interleaved run by
// run (A B C A B C …) for the given number of rounds.
import {
  promiseAwaited,
  promiseWindow,
  protonReceive,
  rawReceive,
  rawSend,
  rheaRxReceive,
  rheaRxSend,
  rheaRxSendFrom,
  type RunResult,
  type RunSpec,
} from '../lib/clients.js';
import { gc } from '../lib/gc.js';
import { mainThreadCpuMs, processCpuMs } from '../lib/procCpu.js';
import type { Peer, PeerId } from '../lib/peers.js';
import { median, range, relativeSpread } from '../lib/stats.js';

export type Direction = 'receive' | 'send';
export type ClientId = 'rhea-rx' | 'rhea-rx-from' | 'rhea' | 'proton' | 'rhea-promise-window' | 'rhea-promise-awaited';

export const CLIENT_LABELS: Record<ClientId, string> = {
  'rhea-rx': 'rhea-rx',
  'rhea-rx-from': 'rhea-rx sendFrom',
  rhea: 'raw rhea',
  proton: 'Qpid Proton Python',
  'rhea-promise-window': 'rhea-promise, window',
  'rhea-promise-awaited': 'rhea-promise, awaited',
};

export interface ThroughputConfig {
  sizes: number[];
  /** Messages per run, by body size. */
  messages: (size: number) => number;
  /** Messages per run of the awaited-one-by-one client, by body size. */
  awaitedMessages: (size: number) => number;
  rounds: number;
  credit: number;
  window: number;
  proton: boolean;
  /** Which cases to run (default both). */
  directions?: Direction[];
  log: (line: string) => void;
}

export interface ThroughputRow {
  peer: PeerId;
  peerLabel: string;
  size: number;
  direction: Direction;
  client: ClientId;
  messages: number;
  /** msg/s of each round, in order. */
  rates: number[];
  /** µs of process CPU per message, each round. */
  cpuUsPerMsg: number[];
  /** µs of the main thread's CPU per message, each round (NaN for a client in another process). */
  mainUsPerMsg: number[];
  mainMedian: number;
  /** The broker process's CPU over each run, in % of one core (NaN when it cannot be read). */
  peerCpuPct: number[];
  peerCpuMedian: number;
  median: number;
  min: number;
  max: number;
  /** Half the max − min spread over the median. */
  spread: number;
  cpuMedian: number;
  errors: string[];
}

interface ClientCase {
  id: ClientId;
  direction: Direction;
  run: (spec: RunSpec) => Promise<RunResult>;
  awaited?: boolean;
}

let seq = 0;

export async function throughput(peer: Peer, config: ThroughputConfig): Promise<ThroughputRow[]> {
  const all: ClientCase[] = [
    { id: 'rhea-rx', direction: 'receive', run: rheaRxReceive },
    { id: 'rhea', direction: 'receive', run: rawReceive },
    ...(config.proton ? [{ id: 'proton', direction: 'receive', run: protonReceive } as const] : []),
    { id: 'rhea-rx', direction: 'send', run: rheaRxSend },
    { id: 'rhea-rx-from', direction: 'send', run: rheaRxSendFrom },
    { id: 'rhea', direction: 'send', run: rawSend },
    { id: 'rhea-promise-window', direction: 'send', run: promiseWindow },
    { id: 'rhea-promise-awaited', direction: 'send', run: promiseAwaited, awaited: true },
  ];
  const cases = all.filter((c) => config.directions === undefined || config.directions.includes(c.direction));
  const rows: ThroughputRow[] = [];
  for (const size of config.sizes) {
    const body = 'x'.repeat(size);
    const table = new Map<ClientCase, ThroughputRow>();
    for (const c of cases) {
      const row: ThroughputRow = {
        peer: peer.id,
        peerLabel: peer.label,
        size,
        direction: c.direction,
        client: c.id,
        messages: c.awaited ? config.awaitedMessages(size) : config.messages(size),
        rates: [],
        cpuUsPerMsg: [],
        mainUsPerMsg: [],
        mainMedian: Number.NaN,
        peerCpuPct: [],
        peerCpuMedian: Number.NaN,
        median: Number.NaN,
        min: Number.NaN,
        max: Number.NaN,
        spread: Number.NaN,
        cpuMedian: Number.NaN,
        errors: [],
      };
      table.set(c, row);
      rows.push(row);
    }
    for (let round = 0; round < config.rounds; round++) {
      const t0 = Date.now();
      // Each round starts one client later (A B C, B C A, C A B …): no client always follows the same one.
      for (const c of cases.map((_, i) => cases[(i + round) % cases.length]!)) {
        const row = table.get(c)!;
        const address = peer.queue(`bench-${c.direction}-${c.id}-${process.pid}-${seq++}`);
        const spec: RunSpec = {
          url: peer.url,
          protonUrl: peer.protonUrl,
          address,
          count: row.messages,
          body,
          credit: config.credit,
          window: config.window,
        };
        try {
          if (c.direction === 'receive') await peer.fill(address, row.messages, size);
          gc();
          const peerBefore = processCpuMs(peer.pid);
          const mainBefore = mainThreadCpuMs();
          const r = await c.run(spec);
          const mainAfter = mainThreadCpuMs();
          const peerAfter = processCpuMs(peer.pid);
          row.rates.push((row.messages / r.ms) * 1000);
          row.cpuUsPerMsg.push(r.cpuUs / row.messages);
          const inProcess = c.id !== 'proton' && mainBefore !== undefined && mainAfter !== undefined;
          row.mainUsPerMsg.push(inProcess ? ((mainAfter - mainBefore) * 1000) / row.messages : Number.NaN);
          // The run's wall time includes connecting, as for the client; the broker's busy share of it.
          row.peerCpuPct.push(peerBefore === undefined || peerAfter === undefined ? Number.NaN : ((peerAfter - peerBefore) / r.ms) * 100);
        } catch (error) {
          row.rates.push(Number.NaN);
          row.cpuUsPerMsg.push(Number.NaN);
          row.mainUsPerMsg.push(Number.NaN);
          row.peerCpuPct.push(Number.NaN);
          row.errors.push(String(error));
          config.log(`  ! ${peer.label} ${size} B ${c.direction} ${c.id}: ${String(error)}`);
        }
        if (c.direction === 'send') await peer.drain(address, row.messages);
      }
      config.log(`  ${peer.label}, ${size}-byte bodies: round ${round + 1}/${config.rounds} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (const row of table.values()) {
      const ok = row.rates.filter(Number.isFinite);
      const cpu = row.cpuUsPerMsg.filter(Number.isFinite);
      row.median = median(ok);
      ({ min: row.min, max: row.max } = range(ok));
      row.spread = relativeSpread(ok);
      row.cpuMedian = median(cpu);
      const main = row.mainUsPerMsg.filter(Number.isFinite);
      row.mainMedian = main.length === 0 ? Number.NaN : median(main);
      const peerCpu = row.peerCpuPct.filter(Number.isFinite);
      row.peerCpuMedian = peerCpu.length === 0 ? Number.NaN : median(peerCpu);
    }
  }
  return rows;
}
