// Send-to-receive latency at a fixed rate: a sender and a receiver (each with its own connection,
// in this process, so one clock) and the time from the application's send call to the receiver's
// handler. The sender is paced by a 1 ms timer; the body carries the send time and the index.
import { performance } from 'node:perf_hooks';
import type { EventContext } from 'rhea';
import { Subject } from 'rxjs';
import { createClient } from 'rhea-rx';
import { gc } from '../lib/gc.js';
import type { Peer, PeerId } from '../lib/peers.js';
import { asPlainRhea, asRheaRx } from '../lib/isolation.js';
import { rheaClose, rheaConnect } from '../lib/rheaUtil.js';
import { median, percentile } from '../lib/stats.js';

export interface LatencyConfig {
  rates: number[];
  /** Measured seconds per run, by rate. */
  seconds: (rate: number) => number;
  /** Seconds sent before measuring (not recorded). */
  warmup: number;
  rounds: number;
  credit: number;
  log: (line: string) => void;
}

export interface LatencyRow {
  peer: PeerId;
  peerLabel: string;
  rate: number;
  client: 'rhea-rx' | 'rhea';
  samples: number;
  /** Milliseconds from the send call to the receive handler. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** The same from the time the pacer meant to send (includes the pacer's own lateness). */
  scheduledP50: number;
  scheduledP99: number;
  scheduledP999: number;
  lost: number;
  /** Messages received per second over the run (median of the rounds): below `rate`, the system could not keep up. */
  achievedRate: number;
}

interface Recorder {
  start: number;
  total: number;
  skip: number;
  rate: number;
  fromCall: Float64Array;
  fromSchedule: Float64Array;
  n: number;
  received: number;
  /** When the last message arrived. */
  lastAt: number;
  done: () => void;
}

const SIZE = 100;
const bodyFor = (i: number, now: number) => `${now.toFixed(4)} ${i} `.padEnd(SIZE, 'x');

function record(r: Recorder, body: string): void {
  const now = performance.now();
  r.received++;
  r.lastAt = now;
  const space = body.indexOf(' ');
  const sentAt = Number(body.slice(0, space));
  const i = Number(body.slice(space + 1, body.indexOf(' ', space + 1)));
  if (i >= r.skip) {
    r.fromCall[r.n] = now - sentAt;
    r.fromSchedule[r.n] = now - (r.start + (i * 1000) / r.rate);
    r.n++;
  }
  if (r.received === r.total) r.done();
}

/** Calls send(i) for i in 0..total-1 at `rate` per second, from a 1 ms timer; resolves after the last. */
function pace(r: Recorder, send: (i: number) => void): Promise<void> {
  return new Promise((resolve) => {
    let i = 0;
    const timer = setInterval(() => {
      const due = Math.min(r.total, Math.floor(((performance.now() - r.start) * r.rate) / 1000));
      while (i < due) send(i++);
      if (i >= r.total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
}

function recorder(rate: number, seconds: number, warmup: number): { r: Recorder; finished: Promise<void> } {
  const total = Math.round(rate * (seconds + warmup));
  const skip = Math.round(rate * warmup);
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const r: Recorder = {
    start: 0,
    total,
    skip,
    rate,
    fromCall: new Float64Array(total - skip),
    fromSchedule: new Float64Array(total - skip),
    n: 0,
    received: 0,
    lastAt: 0,
    done,
  };
  return { r, finished };
}

const waitFor = (p: Promise<void>, ms: number) => Promise.race([p, new Promise<void>((resolve) => setTimeout(resolve, ms))]);

async function rheaRxLatency(url: string, address: string, rate: number, seconds: number, config: LatencyConfig): Promise<Recorder> {
  asRheaRx();
  const { r, finished } = recorder(rate, seconds, config.warmup);
  const receiving = createClient(url);
  const sending = createClient(url);
  const sub = receiving.receive<string>(address, { credit: config.credit }).subscribe((d) => {
    record(r, d.body);
    d.accept();
  });
  const input = new Subject<string>();
  const outcomes = input.pipe(sending.send<string>(address)).subscribe();
  r.start = performance.now();
  await pace(r, (i) => input.next(bodyFor(i, performance.now())));
  input.complete();
  await waitFor(finished, 5000);
  sub.unsubscribe();
  outcomes.unsubscribe();
  await Promise.all([receiving.close(), sending.close()]);
  return r;
}

async function rawLatency(url: string, address: string, rate: number, seconds: number, config: LatencyConfig): Promise<Recorder> {
  asPlainRhea();
  const { r, finished } = recorder(rate, seconds, config.warmup);
  const [rc, sc] = await Promise.all([rheaConnect(url), rheaConnect(url)]);
  const receiver = rc.open_receiver({ source: address, credit_window: config.credit, autoaccept: true });
  receiver.on('message', (context: EventContext) => record(r, context.message!.body as string));
  const sender = sc.open_sender(address);
  const backlog: string[] = [];
  let head = 0;
  const pump = () => {
    while (head < backlog.length && sender.sendable()) sender.send({ body: backlog[head++]! });
  };
  sender.on('sendable', pump);
  r.start = performance.now();
  await pace(r, (i) => {
    const body = bodyFor(i, performance.now());
    if (head === backlog.length && sender.sendable()) sender.send({ body });
    else {
      backlog.push(body);
      pump();
    }
  });
  await waitFor(finished, 5000);
  await Promise.all([rheaClose(rc), rheaClose(sc)]);
  return r;
}

let seq = 0;

export async function latency(peer: Peer, config: LatencyConfig): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const rate of config.rates) {
    const seconds = config.seconds(rate);
    const pooled = new Map<'rhea-rx' | 'rhea', Recorder[]>([
      ['rhea-rx', []],
      ['rhea', []],
    ]);
    for (let round = 0; round < config.rounds; round++) {
      for (const client of ['rhea-rx', 'rhea'] as const) {
        const address = peer.queue(`bench-latency-${client}-${process.pid}-${seq++}`);
        gc();
        const run = client === 'rhea-rx' ? rheaRxLatency : rawLatency;
        pooled.get(client)!.push(await run(peer.url, address, rate, seconds, config));
      }
      config.log(`  ${peer.label}, ${rate.toLocaleString('en-US')} msg/s: round ${round + 1}/${config.rounds}`);
    }
    for (const [client, recs] of pooled) {
      const n = recs.reduce((s, x) => s + x.n, 0);
      const call = new Float64Array(n);
      const sched = new Float64Array(n);
      let k = 0;
      for (const x of recs) {
        call.set(x.fromCall.subarray(0, x.n), k);
        sched.set(x.fromSchedule.subarray(0, x.n), k);
        k += x.n;
      }
      call.sort();
      sched.sort();
      rows.push({
        peer: peer.id,
        peerLabel: peer.label,
        rate,
        client,
        samples: n,
        p50: percentile(call, 50),
        p99: percentile(call, 99),
        p999: percentile(call, 99.9),
        max: n > 0 ? call[n - 1]! : Number.NaN,
        scheduledP50: percentile(sched, 50),
        scheduledP99: percentile(sched, 99),
        scheduledP999: percentile(sched, 99.9),
        lost: recs.reduce((s, x) => s + (x.total - x.received), 0),
        achievedRate: median(recs.map((x) => (x.received / (x.lastAt - x.start)) * 1000)),
      });
    }
  }
  return rows;
}
