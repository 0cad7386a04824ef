import { once } from 'node:events';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  BufferOverflowError,
  type Delivery,
  DeliveryAlreadySettledError,
  NotFoundError,
  type Outcome,
  OutcomeError,
  SendFailedError,
  toAsyncIterable,
  toReadable,
  toWritable,
} from 'rhea-rx';
import { completeWhenIdle } from 'rhea-rx/operators';
import { sleep, useBroker, waitFor } from '../support/embedded.js';

const bodies = (n: number) => Array.from({ length: n }, (_, i) => ({ body: `m${i}` }));

/** The next chunk of a paused Readable, waiting for one when none is buffered. */
async function readOne(readable: Readable): Promise<unknown> {
  for (;;) {
    const chunk: unknown = readable.read();
    if (chunk !== null) return chunk;
    await once(readable, 'readable');
  }
}

/** A Writable that takes `delay` ms per chunk and records what it got. */
function slowSink(delay: number, got: unknown[]): Writable {
  return new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(chunk, _encoding, callback) {
      got.push(chunk);
      setTimeout(callback, delay);
    },
  });
}

describe('toReadable', () => {
  const env = useBroker();

  it('stops the link while paused: credit deliveries taken, none accepted, the broker keeps the rest', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(100));
    const readable = toReadable<string>(env.client().receive<string>('q', { credit: 10 }), { highWaterMark: 4 });
    readable.read(0); // the first read attaches the link; then nobody reads

    await waitFor(() => broker.unsettledCount('q') === 10, '10 deliveries out');
    await sleep(200); // time for anything beyond the credit to show up
    expect(broker.stats('q').delivered).toBe(10);
    expect(broker.queueDepth('q')).toBe(90);
    expect(broker.stats('q').accepted).toBe(0);
    expect(readable.readableLength).toBeLessThanOrEqual(4);

    const read: Delivery<string>[] = [];
    for (let i = 0; i < 5; i++) read.push((await readOne(readable)) as Delivery<string>);
    expect(read.map((d) => d.body)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(read.every((d) => d.settledAs === 'accepted')).toBe(true); // settled on read
    await waitFor(() => broker.stats('q').accepted === 5 && broker.stats('q').delivered === 15, 'credit back for what was read');
    await sleep(150);
    expect(broker.stats('q').delivered).toBe(15);
    expect(broker.unsettledCount('q')).toBe(10);
    expect(broker.queueDepth('q')).toBe(85);

    readable.destroy();
    await waitFor(() => broker.queueDepth('q') === 95 && broker.unsettledCount('q') === 0, 'held deliveries released');
    await waitFor(() => broker.linkCount('q').senders === 0, 'the link to detach');
    expect(broker.stats('q').accepted).toBe(5);
    expect(broker.stats('q').released).toBe(10);
  });

  it('paces the link by a slow pipeline sink: at most credit deliveries out, the rest stay queued', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(200));
    const got: unknown[] = [];
    const controller = new AbortController();
    let maxAhead = 0;
    const sampler = setInterval(() => {
      maxAhead = Math.max(maxAhead, broker.stats('q').delivered - got.length);
    }, 2);
    const done = pipeline(toReadable(env.client().receive('q', { credit: 8 }), { highWaterMark: 2 }), slowSink(5, got), {
      signal: controller.signal,
    });
    await waitFor(() => got.length >= 40, '40 deliveries through the slow sink');
    controller.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    clearInterval(sampler);

    // Taken from the broker and not yet at the sink: the link's credit, plus the sink's one in hand.
    expect(maxAhead).toBeLessThanOrEqual(8 + 1);
    await waitFor(() => broker.unsettledCount('q') === 0 && broker.linkCount('q').senders === 0, 'release and detach');
    const { accepted } = broker.stats('q');
    expect(accepted).toBeLessThanOrEqual(got.length + 1);
    expect(broker.queueDepth('q') + accepted).toBe(200);
    expect(broker.queueDepth('q')).toBeGreaterThanOrEqual(200 - 50);
  });

  it("settle: 'manual' hands over unsettled deliveries; credit returns only when the reader settles", async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(20));
    const readable = toReadable<string>(env.client().receive<string>('q', { credit: 5 }), { settle: 'manual' });
    const got: Delivery<string>[] = [];
    readable.on('data', (d: Delivery<string>) => got.push(d));
    await waitFor(() => got.length === 5, '5 deliveries');
    await sleep(150);
    expect(got).toHaveLength(5);
    expect(got.some((d) => d.settled)).toBe(false);
    for (const d of got) d.accept();
    await waitFor(() => got.length === 10, '5 more after settling');
    readable.destroy();
    await waitFor(() => broker.queueDepth('q') + broker.stats('q').accepted === 20 && broker.unsettledCount('q') === 0, 'release');
    expect(broker.stats('q').accepted).toBe(5);
  });

  it('ends with the receive stream and never hands over a delivery the link released', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(10));
    // Nobody reads until the receive stream has completed: its link releases the 5 it held,
    // 2 of them already in the Readable's own buffer.
    const readable = toReadable(env.client().receive('q', { credit: 5 }).pipe(completeWhenIdle(200)), { highWaterMark: 2 });
    readable.read(0);
    await waitFor(() => broker.unsettledCount('q') === 5, '5 deliveries out');
    await waitFor(() => broker.linkCount('q').senders === 0, 'the idle receive stream to complete');
    const read: unknown[] = [];
    for await (const d of readable) read.push(d);
    expect(read).toEqual([]);
    expect(broker.queueDepth('q')).toBe(10);
    expect(broker.stats('q').accepted).toBe(0);

    // Read as they come, everything is accepted and the stream ends.
    const all: Delivery[] = [];
    for await (const d of toReadable(env.client().receive('q', { credit: 3 }).pipe(completeWhenIdle(200)))) all.push(d as Delivery);
    // (The broker put the released ones back at the head of the queue, last released first.)
    expect(all.map((d) => d.body).sort()).toEqual(bodies(10).map((m) => m.body));
    expect(all.every((d) => d.settledAs === 'accepted')).toBe(true);
    await waitFor(() => broker.stats('q').accepted === 10, '10 accepts');
    expect(broker.queueDepth('q')).toBe(0);
  });

  it('is destroyed with the error of the receive stream', async () => {
    await env.start({ autoCreate: false });
    const readable = toReadable(env.client().receive('missing'));
    readable.resume();
    const [error] = (await once(readable, 'error')) as [Error];
    expect(error).toBeInstanceOf(NotFoundError);
  });
});

