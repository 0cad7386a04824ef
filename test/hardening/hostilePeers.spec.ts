/**
 * Hostile and broken peers: a raw TCP peer (test/hardening/support/rawPeer.ts) misbehaves at each
 * stage of a connection's life. Every case must end the affected Observables with a typed error
 * (an AmqpError subclass) within a bounded time, close the socket, and let nothing escape the
 * library (watchProcess: no unhandled rejection, uncaught exception or rhea console output).
 */
import { firstValueFrom, lastValueFrom, Subject, type Subscription, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Client,
  type ClientOptions,
  type ClientState,
  ConnectionLostError,
  createClient,
  type Delivery,
  isAmqpError,
  LinkDetachedError,
  MessageTooLargeError,
  OperationTimeoutError,
  type Outcome,
  SendFailedError,
} from 'rhea-rx';
import { sleep, waitFor } from '../support/embedded.js';
import { failureOf, timed, watchProcess } from './support/guards.js';
import { amqpFrame, encodeMessage, type PeerConnection, protocolHeader, RawPeer, saslFrame } from './support/rawPeer.js';

watchProcess();

const peers: RawPeer[] = [];
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => timed(c.close({ timeout: 200 }), 3000, 'client.close()')));
  await Promise.all(peers.splice(0).map((p) => p.stop()));
});

async function rawPeer(script: (peer: PeerConnection) => void | Promise<void>): Promise<RawPeer> {
  const peer = await RawPeer.start(script);
  peers.push(peer);
  return peer;
}

/** A client for `peer` with one attempt only (reconnect off) unless `options` say otherwise. */
function clientOf(peer: RawPeer, options: ClientOptions = {}): Client {
  const client = createClient({ url: peer.url, reconnect: false, connectTimeout: 3000, closeTimeout: 1000, ...options });
  clients.push(client);
  return client;
}

/** The peer's side of a client with one receiver and one sender attached: handshake, two begins, two attaches. */
async function twoLinksUp(peer: PeerConnection): Promise<{ receiver: { channel: number; handle: number }; sender: { channel: number; handle: number } }> {
  await peer.handshake();
  await peer.answerBegin();
  await peer.answerBegin();
  const first = await peer.answerAttach();
  const second = await peer.answerAttach();
  const [receiver, sender] = first.role ? [first, second] : [second, first];
  peer.grant(sender.channel, sender.handle, 100);
  return { receiver, sender };
}

/** Subscribes a receiver and a sender (fed by `input`) and collects how each ends. */
function watchLinks(client: Client, input: Subject<number>) {
  const ended = { receive: undefined as unknown, send: undefined as unknown };
  const outcomes: Outcome<number>[] = [];
  const deliveries: Delivery[] = [];
  const subs: Subscription[] = [
    client.receive('q').subscribe({ next: (d) => deliveries.push(d), error: (e: unknown) => (ended.receive = e) }),
    input.pipe(client.send<number>('q')).subscribe({ next: (o) => outcomes.push(o), error: (e: unknown) => (ended.send = e) }),
  ];
  return { ended, outcomes, deliveries, unsubscribe: () => subs.forEach((s) => s.unsubscribe()) };
}

/** A framing error: the typed error every unreadable input must end in. */
function expectFramingError(error: unknown, pattern?: RegExp): void {
  expect(error).toBeInstanceOf(ConnectionLostError);
  expect((error as ConnectionLostError).condition).toBe('amqp:connection:framing-error');
  if (pattern) expect((error as Error).message).toMatch(pattern);
}

