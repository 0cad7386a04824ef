// Memory under a slow consumer: a backlog waits on an EmbeddedBroker in its own process and a
// consumer that takes `workMs` per message runs in a process of its own (bench/memoryConsumer.ts),
// sampling heap and RSS after a full GC. rhea-rx grants credit as messages are settled; raw rhea's
// credit_window grants it as they arrive.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { embeddedOwnProcess } from '../lib/peers.js';
import { median } from '../lib/stats.js';

export interface MemoryConfig {
  backlog: number;
  size: number;
  credit: number;
  seconds: number;
  intervalMs: number;
  workMs: number;
  log: (line: string) => void;
}

export interface MemorySample {
  t: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  received: number;
  processed: number;
}

export interface MemoryRun {
  client: 'rhea-rx' | 'rhea';
  baseline: MemorySample;
  samples: MemorySample[];
  /** Largest (heapUsed + external) − baseline over the run, in bytes. */
  peakGrowth: number;
  /** Largest RSS − baseline RSS, in bytes. */
  peakRssGrowth: number;
  /** Median (heapUsed + external) − baseline over the second half of the run, in bytes. */
  steadyGrowth: number;
  /** Most messages received and not yet processed at a sample. */
  peakHeld: number;
  processed: number;
}

const CONSUMER = fileURLToPath(new URL('../memoryConsumer.ts', import.meta.url));

export async function memory(config: MemoryConfig): Promise<MemoryRun[]> {
  const runs: MemoryRun[] = [];
  for (const client of ['rhea-rx', 'rhea'] as const) {
    const broker = await embeddedOwnProcess();
    try {
      const address = `bench-memory-${client}-${process.pid}`;
      const t0 = Date.now();
      await broker.fill(address, config.backlog, config.size);
      config.log(`  ${config.backlog.toLocaleString('en-US')} × ${config.size} B waiting (${((Date.now() - t0) / 1000).toFixed(1)} s); ${client} consuming for ${config.seconds} s`);
      const child = spawn(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          CONSUMER,
          JSON.stringify({ client, url: broker.url, address, credit: config.credit, seconds: config.seconds, intervalMs: config.intervalMs, workMs: config.workMs }),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      const [code] = (await once(child, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`memoryConsumer (${client}) exited with ${code}`);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as MemorySample & { phase?: string; done?: boolean });
      const baseline = lines.find((l) => l.phase === 'baseline')!;
      const samples = lines.filter((l) => l.phase === 'run' || l.phase === 'end');
      const js = (s: MemorySample) => s.heapUsed + s.external;
      runs.push({
        client,
        baseline,
        samples,
        peakGrowth: Math.max(...samples.map((s) => js(s) - js(baseline))),
        peakRssGrowth: Math.max(...samples.map((s) => s.rss - baseline.rss)),
        steadyGrowth: median(samples.slice(samples.length >> 1).map((s) => js(s) - js(baseline))),
        peakHeld: Math.max(...samples.map((s) => s.received - s.processed)),
        processed: samples.at(-1)?.processed ?? 0,
      });
    } finally {
      await broker.stop();
    }
  }
  return runs;
}
