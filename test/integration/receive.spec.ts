import { lastValueFrom, map, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Delivery, DeliveryAlreadySettledError } from 'rhea-rx';
import { sleep, useBroker, waitFor } from '../support/embedded.js';

const bodies = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ body: `m${from + i}` }));

describe('client.receive against EmbeddedBroker', () => {
  const env = useBroker();

  it('R1/R2: with credit 10 and a consumer that never settles, exactly 10 arrive; settling 5 lets 5 more in', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(30));
    const held: Delivery<string>[] = [];
    const sub = env.client().receive<string>('q', { credit: 10 }).subscribe((d) => held.push(d));
    await waitFor(() => held.length === 10, '10 deliveries');
    await sleep(150); // time for any delivery beyond the credit to show up
    expect(held).toHaveLength(10);
    expect(broker.queueDepth('q')).toBe(20);
    expect(broker.unsettledCount('q')).toBe(10);

    for (const d of held.slice(0, 5)) d.accept();
    await waitFor(() => held.length === 15, '5 more deliveries');
    await sleep(150);
    expect(held).toHaveLength(15);
    expect(broker.queueDepth('q')).toBe(15);
    expect(broker.unsettledCount('q')).toBe(10);
    expect(held.map((d) => d.body)).toEqual(bodies(15).map((m) => m.body));
    sub.unsubscribe();
  });

  it('R1: refills credit in batches, not one flow frame per message', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(2000));
    let accepted = 0;
    const sub = env
      .client()
      .receive('q', { credit: 100 })
      .subscribe((d) => {
        d.accept();
        accepted++;
      });
    await waitFor(() => accepted === 2000, '2000 deliveries');
    const flows = broker.stats('q').flowFrames;
    // credit 100, batch 25: about 2000 / 25 grants, far from 2000.
    expect(flows).toBeGreaterThanOrEqual(2000 / 100);
    expect(flows).toBeLessThanOrEqual(2000 / 25 + 5);
    sub.unsubscribe();
  });

  it('R2: a delivery held by the application keeps its credit until settled', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(3));
    const held: Delivery[] = [];
    const sub = env.client().receive('q', { credit: 1 }).subscribe((d) => held.push(d));
    await waitFor(() => held.length === 1, 'the first delivery');
    await sleep(150);
    expect(held).toHaveLength(1);
    held[0]!.accept();
    await waitFor(() => held.length === 2, 'the second delivery');
    sub.unsubscribe();
  });

  it('R3: unsubscribing with 7 held deliveries releases all 7 to the broker; settling one later throws', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(20));
    const held: Delivery[] = [];
    const sub = env.client().receive('q', { credit: 7 }).subscribe((d) => held.push(d));
    await waitFor(() => held.length === 7, '7 deliveries');
    expect(broker.queueDepth('q')).toBe(13);
    sub.unsubscribe();
    await waitFor(() => broker.queueDepth('q') === 20, 'all 20 messages back on the queue');
    expect(broker.unsettledCount('q')).toBe(0);
    expect(broker.stats('q').released).toBe(7);
    await waitFor(() => broker.linkCount('q').senders === 0, 'the link to be detached at the broker');
    expect(held.every((d) => d.settled)).toBe(true);
    expect(() => held[0]!.accept()).toThrow(DeliveryAlreadySettledError);
    try {
      held[1]!.reject('late');
    } catch (error) {
      expect((error as DeliveryAlreadySettledError).reason).toBe('detached');
    }
    expect(broker.stats('q').accepted).toBe(0);
  });

  it('R3: the link is released and detached when the subscriber errors too', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(5));
    const failures: unknown[] = [];
    const sub = env
      .client()
      .receive('q', { credit: 5 })
      .pipe(
        map(() => {
          throw new Error('handler bug');
        }),
      )
      .subscribe({ error: (e: unknown) => failures.push(e) });
    await waitFor(() => failures.length === 1, 'the error');
    await waitFor(() => broker.linkCount('q').senders === 0 && broker.queueDepth('q') === 5, 'release and detach');
    expect(broker.stats('q').released).toBeGreaterThanOrEqual(1);
    sub.unsubscribe();
  });

  it('R5: one delivery held unsettled while 10,000 others flow past it and are accepted', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(10_001));
    let first: Delivery | undefined;
    let accepted = 0;
    const sub = env
      .client()
      .receive('q', { credit: 100 })
      .subscribe((d) => {
        if (first === undefined) {
          first = d; // held for the whole test
          return;
        }
        d.accept();
        accepted++;
      });
    await waitFor(() => accepted === 10_000, '10,000 deliveries past the held one', 20_000);
    await waitFor(() => broker.stats('q').accepted === 10_000, 'the broker to see 10,000 accepts');
    expect(first?.settled).toBe(false);
    expect(broker.unsettledCount('q')).toBe(1);
    expect(broker.stats('q').accepted).toBe(10_000);
    first!.accept();
    await waitFor(() => broker.stats('q').accepted === 10_001, 'the held delivery to be accepted');
    expect(broker.queueDepth('q')).toBe(0);
    sub.unsubscribe();
  });

  it('settles as released, rejected and modified with the broker semantics', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(3));
    const seen: Delivery<string>[] = [];
    const sub = env
      .client()
      .receive<string>('q', { credit: 10 })
      .subscribe((d) => {
        seen.push(d);
        if (d.body === 'm0' && d.deliveryCount === 0) d.modify();
        else if (d.body === 'm1') d.reject({ condition: 'app:invalid', description: 'bad order' });
        else d.accept();
      });
    await waitFor(() => broker.stats('q').accepted === 2, 'm2 and the redelivered m0');
    const redelivered = seen.find((d) => d.body === 'm0' && d.deliveryCount === 1);
    expect(redelivered?.settledAs).toBe('accepted');
    expect(broker.stats('q').modified).toBe(1);
    expect(broker.stats('q').rejected).toBe(1);
    const dead = broker.messages('q/$DeadLetterQueue');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.message.body).toBe('m1');
    sub.unsubscribe();
  });

  it('throws the typed error on a second settlement and sends nothing more', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(1));
    const held: Delivery[] = [];
    const sub = env.client().receive('q').subscribe((d) => held.push(d));
    await waitFor(() => held.length === 1, 'a delivery');
    held[0]!.accept();
    expect(() => held[0]!.release()).toThrow(/already settled as accepted/);
    await waitFor(() => broker.stats('q').accepted === 1, 'the accept');
    await sleep(50);
    expect(broker.stats('q').released).toBe(0);
    sub.unsubscribe();
  });

  it('at-most-once: deliveries arrive settled and the broker forgets them at once', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(50));
    const seen: Delivery[] = [];
    const sub = env.client().receive('q', { settleMode: 'at-most-once', credit: 10 }).subscribe((d) => seen.push(d));
    await waitFor(() => seen.length === 50, '50 deliveries');
    expect(seen.every((d) => d.settled)).toBe(true);
    expect(() => seen[0]!.accept()).toThrow(DeliveryAlreadySettledError);
    expect(broker.queueDepth('q')).toBe(0);
    expect(broker.unsettledCount('q')).toBe(0);
    sub.unsubscribe();
  });

  it('dynamic: the peer makes and names a node for the link; replies sent there arrive; it goes with the link', async () => {
    const broker = await env.start();
    const client = env.client();
    const named: string[] = [];
    const received: Delivery<string>[] = [];
    const sub = client.receive<string>('', { dynamic: true, onAttach: (a) => named.push(a.address!) }).subscribe((d) => {
      received.push(d);
      d.accept();
    });
    await waitFor(() => named.length === 1, 'the attach');
    const replyTo = named[0]!;
    expect(replyTo).toMatch(/^dynamic\//);
    expect(broker.linkCount(replyTo).senders).toBe(1);
    await lastValueFrom(of('r1', 'r2').pipe(client.send<string>(replyTo)));
    await waitFor(() => received.length === 2, 'the replies');
    expect(received.map((d) => [d.body, d.address])).toEqual([
      ['r1', replyTo],
      ['r2', replyTo],
    ]);
    sub.unsubscribe();
    await waitFor(() => broker.linkCount(replyTo).senders === 0, 'the link detached');
  });

  it('dynamic: an address with dynamic: true, or a non-boolean dynamic, is a ConfigError at call time', async () => {
    await env.start();
    const client = env.client();
    expect(() => client.receive('q', { dynamic: true })).toThrow(expect.objectContaining({ name: 'ConfigError', option: 'source' }));
    expect(() => client.receive('', { dynamic: 'yes' as never })).toThrow(expect.objectContaining({ name: 'ConfigError', option: 'dynamic' }));
    expect(() => client.receive('')).toThrow(expect.objectContaining({ name: 'ConfigError', option: 'source' }));
  });

  it('exposes the message sections in camelCase', async () => {
    const broker = await env.start();
    broker.enqueue('q', {
      body: { n: 1 },
      message_id: 'id-1',
      subject: 'order',
      content_type: 'application/json',
      durable: true,
      priority: 7,
      application_properties: { region: 'eu' },
      message_annotations: { 'x-opt-kind': 'k' },
    });
    const held: Delivery<{ n: number }>[] = [];
    const sub = env.client().receive<{ n: number }>('q').subscribe((d) => held.push(d));
    await waitFor(() => held.length === 1, 'a delivery');
    const m = held[0]!.message;
    expect(m.body).toEqual({ n: 1 });
    expect(m.properties).toMatchObject({ messageId: 'id-1', subject: 'order', contentType: 'application/json' });
    expect(m.header).toMatchObject({ durable: true, priority: 7 });
    expect(m.applicationProperties).toEqual({ region: 'eu' });
    expect(m.messageAnnotations).toEqual({ 'x-opt-kind': 'k' });
    held[0]!.accept();
    sub.unsubscribe();
  });

  it('receiveOne gets one message and keeps it locked until settled, or undefined on timeout', async () => {
    const broker = await env.start();
    broker.enqueue('q', ...bodies(3));
    const client = env.client();
    const one = await client.receiveOne<string>('q', { timeout: 2000 });
    expect(one?.body).toBe('m0');
    expect(broker.unsettledCount('q')).toBe(1);
    expect(broker.queueDepth('q')).toBe(2);
    one!.accept();
    await waitFor(() => broker.linkCount('q').senders === 0, 'receiveOne to detach after settling');
    expect(broker.queueDepth('q')).toBe(2);
    expect(await client.receiveOne('empty', { timeout: 100 })).toBeUndefined();
    await waitFor(() => broker.linkCount('empty').senders === 0, 'the idle link to detach');
  });
});