/** Bytes no AMQP peer may send, each with what the error should say. */
const GARBAGE: ReadonlyArray<readonly [string, Buffer, RegExp]> = [
  ['text (reads as a 1.9 GB frame)', Buffer.from('this is not AMQP at all\r\n'), /larger than the max-frame-size/],
  ['a frame size below 8', Buffer.from([0, 0, 0, 3, 2, 0, 0, 0]), /Invalid frame size 3/],
  ['a data offset below 2', Buffer.from([0, 0, 0, 8, 1, 0, 0, 0]), /Invalid data offset/],
  ['an unknown frame type', Buffer.from([0, 0, 0, 8, 2, 7, 0, 0]), /Unknown frame type 7/],
  ['a body that is no AMQP type', Buffer.from([0, 0, 0, 12, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), /./],
  ['a described value that is no performative', Buffer.from([0, 0, 0, 14, 2, 0, 0, 0, 0x00, 0x53, 0x99, 0x45, 0, 0]), /./],
];

describe('a peer that sends what is not AMQP', () => {
  it.each(GARBAGE)('before open, %s: the attempt fails at once with a framing error', async (_, garbage, pattern) => {
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(protocolHeader(0));
      p.write(garbage);
    });
    const client = clientOf(peer);
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error');
    expectFramingError(error, pattern);
    expect(ms).toBeLessThan(1000); // not the connect timeout (3 s)
    await peer.connections[0]!.whenClosed(1000); // the client let go of the socket; it did not wait for the peer's FIN
  });

  it.each(GARBAGE)('after attach, %s: every link on the connection fails with a framing error', async (_, garbage, pattern) => {
    const peer = await rawPeer(async (p) => {
      await twoLinksUp(p);
      await sleep(20);
      p.write(garbage);
    });
    const client = clientOf(peer);
    const input = new Subject<number>();
    const links = watchLinks(client, input);
    input.next(1);
    await timed(
      waitFor(() => links.ended.receive !== undefined && links.ended.send !== undefined, 'both links to fail', 2000),
      2500,
      'the link errors',
    );
    expectFramingError(links.ended.receive, pattern);
    expect(links.ended.send).toBeInstanceOf(SendFailedError);
    expectFramingError((links.ended.send as SendFailedError).cause, pattern);
    expect((links.ended.send as SendFailedError<number>).unsettled).toEqual([1]); // S1: the message in flight is listed
    await peer.connections[0]!.whenClosed(1000);
  });

  it('garbage in answer to the close: close() resolves at once, with nothing unhandled', async () => {
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
      await p.answerAttach();
      await p.next('close', 5000);
      p.write(Buffer.from('garbage!'));
    });
    const client = clientOf(peer);
    const attached = new Promise<void>((resolve) => client.receive('q', { onAttach: () => resolve() }).subscribe({ error: () => undefined }));
    await timed(attached, 2000, 'the attach');
    const { ms } = await timed(client.close({ timeout: 3000 }), 4000, 'close()');
    expect(ms).toBeLessThan(1000);
  });

  it.each([
    ['an HTTP server', Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), /Invalid protocol header/],
    ['an AMQP 0-9-1 broker', Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), /0-9-1/],
    ['a peer that wants TLS', protocolHeader(2), /Invalid AMQP protocol id 2/],
    ['a peer that wants SASL', protocolHeader(3), /Expecting SASL layer|SASL/],
  ])('a wrong protocol header from %s fails the attempt with a framing error that names it', async (_, header, pattern) => {
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(header);
    });
    const client = clientOf(peer);
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error');
    expectFramingError(error, pattern);
    expect(ms).toBeLessThan(1000);
  });

  it('a SASL header to a client without SASL, and an AMQP header to a SASL client, are framing errors', async () => {
    const peer = await rawPeer(async (p) => {
      const header = await p.next('header');
      p.write(protocolHeader(header.protocolId === 3 ? 0 : 3));
    });
    for (const url of [peer.url, peer.url.replace('amqp://', 'amqp://guest:guest@')]) {
      const client = clientOf(peer, { url });
      expectFramingError(await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error').then((r) => r.value), /SASL/);
    }
  });
});