describe('toWritable', () => {
  const env = useBroker();

  it('calls a write back on the outcome of its message, not before', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('out');
    const writable = toWritable(env.client(), 'out');
    const calls: Array<Error | null | undefined> = [];
    writable.write('a', (error) => calls.push(error));
    await waitFor(() => broker.stats('out').received === 1, 'the transfer');
    await sleep(150);
    expect(calls).toEqual([]);
    broker.resumeOutcomes('out');
    await waitFor(() => calls.length === 1, 'the callback');
    expect(calls[0]).toBeFalsy();
    writable.end();
    await once(writable, 'finish');
  });

  it('fails the write on an outcome not allowed, with the outcome; allow widens what succeeds', async () => {
    const broker = await env.start();
    broker.rejectNext('out', 1, { condition: 'amqp:precondition-failed', description: 'no room' });
    const strict = toWritable(env.client(), 'out');
    const streamError = once(strict, 'error');
    const failed = new Promise<unknown>((resolve) => strict.write('x', resolve));
    const error = await failed;
    expect(error).toBeInstanceOf(OutcomeError);
    expect((error as OutcomeError).outcome).toMatchObject({ state: 'rejected', message: 'x' });
    expect((error as OutcomeError).condition).toBe('amqp:precondition-failed');
    expect((await streamError)[0]).toBe(error); // and the stream fails with it

    broker.rejectNext('out', 1);
    const seen: Outcome[] = [];
    await pipeline(Readable.from(['y', 'z']), toWritable(env.client(), 'out', { allow: ['accepted', 'rejected'], onOutcome: (o) => seen.push(o) }));
    expect(seen.map((o) => [o.message, o.state])).toEqual([
      ['y', 'rejected'],
      ['z', 'accepted'],
    ]);
    expect(broker.queueDepth('out')).toBe(1);
  });

  it('S4: end-to-end backpressure: a broker that withholds outcomes stops the source after highWaterMark messages', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('out');
    let produced = 0;
    async function* orders() {
      for (let i = 0; i < 1000; i++) {
        produced++;
        yield { id: i };
      }
    }
    const outcomes: Outcome[] = [];
    const done = pipeline(Readable.from(orders()), toWritable(env.client(), 'out', { highWaterMark: 8, onOutcome: (o) => outcomes.push(o) }));
    await waitFor(() => broker.stats('out').received >= 1, 'the first transfer');
    await sleep(250);
    expect(broker.stats('out').received).toBe(1); // the next batch waits for this outcome
    expect(produced).toBeLessThanOrEqual(8 + 1 + 2); // the Writable's buffer, the one sent, Readable.from's one ahead
    broker.resumeOutcomes('out');
    await done;
    expect(produced).toBe(1000);
    expect(outcomes).toHaveLength(1000);
    expect(outcomes.every((o) => o.state === 'accepted')).toBe(true);
    expect(broker.queueDepth('out')).toBe(1000);
  });

  it('pipes a queue through a transform into another: a stalled sink leaves the rest on the source queue', async () => {
    const broker = await env.start();
    broker.enqueue('in', ...bodies(300));
    broker.pauseOutcomes('out');
    const client = env.client();
    const upper = new Transform({
      objectMode: true,
      transform(d: Delivery<string>, _encoding, callback) {
        callback(null, d.body.toUpperCase());
      },
    });
    const done = pipeline(
      toReadable(client.receive<string>('in', { credit: 10 }).pipe(completeWhenIdle(1500))),
      upper,
      toWritable(client, 'out', { highWaterMark: 4 }),
    );
    await waitFor(() => broker.stats('out').received >= 1, 'the first message at the sink');
    await sleep(300);
    const depth = broker.queueDepth('in');
    // Out of the source queue: the link's credit, plus what the Transform (16 + 16) and the
    // Writable (4 + 1) buffer: far from 300.
    expect(300 - depth).toBeLessThanOrEqual(10 + 32 + 5 + 2);
    await sleep(200);
    expect(broker.queueDepth('in')).toBe(depth); // and it stays there while the sink is stalled

    broker.resumeOutcomes('out');
    await done;
    expect(broker.queueDepth('out')).toBe(300);
    expect(broker.messages('out')[0]!.message.body).toBe('M0');
    expect(broker.queueDepth('in')).toBe(0);
    expect(broker.stats('in').accepted).toBe(300);
  });

  it('end() waits for every outcome; destroy() detaches and fails the waiting write with what is unconfirmed', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('out');
    const client = env.client();
    const ending = toWritable(client, 'out');
    let finished = false;
    ending.on('finish', () => (finished = true));
    ending.write('a');
    ending.write('b');
    ending.end();
    await waitFor(() => broker.stats('out').received === 1, 'the transfer of a');
    await sleep(150);
    expect(broker.stats('out').received).toBe(1); // b waits for the outcome of a
    expect(finished).toBe(false);
    broker.resumeOutcomes('out');
    await waitFor(() => finished, 'finish');
    expect(broker.queueDepth('out')).toBe(2);

    broker.pauseOutcomes('out');
    const destroyed = toWritable(client, 'out');
    const failure = new Promise<unknown>((resolve) => destroyed.write('c', resolve));
    await waitFor(() => broker.stats('out').received === 3, 'the transfer of c');
    destroyed.destroy();
    const error = await failure;
    expect(error).toBeInstanceOf(SendFailedError);
    expect((error as SendFailedError).unsettled).toEqual(['c']);
    await waitFor(() => broker.linkCount('out').receivers === 0, 'both links detached');
  });

  it('S1: a connection failure fails the stream with a SendFailedError listing the messages without an outcome', async () => {
    const broker = await env.start();
    const writable = toWritable(env.client({ reconnect: false }), 'out', { highWaterMark: 4 });
    const errors: unknown[] = [];
    writable.on('error', (error) => errors.push(error));
    const callbacks: unknown[] = [];
    writable.write('small', (error) => callbacks.push(error ?? 'ok'));
    await waitFor(() => callbacks.length === 1, 'the outcome of the first message');
    broker.pauseOutcomes('out');
    writable.write('x'.repeat(1000), (error) => callbacks.push(error));
    await waitFor(() => broker.stats('out').received === 2, 'the second transfer');
    broker.dropConnections(); // the second message is in flight, with no outcome
    await waitFor(() => errors.length === 1, 'the stream error');
    expect(errors[0]).toBeInstanceOf(SendFailedError);
    expect((errors[0] as SendFailedError).unsettled).toEqual(['x'.repeat(1000)]);
    expect(callbacks[0]).toBe('ok');
    expect(callbacks[1]).toBe(errors[0]);
  });
});

