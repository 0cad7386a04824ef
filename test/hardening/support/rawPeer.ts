/**
 * A scripted AMQP 1.0 peer on a raw TCP socket, for tests of what the client does when the other
 * side misbehaves. It speaks just enough of the protocol (headers, SASL ANONYMOUS, open, begin,
 * attach, transfer) to bring a client to the point a test wants, then lets the test write anything
 * at all: garbage, a wrong header, an oversized frame, a transfer that never ends, or nothing.
 *
 * Frames are encoded and decoded with rhea's own frame codec (its internal `frames` module), so the
 * valid frames the peer writes are exactly what a rhea-based peer would write.
 */
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import rhea from 'rhea';

const require = createRequire(import.meta.url);

interface RheaFrame {
  type: number;
  channel: number;
  performative?: { constructor: { descriptor: { numeric: number } } } & Record<string, unknown>;
  payload?: Buffer;
}

interface RheaFrames {
  read_frame(buffer: Buffer): RheaFrame | null;
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  [performative: string]: unknown;
}

const frames = require('rhea/lib/frames.js') as RheaFrames;

/** Performative names by descriptor code (AMQP 1.0 sections 2.7 and 5.3.3). */
const NAMES: Readonly<Record<number, string>> = {
  0x10: 'open',
  0x11: 'begin',
  0x12: 'attach',
  0x13: 'flow',
  0x14: 'transfer',
  0x15: 'disposition',
  0x16: 'detach',
  0x17: 'end',
  0x18: 'close',
  0x40: 'sasl-mechanisms',
  0x41: 'sasl-init',
  0x42: 'sasl-challenge',
  0x43: 'sasl-response',
  0x44: 'sasl-outcome',
};

/** One frame the client sent, decoded. `name` is `header` for a protocol header, `empty` for a heartbeat. */
export interface PeerFrame {
  readonly name: string;
  readonly channel: number;
  /** The performative's fields by their rhea names (`handle`, `link_credit`, …). */
  readonly fields: Record<string, unknown>;
  readonly payload: Buffer | undefined;
  /** The frame's size on the wire, in bytes (8 for a header). */
  readonly size: number;
  /** For a header: the protocol id (0 AMQP, 3 SASL). */
  readonly protocolId?: number;
}

/** The protocol header: `AMQP`, the protocol id (0 AMQP, 2 TLS, 3 SASL), then version 1.0.0. */
export function protocolHeader(protocolId: number): Buffer {
  return Buffer.from([0x41, 0x4d, 0x51, 0x50, protocolId, 1, 0, 0]);
}

/** An AMQP frame on `channel` with `performative` (e.g. `'open'`) and its fields. */
export function amqpFrame(channel: number, performative: string, fields: Record<string, unknown>, payload?: Buffer): Buffer {
  const make = frames[performative] as (fields: Record<string, unknown>) => unknown;
  return frames.write_frame(frames.amqp_frame(channel, make(fields), payload));
}

/** A SASL frame with `performative` (e.g. `'sasl_mechanisms'`) and its fields. */
export function saslFrame(performative: string, fields: Record<string, unknown>): Buffer {
  const make = frames[performative] as (fields: Record<string, unknown>) => unknown;
  return frames.write_frame(frames.sasl_frame(make(fields)));
}

/** An encoded message (the payload of a transfer), by rhea's encoder. */
export function encodeMessage(message: Record<string, unknown>): Buffer {
  return rhea.message.encode(message as unknown as rhea.Message) as Buffer;
}

function fieldsOf(performative: RheaFrame['performative']): Record<string, unknown> {
  if (performative === undefined) return {};
  const json = (performative as unknown as { toJSON?(): Record<string, unknown> }).toJSON;
  return typeof json === 'function' ? json.call(performative) : {};
}