describe('frames larger than the max-frame-size announced', () => {
  it('the client announces its maxFrameSize (1 MiB by default) and refuses a bigger frame from the peer', async () => {
    const announced: unknown[] = [];
    const peer = await rawPeer(async (p) => {
      const open = await p.handshake();
      announced.push(open.fields.max_frame_size);
      await p.answerBegin();
      const link = await p.answerAttach();
      // A complete transfer frame of about 10 KiB, valid in every other way.
      p.transfer(link.channel, link.handle, 0, encodeMessage({ body: 'x'.repeat(10 * 1024) }));
    });
    const small = clientOf(peer, { maxFrameSize: 4096 });
    const error = await timed(failureOf(firstValueFrom(small.receive('q'))), 2000, 'the receive error');
    expectFramingError(error.value, /of 10\d{3} bytes is larger than the max-frame-size of 4096 bytes/);
    expect(announced).toEqual([4096]);

    const defaults = clientOf(peer);
    const delivery = await timed(firstValueFrom(defaults.receive<string>('q')), 2000, 'the delivery');
    expect(delivery.value.body).toHaveLength(10 * 1024); // 10 KiB is well within the default
    expect(announced).toEqual([4096, 1024 * 1024]);
  });

  it('a frame header announcing 4 GB ends the connection at once, however slowly the rest trickles in', async () => {
    let written = 0;
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
      await p.answerAttach();
      const header = Buffer.from([0xff, 0xff, 0xff, 0x00, 2, 0, 0, 0]);
      p.write(header);
      // Then a kilobyte every millisecond, until the client hangs up.
      while (!p.closed && written < 50_000_000) {
        p.write(Buffer.alloc(1024, 0x40));
        written += 1024;
        await sleep(1);
      }
    });
    const client = clientOf(peer);
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error');
    expectFramingError(error, /4294967040 bytes is larger/);
    expect(ms).toBeLessThan(1000);
    await peer.connections[0]!.whenClosed(1000);
    expect(written).toBeLessThan(1024 * 1024); // it never buffered the peer's stream
  });

  it('maxFrameSize is validated: at least 512 (AMQP minimum), at most 4294967295', () => {
    for (const bad of [511, 0, 4_294_967_296, 1.5]) {
      expect(() => createClient({ url: 'amqp://h', maxFrameSize: bad })).toThrow(/maxFrameSize/);
    }
    expect(() => createClient({ url: 'amqp://h', maxFrameSize: 512 })).not.toThrow();
  });
});

describe('a transfer that never ends', () => {
  it('with maxMessageSize, the link is detached with message-size-exceeded and the stream fails with MessageTooLargeError; other links go on', async () => {
    const seen: { maxMessageSize?: unknown; detach?: Record<string, unknown> } = {};
    let framesWritten = 0;
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
      await p.answerBegin();
      const first = await p.answerAttach();
      const second = await p.answerAttach();
      const [limited, other] = first.frame.fields.max_message_size !== undefined ? [first, second] : [second, first];
      seen.maxMessageSize = limited.frame.fields.max_message_size;
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      p.transfer(limited.channel, limited.handle, 0, Buffer.concat([encodeMessage({ body: chunk }).subarray(0, 64), chunk]), true);
      framesWritten++;
      const detach = p.next('detach', 3000);
      // more=true, again and again, as fast as the socket takes it.
      while (!p.closed && framesWritten < 10_000 && p.received.every((f) => f.name !== 'detach')) {
        p.send(limited.channel, 'transfer', { handle: limited.handle, more: true }, chunk);
        framesWritten++;
        await sleep(0);
      }
      seen.detach = (await detach).fields;
      p.transfer(other.channel, other.handle, 0, encodeMessage({ body: 'still here' }));
    });
    const client = clientOf(peer);
    const otherBodies: unknown[] = [];
    const other = client.receive('other').subscribe((d) => otherBodies.push(d.body));
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('big', { maxMessageSize: 256 * 1024 }))), 3000, 'the receive error');
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect((error as MessageTooLargeError).condition).toBe('amqp:link:message-size-exceeded');
    expect(ms).toBeLessThan(2000);
    expect(seen.maxMessageSize).toBe(256 * 1024); // announced in the attach
    expect(framesWritten).toBeLessThan(100); // cut off after ~16 frames of 16 KiB, not when the peer stopped
    await waitFor(() => otherBodies.length === 1, 'the other link to go on', 2000);
    expect(seen.detach).toMatchObject({ closed: true, error: { condition: 'amqp:link:message-size-exceeded' } });
    expect(otherBodies).toEqual(['still here']);
    expect(stateOf(client).status).toBe('open'); // only the link went, not the connection
    other.unsubscribe();
  });

  it('maxMessageSize lets a message of exactly that size through, split over frames', async () => {
    const body = Buffer.alloc(100_000, 0x62);
    const payload = encodeMessage({ body });
    const peer = await rawPeer(async (p) => {
      await p.handshake({ max_frame_size: 4096 });
      await p.answerBegin();
      const link = await p.answerAttach();
      for (let offset = 0, id = 0; offset < payload.length; offset += 4000) {
        const part = payload.subarray(offset, offset + 4000);
        p.send(
          link.channel,
          'transfer',
          offset === 0
            ? { handle: link.handle, delivery_id: id, delivery_tag: Buffer.from('0'), message_format: 0, more: offset + 4000 < payload.length }
            : { handle: link.handle, more: offset + 4000 < payload.length },
          part,
        );
      }
    });
    const client = clientOf(peer);
    const delivery = await timed(firstValueFrom(client.receive<Buffer>('q', { maxMessageSize: payload.length })), 2000, 'the delivery');
    expect(Buffer.compare(delivery.value.body, body)).toBe(0);
  });
});

