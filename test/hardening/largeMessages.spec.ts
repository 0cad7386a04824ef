/**
 * Large messages: bodies up to the peer's max-message-size stream through correctly, split over
 * many frames (1 MiB and 10 MiB, through every selected peer); a message one byte over the
 * max-message-size the peer set on the link is refused before it is sent — a `rejected` outcome
 * whose error is a MessageTooLargeError — and the stream goes on.
 */
import { createHash } from 'node:crypto';
import rhea from 'rhea';
import { from, lastValueFrom, map, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, type ClientOptions, createClient, MessageTooLargeError, type Outcome, SendFailedError } from 'rhea-rx';
import { toRheaMessage } from '../../src/links/codec.js';
import { forEachPeer, usePeer } from '../support/peers.js';
import { useBroker } from '../support/embedded.js';
import { timed, watchProcess } from './support/guards.js';
import { type PeerFrame, RawPeer } from './support/rawPeer.js';

watchProcess({ allowConsoleLog: true });

const MiB = 1024 * 1024;

/** The bytes the client puts on the wire for `body` (the transfer payload): what max-message-size limits. */
function encodedSize(body: unknown): number {
  return (rhea.message.encode(toRheaMessage(body)) as Buffer).length;
}

/** A binary body whose encoded message is exactly `size` bytes. */
function bodyOfEncodedSize(size: number, fill: number): Buffer {
  const overhead = encodedSize(Buffer.alloc(1000)) - 1000; // constant for binaries over 255 bytes
  const body = Buffer.alloc(size - overhead, fill);
  expect(encodedSize(body)).toBe(size);
  return body;
}

/** A body that is not all one byte, so that a misplaced frame would show. */
function patterned(size: number, seed: number): Buffer {
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) body.writeUInt32BE((i * 2654435761 + seed) >>> 0, Math.min(i, size - 4));
  return body;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The outcomes in the order of their inputs, each input having exactly one (S1). */
function inOrder<T>(outcomes: readonly Outcome<T>[], inputs: readonly T[]): Outcome<T>[] {
  expect(outcomes).toHaveLength(inputs.length);
  const sorted = inputs.map((input) => outcomes.filter((o) => o.message === input));
  expect(sorted.every((list) => list.length === 1)).toBe(true);
  return sorted.map((list) => list[0]!);
}

describe('large messages through EmbeddedBroker', () => {
  const env = useBroker();

  it.each([
    ['default max-frame-size (1 MiB)', {}],
    ['a 64 KiB max-frame-size', { maxFrameSize: 64 * 1024 }],
  ] as const)('1 MiB and 10 MiB bodies arrive intact, split over frames, with %s', async (_, options: ClientOptions) => {
    // The broker must split what it sends into frames of the client's max-frame-size: a larger frame
    // would end the connection (frameGuard), so arriving at all proves the split.
    const broker = await env.start({ maxMessageSize: 10 * MiB + 64 });
    const client = env.client(options);
    const bodies = [patterned(MiB, 1), patterned(10 * MiB, 2), patterned(10, 3)];
    const outcomes = await timed(lastValueFrom(from(bodies).pipe(client.send<Buffer>('big'), toArray())), 20_000, 'the outcomes');
    expect(outcomes.value.map((o) => o.state)).toEqual(['accepted', 'accepted', 'accepted']);
    const received = client.receive<Buffer>('big', { credit: 3 }).pipe(
      take(3),
      map((d) => {
        d.accept();
        return sha(d.body);
      }),
      toArray(),
    );
    expect((await timed(lastValueFrom(received), 20_000, 'the deliveries')).value).toEqual(bodies.map(sha));
    expect(broker.queueDepth('big')).toBe(0);
  }, 60_000);

  it('a message of exactly the max-message-size is sent; one byte over is refused without being sent, and the stream goes on', async () => {
    const LIMIT = MiB;
    const broker = await env.start({ maxMessageSize: LIMIT });
    const client = env.client();
    const fits = bodyOfEncodedSize(LIMIT, 1);
    const over = bodyOfEncodedSize(LIMIT + 1, 2);
    const inputs = [Buffer.from('before'), fits, over, Buffer.from('after')];
    const emitted = (await timed(lastValueFrom(from(inputs).pipe(client.send<Buffer>('q'), toArray())), 10_000, 'the outcomes')).value;
    // One outcome per message (S1). The refusal is made at once, so it may come before the peer's
    // outcomes for messages sent earlier: put them in input order.
    const outcomes = inOrder(emitted, inputs);
    expect(outcomes.map((o) => o.state)).toEqual(['accepted', 'accepted', 'rejected', 'accepted']);
    const refused = outcomes[2]!;
    expect(refused.error).toBeInstanceOf(MessageTooLargeError);
    expect(refused.error).toMatchObject({ condition: 'amqp:link:message-size-exceeded' });
    expect(refused.error?.description).toMatch(new RegExp(`${LIMIT + 1} bytes encoded, over the max-message-size of ${LIMIT} bytes .* it was not sent`));
    expect(refused.resent).toBe(false);
    // It never reached the broker; the link was not detached; the others were stored.
    expect(broker.stats('q').received).toBe(3);
    const stored = broker.messages('q').map((m) => sha(m.message.body as Buffer));
    expect(stored).toEqual([inputs[0]!, fits, inputs[3]!].map(sha));
  });

  it('refusals in a long stream: every oversized message gets its own rejected outcome, every other one goes through', async () => {
    const broker = await env.start({ maxMessageSize: 4096 });
    const client = env.client();
    const inputs: Buffer[] = Array.from({ length: 200 }, (_, i) => (i % 7 === 3 ? Buffer.alloc(5000, i) : Buffer.alloc(100, i)));
    const outcomes = (await timed(lastValueFrom(from(inputs).pipe(client.send<Buffer>('q', { maxInFlight: 10 }), toArray())), 10_000, 'the outcomes')).value;
    const expected = inputs.map((b) => (b.length === 5000 ? 'rejected' : 'accepted'));
    expect(inOrder(outcomes, inputs).map((o) => o.state)).toEqual(expected);
    expect(outcomes.filter((o) => o.state === 'rejected').every((o) => o.error instanceof MessageTooLargeError)).toBe(true);
    expect(broker.stats('q').received).toBe(expected.filter((s) => s === 'accepted').length);
  });
});

