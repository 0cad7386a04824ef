import { createRequire } from 'node:module';
import { firstValueFrom, from, lastValueFrom, map, range, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  BufferOverflowError,
  MessageEncodeError,
  message,
  type Outcome,
  type RemoteTargetAttach,
  SendFailedError,
} from 'rhea-rx';
import { TURN_BYTES, TURN_MESSAGES } from '../../src/links/sendLink.js';
import { sleep, useBroker, waitFor } from '../support/embedded.js';

describe('client.send against EmbeddedBroker', () => {
  const env = useBroker();

  it('S1: 10,000 messages sent produce 10,000 outcomes, each carrying its input', async () => {
    const broker = await env.start();
    const client = env.client();
    const outcomes = await lastValueFrom(range(0, 10_000).pipe(client.send<number>('q'), toArray()));
    expect(outcomes).toHaveLength(10_000);
    expect(outcomes.every((o) => o.state === 'accepted' && o.resent === false)).toBe(true);
    expect(new Set(outcomes.map((o) => o.message)).size).toBe(10_000);
    expect(broker.queueDepth('q')).toBe(10_000);
    expect(broker.messages('q').slice(0, 3).map((m) => m.message.body)).toEqual([0, 1, 2]);
  });

  it('send(null): one link to the anonymous relay; each message goes to its own `to`, one without is refused here', async () => {
    const broker = await env.start();
    const inputs = [
      message('to a', { properties: { to: 'relay-a' } }),
      message('no address'),
      message('to b', { properties: { to: 'relay-b' } }),
    ];
    const outcomes = await lastValueFrom(from(inputs).pipe(env.client().send(null), toArray()));
    const stateOf = (i: number) => outcomes.find((o) => o.message === inputs[i]);
    expect(stateOf(0)?.state).toBe('accepted');
    expect(stateOf(2)?.state).toBe('accepted');
    expect(stateOf(1)?.state).toBe('rejected');
    expect(stateOf(1)?.error).toBeInstanceOf(MessageEncodeError);
    expect(stateOf(1)?.error).toMatchObject({ path: 'properties.to', condition: 'amqp:precondition-failed' });
    expect(broker.messages('relay-a').map((m) => m.message.body)).toEqual(['to a']);
    expect(broker.messages('relay-b').map((m) => m.message.body)).toEqual(['to b']);
    expect(broker.stats('relay-a').received + broker.stats('relay-b').received).toBe(2); // the refused one never left
  });

  it('onAttach reports what the peer attached (target, max-message-size); throwing in it ends the stream listing the messages', async () => {
    await env.start({ maxMessageSize: 4096 });
    const client = env.client();
    const attaches: RemoteTargetAttach[] = [];
    const outcomes = await lastValueFrom(from(['a']).pipe(client.send<string>('attached', { onAttach: (a) => attaches.push(a) }), toArray()));
    expect(outcomes.map((o) => o.state)).toEqual(['accepted']);
    expect(attaches).toHaveLength(1);
    expect(attaches[0]).toMatchObject({ address: 'attached', maxMessageSize: 4096, hasTarget: true });
    const refused = new Error('not this broker');
    const error = await lastValueFrom(from(['b', 'c']).pipe(client.send<string>('attached', { onAttach: () => { throw refused; } }), toArray())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendFailedError);
    expect((error as SendFailedError).cause).toBe(refused);
    expect((error as SendFailedError).unsettled).toEqual(['b', 'c']);
    expect(() => client.send('q', { onAttach: 'yes' as never })).toThrow(expect.objectContaining({ name: 'ConfigError', option: 'onAttach' }));
  });

  it('S1: reports rejected and released outcomes with the peer error', async () => {
    const broker = await env.start();
    broker.rejectNext('q', 2, { condition: 'amqp:precondition-failed', description: 'no room' });
    const outcomes = await lastValueFrom(from(['a', 'b', 'c']).pipe(env.client().send('q'), toArray()));
    expect(outcomes.map((o) => [o.message, o.state])).toEqual([
      ['a', 'rejected'],
      ['b', 'rejected'],
      ['c', 'accepted'],
    ]);
    expect(outcomes[0]!.error).toEqual({ condition: 'amqp:precondition-failed', description: 'no room' });
  });

  it('S2: with the peer granting credit 5 at a time, never more than maxInFlight are unsettled at the peer', async () => {
    const broker = await env.start({ senderCreditWindow: 5 });
    broker.pauseOutcomes('q');
    const outcomes: Outcome<number>[] = [];
    const sub = range(0, 40)
      .pipe(env.client().send<number>('q', { maxInFlight: 3 }))
      .subscribe((o) => outcomes.push(o));
    await waitFor(() => broker.stats('q').received === 3, '3 transfers');
    await sleep(150);
    expect(broker.stats('q').received).toBe(3); // maxInFlight holds the rest back
    expect(outcomes).toHaveLength(0);
    broker.resumeOutcomes('q');
    await waitFor(() => outcomes.length === 40, '40 outcomes');
    expect(broker.stats('q').maxOutstandingUnsettled).toBeLessThanOrEqual(3);
    expect(outcomes.map((o) => o.message)).toEqual([...Array(40).keys()]);
    sub.unsubscribe();
  });

  it('hands rhea at most TURN_MESSAGES transfers, or TURN_BYTES of payload, per event-loop turn; the rest follow in the next turns', async () => {
    await env.start({ senderCreditWindow: 5000 });
    const client = env.client();
    // Which turn each transfer was handed to rhea in: a turn ends at each check phase (setImmediate).
    const { Sender } = createRequire(import.meta.url)('rhea/lib/link.js') as { Sender: { prototype: { send(...args: unknown[]): unknown } } };
    const send = Sender.prototype.send;
    let turn = 0;
    let counting = true;
    const nextTurn = () => {
      turn++;
      if (counting) setImmediate(nextTurn);
    };
    const perTurn = new Map<number, { messages: number; bytes: number }>();
    Sender.prototype.send = function (this: unknown, ...args: unknown[]) {
      const delivery = send.apply(this, args) as { data: Buffer[] };
      const t = perTurn.get(turn) ?? { messages: 0, bytes: 0 };
      t.messages++;
      t.bytes += delivery.data.reduce((n, b) => n + b.length, 0);
      perTurn.set(turn, t);
      return delivery;
    };
    setImmediate(nextTurn);
    try {
      const small = await lastValueFrom(range(0, 3000).pipe(client.send<number>('turns', { maxInFlight: 2048 }), toArray()));
      expect(small.every((o) => o.state === 'accepted')).toBe(true);
      const smallTurns = [...perTurn.values()];
      perTurn.clear();
      const body = 'x'.repeat(128 * 1024);
      const large = await lastValueFrom(range(0, 160).pipe(map(() => body), client.send<string>('turns', { maxInFlight: 2048 }), toArray()));
      expect(large.every((o) => o.state === 'accepted')).toBe(true);
      const largeTurns = [...perTurn.values()];

      // A turn's count can take in one more turn's worth when the two check phases interleave.
      expect(smallTurns.reduce((n, t) => n + t.messages, 0)).toBe(3000);
      expect(Math.max(...smallTurns.map((t) => t.messages))).toBeLessThanOrEqual(2 * TURN_MESSAGES);
      expect(smallTurns.length).toBeGreaterThanOrEqual(3000 / (2 * TURN_MESSAGES));
      const perLargeTurn = Math.ceil(TURN_BYTES / (128 * 1024));
      expect(perLargeTurn).toBeLessThan(TURN_MESSAGES / 2); // so that the byte limit is what this part checks
      expect(largeTurns.reduce((n, t) => n + t.messages, 0)).toBe(160);
      expect(Math.max(...largeTurns.map((t) => t.messages))).toBeLessThanOrEqual(2 * perLargeTurn);
      expect(largeTurns.length).toBeGreaterThanOrEqual(160 / (2 * perLargeTurn));
    } finally {
      counting = false;
      Sender.prototype.send = send;
    }
  });

  it('S2: sends nothing without credit, and a push source that outruns the buffer fails listing every unsent message', async () => {
    const broker = await env.start();
    broker.pauseCredit('q');
    const input = new Subject<number>();
    const failure = firstValueFrom(input.pipe(env.client().send<number>('q', { bufferSize: 100 }))).catch((e: unknown) => e);
    await waitFor(() => broker.linkCount('q').receivers === 1, 'the sender link');
    for (let i = 0; i < 101; i++) input.next(i);
    const error = (await failure) as SendFailedError<number>;
    expect(error).toBeInstanceOf(SendFailedError);
    expect(error.cause).toBeInstanceOf(BufferOverflowError);
    expect((error.cause as BufferOverflowError<number>).unsent).toEqual([...Array(101).keys()]);
    expect(error.unsettled).toEqual([...Array(101).keys()]);
    expect(input.observed).toBe(false); // the source was unsubscribed
    expect(broker.stats('q').received).toBe(0);
  });

  it('S2: drop-newest keeps the buffer bounded and reports each dropped message', async () => {
    const broker = await env.start();
    broker.pauseCredit('q');
    const dropped: number[] = [];
    const outcomes: Outcome<number>[] = [];
    const input = new Subject<number>();
    const sub = input
      .pipe(env.client().send<number>('q', { bufferSize: 10, overflow: 'drop-newest', onDrop: (m) => dropped.push(m as number) }))
      .subscribe((o) => outcomes.push(o));
    await waitFor(() => broker.linkCount('q').receivers === 1, 'the sender link');
    for (let i = 0; i < 25; i++) input.next(i);
    expect(dropped).toEqual([...Array(15).keys()].map((i) => i + 10));
    broker.resumeCredit('q');
    await waitFor(() => outcomes.length === 10, 'the 10 buffered messages');
    expect(outcomes.map((o) => o.message)).toEqual([...Array(10).keys()]);
    sub.unsubscribe();
  });

  it('S4: an async generator of 100,000 messages is pulled no faster than credit allows', async () => {
    const broker = await env.start({ senderCreditWindow: 50 });
    broker.pauseOutcomes('q');
    let pulls = 0;
    let outcomes = 0;
    let maxAhead = 0;
    async function* generate() {
      for (let i = 0; i < 100_000; i++) {
        pulls++;
        yield i;
      }
    }
    const done = new Promise<void>((resolve, reject) => {
      env
        .client()
        .sendFrom(generate(), 'q', { maxInFlight: 20 })
        .subscribe({
          next: () => {
            outcomes++;
            maxAhead = Math.max(maxAhead, pulls - outcomes);
          },
          error: reject,
          complete: resolve,
        });
    });
    await waitFor(() => broker.stats('q').received === 20, '20 transfers');
    await sleep(200);
    expect(pulls).toBe(20); // nothing pulled beyond what can be in flight
    broker.resumeOutcomes('q');
    await done;
    expect(outcomes).toBe(100_000);
    expect(pulls).toBe(100_000);
    expect(maxAhead).toBeLessThanOrEqual(20);
    expect(broker.queueDepth('q')).toBe(100_000);
  }, 60_000);

  it('S4: pulls nothing while the peer grants no credit', async () => {
    const broker = await env.start();
    broker.pauseCredit('q');
    let pulls = 0;
    const source = {
      [Symbol.iterator]: function* () {
        for (;;) {
          pulls++;
          yield pulls;
        }
      },
    };
    const sub = env.client().sendFrom(source, 'q').subscribe();
    await waitFor(() => broker.linkCount('q').receivers === 1, 'the sender link');
    await sleep(100);
    expect(pulls).toBe(0);
    sub.unsubscribe();
  });

  it('sends header, properties and annotations made with message()', async () => {
    const broker = await env.start();
    const input = message(
      { id: 7 },
      {
        header: { durable: true, priority: 9, ttl: 60_000 },
        properties: { messageId: 'm-7', subject: 'order', contentType: 'application/json', correlationId: 'c-1' },
        applicationProperties: { region: 'eu', count: 3 },
        messageAnnotations: { 'x-opt-jms-msg-type': 0 },
      },
    );
    const [outcome] = await lastValueFrom(from([input]).pipe(env.client().send('q'), toArray()));
    expect(outcome!.message).toBe(input);
    const stored = broker.messages('q')[0]!.message as unknown as Record<string, unknown>;
    expect(stored).toMatchObject({
      body: { id: 7 },
      durable: true,
      priority: 9,
      ttl: 60_000,
      message_id: 'm-7',
      subject: 'order',
      content_type: 'application/json',
      correlation_id: 'c-1',
      application_properties: { region: 'eu', count: 3 },
      message_annotations: { 'x-opt-jms-msg-type': 0 },
    });
  });

  it.each([
    ['a BigInt beyond 64 bits', 2n ** 70n, 'body'],
    ['an integer above 2^53', 2 ** 53 + 2, 'body'],
    ['1e20', 1e20, 'body'],
    ['a symbol inside a map', { a: { b: Symbol('x') } }, 'body.a.b'],
    ['a function in a list', [1, () => 2], 'body[1]'],
  ])('refuses %s with a typed error, listing it and everything unconfirmed', async (_name, bad, path) => {
    const broker = await env.start();
    const outcomes: Outcome[] = [];
    const error = await new Promise<unknown>((resolve) => {
      from(['ok', bad, 'never'])
        .pipe(env.client().send('q'))
        .subscribe({ next: (o) => outcomes.push(o), error: resolve });
    });
    expect(error).toBeInstanceOf(SendFailedError);
    const cause = (error as SendFailedError).cause as MessageEncodeError;
    expect(cause).toBeInstanceOf(MessageEncodeError);
    expect(cause.path).toBe(path);
    expect(cause.message).toContain(path);
    // 'ok' has either an outcome or is listed; the bad one is listed; nothing is silently lost.
    const unsettled = (error as SendFailedError).unsettled;
    expect(unsettled).toContain(bad);
    expect([...outcomes.map((o) => o.message), ...unsettled]).toContain('ok');
    await sleep(20);
    expect(broker.stats('q').received).toBeLessThanOrEqual(1);
  });
});