describe('a peer that does not answer', () => {
  it('never answering open: connectTimeout fails the attempt with OperationTimeoutError and closes the socket', async () => {
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(protocolHeader(0)); // and then nothing
    });
    const client = clientOf(peer, { connectTimeout: 300 });
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error');
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1000);
    await peer.connections[0]!.whenClosed(1000);
  });

  it('never answering attach: attachTimeout fails the receive and the send with OperationTimeoutError; the connection stays up; a late answer is detached', async () => {
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
      await p.answerBegin(); // sessions begin, attaches go unanswered
    });
    const client = clientOf(peer);
    const receiveError = failureOf(firstValueFrom(client.receive('q', { attachTimeout: 300 })));
    const sendError = failureOf(lastValueFrom(new Subject<number>().pipe(client.send<number>('q', { attachTimeout: 400 }))));
    const { value: received, ms } = await timed(receiveError, 2000, 'the receive error');
    expect(received).toBeInstanceOf(OperationTimeoutError);
    expect((received as Error).message).toMatch(/did not answer the attach .* within 300 ms/);
    expect(ms).toBeGreaterThanOrEqual(290);
    const sent = (await timed(sendError, 2000, 'the send error')).value as SendFailedError;
    expect(sent).toBeInstanceOf(SendFailedError);
    expect(sent.cause).toBeInstanceOf(OperationTimeoutError);
    const conn = peer.connections[0]!;
    expect(conn.closed).toBe(false);
    expect(stateOf(client).status).toBe('open');
    // The client leaves an unanswered attach alone (rhea would attach a link detached before the
    // answer again when the answer comes); the peer answering late gets a detach and an end for each.
    await conn.answerAttach();
    await conn.answerAttach();
    await conn.next('detach', 1000);
    await conn.next('detach', 1000);
    await conn.next('end', 1000);
    await conn.next('end', 1000);
    expect(conn.received.filter((f) => f.name === 'attach')).toHaveLength(2); // no second attach
    expect(conn.closed).toBe(false);
    expect(stateOf(client).status).toBe('open');
  });

  it('the attach timeout applies to every attach: a link re-attached after a reconnect and not answered fails too', async () => {
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
      if (peer.connections.length === 1) {
        await p.answerAttach();
        await sleep(50);
        p.destroy(); // the first connection is cut; on the second, the attach goes unanswered
      }
    });
    // With reconnect on, an unanswered attach is tried again (after 10 and 20 ms) until maxAttempts.
    const client = clientOf(peer, { reconnect: { initialDelay: 10, maxAttempts: 2 } });
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('q', { attachTimeout: 300 }))), 4000, 'the receive error');
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect(ms).toBeGreaterThanOrEqual(3 * 290);
    expect(peer.connections).toHaveLength(2);
    const second = peer.connections[1]!;
    for (let i = 0; i < 3; i++) await second.next('attach', 1000);
  });

  it('attachTimeout and maxMessageSize are validated when called', () => {
    const client = createClient({ url: 'amqp://h' });
    for (const bad of [0, -1, 1.5, '100', 2_147_483_648]) {
      expect(() => client.receive('q', { attachTimeout: bad as number })).toThrow(/attachTimeout/);
      expect(() => client.send('q', { attachTimeout: bad as number })).toThrow(/attachTimeout/);
    }
    for (const bad of [0, -1, 1.5, '100']) expect(() => client.receive('q', { maxMessageSize: bad as number })).toThrow(/maxMessageSize/);
    expect(() => client.send('q', { maxMessageSize: 10 } as never)).toThrow(/Unknown option 'maxMessageSize'/);
  });

  it('sends buffered while the attach goes unanswered are all listed when the attach times out (S1)', async () => {
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
    });
    const client = clientOf(peer);
    const input = new Subject<number>();
    const result = failureOf(lastValueFrom(input.pipe(client.send<number>('q', { attachTimeout: 200 }), toArray())));
    for (let i = 0; i < 5; i++) input.next(i);
    const error = (await timed(result, 2000, 'the send error')).value as SendFailedError<number>;
    expect(error.cause).toBeInstanceOf(OperationTimeoutError);
    expect(error.unsettled).toEqual([0, 1, 2, 3, 4]);
    expect(input.observed).toBe(false);
  });
});

