// One competing consumer, as its own process: `node --import tsx test/cluster/worker.ts '<config>'`
// with an IPC channel to the test. It consumes a queue of the cluster with settleWith and tells the
// test what it processed, which node it is on and how many deliveries it held at most. It stops on
// a 'stop' message, and exits by itself when the test goes away (the IPC channel closes).
import { createClient, type Delivery } from 'rhea-rx';
import { settleWith } from 'rhea-rx/operators';
import { tap } from 'rxjs';

/** What the test gives a worker (as JSON in argv[2]). */
export interface WorkerConfig {
  readonly name: string;
  /** The cluster's nodes in failover order: the worker connects to the first. */
  readonly urls: string[];
  readonly vhost: string;
  readonly address: string;
  readonly credit: number;
  /** Handlers run at once (settleWith's concurrency). */
  readonly concurrency: number;
  /** How long processing one message takes, in milliseconds. */
  readonly workMs: number;
}

/** What a worker tells the test. */
export type WorkerReport =
  | { readonly type: 'state'; readonly status: string; readonly url: string; readonly error?: string }
  | { readonly type: 'attached'; readonly url: string }
  | { readonly type: 'processed'; readonly ids: number[] }
  | {
      readonly type: 'done';
      readonly maxHeld: number;
      readonly skippedStale: number;
      readonly processed: number;
      /** Wall time spent in handlers, summed, and from the first handler's start to the last one's end. */
      readonly busyMs: number;
      readonly spanMs: number;
    }
  | { readonly type: 'error'; readonly message: string };

function report(message: WorkerReport): void {
  if (process.connected) process.send?.(message);
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const client = createClient({
  urls: config.urls,
  hostname: `vhost:${config.vhost}`,
  reconnect: { initialDelay: 50, maxDelay: 500 },
});
const held = new Set<Delivery<number>>(); // emitted by the link and not settled yet
let maxHeld = 0;
let skippedStale = 0;
let processed = 0;
let busyMs = 0;
let firstStart = 0;
let lastEnd = 0;
let batch: number[] = [];
const flush = (): void => {
  if (batch.length === 0) return;
  report({ type: 'processed', ids: batch });
  batch = [];
};
const flusher = setInterval(flush, 50);

let url = config.urls[0] ?? '';
client.state$.subscribe((s) => {
  url = s.url;
  flush(); // what was processed before the change is reported before it
  report({ type: 'state', status: s.status, url: s.url, ...(s.error ? { error: s.error.message } : {}) });
});

const subscription = client
  .receive<number>(config.address, { credit: config.credit, durable: true, onAttach: () => report({ type: 'attached', url }) })
  .pipe(
    tap((d) => {
      // `settled` also covers deliveries the link let go of (a lost connection): not held any more.
      for (const h of held) if (h.settled) held.delete(h);
      held.add(d);
      maxHeld = Math.max(maxHeld, held.size);
    }),
    settleWith(
      async (d: Delivery<number>) => {
        if (d.settled) {
          // It waited in settleWith while its connection was lost: the broker redelivers it (to
          // this worker or another), so doing the work now would only do it twice.
          skippedStale++;
          return;
        }
        const start = performance.now();
        if (firstStart === 0) firstStart = start;
        if (config.workMs > 0) await new Promise((resolve) => setTimeout(resolve, config.workMs));
        lastEnd = performance.now();
        busyMs += lastEnd - start;
        processed++;
        batch.push(d.body);
      },
      { concurrency: config.concurrency },
    ),
  )
  .subscribe({
    error: (error: unknown) => report({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
  });

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  subscription.unsubscribe();
  clearInterval(flusher);
  await client.close({ timeout: 2000 }).catch(() => undefined);
  flush();
  report({ type: 'done', maxHeld, skippedStale, processed, busyMs: Math.round(busyMs), spanMs: Math.round(lastEnd - firstStart) });
  process.exit(code);
}

process.on('message', (message: unknown) => {
  if ((message as { type?: string }).type === 'stop') void stop(0);
});
// The test is gone (or killed): stop too, so no worker outlives it.
process.on('disconnect', () => void stop(1));
