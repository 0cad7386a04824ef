import { firstValueFrom, from, lastValueFrom, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  type ClientState,
  ConfigError,
  ConnectionLostError,
  createClient,
  NotFoundError,
  type Outcome,
  SendFailedError,
} from 'rhea-rx';
import { sleep, useBroker, waitFor } from '../support/embedded.js';

describe('createClient against EmbeddedBroker', () => {
  const env = useBroker();

  it('connects lazily and shares one connection between all links', async () => {
    const broker = await env.start();
    const client = env.client();
    await sleep(50);
    expect(broker.connectionCount()).toBe(0);
    const subs = ['a', 'b', 'c'].map((q) => client.receive(q).subscribe());
    await lastValueFrom(from([1]).pipe(client.send('a')));
    await waitFor(() => broker.linkCount('c').senders === 1, 'three receivers');
    expect(broker.connectionCount()).toBe(1);
    for (const s of subs) s.unsubscribe();
  });

  it('reads the peer from the open frame and shows the connection life on state$', async () => {
    const broker = await env.start();
    const client = env.client();
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    expect(client.peer).toBeUndefined();
    await lastValueFrom(from([1]).pipe(client.send('q')));
    expect(client.peer?.product).toBe('rhea-rx EmbeddedBroker');
    expect(typeof client.peer?.version).toBe('string');
    await client.close();
    expect(states.map((s) => s.status)).toEqual(['idle', 'connecting', 'open', 'closed']);
    expect(states[1]!.url).toBe(broker.url.replace(/\/$/, ''));
  });

  it('close() waits for in-flight sends to settle, then completes the send stream', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('q');
    const client = env.client();
    const input = new Subject<number>();
    const outcomes: Outcome<number>[] = [];
    let completed = false;
    input.pipe(client.send<number>('q')).subscribe({ next: (o) => outcomes.push(o), complete: () => (completed = true) });
    for (let i = 0; i < 5; i++) input.next(i);
    await waitFor(() => broker.stats('q').received === 5, '5 transfers');
    const closing = client.close({ timeout: 5000 });
    await sleep(100);
    expect(outcomes).toHaveLength(0);
    broker.resumeOutcomes('q');
    await closing;
    expect(outcomes.map((o) => o.state)).toEqual(Array(5).fill('accepted'));
    expect(completed).toBe(true);
    await waitFor(() => broker.connectionCount() === 0, 'the connection to close');
  });

  it('close() with outcomes still missing at the deadline fails the send stream listing them', async () => {
    const broker = await env.start();
    broker.pauseOutcomes('q');
    const client = env.client();
    const input = new Subject<number>();
    const failed = firstValueFrom(input.pipe(client.send<number>('q'))).catch((e: unknown) => e);
    for (let i = 0; i < 3; i++) input.next(i);
    await waitFor(() => broker.stats('q').received === 3, '3 transfers');
    await client.close({ timeout: 100 });
    const error = (await failed) as SendFailedError<number>;
    expect(error).toBeInstanceOf(SendFailedError);
    expect(error.unsettled).toEqual([0, 1, 2]);
  });

  it('close() completes receive streams and releases what they hold', async () => {
    const broker = await env.start();
    broker.enqueue('q', { body: 1 }, { body: 2 });
    const client = env.client();
    let completed = false;
    client.receive('q').subscribe({ complete: () => (completed = true) });
    await waitFor(() => broker.unsettledCount('q') === 2, '2 deliveries');
    await client.close();
    expect(completed).toBe(true);
    await waitFor(() => broker.queueDepth('q') === 2, 'the held deliveries released');
  });

  it('with reconnect off, a connection drop errors the streams with a retryable ConnectionLostError', async () => {
    const broker = await env.start();
    const client = env.client({ reconnect: false });
    const errors: unknown[] = [];
    client.receive('q').subscribe({ error: (e) => errors.push(e) });
    await waitFor(() => broker.linkCount('q').senders === 1, 'the receiver');
    broker.dropConnections();
    await waitFor(() => errors.length === 1, 'the error');
    expect(errors[0]).toBeInstanceOf(ConnectionLostError);
    expect((errors[0] as ConnectionLostError).retryable).toBe(true);
  });
});

