/**
 * Fuzzing the client's decode path with fast-check: random bytes, and valid frames with random
 * mutations, written by a raw TCP peer (support/rawPeer.ts) to a real client — before open, to a
 * receiver, to a sender — and random bytes into the typed message decoder directly.
 *
 * The property is always the same: the client reports only typed errors (AmqpError subclasses),
 * within a bounded time, keeps its promises (S1: every message sent has an outcome or is listed in
 * the error, once), and nothing escapes (no unhandled rejection, uncaught exception or rhea console
 * output). Each run ends with the peer closing the socket, so a run that leaves the client waiting
 * for more bytes still ends.
 *
 * Already covered elsewhere and not repeated here: the URL, connect.json and connection-string
 * parsers (test/unit/config/*.spec.ts), and message values through encode and decode
 * (test/unit/types/roundtrip.property.spec.ts) and through a real peer (test/interop/roundtrip.spec.ts).
 *
 * Time-boxed for CI: FUZZ_RUNS (default 25) runs per property through a peer, 20× that for the
 * decoder alone. `FUZZ_RUNS=2000 npx vitest run test/hardening/fuzz.spec.ts` for a longer run;
 * FUZZ_SEED replays a failure.
 */
import fc from 'fast-check';
import rhea from 'rhea';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, type Delivery, isAmqpError, message, type Outcome, SendFailedError } from 'rhea-rx';
import { decodeTypedMessage, toRheaMessage } from '../../src/links/codec.js';
import { sleep, waitFor } from '../support/embedded.js';
import { timed, watchProcess } from './support/guards.js';
import { amqpFrame, type PeerConnection, protocolHeader, RawPeer } from './support/rawPeer.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const RUN_TIMEOUT = 3000;
/** The time a property through a peer may take: ~20 ms a run, with room for a slow machine. */
const PROPERTY_TIMEOUT = 30_000 + RUNS * 100;
const options = (numRuns: number) => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true });

const watch = watchProcess();

const peers: RawPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop()));
});

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(input);
  for (const m of mutations) {
    if (bytes.length === 0) break;
    const at = m.at % bytes.length;
    switch (m.kind) {
      case 'flip':
        bytes[at] = bytes[at]! ^ (1 << m.bit);
        break;
      case 'set':
        bytes[at] = m.byte;
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
    }
  }
  return bytes;
}

/** A message encoded as the client itself encodes it (rhea alone cannot encode every JavaScript number). */
function encode(body: unknown, fields: Parameters<typeof message>[1] = {}): Buffer {
  return rhea.message.encode(toRheaMessage(message(body, fields))) as Buffer;
}

function encodable(value: unknown): boolean {
  try {
    toRheaMessage(value);
    return true;
  } catch {
    return false; // e.g. an integer beyond 2^53, which the client refuses to send (MessageEncodeError)
  }
}

/** Bodies of every shape the default decode meets: JSON-like values, strings, binary. */
const body: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).filter(encodable),
  fc.string({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
);

/** Either random bytes, or valid frames (made by `valid`) with 1 to 4 mutations. */
function hostileBytes(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b)),
    fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, ms]) => mutate(bytes, ms)),
  );
}

/** What one run saw. */
interface Seen {
  error?: unknown;
  completed?: boolean;
  readonly deliveries: Delivery[];
  readonly outcomes: Outcome<number>[];
  readonly settleErrors: unknown[];
}

/** Starts a raw peer running `script`, then writes `bytes`, waits a little and closes the socket. */
async function peerWriting(before: (p: PeerConnection) => Promise<void>, bytes: () => Buffer): Promise<RawPeer> {
  const peer = await RawPeer.start(async (p) => {
    await before(p);
    p.write(bytes());
    await sleep(15);
    p.socket.end();
    await sleep(50);
    p.destroy();
  });
  peers.push(peer);
  return peer;
}

function newClient(peer: RawPeer): Client {
  return createClient({ url: peer.url, reconnect: false, connectTimeout: 2000, closeTimeout: 300 });
}

/** Ends a run: the stream must have ended with a typed error (or completed), then the client closes. */
async function finish(client: Client, seen: Seen, what: string): Promise<void> {
  await timed(waitFor(() => seen.error !== undefined || seen.completed === true, what, RUN_TIMEOUT), RUN_TIMEOUT + 500, what);
  if (seen.error !== undefined) {
    expect(isAmqpError(seen.error), `${what}: ${String(seen.error)}`).toBe(true);
    if (seen.error instanceof SendFailedError) expect(isAmqpError(seen.error.cause) || seen.error.cause === undefined).toBe(true);
  }
  for (const e of seen.settleErrors) expect(isAmqpError(e), `a settlement threw ${String(e)}`).toBe(true);
  await timed(client.close(), 2000, 'client.close()');
  await sleep(5);
  expect(watch.escaped, 'nothing escaped the library').toEqual([]);
}

/** Reads a delivery the way an application does; what it throws must be typed. */
function consume(delivery: Delivery, seen: Seen): void {
  seen.deliveries.push(delivery);
  try {
    void delivery.body;
    void delivery.message.applicationProperties;
    delivery.accept();
  } catch (error) {
    seen.settleErrors.push(error);
  }
}

