/**
 * The receiver and sender invariants of DESIGN.md (R1–R3, R5, S1, S2, S4) against every selected peer.
 *
 * Nothing here asks the broker what it holds: a second client reads queues back the way an
 * application would, and a wire tap (a proxy that decodes the frames) shows what the client put on
 * the wire and can hold back what the peer sends — which is how outcomes are "paused" on a broker
 * that has no such hook. Tests that need what a peer cannot do are skipped with the reason in
 * their name (see PEER_CAPS in test/support/peers.ts).
 */
import { from, lastValueFrom, map, Subject, take, tap as peek, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { BufferOverflowError, type Delivery, DeliveryAlreadySettledError, type Outcome, SendFailedError } from 'rhea-rx';
import { forEachPeer, type Peer, rabbitmqctl, usePeer } from '../support/peers.js';
import { bodies, drain, fill, sleep, sorted, uniqueTag, useClients, waitFor } from './support/clients.js';

/** Long enough for anything beyond a limit to show up on loopback. */
const SETTLE_MS = 200;

forEachPeer(
  'receive invariants',
  (peer) => {
    const broker = usePeer(peer);
    const env = useClients();

    it('R1/R2: with credit 10 and no settling exactly 10 arrive; settling 5 lets exactly 5 more in', async () => {
      const q = peer.queue('r1');
      await fill(env.client(broker.url), q, 30);
      const wire = await env.tap(broker.url);
      const held: Delivery<string>[] = [];
      const sub = env.client(wire.url).receive<string>(q, { credit: 10 }).subscribe((d) => held.push(d));
      await waitFor(() => held.length === 10, '10 deliveries');
      await sleep(SETTLE_MS);
      expect(held).toHaveLength(10);
      expect(wire.stats.toClient.outstanding).toBe(10);

      for (const d of held.slice(0, 5)) d.accept();
      await waitFor(() => held.length === 15, '5 more deliveries');
      await sleep(SETTLE_MS);
      expect(held).toHaveLength(15);
      expect(held.map((d) => d.body)).toEqual(bodies(15));
      expect(wire.stats.toClient.maxOutstanding).toBe(10); // never more than `credit` unsettled
      sub.unsubscribe();

      // The 5 accepted are gone; the 10 held went back; nothing else was touched.
      expect(sorted(await drain(env.client(broker.url), q))).toEqual(sorted(bodies(25, 5)));
    });

    it('R1: the client grants credit in batches and never more than credit minus what it holds unsettled', async () => {
      const q = peer.queue('r1-batch');
      await fill(env.client(broker.url), q, 2000);
      const wire = await env.tap(broker.url);
      let accepted = 0;
      const sub = env
        .client(wire.url)
        .receive(q, { credit: 100 })
        .subscribe((d) => {
          d.accept();
          accepted++;
        });
      await waitFor(() => accepted === 2000, '2000 deliveries', 20_000);
      sub.unsubscribe();
      const { clientLinkFlows, maxGrantedUnsettled } = wire.stats;
      // credit 100, batch 25: about 2000 / 25 grants, far from 2000.
      expect(clientLinkFlows).toBeGreaterThanOrEqual(2000 / 100);
      expect(clientLinkFlows).toBeLessThanOrEqual(2000 / 25 + 5);
      // Each flow grants credit − unsettled, counting settlements as written before it.
      expect(maxGrantedUnsettled).toBeLessThanOrEqual(100);
    });

    it('R1: the application never holds more than credit, with a consumer that settles a little later', async () => {
      const q = peer.queue('r1-app');
      const total = 3000;
      await fill(env.client(broker.url), q, total);
      let held = 0;
      let maxHeld = 0;
      let settled = 0;
      const sub = env
        .client(broker.url)
        .receive(q, { credit: 100 })
        .subscribe((d) => {
          held++;
          maxHeld = Math.max(maxHeld, held);
          setTimeout(() => {
            d.accept();
            held--;
            settled++;
          }, settled % 3);
        });
      await waitFor(() => settled === total, `${total} settled`, 30_000);
      sub.unsubscribe();
      expect(
        maxHeld,
        `the application held ${maxHeld} deliveries with credit 100; the peer sent ${env.overCredit()} transfers beyond the credit granted (rhea: "Received transfer when credit was 0")`,
      ).toBeLessThanOrEqual(100);
    });

    it('R3: unsubscribing with 7 held releases all 7 before the detach; a new receiver gets them back; a late settle throws', async () => {
      const q = peer.queue('r3');
      await fill(env.client(broker.url), q, 20);
      const wire = await env.tap(broker.url);
      wire.record = true;
      const held: Delivery<string>[] = [];
      const sub = env.client(wire.url).receive<string>(q, { credit: 7 }).subscribe((d) => held.push(d));
      await waitFor(() => held.length === 7, '7 deliveries');
      sub.unsubscribe();
      await waitFor(() => wire.frames.some((f) => f.from === 'peer' && f.frame.name === 'detach'), 'the detach to be answered');

      // On the wire: the 7 released (in one range or several), then the detach.
      const fromClient = wire.frames.filter((f) => f.from === 'client').map((f) => f.frame);
      const detachAt = fromClient.findIndex((f) => f.name === 'detach');
      const released = fromClient
        .slice(0, detachAt)
        .filter((f) => f.name === 'disposition' && f.fields.state === 'released')
        .reduce((n, f) => n + (Number(f.fields.last ?? f.fields.first) - Number(f.fields.first) + 1), 0);
      expect(released).toBe(7);

      expect(held.every((d) => d.settled)).toBe(true);
      expect(() => held[0]!.accept()).toThrow(DeliveryAlreadySettledError);
      try {
        held[1]!.reject('late');
        expect.unreachable('a late settle must throw');
      } catch (error) {
        expect((error as DeliveryAlreadySettledError).reason).toBe('detached');
      }

      // Observed from a second client: all 20 are there — the 7 came back, nothing is locked or lost.
      const back = await drain<string>(env.client(broker.url), q);
      expect(sorted(back)).toEqual(sorted(bodies(20)));
    });

    it('R3: with credit left over, what unsubscribing releases is not sent back to the closing link', async () => {
      const q = peer.queue('r3-credit');
      await fill(env.client(broker.url), q, 7);
      const wire = await env.tap(broker.url);
      wire.record = true;
      const held: Delivery<string>[] = [];
      const sub = env.client(wire.url).receive<string>(q, { credit: 100 }).subscribe((d) => held.push(d));
      await waitFor(() => held.length === 7, '7 deliveries');
      await sleep(50);
      sub.unsubscribe();
      await waitFor(() => wire.frames.some((f) => f.from === 'peer' && f.frame.name === 'detach'), 'the detach to be answered');
      const firstRelease = wire.frames.findIndex(
        (f) => f.from === 'client' && f.frame.name === 'disposition' && f.frame.fields.state === 'released',
      );
      expect(firstRelease).toBeGreaterThan(0);
      const resent = wire.frames.slice(firstRelease).filter((f) => f.from === 'peer' && f.frame.name === 'transfer');
      expect(resent).toHaveLength(0);
      // Released is not a failed attempt: they come back as they were (delivery-count 0).
      const reader = env.client(broker.url);
      const back = await lastValueFrom(
        reader.receive<string>(q).pipe(
          take(7),
          peek((d) => d.accept()),
          map((d) => [d.body, d.deliveryCount]),
          toArray(),
        ),
      );
      expect(sorted(back.map(([b]) => b))).toEqual(bodies(7));
      expect(back.map(([, count]) => count)).toEqual(Array(7).fill(0));
    });

    it('R3: when the stream errors, what it holds is released and a new receiver gets everything back', async () => {
      const q = peer.queue('r3-error');
      await fill(env.client(broker.url), q, 5);
      const failures: unknown[] = [];
      env
        .client(broker.url)
        .receive(q, { credit: 5 })
        .pipe(
          map(() => {
            throw new Error('handler bug');
          }),
        )
        .subscribe({ error: (e: unknown) => failures.push(e) });
      await waitFor(() => failures.length === 1, 'the error');
      expect(sorted(await drain(env.client(broker.url), q))).toEqual(bodies(5));
    });

    it('R5: one delivery held unsettled while 10,000 others flow past it; it stays locked until released', async () => {
      const q = peer.queue('r5');
      const producer = env.client(broker.url);
      await fill(producer, q, 10_001);
      let first: Delivery<string> | undefined;
      let accepted = 0;
      const sub = env
        .client(broker.url)
        .receive<string>(q, { credit: 100 })
        .subscribe((d) => {
          if (first === undefined) {
            first = d; // held for the whole test
            return;
          }
          d.accept();
          accepted++;
        });
      await waitFor(() => accepted === 10_000, '10,000 deliveries past the held one', 30_000);
      expect(first?.body).toBe('m0');
      expect(first?.settled).toBe(false);

      // A second client sees nothing: the 10,000 are accepted and the held one is still locked.
      expect(await producer.receiveOne(q, { timeout: 300 })).toBeUndefined();
      // Unsubscribing releases it (R3), and the second client gets it: it was never lost.
      sub.unsubscribe();
      const again = await producer.receiveOne<string>(q, { timeout: 5000 });
      expect([again?.body, again?.deliveryCount]).toEqual(['m0', 0]);
      again!.accept();
      expect(await drain(producer, q, { firstMs: 300 })).toEqual([]);
    }, 60_000);
  },
  { needs: ['outcomes'] },
);

forEachPeer(
  'credit at the peer',
  (peer) => {
    const broker = usePeer(peer);
    const env = useClients();

    it('R1: the peer never sends beyond the credit granted, so never more than credit are unsettled at the receiver', async () => {
      const q = peer.queue('r1-peer');
      await fill(env.client(broker.url), q, 2000);
      const wire = await env.tap(broker.url);
      let accepted = 0;
      const sub = env
        .client(wire.url)
        .receive(q, { credit: 100 })
        .subscribe((d) => {
          if (!d.settled) d.accept();
          accepted++;
        });
      await waitFor(() => accepted === 2000, '2000 deliveries', 20_000);
      sub.unsubscribe();
      expect(wire.stats.beyondCredit).toBe(0);
      expect(env.overCredit()).toBe(0);
      expect(wire.stats.toClient.maxOutstanding).toBeLessThanOrEqual(100);
    });
  },
  { needs: ['exactCredit'] },
);

forEachPeer(
  'settlement outcomes',
  (peer) => {
    const broker = usePeer(peer);
    const env = useClients();

    it('released: redelivered with the delivery-count unchanged', async () => {
      const q = peer.queue('released');
      await fill(env.client(broker.url), q, ['once']);
      const seen: Delivery<string>[] = [];
      const sub = env
        .client(broker.url)
        .receive<string>(q)
        .subscribe((d) => {
          seen.push(d);
          if (seen.length === 1) d.release();
          else d.accept();
        });
      await waitFor(() => seen.length === 2, 'the redelivery');
      expect(seen.map((d) => [d.body, d.deliveryCount, d.settledAs])).toEqual([
        ['once', 0, 'released'],
        ['once', 0, 'accepted'],
      ]);
      sub.unsubscribe();
      expect(await drain(env.client(broker.url), q, { firstMs: 300 })).toEqual([]);
    });
  },
  { needs: ['released'] },
);

forEachPeer(
  'modified outcome',
  (peer) => {
    const broker = usePeer(peer);
    const env = useClients();

    it('modified with delivery-failed: redelivered with delivery-count + 1', async () => {
      const q = peer.queue('modified');
      await fill(env.client(broker.url), q, ['retry me']);
      const seen: Delivery<string>[] = [];
      const sub = env
        .client(broker.url)
        .receive<string>(q)
        .subscribe((d) => {
          seen.push(d);
          if (seen.length === 1) d.modify({ deliveryFailed: true });
          else d.accept();
        });
      await waitFor(() => seen.length === 2, 'the redelivery');
      expect(seen.map((d) => [d.body, d.deliveryCount, d.settledAs])).toEqual([
        ['retry me', 0, 'modified'],
        ['retry me', 1, 'accepted'],
      ]);
      sub.unsubscribe();
    });
  },
  { needs: ['modified', 'deliveryCount'] },
);

/**
 * Where rejected messages go: the embedded broker dead-letters to `ADDRESS/$DeadLetterQueue` by
 * itself; RabbitMQ only with a policy, set here through rabbitmqctl for a `^dlx-` pattern (narrowed
 * to this test's queues, since the node is shared by the run).
 */
async function deadLetterRoute(peer: Peer): Promise<{ source: string; dead: string; cleanup(): Promise<void> }> {
  const tag = uniqueTag();
  if (peer.name !== 'rabbitmq') {
    const source = peer.queue('dlx-orders');
    return { source, dead: `${source}/$DeadLetterQueue`, cleanup: async () => undefined };
  }
  const policy = `DLX-${tag}`;
  const dead = `dead-${tag}`;
  await rabbitmqctl(
    'set_policy',
    policy,
    `^dlx-${tag}-`,
    JSON.stringify({ 'dead-letter-exchange': '', 'dead-letter-routing-key': dead }),
    '--apply-to',
    'queues',
  );
  return {
    source: `/queue/dlx-${tag}-orders`,
    dead: `/queue/${dead}`,
    cleanup: async () => {
      await rabbitmqctl('clear_policy', policy);
    },
  };
}

forEachPeer(
  'dead-lettering',
  (peer) => {
    const broker = usePeer(peer);
    const env = useClients();

    it('a rejected delivery lands in the dead-letter queue and is read back from there', async () => {
      const route = await deadLetterRoute(peer);
      try {
        const client = env.client(broker.url);
        // RabbitMQ drops what it dead-letters to a missing queue: declare it (attach) first.
        expect(await client.receiveOne(route.dead, { timeout: 50 })).toBeUndefined();
        await fill(client, route.source, ['good', 'poison', 'fine']);
        const handled = await lastValueFrom(
          client.receive<string>(route.source, { credit: 3 }).pipe(
            take(3),
            peek((d) => {
              if (d.body === 'poison') d.reject({ condition: 'app:bad-order', description: 'cannot parse' });
              else d.accept();
            }),
            map((d) => [d.body, d.settledAs]),
            toArray(),
          ),
        );
        expect(handled).toEqual([
          ['good', 'accepted'],
          ['poison', 'rejected'],
          ['fine', 'accepted'],
        ]);
        const reader = env.client(broker.url);
        const dead = await reader.receiveOne<string>(route.dead, { timeout: 5000 });
        expect(dead?.body).toBe('poison');
        dead!.accept();
        expect(await drain(reader, route.source, { firstMs: 300 })).toEqual([]);
        expect(await drain(reader, route.dead, { firstMs: 300 })).toEqual([]);
      } finally {
        await route.cleanup();
      }
    });
  },
  { needs: ['outcomes', 'deadLettering'] },
);

forEachPeer('send invariants', (peer) => {
  const broker = usePeer(peer);
  const env = useClients();

  it('S1: 10,000 messages produce 10,000 outcomes, each carrying its input; a second client reads all back in order', async () => {
    const q = peer.queue('s1');
    const outcomes = await lastValueFrom(from([...Array(10_000).keys()]).pipe(env.client(broker.url).send<number>(q), toArray()));
    expect(outcomes).toHaveLength(10_000);
    expect(outcomes.every((o) => o.state === 'accepted' && o.resent === false)).toBe(true);
    expect(outcomes.map((o) => o.message)).toEqual([...Array(10_000).keys()]);
    expect(await drain<number>(env.client(broker.url), q)).toEqual([...Array(10_000).keys()]);
  }, 60_000);

  it('S2: with outcomes held back, no more than maxInFlight go on the wire; the rest follow as outcomes come', async () => {
    const q = peer.queue('s2');
    const wire = await env.tap(broker.url);
    const input = new Subject<number>();
    const outcomes: Outcome<number>[] = [];
    const sub = input.pipe(env.client(wire.url).send<number>(q, { maxInFlight: 3 })).subscribe((o) => outcomes.push(o));
    input.next(-1);
    await waitFor(() => outcomes.length === 1, 'the first outcome (link attached, credit granted)');

    wire.hold(); // the peer's outcomes (and anything else it sends) wait in the tap
    wire.reset();
    for (let i = 0; i < 40; i++) input.next(i);
    await sleep(SETTLE_MS);
    expect(wire.stats.toPeer.transfers).toBe(3);
    expect(outcomes).toHaveLength(1);

    wire.release();
    await waitFor(() => outcomes.length === 41, '41 outcomes');
    expect(outcomes.map((o) => o.message)).toEqual([-1, ...Array(40).keys()]);
    expect(wire.stats.toPeer.maxOutstanding).toBeLessThanOrEqual(3);

    // At full speed the bound holds too.
    for (let i = 40; i < 2040; i++) input.next(i);
    await waitFor(() => outcomes.length === 2041, '2041 outcomes', 20_000);
    expect(wire.stats.toPeer.maxOutstanding).toBeLessThanOrEqual(3);
    expect(outcomes.every((o) => o.state === 'accepted')).toBe(true);
    sub.unsubscribe();
  });

  it('S2: a push source that outruns a stalled link fills a bounded buffer, then fails listing every unsettled message', async () => {
    const q = peer.queue('s2-overflow');
    const wire = await env.tap(broker.url);
    const input = new Subject<number>();
    const outcomes: Outcome<number>[] = [];
    const failed = new Promise<unknown>((resolve) => {
      input.pipe(env.client(wire.url).send<number>(q, { maxInFlight: 3, bufferSize: 100 })).subscribe({
        next: (o) => outcomes.push(o),
        error: resolve,
      });
    });
    input.next(-1);
    await waitFor(() => outcomes.length === 1, 'the first outcome');
    wire.hold();
    for (let i = 0; i < 104; i++) input.next(i); // 3 in flight, 100 buffered, 1 too many
    const error = (await failed) as SendFailedError<number>;
    expect(error).toBeInstanceOf(SendFailedError);
    expect(error.cause).toBeInstanceOf(BufferOverflowError);
    expect((error.cause as BufferOverflowError<number>).unsent).toEqual([...Array(101).keys()].map((i) => i + 3));
    expect(error.unsettled).toEqual([...Array(104).keys()]);
    expect(input.observed).toBe(false);
    await sleep(50); // rhea writes what it was handed on its next tick
    wire.release();
    // What reached the wire before the link closed is at the peer; its outcome is unknown to the
    // application, which has it in `unsettled`. Nothing else was sent.
    const onWire = wire.stats.toPeer.transfers - 1;
    expect(onWire).toBeLessThanOrEqual(3);
    expect(await drain<number>(env.client(broker.url), q)).toEqual([-1, ...[0, 1, 2].slice(0, onWire)]);
  });

  it('S4: a pull source is read only as the link can take messages: with outcomes held back, pulling stops', async () => {
    const q = peer.queue('s4');
    const wire = await env.tap(broker.url);
    const total = 5000;
    let pulls = 0;
    let outcomes = 0;
    let maxAhead = 0;
    async function* generate() {
      for (let i = 0; i < total; i++) {
        pulls++;
        yield i;
      }
    }
    const done = new Promise<void>((resolve, reject) => {
      env
        .client(wire.url)
        .sendFrom(generate(), q, { maxInFlight: 20 })
        .subscribe({
          next: () => {
            outcomes++;
            maxAhead = Math.max(maxAhead, pulls - outcomes);
            if (outcomes === 100) wire.hold(); // outcomes already passed on in the same chunk still arrive
          },
          error: reject,
          complete: resolve,
        });
    });
    await waitFor(() => outcomes >= 100, '100 outcomes');
    await sleep(SETTLE_MS);
    const pulled = pulls;
    await sleep(SETTLE_MS);
    expect(pulls).toBe(pulled); // nothing more is pulled while no outcome comes back
    expect(pulls - outcomes).toBeLessThanOrEqual(20);
    expect(wire.stats.toPeer.outstanding).toBeLessThanOrEqual(20);
    wire.release();
    await done;
    expect(outcomes).toBe(total);
    expect(pulls).toBe(total);
    expect(maxAhead).toBeLessThanOrEqual(20);
    expect(wire.stats.toPeer.maxOutstanding).toBeLessThanOrEqual(20);
    expect((await drain<number>(env.client(broker.url), q)).length).toBe(total);
  }, 60_000);
});

forEachPeer('at-most-once receive', (peer) => {
  const broker = usePeer(peer);
  const env = useClients();

  it('deliveries arrive settled, a late settle throws, and nothing is left at the peer', async () => {
    const q = peer.queue('amo');
    await fill(env.client(broker.url), q, 50);
    const seen: Delivery[] = [];
    const sub = env
      .client(broker.url)
      .receive(q, { settleMode: 'at-most-once', credit: 10 })
      .subscribe((d) => seen.push(d));
    await waitFor(() => seen.length === 50, '50 deliveries');
    expect(seen.every((d) => d.settled)).toBe(true);
    expect(() => seen[0]!.accept()).toThrow(DeliveryAlreadySettledError);
    sub.unsubscribe();
    expect(await drain(env.client(broker.url), q, { firstMs: 300 })).toEqual([]);
  });
});
