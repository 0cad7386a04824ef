import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  AbortError,
  AmqpError,
  ConfigError,
  createClient,
  type Delivery,
  isAmqpError,
  type Outcome,
  SendFailedError,
  toAsyncIterable,
} from 'rhea-rx';
import { sleep, useBroker, waitFor } from '../support/embedded.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;
const bodies = (n: number) => Array.from({ length: n }, (_, i) => ({ body: `m${i}` }));

/** Runs `promise` to its rejection and returns the reason; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function expectAbortError(error: unknown, reason: unknown): void {
  expect(error).toBeInstanceOf(AbortError);
  expect(isAmqpError(error)).toBe(true);
  expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', retryable: false });
  expect((error as Error).cause).toBe(reason);
}

describe('AbortSignal: client.receiveOne', () => {
  const env = useBroker();

  it('rejects with AbortError on abort, detaches the link and leaves no listener', async () => {
    const broker = await env.start();
    const controller = new AbortController();
    const started = Date.now();
    const pending = env.client().receiveOne('q', { timeout: 10_000, signal: controller.signal });
    await waitFor(() => broker.linkCount('q').senders === 1, 'the link to attach');
    expect(listeners(controller.signal)).toBe(1);
    controller.abort();
    expectAbortError(await rejection(pending), controller.signal.reason);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(listeners(controller.signal)).toBe(0);
    await waitFor(() => broker.linkCount('q').senders === 0, 'the link to detach');

    broker.enqueue('q', ...bodies(1)); // nothing is waiting for it any more: it stays queued
    await sleep(100);
    expect(broker.queueDepth('q')).toBe(1);
  });

  it('rejects at once for an already aborted signal, without connecting', async () => {
    const broker = await env.start();
    const reason = new Error('shutting down');
    const error = await rejection(env.client().receiveOne('q', { signal: AbortSignal.abort(reason) }));
    expectAbortError(error, reason);
    await sleep(50);
    expect(broker.connectionCount()).toBe(0);
  });

  it('removes its listener when a message comes, and when the wait times out', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(1));
    const client = env.client();
    const { signal } = new AbortController();
    const delivery = await client.receiveOne<string>('q', { signal });
    expect(delivery?.body).toBe('m0');
    expect(listeners(signal)).toBe(0);
    delivery!.accept();
    expect(await client.receiveOne('q', { timeout: 50, signal })).toBeUndefined();
    expect(listeners(signal)).toBe(0);
  });

  it('refuses a signal that is not an AbortSignal, at call time', () => {
    const client = createClient('amqp://localhost:1');
    expect(() => client.receiveOne('q', { signal: {} as AbortSignal })).toThrow(ConfigError);
    expect(() => client.sendFrom([], 'q', { signal: 'x' as never })).toThrow(/expected an AbortSignal/);
    expect(() => toAsyncIterable(client.receive('q'), { signal: 1 as never })).toThrow(ConfigError);
  });
});

describe('AbortSignal: client.close', () => {
  const env = useBroker();

  it('stops waiting with AbortError; the close goes on in the background, bounded by its timeout', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('q');
    const client = env.client();
    const failures: unknown[] = [];
    client.sendFrom(['a'], 'q').subscribe({ error: (error: unknown) => failures.push(error) });
    await waitFor(() => broker.stats('q').received === 1, 'the transfer');

    const controller = new AbortController();
    const started = Date.now();
    const closing = client.close({ timeout: 600, signal: controller.signal }); // waits for the outcome of a
    await sleep(50);
    expect(listeners(controller.signal)).toBe(1);
    controller.abort();
    expectAbortError(await rejection(closing), controller.signal.reason);
    expect(Date.now() - started).toBeLessThan(400);
    expect(listeners(controller.signal)).toBe(0);

    await waitFor(() => broker.connectionCount() === 0, 'the close to finish anyway');
    expect(Date.now() - started).toBeGreaterThanOrEqual(550); // it still gave the send its time
    expect(failures).toHaveLength(1);
    expect((failures[0] as SendFailedError).unsettled).toEqual(['a']);
  });

  it('resolves as before and leaves no listener when not aborted; rejects at once when aborted before', async () => {
    await env.start();
    const client = env.client();
    await lastValueFrom(client.sendFrom(['a'], 'q'));
    const { signal } = new AbortController();
    await client.close({ signal });
    expect(listeners(signal)).toBe(0);

    const other = env.client();
    await lastValueFrom(other.sendFrom(['b'], 'q'));
    const reason = new Error('now');
    expectAbortError(await rejection(other.close({ signal: AbortSignal.abort(reason) })), reason);
    let closed = false;
    other.state$.subscribe({ complete: () => (closed = true) });
    await waitFor(() => closed, 'the client to close anyway');
  });
});

describe('AbortSignal: client.sendFrom', () => {
  const env = useBroker();

  it('S1: aborting stops reading the source, detaches, and fails with SendFailedError listing what has no outcome', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('q');
    let read = 0;
    let returned = false;
    async function* orders() {
      try {
        for (let i = 0; ; i++) {
          read++;
          yield `o${i}`;
        }
      } finally {
        returned = true;
      }
    }
    const controller = new AbortController();
    const outcomes: Outcome[] = [];
    const failures: unknown[] = [];
    env
      .client()
      .sendFrom(orders(), 'q', { maxInFlight: 5, signal: controller.signal })
      .subscribe({ next: (o) => outcomes.push(o), error: (error: unknown) => failures.push(error) });
    await waitFor(() => broker.stats('q').received === 5, '5 in flight');
    expect(listeners(controller.signal)).toBe(1);
    const reason = new Error('user cancelled');
    controller.abort(reason);

    expect(failures).toHaveLength(1);
    const error = failures[0] as SendFailedError<string>;
    expect(error).toBeInstanceOf(SendFailedError);
    expectAbortError(error.cause, reason);
    expect(error.unsettled).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    expect(outcomes).toHaveLength(0);
    expect(read).toBe(5); // S4: read only as the link could take them
    expect(listeners(controller.signal)).toBe(0);
    await waitFor(() => returned, "the generator's finally");
    await waitFor(() => broker.linkCount('q').receivers === 0, 'the link to detach');
  });

  it('fails at subscription for an already aborted signal, reading nothing', async () => {
    const broker = await env.start();
    let read = 0;
    const source = new Readable({
      objectMode: true,
      read() {
        read++;
        this.push('x');
      },
    });
    const error = await rejection(lastValueFrom(env.client().sendFrom(source, 'q', { signal: AbortSignal.abort() })));
    expect(error).toBeInstanceOf(SendFailedError);
    expect((error as SendFailedError).unsettled).toEqual([]);
    expect((error as SendFailedError).cause).toBeInstanceOf(AbortError);
    expect(read).toBe(0);
    await sleep(50);
    expect(broker.connectionCount()).toBe(0);
  });

  it('leaves no listener when the send completes', async () => {
    const broker = await env.start();
    const { signal } = new AbortController();
    const outcomes = await lastValueFrom(env.client().sendFrom(['a', 'b'], 'q', { signal }).pipe(toArray()));
    expect(outcomes.map((o) => o.state)).toEqual(['accepted', 'accepted']);
    expect(listeners(signal)).toBe(0);
    expect(broker.queueDepth('q')).toBe(2);
  });
});

describe('AbortSignal: toAsyncIterable', () => {
  const env = useBroker();

  it('R3: abort during a loop throws AbortError out of for await and releases what is held', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(20));
    const controller = new AbortController();
    const seen: Delivery[] = [];
    let caught: unknown;
    try {
      for await (const d of toAsyncIterable(env.client().receive('q', { credit: 4 }), { signal: controller.signal })) {
        seen.push(d); // held, never settled: after 4 the loop waits for credit that never comes
        if (seen.length === 4) setTimeout(() => controller.abort(), 50);
      }
    } catch (error) {
      caught = error;
    }
    expectAbortError(caught, controller.signal.reason);
    expect(seen).toHaveLength(4);
    expect(listeners(controller.signal)).toBe(0);
    await waitFor(() => broker.queueDepth('q') === 20 && broker.unsettledCount('q') === 0, 'the 4 released');
    await waitFor(() => broker.linkCount('q').senders === 0, 'the link to detach');
    expect(seen.every((d) => d.settled)).toBe(true);
  });

  it('rejects the first next() for an already aborted signal without attaching; then it is done', async () => {
    const broker = await env.start();
    const iterator = toAsyncIterable(env.client().receive('q'), { signal: AbortSignal.abort() });
    expect(await rejection(iterator.next())).toBeInstanceOf(AbortError);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    await sleep(50);
    expect(broker.connectionCount()).toBe(0);
  });

  it('leaves no listener after break, and none before the first next()', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(3));
    const { signal } = new AbortController();
    const iterable = toAsyncIterable<string>(env.client().receive<string>('q'), { signal });
    expect(listeners(signal)).toBe(0);
    for await (const d of iterable) {
      expect(listeners(signal)).toBe(1);
      d.accept();
      break;
    }
    expect(listeners(signal)).toBe(0);
    await waitFor(() => broker.linkCount('q').senders === 0, 'the link to detach');
    expect(broker.stats('q').accepted).toBe(1);
  });

  it('AbortError is an AmqpError and carries the reason, like Node', () => {
    const reason = new DOMException('This operation was aborted', 'AbortError');
    const error = new AbortError('Receiving was aborted', { cause: reason });
    expect(error).toBeInstanceOf(AmqpError);
    expect(error.name).toBe('AbortError');
    expect(error.cause).toBe(reason);
    expect(error.toJSON()).toEqual({ name: 'AbortError', message: 'Receiving was aborted', retryable: false });
  });
});
