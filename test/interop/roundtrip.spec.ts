/**
 * Property test through a peer: generated messages (fast-check) sent by rhea-rx and received by
 * rhea-rx with the typed decode arrive exactly — every value with its AMQP type, in the body,
 * application properties and message annotations, and the message-id.
 *
 * On RabbitMQ 3.10 the generated values avoid what it cannot take (docs/types.md): arrays of element
 * types it cannot parse, a described value as an annotation, and a body that is a list of two or
 * more values (such a body is sent inside a one-element list instead). On EmbeddedBroker this checks
 * that it forwards each message's bare part byte for byte.
 */
import fc from 'fast-check';
import { Subject } from 'rxjs';
import { afterEach, expect, it } from 'vitest';
import { amqp, AmqpDescribed, type Client, createClient, type Delivery, message, type Outcome } from '../../src/index.js';
import { forEachPeer, usePeer } from '../support/peers.js';
import { ALL_ARRAY_TYPES, amqpScalar, amqpValue, expectedTyped, RABBITMQ_ARRAY_TYPES } from './arbitraries.js';

const RUNS = Number(process.env.FC_PEER_RUNS ?? 200);
const STEP_TIMEOUT_MS = 10_000;

/** Values pushed by one side and awaited, in order, by the other. */
class Channel<T> {
  readonly #items: T[] = [];
  readonly #waiting: { resolve(v: T): void; reject(e: unknown): void }[] = [];
  #error: unknown;

  push(item: T): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  fail(error: unknown): void {
    this.#error = error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }

  next(what: string): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
      this.#waiting.push({
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const TITLE = 'typed round trip of generated messages';

forEachPeer(TITLE, (peer) => {
  const handle = usePeer(peer);

  it(`${RUNS} generated messages arrive exactly, types included`, { timeout: 60_000 }, async () => {
    const rabbit = peer.name === 'rabbitmq';
    const value = amqpValue({ arrayTypes: rabbit ? RABBITMQ_ARRAY_TYPES : ALL_ARRAY_TYPES });
    const body = rabbit ? value.map((v) => (Array.isArray(v) || v instanceof Set ? [v] : v)) : value;
    const generated = fc.record({
      body,
      applicationProperties: fc.dictionary(fc.string({ maxLength: 10 }), amqpScalar(), { maxKeys: 4 }),
      messageAnnotations: fc.dictionary(
        fc.string({ maxLength: 10 }).map((k) => `x-opt-${k}`),
        rabbit ? value.filter((v) => !(v instanceof AmqpDescribed)) : value,
        { maxKeys: 3 },
      ),
      messageId: fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(amqp.ulong), fc.uuid().map(amqp.uuid), fc.uint8Array({ maxLength: 20 }).map(amqp.binary)), { nil: undefined }),
    });

    const client: Client = createClient({ url: handle.url, reconnect: false });
    closers.push(() => client.close());
    const address = peer.queue('interop-roundtrip');
    const deliveries = new Channel<Delivery>();
    const outcomes = new Channel<Outcome>();
    const input = new Subject<unknown>();
    const receiving = client.receive(address, { typed: true, credit: 10 }).subscribe({ next: (d) => deliveries.push(d), error: (e: unknown) => deliveries.fail(e) });
    const sending = input.pipe(client.send(address)).subscribe({ next: (o) => outcomes.push(o), error: (e: unknown) => outcomes.fail(e) });
    closers.unshift(async () => {
      receiving.unsubscribe();
      sending.unsubscribe();
    });

    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(generated, async (m) => {
        input.next(message(m.body, { applicationProperties: m.applicationProperties, messageAnnotations: m.messageAnnotations, properties: m.messageId === undefined ? {} : { messageId: m.messageId as never } }));
        expect((await outcomes.next('outcome')).state).toBe('accepted');
        const delivery = await deliveries.next('delivery');
        if (!delivery.settled) delivery.accept(); // the Proton C broker pre-settles what it sends
        const back = delivery.message;
        expect(back.body).toEqual(expectedTyped(m.body));
        expect(back.applicationProperties).toEqual(expectedTyped(m.applicationProperties));
        expect(back.messageAnnotations).toMatchObject(expectedTyped(m.messageAnnotations) as object);
        expect(back.properties.messageId).toEqual(m.messageId === undefined ? undefined : expectedTyped(m.messageId));
      }),
      { numRuns: RUNS, endOnFailure: process.env.FC_END_ON_FAILURE === '1' },
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });
}, { only: ['embedded', 'rabbitmq', 'proton-c'] });
