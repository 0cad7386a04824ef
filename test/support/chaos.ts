// The chaos run shared by the EmbeddedBroker and RabbitMQ suites: messages sent and consumed
// through a FaultProxy that cuts the connection at random points, then the books are checked.
import { createClient, message, type Outcome } from 'rhea-rx';
import { settleWith } from 'rhea-rx/operators';
import { FaultProxy } from 'rhea-rx/testing';
import { sleep, waitFor } from './embedded.js';

export interface ChaosCounts {
  sent: number;
  accepted: number;
  resent: number;
  received: number;
  unique: number;
  duplicates: number;
  unexplainedDuplicates: number;
  redelivered: number;
  lost: number;
  cuts: number;
  reconnects: number;
  ms: number;
}

/** A small seeded PRNG, so a failing run can be repeated with the same cut points. */
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

/**
 * Sends `messages` through `client.send` and consumes them with `settleWith`, both through a
 * FaultProxy that cuts every connection at least `minCuts` times at random points. Returns the
 * books: every accepted message must be received (lost = 0), and every duplicate must be a resend
 * or a redelivery.
 */
export async function runChaos(target: string, address: string, options: { messages: number; minCuts: number; seed: number }): Promise<ChaosCounts> {
  const { minCuts, seed } = options;
  const random = mulberry32(seed);
  const proxy = await FaultProxy.start({ target });
  try {
    let cuts = 0;
    const counts = await runWorkload(proxy.url, address, {
      messages: options.messages,
      durable: false,
      disrupt: async (progress) => {
        while (cuts < minCuts || !progress.sendDone()) {
          if (progress.failed() || progress.elapsed() > 100_000) return;
          await sleep(50 + Math.floor(random() * 250));
          proxy.cut();
          cuts++;
        }
      },
    });
    return { ...counts, cuts };
  } finally {
    await proxy.stop();
  }
}

/** What a disruption can see of the workload it disturbs. */
export interface WorkloadProgress {
  sendDone(): boolean;
  outcomes(): number;
  failed(): boolean;
  elapsed(): number;
}

/**
 * Sends `messages` through `client.sendFrom` and consumes them with `settleWith` on two clients
 * with fast reconnect, while `disrupt` does its worst; then checks the books.
 */
export async function runWorkload(
  url: string,
  address: string,
  options: { messages: number; durable: boolean; disrupt: (progress: WorkloadProgress) => Promise<void> },
): Promise<ChaosCounts> {
  const { messages } = options;
  const reconnect = { initialDelay: 20, maxDelay: 400 };
  const sender = createClient({ url, reconnect });
  const receiver = createClient({ url, reconnect });
  let reconnects = 0;
  for (const client of [sender, receiver]) client.state$.subscribe((s) => (s.status === 'reconnecting' ? reconnects++ : undefined));

  const outcomes = new Map<number, Outcome<number>>();
  const resentIds = new Set<number>();
  const seen = new Map<number, number>();
  const redeliveriesOf = new Map<number, number>();
  let received = 0;
  let redelivered = 0;
  let sendError: unknown;
  let receiveError: unknown;
  let sendDone = false;
  const t0 = Date.now();

  async function* produce() {
    for (let i = 0; i < messages; i++) yield options.durable ? message(i, { header: { durable: true } }) : i;
  }
  const sending = sender.sendFrom(produce(), address, { maxInFlight: 200 }).subscribe({
    next: (o) => {
      const id = typeof o.message === 'number' ? o.message : (o.message as { body: number }).body;
      outcomes.set(id, o);
      if (o.resent) resentIds.add(id);
    },
    error: (e) => (sendError = e),
    complete: () => (sendDone = true),
  });
  const consuming = receiver
    .receive<number>(address, { credit: 200 })
    .pipe(
      settleWith((d) => {
        const id = d.body;
        if (d.deliveryCount > 0 || d.message.header.firstAcquirer === false) {
          redelivered++;
          redeliveriesOf.set(id, (redeliveriesOf.get(id) ?? 0) + 1);
        }
        seen.set(id, (seen.get(id) ?? 0) + 1);
        received++;
      }, { concurrency: 20 }),
    )
    .subscribe({ error: (e) => (receiveError = e) });

  const allIn = () => sendDone && [...outcomes.entries()].every(([id, o]) => o.state !== 'accepted' || seen.has(id));
  try {
    await options.disrupt({
      sendDone: () => sendDone,
      outcomes: () => outcomes.size,
      failed: () => sendError !== undefined || receiveError !== undefined,
      elapsed: () => Date.now() - t0,
    });
    await waitFor(() => sendError !== undefined || receiveError !== undefined || allIn(), 'every accepted message to arrive', 60_000);
  } finally {
    sending.unsubscribe();
    consuming.unsubscribe();
    await Promise.all([sender.close({ timeout: 2000 }), receiver.close({ timeout: 2000 })]);
  }
  if (sendError !== undefined) throw sendError;
  if (receiveError !== undefined) throw receiveError;
  const accepted = [...outcomes.entries()].filter(([, o]) => o.state === 'accepted').map(([id]) => id);
  const lost = accepted.filter((id) => !seen.has(id)).length;
  // A copy beyond the first is explained when the sender resent that message (S3) or the broker
  // redelivered it (a delivery whose settlement was lost with the connection, R4).
  let unexplainedDuplicates = 0;
  for (const [id, count] of seen) {
    if (count > 1 && !resentIds.has(id)) unexplainedDuplicates += Math.max(0, count - 1 - (redeliveriesOf.get(id) ?? 0));
  }
  return {
    sent: outcomes.size,
    accepted: accepted.length,
    resent: resentIds.size,
    received,
    unique: seen.size,
    duplicates: received - seen.size,
    unexplainedDuplicates,
    redelivered,
    lost,
    cuts: 0,
    reconnects,
    ms: Date.now() - t0,
  };
}
