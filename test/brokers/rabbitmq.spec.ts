/**
 * Broker-aware behaviour against the real RabbitMQ 3.10: the client reads the peer from the open
 * frame, refuses (or maps) the modified outcome that would end the session, and gives every link its
 * own session so that one refused attach does not take its siblings down. A wire tap shows what
 * reached the broker and what it answered.
 */
import { firstValueFrom, from, lastValueFrom, take, tap as peek, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { type Delivery, message, NotFoundError, NotSupportedError, SendFailedError } from 'rhea-rx';
import { forEachPeer, usePeer } from '../support/peers.js';
import { drain, fill, sleep, uniqueTag, useClients, waitFor } from './support/clients.js';
import type { TappedFrame, WireTap } from './support/wireTap.js';

/** Frames in which the peer ended a session or the connection with an error (not a reply to our own end). */
function endings(wire: WireTap): TappedFrame[] {
  return wire.frames
    .filter((f) => f.from === 'peer' && (f.frame.name === 'end' || f.frame.name === 'close') && f.frame.fields.error !== undefined)
    .map((f) => f.frame);
}

/** The outcomes the client put on the wire, in order. */
function clientOutcomes(wire: WireTap): string[] {
  return wire.frames
    .filter((f) => f.from === 'client' && f.frame.name === 'disposition')
    .map((f) => String(f.frame.fields.state));
}

forEachPeer(
  'RabbitMQ-aware behaviour',
  (peer) => {
    const broker = usePeer(peer);
    const env = useClients();

    it('client.peer names RabbitMQ 3.10 from the open frame (and is undefined before the connection opens)', async () => {
      const client = env.client(broker.url);
      expect(client.peer).toBeUndefined();
      await fill(client, peer.queue('peer-info'), 1);
      expect(client.peer?.product).toBe('RabbitMQ');
      expect(client.peer?.version).toMatch(/^3\.10\./);
      expect(client.peer?.version).toBe(peer.version);
      expect(client.peer?.properties.product).toBe('RabbitMQ');
    });

    it('send(null): RabbitMQ 3.10 offers no anonymous relay, so the stream fails with NotSupportedError listing the message, before any attach', async () => {
      const client = env.client(broker.url);
      await fill(client, peer.queue('relay-probe'), 1); // the connection is open: the peer is known
      expect(client.peer?.offeredCapabilities).not.toContain('ANONYMOUS-RELAY');
      const input = message('x', { properties: { to: peer.queue('relay') } });
      const error = await lastValueFrom(from([input]).pipe(client.send(null), toArray())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SendFailedError);
      expect((error as SendFailedError).cause).toBeInstanceOf(NotSupportedError);
      expect((error as SendFailedError).message).toMatch(/RabbitMQ 3\.10\.\d+ offers no anonymous relay/);
      expect((error as SendFailedError).unsettled).toEqual([input]);
    });

    it('modify() throws NotSupportedError before anything reaches the wire; the session and its siblings live on; the delivery can still be released', async () => {
      const q = peer.queue('modify');
      const sibling = peer.queue('modify-sibling');
      const producer = env.client(broker.url);
      await fill(producer, q, ['first', 'second']);
      const wire = await env.tap(broker.url);
      wire.record = true;
      const client = env.client(wire.url);
      const got: Delivery<string>[] = [];
      const siblingGot: string[] = [];
      const errors: unknown[] = [];
      const subs = [
        client.receive<string>(q, { credit: 5 }).subscribe({ next: (d) => got.push(d), error: (e: unknown) => errors.push(e) }),
        client.receive<string>(sibling).subscribe({
          next: (d) => {
            siblingGot.push(d.body);
            d.accept();
          },
          error: (e: unknown) => errors.push(e),
        }),
      ];
      await waitFor(() => got.length === 2, 'two deliveries');
      const [first] = got;

      for (const options of [undefined, { deliveryFailed: false, undeliverableHere: true }, { annotations: { 'x-opt-retry': 1 } }]) {
        let error: unknown;
        try {
          first!.modify(options);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(NotSupportedError);
        expect((error as NotSupportedError).message).toMatch(/RabbitMQ 3\.10\.\d+ does not support the modified outcome/);
        expect((error as NotSupportedError).message).toContain('onModifyUnsupported');
      }
      expect(first!.settled).toBe(false);

      // The delivery is still the application's: released, it comes back on the same link.
      first!.release();
      await waitFor(() => got.length === 3, 'the redelivery');
      expect([got[2]!.body, got[2]!.deliveryCount, got[2]!.message.header.firstAcquirer]).toEqual(['first', 0, false]);
      for (const d of got.slice(1)) d.accept();

      // A sibling link on the same client works after the refusal.
      await fill(producer, sibling, ['after']);
      await waitFor(() => siblingGot.length === 1, 'the sibling delivery');
      expect(siblingGot).toEqual(['after']);

      await sleep(100);
      expect(errors).toEqual([]);
      expect(clientOutcomes(wire)).not.toContain('modified');
      expect(clientOutcomes(wire)).toContain('released');
      expect(endings(wire)).toEqual([]);
      for (const sub of subs) sub.unsubscribe();
      expect(await drain(producer, q, { firstMs: 300 })).toEqual([]);
    });

    it("onModifyUnsupported: 'release' settles modify() as released: redelivered at once, delivery-count unchanged", async () => {
      const q = peer.queue('modify-release');
      await fill(env.client(broker.url), q, ['retry me']);
      const wire = await env.tap(broker.url);
      wire.record = true;
      const seen: Delivery<string>[] = [];
      const sub = env
        .client(wire.url)
        .receive<string>(q, { onModifyUnsupported: 'release' })
        .subscribe((d) => {
          seen.push(d);
          if (seen.length === 1) d.modify({ deliveryFailed: true });
          else d.accept();
        });
      await waitFor(() => seen.length === 2, 'the redelivery');
      expect(seen.map((d) => [d.body, d.settledAs, d.deliveryCount])).toEqual([
        ['retry me', 'released', 0],
        ['retry me', 'accepted', 0],
      ]);
      await sleep(50);
      expect(clientOutcomes(wire)).toEqual(['released', 'accepted']);
      expect(endings(wire)).toEqual([]);
      sub.unsubscribe();
    });

    it("onModifyUnsupported: 'reject' settles modify() as rejected: without a dead-letter policy RabbitMQ drops it", async () => {
      const q = peer.queue('modify-reject');
      const client = env.client(broker.url);
      await fill(client, q, ['poison', 'fine']);
      const handled = await lastValueFrom(
        client.receive<string>(q, { onModifyUnsupported: 'reject', credit: 2 }).pipe(
          take(2),
          peek((d) => (d.body === 'poison' ? d.modify() : d.accept())),
          toArray(),
        ),
      );
      expect(handled.map((d) => [d.body, d.settledAs])).toEqual([
        ['poison', 'rejected'],
        ['fine', 'accepted'],
      ]);
      expect(await drain(client, q, { firstMs: 300 })).toEqual([]);
    });

    it('an attach to a missing /amq/queue fails only that receive stream, with NotFoundError; a sibling receiver and a sender on the same client keep working', async () => {
      const q = peer.queue('sibling');
      const missing = `/amq/queue/nope-${uniqueTag()}`;
      const wire = await env.tap(broker.url);
      wire.record = true;
      const client = env.client(wire.url);
      const siblingGot: string[] = [];
      const siblingErrors: unknown[] = [];
      const sub = client.receive<string>(q).subscribe({
        next: (d) => {
          siblingGot.push(d.body);
          d.accept();
        },
        error: (e: unknown) => siblingErrors.push(e),
      });
      await fill(client, q, ['before']);
      await waitFor(() => siblingGot.length === 1, 'the sibling to receive');

      const error = await firstValueFrom(client.receive(missing)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).condition).toBe('amqp:not-found');
      expect((error as NotFoundError).retryable).toBe(false);
      expect((error as NotFoundError).message).toContain(missing);

      // RabbitMQ ended one session (the failed link's own), not the connection.
      const ended = endings(wire);
      expect(ended.map((f) => [f.name, (f.fields.error as { condition?: string } | undefined)?.condition])).toEqual([
        ['end', 'amqp:not-found'],
      ]);

      // The sibling receiver, and a sender on the same connection, go on.
      await fill(client, q, ['after']);
      await waitFor(() => siblingGot.length === 2, 'the sibling to receive again');
      expect(siblingGot).toEqual(['before', 'after']);
      expect(siblingErrors).toEqual([]);
      sub.unsubscribe();
    });

    it('a send to an unknown exchange fails that send stream with NotFoundError listing its messages; other senders on the client go on', async () => {
      const client = env.client(broker.url);
      const error = (await lastValueFrom(from(['a', 'b']).pipe(client.send(`/exchange/nope-${uniqueTag()}/key`))).catch(
        (e: unknown) => e,
      )) as SendFailedError<string>;
      expect(error).toBeInstanceOf(SendFailedError);
      expect(error.cause).toBeInstanceOf(NotFoundError);
      expect(error.unsettled).toEqual(['a', 'b']);
      const q = peer.queue('after-not-found');
      const outcomes = await lastValueFrom(from(['c']).pipe(client.send(q), toArray()));
      expect(outcomes.map((o) => o.state)).toEqual(['accepted']);
    });

    it('receiveOne gets one message with credit 1 and no drain (a drain with credit left would end the session)', async () => {
      const q = peer.queue('get-one');
      await fill(env.client(broker.url), q, ['only']);
      const wire = await env.tap(broker.url);
      wire.record = true;
      const client = env.client(wire.url);
      const one = await client.receiveOne<string>(q, { timeout: 2000 });
      expect(one?.body).toBe('only');
      one!.accept();
      expect(await client.receiveOne(q, { timeout: 200 })).toBeUndefined(); // empty: the timeout, not a drain
      await sleep(100);
      const flows = wire.frames.filter((f) => f.from === 'client' && f.frame.name === 'flow' && f.frame.fields.handle !== undefined);
      expect(flows.length).toBeGreaterThan(0);
      expect(flows.every((f) => f.frame.fields.drain !== true && Number(f.frame.fields.link_credit) <= 1)).toBe(true);
      expect(endings(wire)).toEqual([]);
    });
  },
  { only: ['rabbitmq'] },
);