describe('bad input', () => {
  const env = useBroker();

  it.each([
    ['http://localhost', 'url.scheme'],
    ['amqp://host:99999', 'url.port'],
    ['amqp://host:abc', 'url.port'],
    ['amqp://', 'url.host'],
    ['not a url', 'url.scheme'],
  ])('a malformed URL %s is a ConfigError naming %s', (url, option) => {
    const error = (() => {
      try {
        createClient(url);
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.option).toBe(option);
  });

  it('never shows the password of a malformed URL', () => {
    expect(() => createClient('amqp://user:hunter2@host:99999')).toThrow(ConfigError);
    try {
      createClient('amqp://user:hunter2@host:99999');
    } catch (e) {
      expect(String((e as Error).message)).not.toContain('hunter2');
    }
  });

  it.each([
    [() => createClient({ url: 'amqp://h', conectTimeout: 5 } as never), 'conectTimeout'],
    [() => createClient({ url: 'amqp://h', connectTimeout: -1 }), 'connectTimeout'],
    [() => createClient('amqp://h').receive('q', { credt: 5 } as never), 'credt'],
    [() => createClient('amqp://h').receive('q', { credit: 0 }), 'credit'],
    [() => createClient('amqp://h').receive('q', { credit: 10, creditBatch: 11 }), 'creditBatch'],
    [() => createClient('amqp://h').receive('q', { settleMode: 'peek' as never }), 'settleMode'],
    [() => createClient('amqp://h').receive(''), 'source'],
    [() => createClient('amqp://h').send('q', { maxInFlight: 5000 }), 'maxInFlight'],
    [() => createClient('amqp://h').send('q', { overflow: 'block' as never }), 'overflow'],
    [() => createClient('amqp://h').send('q', { onDrop: () => undefined }), 'onDrop'],
    [() => createClient('amqp://h').sendFrom(42 as never, 'q'), 'source'],
  ])('an invalid option fails at call time: %#', (call, option) => {
    try {
      call();
      expect.unreachable('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).option).toBe(option);
      expect((e as ConfigError).message).toContain(option);
    }
  });

  it('a wrong password is an AuthenticationError that does not contain it', async () => {
    const broker = await env.start({ users: { alice: 's3cret-pw' } });
    const client = env.client({ url: broker.url.replace('amqp://', 'amqp://alice:wrong-pw@') });
    const error = await firstValueFrom(client.receive('q')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).not.toContain('wrong-pw');
    expect((error as AuthenticationError).retryable).toBe(false);
    const good = env.client({ url: broker.url.replace('amqp://', 'amqp://alice:s3cret-pw@') });
    const outcomes = await lastValueFrom(from([1]).pipe(good.send('q'), toArray()));
    expect(outcomes[0]!.state).toBe('accepted');
  });

  it('an unknown address is a NotFoundError for receivers and senders', async () => {
    await env.start({ autoCreate: false });
    const client = env.client();
    const receiveError = await firstValueFrom(client.receive('nowhere')).catch((e: unknown) => e);
    expect(receiveError).toBeInstanceOf(NotFoundError);
    expect((receiveError as Error).message).toContain('nowhere');
    const sendError = (await lastValueFrom(from([1, 2]).pipe(client.send('nowhere'))).catch((e: unknown) => e)) as SendFailedError;
    expect(sendError).toBeInstanceOf(SendFailedError);
    expect(sendError.cause).toBeInstanceOf(NotFoundError);
    expect(sendError.unsettled).toEqual([1, 2]);
  });

  it('with reconnect off, an unreachable peer is a retryable ConnectionLostError', async () => {
    const client = createClient({ url: 'amqp://127.0.0.1:1', connectTimeout: 2000, reconnect: false });
    const error = await firstValueFrom(client.receive('q')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as ConnectionLostError).retryable).toBe(true);
    await client.close();
  });
});