/** Waiters for frames, in order. */
interface Waiter {
  readonly accept: (frame: PeerFrame) => boolean;
  readonly resolve: (frame: PeerFrame) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** The peer's side of one client connection. */
export class PeerConnection {
  readonly socket: Socket;
  /** Every frame the client sent so far, in order. */
  readonly received: PeerFrame[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #waiters: Waiter[] = [];
  #closed = false;
  #parseError: Error | undefined;
  /** How many frames of each name `next` has handed out. */
  readonly #taken = new Map<string, number>();

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#input(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      for (const waiter of this.#waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error('the client closed the connection'));
      }
    });
  }

  /** True once the socket is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the client's side of the socket is closed or destroyed; rejects after `timeout` ms. */
  whenClosed(timeout = 5000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the client did not close the connection within ${timeout} ms`)), timeout);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #input(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      for (;;) {
        if (this.#buffer.length >= 8 && this.#buffer.toString('latin1', 0, 4) === 'AMQP') {
          this.#deliver({ name: 'header', channel: 0, fields: {}, payload: undefined, size: 8, protocolId: this.#buffer[4]! });
          this.#buffer = this.#buffer.subarray(8);
          continue;
        }
        if (this.#buffer.length < 8) return;
        const size = this.#buffer.readUInt32BE(0);
        if (this.#buffer.length < size) return;
        const frame = frames.read_frame(this.#buffer.subarray(0, size));
        this.#buffer = this.#buffer.subarray(size);
        if (frame === null) continue;
        const code = frame.performative?.constructor.descriptor.numeric;
        this.#deliver({
          name: code === undefined ? 'empty' : (NAMES[code] ?? `0x${code.toString(16)}`),
          channel: frame.channel,
          fields: fieldsOf(frame.performative),
          payload: frame.payload,
          size,
        });
      }
    } catch (error) {
      this.#parseError = error as Error;
    }
  }

  #deliver(frame: PeerFrame): void {
    this.received.push(frame);
    const index = this.#waiters.findIndex((w) => w.accept(frame));
    if (index < 0) return;
    const [waiter] = this.#waiters.splice(index, 1);
    clearTimeout(waiter!.timer);
    waiter!.resolve(frame);
  }

  /**
   * The next frame named `name` the client sends (frames received before this call and not yet
   * taken count too), skipping others. Rejects after `timeout` ms or when the socket closes.
   */
  next(name: string, timeout = 5000): Promise<PeerFrame> {
    const taken = this.#taken.get(name) ?? 0;
    const matching = this.received.filter((f) => f.name === name);
    if (matching.length > taken) {
      this.#taken.set(name, taken + 1);
      return Promise.resolve(matching[taken]!);
    }
    if (this.#parseError !== undefined) return Promise.reject(this.#parseError);
    if (this.#closed) return Promise.reject(new Error(`the client closed the connection before sending ${name}`));
    return new Promise<PeerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no ${name} from the client within ${timeout} ms (got: ${this.received.map((f) => f.name).join(', ')})`));
      }, timeout);
      this.#waiters.push({
        accept: (frame) => frame.name === name,
        resolve: (frame) => {
          this.#taken.set(name, (this.#taken.get(name) ?? 0) + 1);
          resolve(frame);
        },
        reject,
        timer,
      });
    });
  }

  /** Writes raw bytes; ignored once the socket is gone. */
  write(bytes: Buffer | Uint8Array): boolean {
    if (this.#closed || this.socket.destroyed) return false;
    return this.socket.write(bytes);
  }

  send(channel: number, performative: string, fields: Record<string, unknown>, payload?: Buffer): boolean {
    return this.write(amqpFrame(channel, performative, fields, payload));
  }

  /**
   * Answers the client's protocol header(s) and open: SASL ANONYMOUS first when the client starts
   * with a SASL header. Resolves with the client's open frame.
   */
  async handshake(open: Record<string, unknown> = {}): Promise<PeerFrame> {
    const header = await this.next('header');
    if (header.protocolId === 3) {
      this.write(protocolHeader(3));
      this.write(saslFrame('sasl_mechanisms', { sasl_server_mechanisms: ['ANONYMOUS'] }));
      await this.next('sasl-init');
      this.write(saslFrame('sasl_outcome', { code: 0 }));
      await this.next('header');
    }
    this.write(protocolHeader(0));
    const clientOpen = await this.next('open');
    this.send(0, 'open', { container_id: 'raw-peer', ...open });
    return clientOpen;
  }

  /** Answers the client's next begin; resolves with the channel it came on. */
  async answerBegin(): Promise<number> {
    const begin = await this.next('begin');
    this.send(begin.channel, 'begin', { remote_channel: begin.channel, next_outgoing_id: 0, incoming_window: 2048, outgoing_window: 2048 });
    return begin.channel;
  }

  /**
   * Answers the client's next attach as the other end of the link (a sender for a client receiver,
   * a receiver for a client sender), with `extra` fields (e.g. `max_message_size`).
   */
  async answerAttach(extra: Record<string, unknown> = {}): Promise<{ channel: number; handle: number; role: boolean; frame: PeerFrame }> {
    const attach = await this.next('attach');
    const role = attach.fields.role === true; // true: the client receives
    this.send(attach.channel, 'attach', {
      name: attach.fields.name,
      handle: attach.fields.handle ?? 0,
      role: !role,
      source: attach.fields.source,
      target: attach.fields.target,
      snd_settle_mode: attach.fields.snd_settle_mode ?? 0,
      rcv_settle_mode: attach.fields.rcv_settle_mode ?? 0,
      ...(role ? { initial_delivery_count: 0 } : {}),
      ...extra,
    });
    return { channel: attach.channel, handle: Number(attach.fields.handle ?? 0), role, frame: attach };
  }

  /** Grants `credit` to a client sender on `handle`. */
  grant(channel: number, handle: number, credit: number, deliveryCount = 0): void {
    this.send(channel, 'flow', {
      next_incoming_id: 0,
      incoming_window: 2048,
      next_outgoing_id: 0,
      outgoing_window: 2048,
      handle,
      delivery_count: deliveryCount,
      link_credit: credit,
    });
  }

  /** A transfer frame to a client receiver (one frame; `more` for a part of a longer message). */
  transfer(channel: number, handle: number, deliveryId: number, payload: Buffer, more = false): boolean {
    return this.send(
      channel,
      'transfer',
      { handle, delivery_id: deliveryId, delivery_tag: Buffer.from(String(deliveryId)), message_format: 0, settled: false, more },
      payload,
    );
  }

  /** Destroys the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** A TCP listener on 127.0.0.1 whose every connection runs `script`. */
export class RawPeer {
  readonly connections: PeerConnection[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Errors the scripts threw or rejected with (a test asserts there are none, where it cares). */
  readonly scriptErrors: unknown[] = [];

  private constructor(script: (peer: PeerConnection) => void | Promise<void>) {
    this.#server = createServer((socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      const peer = new PeerConnection(socket);
      this.connections.push(peer);
      Promise.resolve()
        .then(() => script(peer))
        .catch((error: unknown) => {
          if (!peer.closed) this.scriptErrors.push(error);
        });
    });
  }

  /** Starts listening on a free port of 127.0.0.1. */
  static async start(script: (peer: PeerConnection) => void | Promise<void>): Promise<RawPeer> {
    const peer = new RawPeer(script);
    await new Promise<void>((resolve, reject) => {
      peer.#server.once('error', reject);
      peer.#server.listen({ port: 0, host: '127.0.0.1' }, () => resolve());
    });
    return peer;
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  get url(): string {
    return `amqp://127.0.0.1:${this.port}`;
  }

  /** Connections whose socket is still open. */
  openConnections(): number {
    return this.#sockets.size;
  }

  /** Destroys every connection and closes the listener. */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