describe('large messages through a raw peer', () => {
  const peers: RawPeer[] = [];
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ timeout: 200 })));
    await Promise.all(peers.splice(0).map((p) => p.stop()));
  });

  /** A peer that takes what a client sender sends: it announces `open` and `attach` fields, grants credit and accepts. */
  async function receivingPeer(open: Record<string, unknown>, attach: Record<string, unknown>): Promise<RawPeer> {
    const peer = await RawPeer.start(async (p) => {
      await p.handshake(open);
      await p.answerBegin();
      const link = await p.answerAttach(attach);
      p.grant(link.channel, link.handle, 100);
      let next = 0;
      for (;;) {
        const frame = await p.next('transfer', 60_000);
        if (frame.fields.more === true) continue;
        p.send(link.channel, 'disposition', { role: true, first: next, settled: true, state: (rhea.message as unknown as { accepted(): { described(): unknown } }).accepted().described() });
        next++;
      }
    });
    peers.push(peer);
    return peer;
  }

  function client(peer: RawPeer): Client {
    const c = createClient({ url: peer.url, reconnect: false });
    clients.push(c);
    return c;
  }

  it('the client splits a message over frames no larger than the max-frame-size the peer announced', async () => {
    const peer = await receivingPeer({ max_frame_size: 4096 }, {});
    const body = patterned(100_000, 7);
    const [outcome] = (await timed(lastValueFrom(from([body]).pipe(client(peer).send<Buffer>('q'), toArray())), 5000, 'the outcome')).value;
    expect(outcome!.state).toBe('accepted');
    const transfers = peer.connections[0]!.received.filter((f: PeerFrame) => f.name === 'transfer');
    expect(transfers.length).toBeGreaterThanOrEqual(Math.ceil(100_000 / 4096));
    expect(Math.max(...transfers.map((f) => f.size))).toBeLessThanOrEqual(4096);
    expect(transfers.slice(0, -1).every((f) => f.fields.more === true)).toBe(true);
    expect(transfers.at(-1)!.fields.more).toBeUndefined(); // false: the last frame
    const payload = Buffer.concat(transfers.map((f) => f.payload!));
    expect(sha(rhea.message.decode(payload).body as Buffer)).toBe(sha(body));
  });

  it('the peer\'s max-message-size from its attach is honoured: the message over it never goes on the wire', async () => {
    const peer = await receivingPeer({}, { max_message_size: 50_000 });
    const inputs: Buffer[] = [Buffer.alloc(100), Buffer.alloc(60_000), Buffer.alloc(200)];
    const outcomes = inOrder((await timed(lastValueFrom(from(inputs).pipe(client(peer).send<Buffer>('q'), toArray())), 5000, 'the outcomes')).value, inputs);
    expect(outcomes.map((o) => [o.message, o.state])).toEqual([
      [inputs[0], 'accepted'],
      [inputs[1], 'rejected'],
      [inputs[2], 'accepted'],
    ]);
    const transfers = peer.connections[0]!.received.filter((f) => f.name === 'transfer');
    expect(transfers.map((f) => f.payload!.length).every((n) => n < 1000)).toBe(true);
  });

  it('a peer that announces no limit but detaches with message-size-exceeded ends the stream with a SendFailedError caused by MessageTooLargeError', async () => {
    const peer = await RawPeer.start(async (p) => {
      await p.handshake();
      await p.answerBegin();
      const link = await p.answerAttach();
      p.grant(link.channel, link.handle, 10);
      await p.next('transfer');
      p.send(link.channel, 'detach', { handle: link.handle, closed: true, error: { condition: 'amqp:link:message-size-exceeded', description: 'too big for me' } });
    });
    peers.push(peer);
    const error = await lastValueFrom(from([Buffer.alloc(10_000)]).pipe(client(peer).send<Buffer>('q'))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendFailedError);
    expect((error as SendFailedError).cause).toBeInstanceOf(MessageTooLargeError);
    expect((error as SendFailedError).unsettled).toHaveLength(1);
  });
});

forEachPeer('large messages round trip', (peer) => {
  const broker = usePeer(peer);
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ timeout: 2000 })));
  });

  it('1 MiB and 10 MiB bodies, sent and received back intact', async () => {
    const client = createClient(broker.url);
    clients.push(client);
    const q = peer.queue('large');
    const bodies = [patterned(MiB, 11), patterned(10 * MiB, 12)];
    const outcomes: Outcome<Buffer>[] = (await timed(lastValueFrom(from(bodies).pipe(client.send<Buffer>(q), toArray())), 30_000, 'the outcomes')).value;
    expect(outcomes.map((o) => o.state)).toEqual(['accepted', 'accepted']);
    const received = (await timed(lastValueFrom(client.receive<Buffer>(q, { credit: 2 }).pipe(take(2), toArray())), 30_000, 'the deliveries')).value;
    expect(received.map((d) => sha(Buffer.isBuffer(d.body) ? d.body : (d.body as unknown as { content: Buffer }).content))).toEqual(bodies.map(sha));
    for (const d of received) if (!d.settled) d.accept();
  }, 60_000);
});
