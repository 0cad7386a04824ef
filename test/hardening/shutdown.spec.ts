/**
 * Shutdown under load: `client.close()` while 10,000 sends wait for their outcomes
 * (EmbeddedBroker.pauseOutcomes) and receivers hold deliveries. Every send gets an outcome or is
 * listed in its stream's SendFailedError (S1), exactly once; held deliveries go back to the broker
 * (R3); close resolves within its timeout; a second close, and a close called twice at once, are
 * harmless.
 */
import { range } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Client, type Delivery, DeliveryAlreadySettledError, type Outcome, SendFailedError } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { sleep, useBroker, waitFor } from '../support/embedded.js';
import { timed, watchProcess } from './support/guards.js';

watchProcess({ allowConsoleLog: true });

const STREAMS = 5;
const PER_STREAM = 2000; // 5 × 2,000 = 10,000 sends in flight, each stream within rhea's 2,048-slot session window
const HELD = 300;

interface SendStream {
  readonly address: string;
  readonly first: number;
  readonly outcomes: Outcome<number>[];
  error: unknown;
  completed: boolean;
}

/** Starts 5 send streams of 2,000 messages each (to q0…q4, outcomes paused) and 2 receivers that hold 300 deliveries. */
async function underLoad(broker: EmbeddedBroker, client: Client) {
  const streams: SendStream[] = Array.from({ length: STREAMS }, (_, k) => ({ address: `q${k}`, first: k * PER_STREAM, outcomes: [], error: undefined, completed: false }));
  for (const s of streams) broker.pauseOutcomes(s.address);
  broker.enqueue('held', ...Array.from({ length: 500 }, (_, i) => ({ body: i })));
  for (const s of streams) {
    range(s.first, PER_STREAM)
      .pipe(client.send<number>(s.address, { maxInFlight: PER_STREAM }))
      .subscribe({ next: (o) => s.outcomes.push(o), error: (e: unknown) => (s.error = e), complete: () => (s.completed = true) });
  }
  const held: Delivery<number>[] = [];
  const receivers = { completed: 0, errors: [] as unknown[] };
  for (const credit of [200, 100]) {
    client.receive<number>('held', { credit }).subscribe({
      next: (d) => held.push(d),
      error: (e: unknown) => receivers.errors.push(e),
      complete: () => receivers.completed++,
    });
  }
  await waitFor(
    () => streams.every((s) => broker.stats(s.address).received === PER_STREAM) && held.length === HELD,
    '10,000 transfers at the broker and 300 deliveries held',
    20_000,
  );
  expect(streams.every((s) => s.outcomes.length === 0)).toBe(true);
  expect(broker.unsettledCount('held')).toBe(HELD);
  return { streams, held, receivers };
}

/** S1 across all streams: every input has one outcome or one place in an error's `unsettled`, never both, never twice. */
function expectEveryMessageAccountedFor(streams: readonly SendStream[]): void {
  const seen = new Map<number, number>();
  for (const s of streams) {
    const unsettled = s.error instanceof SendFailedError ? (s.error.unsettled as number[]) : [];
    for (const n of [...s.outcomes.map((o) => o.message as number), ...unsettled]) seen.set(n, (seen.get(n) ?? 0) + 1);
    expect(s.completed || s.error !== undefined, `stream ${s.address} ended`).toBe(true);
  }
  expect(seen.size).toBe(STREAMS * PER_STREAM);
  expect([...seen.values()].every((count) => count === 1)).toBe(true);
}

describe('client.close() under load (EmbeddedBroker)', () => {
  const env = useBroker();

  it('10,000 sends in flight, outcomes resumed for 3 of 5 streams part-way: 6,000 outcomes, 4,000 listed, held deliveries released, close within its timeout', async () => {
    const broker = await env.start();
    const closeTimeout = 1500;
    const client = env.client({ closeTimeout });
    const { streams, held, receivers } = await underLoad(broker, client);

    const start = performance.now();
    const closing = client.close();
    await sleep(200);
    for (const s of streams.slice(0, 3)) broker.resumeOutcomes(s.address); // part-way through the close
    await timed(closing, closeTimeout + 2000, 'close()');
    const ms = performance.now() - start;
    console.log(`shutdown: close() took ${Math.round(ms)} ms with closeTimeout ${closeTimeout} ms`);
    expect(ms).toBeGreaterThanOrEqual(closeTimeout - 50); // two streams never got their outcomes: it waited for them…
    expect(ms).toBeLessThan(closeTimeout + 1000); //          …and no longer than its timeout (plus the close handshake)

    for (const s of streams.slice(0, 3)) {
      expect(s.error).toBeUndefined();
      expect(s.completed).toBe(true);
      expect(s.outcomes.map((o) => o.message)).toEqual(Array.from({ length: PER_STREAM }, (_, i) => s.first + i));
      expect(s.outcomes.every((o) => o.state === 'accepted')).toBe(true);
    }
    for (const s of streams.slice(3)) {
      expect(s.error).toBeInstanceOf(SendFailedError);
      expect((s.error as SendFailedError<number>).unsettled).toEqual(Array.from({ length: PER_STREAM }, (_, i) => s.first + i));
      expect(s.outcomes).toEqual([]);
    }
    expectEveryMessageAccountedFor(streams);

    // R3: the receive streams completed and every held delivery went back to the broker.
    expect(receivers).toEqual({ completed: 2, errors: [] });
    await waitFor(() => broker.unsettledCount('held') === 0, 'the held deliveries released');
    expect(broker.queueDepth('held')).toBe(500);
    expect(() => held[0]!.accept()).toThrow(DeliveryAlreadySettledError);

    // A second close is harmless and immediate.
    const again = await timed(client.close(), 500, 'a second close()');
    expect(again.ms).toBeLessThan(100);
    await waitFor(() => broker.connectionCount() === 0, 'the connection closed at the broker');
  }, 60_000);

  it('close() called twice at once, with every outcome withheld: both resolve when the close is done, within the timeout, and all 10,000 sends are listed', async () => {
    const broker = await env.start();
    const client = env.client();
    const { streams } = await underLoad(broker, client);
    const closeTimeout = 500;
    const first = timed(client.close({ timeout: closeTimeout }), closeTimeout + 2000, 'close()');
    const second = await timed(client.close({ timeout: 10_000 }), closeTimeout + 2000, 'the concurrent close()');
    // The second call resolves when the close is done, not before: by then every stream has ended.
    expect(streams.every((s) => s.error !== undefined)).toBe(true);
    expect(second.ms).toBeGreaterThanOrEqual(closeTimeout - 50);
    expect(second.ms).toBeLessThan(closeTimeout + 1000);
    expect((await first).ms).toBeLessThan(closeTimeout + 1000);
    for (const s of streams) {
      expect(s.error).toBeInstanceOf(SendFailedError);
      expect((s.error as SendFailedError).unsettled).toHaveLength(PER_STREAM);
    }
    expectEveryMessageAccountedFor(streams);
    await waitFor(() => broker.unsettledCount('held') === 0, 'the held deliveries released');
    // The broker stored every transfer it received; the client reported them unsettled, as it
    // cannot know: S1 allows a listed message to have reached the peer (at-least-once).
    expect(STREAMS * PER_STREAM).toBe(streams.reduce((n, s) => n + broker.stats(s.address).received, 0));
  }, 60_000);
});
