/**
 * The py-amqplib tour (publish to an exchange with a routing key, basic_get, basic_consume and
 * basic_cancel) done with rhea-rx. Exchanges and routing keys are RabbitMQ's: those tests run on
 * RabbitMQ only, with the exchange, queue and binding declared through rabbitmqctl as the tour
 * declares them through AMQP 0-9-1. Get-one and consume/cancel run on every peer.
 *
 * AMQP 1.0 addresses on RabbitMQ 3.10: `/exchange/EX/KEY` publishes to exchange EX with routing key
 * KEY; `/topic/KEY` is `/exchange/amq.topic/KEY`; `/amq/queue/NAME` reads an existing queue (a
 * `/queue/NAME` attach would declare it non-durable and fail on the durable queue the tour declares).
 */
import { lastValueFrom, map, take, takeWhile, tap as peek, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { type Delivery } from 'rhea-rx';
import { forEachPeer, type Peer, rabbitmqctl, usePeer } from '../support/peers.js';
import { acceptIfUnsettled, drain, fill, sleep, sorted, uniqueTag, useClients, waitFor } from './support/clients.js';

/** Erlang for rabbitmqctl eval: a binary literal. */
const bin = (s: string) => `<<"${s.replace(/[\\"]/g, '')}">>`;

/**
 * What the tour's first lines do through AMQP 0-9-1: a durable queue, a durable direct exchange (unless
 * `exchange` is a built-in one), and a binding with `key`.
 */
async function declare({ queue, exchange, key }: { queue: string; exchange: string; key: string }): Promise<void> {
  const builtIn = exchange.startsWith('amq.');
  await rabbitmqctl(
    'eval',
    [
      `Q = rabbit_misc:r(${bin('/')}, queue, ${bin(queue)})`,
      `X = rabbit_misc:r(${bin('/')}, exchange, ${bin(exchange)})`,
      `rabbit_amqqueue:declare(Q, true, false, [], none, ${bin('rhea-rx-test')})`,
      builtIn ? 'ok' : `rabbit_exchange:declare(X, direct, true, false, false, [], ${bin('rhea-rx-test')})`,
      `ok = rabbit_binding:add({binding, X, ${bin(key)}, Q, []}, ${bin('rhea-rx-test')})`,
    ].join(', ') + '.',
  );
}

/** Waits until the peer has answered `count` attaches from the client (links are attached before publishing to them). */
async function attached(wire: { frames: { from: string; frame: { name: string } }[] }, count: number): Promise<void> {
  await waitFor(() => wire.frames.filter((f) => f.from === 'peer' && f.frame.name === 'attach').length >= count, `${count} attaches`);
}

forEachPeer(
  'py-amqplib tour: publish to an exchange with a routing key',
  (peer) => {
    const broker = usePeer(peer);
    const env = useClients();

    it('declared exchange, queue and binding: a message published with the routing key lands in the queue; another key does not', async () => {
      const tag = uniqueTag();
      const queue = `myqueue-${tag}`;
      const exchange = `myexchange-${tag}`;
      await declare({ queue, exchange, key: 'myq.myx' });
      const client = env.client(broker.url);
      // chan.basic_publish(msg, 'myexchange', 'myq.myx'); RabbitMQ accepts an unroutable message and drops it.
      await fill(client, `/exchange/${exchange}/myq.myx`, ['This is a test message']);
      await fill(client, `/exchange/${exchange}/other.key`, ['routed nowhere']);
      // chan.basic_get(queue='myqueue')
      const msg = await client.receiveOne<string>(`/amq/queue/${queue}`, { timeout: 2000 });
      expect(msg?.body).toBe('This is a test message');
      msg!.accept(); // chan.basic_ack(msg.delivery_tag)
      expect(await client.receiveOne(`/amq/queue/${queue}`, { timeout: 200 })).toBeUndefined();
    });

    it('amq.direct: /exchange/amq.direct/KEY reaches the queue bound with KEY, and only that one', async () => {
      const tag = uniqueTag();
      const [eu, us] = [`orders-eu-${tag}`, `orders-us-${tag}`];
      await declare({ queue: eu, exchange: 'amq.direct', key: `eu.${tag}` });
      await declare({ queue: us, exchange: 'amq.direct', key: `us.${tag}` });
      const client = env.client(broker.url);
      await fill(client, `/exchange/amq.direct/eu.${tag}`, ['eu-1', 'eu-2']);
      await fill(client, `/exchange/amq.direct/us.${tag}`, ['us-1']);
      expect(await drain(client, `/amq/queue/${eu}`)).toEqual(['eu-1', 'eu-2']);
      expect(await drain(client, `/amq/queue/${us}`)).toEqual(['us-1']);
    });

    it('/topic/KEY: subscribers bound with a pattern get what matches it', async () => {
      const tag = uniqueTag();
      const wire = await env.tap(broker.url);
      wire.record = true;
      const subscriber = env.client(wire.url);
      const all: string[] = [];
      const euOnly: string[] = [];
      const subs = [
        subscriber.receive<string>(`/topic/tour-${tag}.*`).subscribe((d) => {
          all.push(d.body);
          d.accept();
        }),
        subscriber.receive<string>(`/topic/tour-${tag}.eu`).subscribe((d) => {
          euOnly.push(d.body);
          d.accept();
        }),
      ];
      await attached(wire, 2); // a topic keeps nothing for subscribers that are not there yet
      const publisher = env.client(broker.url);
      await fill(publisher, `/topic/tour-${tag}.eu`, ['eu order']);
      await fill(publisher, `/topic/tour-${tag}.us`, ['us order']);
      await fill(publisher, `/topic/elsewhere-${tag}.eu`, ['not ours']);
      await waitFor(() => all.length === 2 && euOnly.length === 1, 'the topic deliveries');
      await sleep(100);
      expect(all).toEqual(['eu order', 'us order']);
      expect(euOnly).toEqual(['eu order']);
      for (const sub of subs) sub.unsubscribe();
    });
  },
  { only: ['rabbitmq'] },
);

/** A queue for the tour on this peer (`/queue/NAME` on RabbitMQ, declared on attach). */
const tourQueue = (peer: Peer) => peer.queue('myqueue');

forEachPeer('py-amqplib tour: basic_get and basic_consume/basic_cancel', (peer) => {
  const broker = usePeer(peer);
  const env = useClients();

  it('basic_get: receiveOne takes one message at a time and resolves undefined on an empty queue', async () => {
    const q = tourQueue(peer);
    const client = env.client(broker.url);
    await fill(client, q, ['first', 'second', 'third']);
    const got: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const msg = await client.receiveOne<string>(q, { timeout: 2000 });
      got.push(msg?.body);
      if (msg !== undefined) acceptIfUnsettled(msg);
    }
    expect(got).toEqual(['first', 'second', 'third']);
    expect(await client.receiveOne(q, { timeout: 200 })).toBeUndefined();
  });

  it('basic_get(no_ack=True): an at-most-once receiveOne takes exactly one message and leaves the rest queued', async () => {
    const q = tourQueue(peer);
    const client = env.client(broker.url);
    await fill(client, q, ['first', 'second', 'third']);
    const msg = await client.receiveOne<string>(q, { timeout: 2000, settleMode: 'at-most-once' });
    expect([msg?.body, msg?.settled]).toEqual(['first', true]);
    await sleep(200);
    expect(await drain(env.client(broker.url), q)).toEqual(['second', 'third']);
  });

  it('basic_consume until a sentinel, then basic_cancel: what follows the sentinel stays queued', async () => {
    const q = tourQueue(peer);
    await fill(env.client(broker.url), q, ['m0', 'm1', 'm2', '-1', 'm4', 'm5']);
    // The tour's callback stops at a body containing '-1'; here the stream ends there (inclusive),
    // which detaches the link (basic_cancel) and releases what arrived after it.
    const processed = await lastValueFrom(
      env
        .client(broker.url)
        .receive<string>(q, { credit: 10 })
        .pipe(
          peek((d) => acceptIfUnsettled(d)),
          takeWhile((d) => !d.body.includes('-1'), true),
          map((d) => d.body),
          toArray(),
        ),
    );
    expect(processed).toEqual(['m0', 'm1', 'm2', '-1']);
    if (peer.caps.outcomes) {
      // Pre-settling peers (the Proton C broker) have already handed over what followed.
      expect(sorted(await drain(env.client(broker.url), q))).toEqual(['m4', 'm5']);
    }
  });

  it('consume a few, then cancel: the rest stay queued, none lost or locked', async () => {
    const q = tourQueue(peer);
    await fill(env.client(broker.url), q, 10);
    const consumer = env.client(broker.url);
    const taken: Delivery<string>[] = await lastValueFrom(
      consumer.receive<string>(q, { credit: 5 }).pipe(take(3), peek((d) => acceptIfUnsettled(d)), toArray()),
    );
    expect(taken.map((d) => d.body)).toEqual(['m0', 'm1', 'm2']);
    if (peer.caps.outcomes) {
      expect(sorted(await drain(env.client(broker.url), q))).toEqual(sorted(['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']));
    }
  });
});