describe('toAsyncIterable', () => {
  const env = useBroker();

  it('R1: buffers no more than the link credit while the loop holds deliveries', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(50));
    const iterator = toAsyncIterable<string>(env.client().receive<string>('q', { credit: 5 }));
    const first = await iterator.next();
    expect(first.value?.body).toBe('m0');
    await sleep(200);
    expect(broker.stats('q').delivered).toBe(5);
    expect(broker.queueDepth('q')).toBe(45);
    first.value!.accept();
    const second = await iterator.next();
    expect(second.value?.body).toBe('m1');
    await waitFor(() => broker.stats('q').delivered === 6, 'one more for the one settled');
    await iterator.return!();
  });

  it('R3: break releases what is held, the delivery in hand and those waiting; settling it later throws', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(20));
    let kept: Delivery<string> | undefined;
    let count = 0;
    for await (const d of toAsyncIterable<string>(env.client().receive<string>('q', { credit: 5 }))) {
      if (++count <= 3) {
        d.accept();
        continue;
      }
      kept = d;
      await waitFor(() => broker.stats('q').accepted === 3 && broker.unsettledCount('q') === 5, 'credit back for the 3 accepted');
      break;
    }
    expect(kept?.body).toBe('m3');
    await waitFor(() => broker.unsettledCount('q') === 0 && broker.queueDepth('q') === 17, 'all held released');
    await waitFor(() => broker.linkCount('q').senders === 0, 'the link to detach');
    // Released by the client, or still on their way to it at the detach and requeued by the broker.
    const { released, requeuedOnDetach, accepted } = broker.stats('q');
    expect(released).toBeGreaterThanOrEqual(1);
    expect(released + requeuedOnDetach).toBe(5);
    expect(accepted).toBe(3);
    expect(() => kept!.accept()).toThrow(DeliveryAlreadySettledError);
  });

  it('ends the loop when the receive stream completes', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(10));
    const seen: string[] = [];
    for await (const d of toAsyncIterable<string>(env.client().receive<string>('q', { credit: 4 }).pipe(completeWhenIdle(200)))) {
      seen.push(d.body);
      d.accept();
    }
    expect(seen).toEqual(bodies(10).map((m) => m.body));
    await waitFor(() => broker.stats('q').accepted === 10, '10 accepts');
  });

  it('fails with BufferOverflowError when pre-settled deliveries outrun the loop past maxBuffered', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(100));
    const iterator = toAsyncIterable(env.client().receive('q', { settleMode: 'at-most-once', credit: 10 }), { maxBuffered: 20 });
    await iterator.next();
    await waitFor(() => broker.linkCount('q').senders === 0, 'the overflow to detach the link');
    let error: unknown;
    try {
      for (;;) if ((await iterator.next()).done === true) break;
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BufferOverflowError);
    expect((error as BufferOverflowError).unsent.length).toBe(21);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });
});