describe('a peer that closes mid-frame', () => {
  it('before open: a retryable ConnectionLostError', async () => {
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(protocolHeader(0));
      const open = amqpFrame(0, 'open', { container_id: 'raw-peer' });
      p.write(open.subarray(0, open.length - 5));
      p.socket.end();
    });
    const client = clientOf(peer);
    const error = (await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error')).value;
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as ConnectionLostError).retryable).toBe(true);
  });

  it('in the middle of a transfer: both links fail with ConnectionLostError, the half message never surfaces', async () => {
    const peer = await rawPeer(async (p) => {
      const { receiver } = await twoLinksUp(p);
      const transfer = amqpFrame(receiver.channel, 'transfer', { handle: receiver.handle, delivery_id: 0, delivery_tag: Buffer.from('0'), message_format: 0 }, encodeMessage({ body: 'x'.repeat(1000) }));
      p.write(transfer.subarray(0, 500));
      await sleep(20);
      p.socket.end();
    });
    const client = clientOf(peer);
    const input = new Subject<number>();
    const links = watchLinks(client, input);
    await timed(waitFor(() => links.ended.receive !== undefined && links.ended.send !== undefined, 'both links to fail', 2000), 2500, 'the link errors');
    expect(links.ended.receive).toBeInstanceOf(ConnectionLostError);
    expect((links.ended.send as SendFailedError).cause).toBeInstanceOf(ConnectionLostError);
    expect(links.deliveries).toEqual([]);
  });
});

describe('a SASL exchange that loops', () => {
  it('a peer that answers every sasl-init with sasl-mechanisms again is cut off by connectTimeout', async () => {
    let inits = 0;
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(protocolHeader(3));
      p.write(saslFrame('sasl_mechanisms', { sasl_server_mechanisms: ['PLAIN'] }));
      for (;;) {
        await p.next('sasl-init', 2000);
        inits++;
        await sleep(1);
        p.write(saslFrame('sasl_mechanisms', { sasl_server_mechanisms: ['PLAIN'] }));
      }
    });
    const client = clientOf(peer, { url: peer.url.replace('amqp://', 'amqp://alice:secret@'), connectTimeout: 500 });
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error');
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect(ms).toBeLessThan(1000);
    expect(inits).toBeGreaterThan(5); // it did loop
    expect(JSON.stringify(error)).not.toContain('secret');
    await peer.connections[0]!.whenClosed(1000);
  });

  it('a sasl-challenge to a mechanism that takes none (PLAIN) is a framing error at once', async () => {
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(protocolHeader(3));
      p.write(saslFrame('sasl_mechanisms', { sasl_server_mechanisms: ['PLAIN'] }));
      await p.next('sasl-init');
      p.write(saslFrame('sasl_challenge', { challenge: Buffer.from('again?') }));
    });
    const client = clientOf(peer, { url: peer.url.replace('amqp://', 'amqp://alice:secret@') });
    const { value: error, ms } = await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error');
    expectFramingError(error);
    expect(ms).toBeLessThan(1000);
    expect(JSON.stringify(error)).not.toContain('secret');
  });

  it('a SASL frame larger than the max-frame-size is refused like any other frame', async () => {
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(protocolHeader(3));
      p.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 2, 1, 0, 0]));
    });
    const client = clientOf(peer, { url: peer.url.replace('amqp://', 'amqp://alice:secret@') });
    expectFramingError((await timed(failureOf(firstValueFrom(client.receive('q'))), 2000, 'the receive error')).value, /larger than the max-frame-size/);
  });
});

