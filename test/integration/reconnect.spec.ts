import { firstValueFrom, lastValueFrom, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  type ClientState,
  ConnectionLostError,
  createClient,
  type Delivery,
  DeliveryAlreadySettledError,
  type Outcome,
  SendFailedError,
} from 'rhea-rx';
import { EmbeddedBroker, FaultProxy } from 'rhea-rx/testing';
import { sleep, useBroker, waitFor } from '../support/embedded.js';

const bodies = (n: number) => Array.from({ length: n }, (_, i) => ({ body: `m${i}` }));

describe('reconnect and failover', () => {
  const env = useBroker();

  it('C1: reconnects after a lost connection, showing each step on state$', async () => {
    const broker = await env.start();
    const client = env.client({ reconnect: { initialDelay: 20 } });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    const sub = client.receive('q').subscribe();
    await waitFor(() => broker.linkCount('q').senders === 1, 'the receiver');
    broker.dropConnections();
    await waitFor(() => states.filter((s) => s.status === 'open').length === 2, 'a second open');
    expect(states.map((s) => s.status)).toEqual(['idle', 'connecting', 'open', 'reconnecting', 'open']);
    const reconnecting = states[3]!;
    expect(reconnecting.error).toBeInstanceOf(ConnectionLostError);
    expect(reconnecting.delay).toBe(20);
    expect(reconnecting.attempt).toBe(2);
    await waitFor(() => broker.linkCount('q').senders === 1, 'the receiver re-attached');
    sub.unsubscribe();
  });

  it('C1: connections lost soon after opening continue the backoff; one that stayed up 5 s starts it over', async () => {
    const broker = await env.start();
    const client = env.client({ reconnect: { initialDelay: 20 } });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    const sub = client.receive('q').subscribe();
    const opens = () => states.filter((s) => s.status === 'open').length;
    for (let n = 1; n <= 3; n++) {
      await waitFor(() => opens() === n && broker.linkCount('q').senders === 1, `open ${n}`);
      broker.dropConnections();
    }
    await waitFor(() => opens() === 4 && broker.linkCount('q').senders === 1, 'open 4');
    expect(states.filter((s) => s.status === 'reconnecting').map((s) => s.delay)).toEqual([20, 40, 80]);
    await sleep(5_100);
    broker.dropConnections();
    await waitFor(() => opens() === 5, 'open 5');
    expect(states.filter((s) => s.status === 'reconnecting').map((s) => s.delay)).toEqual([20, 40, 80, 20]);
    sub.unsubscribe();
  }, 20_000);

  it('an attach the peer answers too late is given up and attached again: the receive and the send go on', async () => {
    const broker = await env.start();
    const proxy = await FaultProxy.start({ target: broker.url });
    try {
      const client = env.client({ url: proxy.url, reconnect: { initialDelay: 20 } });
      const warm = client.receive('warm').subscribe();
      await waitFor(() => broker.linkCount('warm').senders === 1, 'the connection up');
      proxy.stall(700); // the attaches below wait in the proxy past their 200 ms timeout
      const received: string[] = [];
      const sub = client.receive('late', { attachTimeout: 200 }).subscribe((d) => {
        received.push(String(d.body));
        d.accept();
      });
      const input = new Subject<string>();
      const outcomes = lastValueFrom(input.pipe(client.send<string>('late', { attachTimeout: 200 }), toArray()));
      for (const body of ['a', 'b', 'c']) input.next(body);
      input.complete();
      expect((await outcomes).map((o) => [o.message, o.state])).toEqual([
        ['a', 'accepted'],
        ['b', 'accepted'],
        ['c', 'accepted'],
      ]);
      await waitFor(() => received.length === 3, 'the three messages, through the re-attached receiver', 5000);
      expect(received).toEqual(['a', 'b', 'c']);
      expect(client.stats().reconnects).toBe(0); // the connection stayed up: only the links attached again
      sub.unsubscribe();
      warm.unsubscribe();
    } finally {
      await proxy.stop();
    }
  });

  it('C1: fails over across urls in order, round robin', async () => {
    const broker = await env.start();
    const client = env.client({ urls: ['amqp://127.0.0.1:1', broker.url], reconnect: { initialDelay: 10 } });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    const sub = client.receive('q').subscribe();
    await waitFor(() => states.some((s) => s.status === 'open'), 'an open connection');
    expect(states.map((s) => [s.status, s.url])).toEqual([
      ['idle', 'amqp://127.0.0.1:1'],
      ['connecting', 'amqp://127.0.0.1:1'],
      ['reconnecting', broker.url.replace(/\/$/, '')],
      ['open', broker.url.replace(/\/$/, '')],
    ]);
    expect(states[2]!.error).toBeInstanceOf(ConnectionLostError);
    expect(states[2]!.error?.message).toContain('ECONNREFUSED');
    sub.unsubscribe();
  });

  it('C2: an authentication failure is not retried', async () => {
    const broker = await env.start({ users: { alice: 'right' } });
    const client = env.client({ url: broker.url.replace('amqp://', 'amqp://alice:wrong@') });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    const error = await firstValueFrom(client.receive('q')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(states.some((s) => s.status === 'reconnecting')).toBe(false);
    expect(JSON.stringify(states)).not.toContain('wrong');
  });

  it('R4: a receiver re-attaches, gets its credit back and goes on; held deliveries become stale', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(6));
    const client = env.client({ reconnect: { initialDelay: 10 } });
    const seen: Delivery<string>[] = [];
    let errored: unknown;
    const sub = client
      .receive<string>('q', { credit: 3 })
      .subscribe({ next: (d) => seen.push(d), error: (e) => (errored = e) });
    await waitFor(() => seen.length === 3, '3 deliveries held');
    const stale = seen.slice();
    broker.dropConnections(); // the broker requeues m0..m2
    await waitFor(() => seen.length === 6, 'credit restored on the new link');
    expect(errored).toBeUndefined();
    expect(seen.slice(3).map((d) => d.body)).toEqual(['m0', 'm1', 'm2']); // redelivered first
    expect(seen.slice(3).every((d) => d.deliveryCount === 1)).toBe(true);
    try {
      stale[0]!.accept();
      expect.unreachable('settled a stale delivery');
    } catch (error) {
      expect(error).toBeInstanceOf(DeliveryAlreadySettledError);
      expect((error as DeliveryAlreadySettledError).reason).toBe('stale');
    }
    for (const d of seen.slice(3)) d.accept();
    await waitFor(() => seen.length === 9, 'the rest');
    for (const d of seen.slice(6)) d.accept();
    await waitFor(() => broker.stats('q').accepted === 6, 'all 6 accepted once');
    expect(broker.queueDepth('q')).toBe(0);
    sub.unsubscribe();
  });

  it('S3: unsettled sends are resent after reconnect, with resent: true', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('q');
    const client = env.client({ reconnect: { initialDelay: 10 } });
    const input = new Subject<number>();
    const outcomes: Outcome<number>[] = [];
    let errored: unknown;
    input.pipe(client.send<number>('q')).subscribe({ next: (o) => outcomes.push(o), error: (e) => (errored = e) });
    for (let i = 0; i < 5; i++) input.next(i);
    await waitFor(() => broker.stats('q').received === 5, '5 transfers');
    broker.dropConnections();
    await waitFor(() => broker.stats('q').received === 10, 'the 5 sent again');
    input.next(5);
    broker.resumeOutcomes('q');
    await waitFor(() => outcomes.length === 6, '6 outcomes');
    expect(errored).toBeUndefined();
    expect(outcomes.map((o) => [o.message, o.state, o.resent])).toEqual([
      [0, 'accepted', true],
      [1, 'accepted', true],
      [2, 'accepted', true],
      [3, 'accepted', true],
      [4, 'accepted', true],
      [5, 'accepted', false],
    ]);
    input.complete();
  });

  it('S1: when reconnecting gives up, the error lists every unconfirmed message', async () => {
    const broker = await EmbeddedBroker.start();
    broker.pauseOutcomes('q');
    const client = createClient({ url: broker.url, reconnect: { initialDelay: 10, maxAttempts: 2 } });
    const input = new Subject<number>();
    const failure = lastValueFrom(input.pipe(client.send<number>('q'))).catch((e: unknown) => e);
    for (let i = 0; i < 4; i++) input.next(i);
    await waitFor(() => broker.stats('q').received === 4, '4 transfers');
    await broker.stop(); // gone for good: every attempt is refused
    const error = (await failure) as SendFailedError<number>;
    expect(error).toBeInstanceOf(SendFailedError);
    expect(error.unsettled).toEqual([0, 1, 2, 3]);
    expect(error.cause).toBeInstanceOf(ConnectionLostError);
    await client.close();
  });

  it('close() stops a reconnect in progress', async () => {
    const broker = await EmbeddedBroker.start();
    const client = createClient({ url: broker.url, reconnect: { initialDelay: 60_000 } });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    let completed = false;
    client.receive('q').subscribe({ complete: () => (completed = true), error: () => undefined });
    await waitFor(() => broker.linkCount('q').senders === 1, 'the receiver');
    await broker.stop();
    await waitFor(() => states.at(-1)?.status === 'reconnecting', 'reconnecting');
    const t0 = Date.now();
    await client.close();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(states.at(-1)?.status).toBe('closed');
    expect(completed).toBe(true);
    await sleep(10);
  });
});