describe('fuzzing the client through a raw peer', () => {
  it(`random bytes instead of the peer's protocol header and open (${RUNS} runs)`, async () => {
    const open = fc.constant(Buffer.concat([protocolHeader(0), amqpFrame(0, 'open', { container_id: 'fuzz', max_frame_size: 4096 })]));
    await fc.assert(
      fc.asyncProperty(hostileBytes(open), async (bytes) => {
        const peer = await peerWriting(async (p) => void (await p.next('header')), () => bytes);
        const client = newClient(peer);
        const seen: Seen = { deliveries: [], outcomes: [], settleErrors: [] };
        client.receive('q').subscribe({ next: (d) => consume(d, seen), error: (e: unknown) => (seen.error = e) });
        await finish(client, seen, 'the receive stream to end');
      }),
      options(RUNS),
    );
  }, PROPERTY_TIMEOUT);

  it(`random bytes or mutated transfers to a receiver, default and typed decode (${RUNS} runs)`, async () => {
    const transfers = fc.tuple(fc.array(body, { minLength: 1, maxLength: 4 }), fc.integer({ min: 16, max: 400 })).map(([bodies, split]) =>
      Buffer.concat(
        bodies.flatMap((b, id) => {
          // Each message in one frame, or split over frames of `split` payload bytes (more = true).
          const payload = encode(b, { applicationProperties: { n: id } });
          const parts: Buffer[] = [];
          for (let offset = 0; offset < payload.length; offset += split) {
            const more = offset + split < payload.length;
            const fields = offset === 0 ? { handle: 0, delivery_id: id, delivery_tag: Buffer.from([id]), message_format: 0, more } : { handle: 0, more };
            parts.push(amqpFrame(0, 'transfer', fields, payload.subarray(offset, offset + split)));
          }
          return parts;
        }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(hostileBytes(transfers), fc.boolean(), async (bytes, typed) => {
        const peer = await peerWriting(
          async (p) => {
            await p.handshake();
            await p.answerBegin();
            await p.answerAttach();
          },
          () => bytes,
        );
        const client = newClient(peer);
        const seen: Seen = { deliveries: [], outcomes: [], settleErrors: [] };
        client.receive('q', { typed, credit: 10 }).subscribe({ next: (d) => consume(d, seen), error: (e: unknown) => (seen.error = e) });
        await finish(client, seen, 'the receive stream to end');
      }),
      options(RUNS),
    );
  }, PROPERTY_TIMEOUT);

  it(`random bytes or mutated dispositions and flows to a sender: S1 holds (${RUNS} runs)`, async () => {
    const make = rhea.message as unknown as Record<'accepted' | 'released' | 'rejected' | 'modified', (fields?: object) => { described(): unknown }>;
    const outcomes = [
      () => make.accepted().described(),
      () => make.released().described(),
      () => make.rejected({ error: { condition: 'amqp:internal-error', description: 'fuzz' } }).described(),
      () => make.modified({ delivery_failed: true }).described(),
    ];
    const frames = fc
      .array(
        fc.oneof(
          fc.tuple(fc.nat(7), fc.nat(3), fc.nat(3), fc.boolean()).map(([first, span, state, settled]) =>
            amqpFrame(0, 'disposition', { role: true, first, last: first + span, settled, state: outcomes[state]!() }),
          ),
          fc.tuple(fc.nat(20), fc.nat(20)).map(([count, credit]) =>
            amqpFrame(0, 'flow', { next_incoming_id: 0, incoming_window: 2048, next_outgoing_id: 0, outgoing_window: 2048, handle: 0, delivery_count: count, link_credit: credit }),
          ),
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map((list) => Buffer.concat(list));
    await fc.assert(
      fc.asyncProperty(hostileBytes(frames), async (bytes) => {
        const peer = await peerWriting(
          async (p) => {
            await p.handshake();
            await p.answerBegin();
            const link = await p.answerAttach();
            p.grant(link.channel, link.handle, 8);
            await p.next('transfer', 1000);
          },
          () => bytes,
        );
        const client = newClient(peer);
        const seen: Seen = { deliveries: [], outcomes: [], settleErrors: [] };
        const input = new Subject<number>();
        input.pipe(client.send<number>('q')).subscribe({
          next: (o) => seen.outcomes.push(o),
          error: (e: unknown) => (seen.error = e),
          complete: () => (seen.completed = true),
        });
        const sent = [0, 1, 2, 3, 4, 5, 6, 7];
        for (const n of sent) input.next(n);
        await finish(client, seen, 'the send stream to end');
        // S1: each message has one outcome or is listed in the error, never both, never twice.
        const unsettled = seen.error instanceof SendFailedError ? (seen.error.unsettled as number[]) : [];
        const accounted = [...seen.outcomes.map((o) => o.message as number), ...unsettled].sort((a, b) => a - b);
        expect(accounted).toEqual(sent);
        for (const o of seen.outcomes) expect(['accepted', 'rejected', 'released', 'modified']).toContain(o.state);
      }),
      options(RUNS),
    );
  }, PROPERTY_TIMEOUT);
});

describe('fuzzing the typed decoder alone', () => {
  const valid = fc
    .tuple(body, fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.boolean()), { maxKeys: 3 }))
    .map(([b, props]) => encode(b, { applicationProperties: props, properties: { messageId: 'id', subject: 's' } }));

  it(`random and mutated message bytes decode or fail with amqp:decode-error, nothing else (${RUNS * 20} runs)`, () => {
    fc.assert(
      fc.property(hostileBytes(valid), (bytes) => {
        try {
          const m = decodeTypedMessage(bytes);
          expect(typeof m).toBe('object');
        } catch (error) {
          expect(isAmqpError(error), String(error)).toBe(true);
          expect((error as { condition?: string }).condition).toBe('amqp:decode-error');
        }
      }),
      options(RUNS * 20),
    );
  }, PROPERTY_TIMEOUT);
});
