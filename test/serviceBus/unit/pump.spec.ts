import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Observable, Subject, toArray, lastValueFrom } from 'rxjs';
import { fakeDelivery, type FakeDelivery } from 'rhea-rx/testing';
import { completeWhenQuiet } from '../../../src/serviceBus/completeWhenQuiet.js';
import type { ManagementClient } from '../../../src/serviceBus/management.js';
import { FURTHER_PULL_MS, LinkPump } from '../../../src/serviceBus/pump.js';
import { ReceivedMessage } from '../../../src/serviceBus/ServiceBusReceivedMessage.js';

function message(body: string): { message: ReceivedMessage<string>; delivery: FakeDelivery<string> } {
  const delivery = fakeDelivery(body);
  const origin = { entityPath: 'q', management: {} as ManagementClient, receiveMode: 'peekLock' as const, linkName: 'l' };
  return { message: new ReceivedMessage<string>('link', delivery.message, origin, delivery, undefined), delivery };
}

describe('LinkPump (messages held for pull-style receives)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('attaches once, keeps what arrives until pulled, and leaves what a pull did not take for the next', async () => {
    let subscriptions = 0;
    const link = new Subject<ReceivedMessage<string>>();
    const pump = new LinkPump<string>(new Observable((s) => (subscriptions++, link.subscribe(s))));
    pump.start();
    pump.start();
    expect(subscriptions).toBe(1);
    const [a, b, c] = [message('a'), message('b'), message('c')];
    link.next(a.message);
    link.next(b.message);
    link.next(c.message);
    const first = await pump.take(2, 1_000);
    expect(first.map(String)).toEqual(['a', 'b']);
    const second = pump.take(5, 1_000); // c is waiting: then 200 ms more for others
    await vi.advanceTimersByTimeAsync(FURTHER_PULL_MS);
    expect((await second).map(String)).toEqual(['c']);
  });

  it('waits up to maxWaitTime for a first message, then collects 200 ms more (azure-servicebus receive_messages)', async () => {
    const link = new Subject<ReceivedMessage<string>>();
    const pump = new LinkPump<string>(link);
    pump.start();
    const pending = pump.take(10, 5_000);
    await vi.advanceTimersByTimeAsync(3_000);
    link.next(message('a').message);
    await vi.advanceTimersByTimeAsync(FURTHER_PULL_MS - 10);
    link.next(message('b').message);
    await vi.advanceTimersByTimeAsync(10);
    expect((await pending).map(String)).toEqual(['a', 'b']);
  });

  it('resolves with nothing after maxWaitTime when nothing came', async () => {
    const pump = new LinkPump<string>(new Subject());
    pump.start();
    const pending = pump.take(10, 5_000);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await pending).toEqual([]);
  });

  it('stops as soon as it has maxCount', async () => {
    const link = new Subject<ReceivedMessage<string>>();
    const pump = new LinkPump<string>(link);
    pump.start();
    const pending = pump.take(2, 60_000);
    link.next(message('a').message);
    link.next(message('b').message);
    expect((await pending).map(String)).toEqual(['a', 'b']);
  });

  it('closeWhenSettled: gives back what waits and what still arrives, and detaches once the batch is settled', async () => {
    let detached = false;
    const link = new Subject<ReceivedMessage<string>>();
    const pump = new LinkPump<string>(new Observable((s) => (link.subscribe(s), () => (detached = true))));
    pump.start();
    const [a, late1, late2] = [message('a'), message('late1'), message('late2')];
    link.next(a.message);
    const batch = await pump.take(1, 1_000);
    link.next(late1.message); // arrived after the pull: waiting
    pump.closeWhenSettled(batch);
    expect(late1.delivery.settledAs).toBe('released');
    link.next(late2.message);
    expect(late2.delivery.settledAs).toBe('released');
    expect(detached).toBe(false);
    await batch[0]!.complete();
    expect(detached).toBe(true);
  });

  it('closeWhenSettled with nothing taken detaches at once', () => {
    let detached = false;
    const pump = new LinkPump<string>(new Observable(() => () => (detached = true)));
    pump.start();
    pump.closeWhenSettled([]);
    expect(detached).toBe(true);
  });

  it('hands the link error to the consumer and to every later pull', async () => {
    const link = new Subject<ReceivedMessage<string>>();
    const pump = new LinkPump<string>(link);
    pump.start();
    const pending = pump.take(1, 60_000);
    link.error(new Error('session lock lost'));
    await expect(pending).rejects.toThrow('session lock lost');
    await expect(pump.take(1, 1)).rejects.toThrow('session lock lost');
    expect(pump.ended).toBe(true);
  });

  it('allows one consumer at a time', async () => {
    const pump = new LinkPump<string>(new Subject());
    pump.start();
    const first = pump.messages().subscribe();
    const errors: unknown[] = [];
    pump.messages().subscribe({ error: (e: unknown) => errors.push(e) });
    expect(String(errors[0])).toMatch(/one receive at a time/);
    first.unsubscribe();
    pump.messages().subscribe({ error: (e: unknown) => errors.push(e) });
    expect(errors).toHaveLength(1);
  });
});

describe('completeWhenQuiet (max_wait_time that does not count handler time)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('completes after maxWaitTime with nothing new, counting only while every message is settled', async () => {
    const link = new Subject<ReceivedMessage<string>>();
    let detached = false;
    const source = new Observable<ReceivedMessage<string>>((s) => (link.subscribe(s), () => (detached = true)));
    const out = lastValueFrom(source.pipe(completeWhenQuiet(1_000), toArray()));
    const a = message('a');
    await vi.advanceTimersByTimeAsync(900);
    link.next(a.message); // the clock stops: a is unsettled
    await vi.advanceTimersByTimeAsync(10_000); // a long handler
    expect(detached).toBe(false);
    await a.message.complete(); // the clock starts again
    await vi.advanceTimersByTimeAsync(999);
    expect(detached).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect((await out).map(String)).toEqual(['a']);
    expect(detached).toBe(true);
  });

  it('completes after maxWaitTime from subscription when nothing comes', async () => {
    const out = lastValueFrom(new Subject<ReceivedMessage<string>>().pipe(completeWhenQuiet(2_000), toArray()));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await out).toEqual([]);
  });

  it('is the identity for Infinity', () => {
    const source = new Subject<ReceivedMessage<string>>();
    expect(completeWhenQuiet<ReceivedMessage<string>>(Infinity)(source)).toBe(source);
  });
});