describe('with reconnect on', () => {
  it('a peer that fails every attempt before open is retried with growing delays, not in a loop', async () => {
    const peer = await rawPeer(async (p) => {
      await p.next('header');
      p.write(Buffer.from('garbage!'));
    });
    const client = clientOf(peer, { reconnect: { initialDelay: 20, maxDelay: 1000 } });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    let failed: unknown;
    const sub = client.receive('q').subscribe({ error: (e: unknown) => (failed = e) });
    await sleep(700);
    const attempts = peer.connections.length;
    // 20 + 40 + 80 + 160 + 320 ms of waiting fit in 700 ms: six attempts, give or take one.
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(attempts).toBeLessThanOrEqual(7);
    const delays = states.filter((s) => s.status === 'reconnecting').map((s) => s.delay);
    expect(delays.slice(0, 4)).toEqual([20, 40, 80, 160]);
    expect(states.filter((s) => s.status === 'reconnecting').every((s) => isAmqpError(s.error))).toBe(true);
    expect(failed).toBeUndefined(); // the stream waits for the connection to come back
    sub.unsubscribe();
    await timed(client.close(), 1000, 'close');
    const after = peer.connections.length;
    await sleep(300);
    expect(peer.connections.length).toBe(after); // close stopped the retries
  });

  it('a peer that opens and then sends garbage is backed off from: each short-lived connection doubles the next delay', async () => {
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
      await p.answerAttach();
      p.write(Buffer.from('garbage!'));
    });
    const client = clientOf(peer, { reconnect: { initialDelay: 50 } });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    const sub = client.receive('q').subscribe();
    await sleep(1000);
    const opens = states.filter((s) => s.status === 'open').length;
    expect(opens).toBeGreaterThanOrEqual(3);
    const lost = states.filter((s) => s.status === 'reconnecting');
    expect(lost.every((s) => (s.error as ConnectionLostError).condition === 'amqp:connection:framing-error')).toBe(true);
    // 50, 100, 200, 400, …: at a steady 50 ms it would have been ~20 connections in a second.
    expect(lost.map((s) => s.delay)).toEqual(lost.map((_, i) => 50 * 2 ** i));
    expect(peer.connections.length).toBeLessThanOrEqual(6);
    sub.unsubscribe();
  });
});

function stateOf(client: Client): ClientState {
  let state: ClientState | undefined;
  client.state$.subscribe((s) => (state = s)).unsubscribe();
  return state!;
}

describe('a peer that ignores credit', () => {
  it('is detached with transfer-limit-exceeded once it is far past the credit; the stream fails typed, memory stays bounded', async () => {
    let sent = 0;
    let detach: Record<string, unknown> | undefined;
    const peer = await rawPeer(async (p) => {
      await p.handshake();
      await p.answerBegin();
      const link = await p.answerAttach();
      const detached = p.next('detach', 5000);
      // Credit 5 granted; send thousands anyway.
      while (!p.closed && sent < 5000 && p.received.every((f) => f.name !== 'detach')) {
        p.transfer(link.channel, link.handle, sent, encodeMessage({ body: `m${sent}` }));
        sent++;
        if (sent % 100 === 0) await sleep(0);
      }
      detach = (await detached).fields;
    });
    const client = clientOf(peer);
    const held: unknown[] = [];
    const { value: error } = await timed(
      new Promise<unknown>((resolve) => client.receive('q', { credit: 5 }).subscribe({ next: (d) => held.push(d), error: resolve })),
      5000,
      'the receive error',
    );
    expect(error).toBeInstanceOf(LinkDetachedError);
    expect((error as LinkDetachedError).condition).toBe('amqp:link:transfer-limit-exceeded');
    expect(held).toHaveLength(5); // the application never saw more than its credit (R1)
    expect(sent).toBeLessThan(5000); // cut off at the limit (10 × credit + 1000), not when the peer stopped
    await waitFor(() => detach !== undefined, 'the detach', 3000);
    expect(detach).toMatchObject({ closed: true, error: { condition: 'amqp:link:transfer-limit-exceeded' } });
  });
});
