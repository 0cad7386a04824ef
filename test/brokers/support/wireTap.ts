/**
 * A TCP proxy that reads the AMQP 1.0 frames going through it, so that tests can observe what a
 * client puts on the wire against any peer — RabbitMQ, the Proton C broker or the EmbeddedBroker —
 * without asking the broker. It counts performatives per direction, tracks the unsettled deliveries
 * in each direction (transfers not yet settled by a disposition that reached the other side), and
 * can hold back everything the peer sends (outcomes, credit) for a while, which is how a test pauses
 * the outcomes of a broker that has no such hook.
 */
import { createRequire } from 'node:module';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** rhea's frame reader (the same decoder the client uses). */
const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  read_frame(buffer: Buffer): RawFrame | null;
};

interface Performative {
  readonly constructor: { readonly descriptor: { readonly numeric: number } };
  readonly [field: string]: unknown;
}

interface RawFrame {
  readonly type: number;
  readonly channel: number;
  readonly performative?: Performative;
}

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
};

const OUTCOMES: Readonly<Record<number, string>> = {
  0x23: 'received',
  0x24: 'accepted',
  0x25: 'rejected',
  0x26: 'released',
  0x27: 'modified',
};

/** The name of a delivery state as rhea decodes it (a described list), e.g. `released`. */
function outcomeName(state: unknown): string | undefined {
  const descriptor = (state as { descriptor?: { value?: unknown } } | undefined)?.descriptor?.value;
  if (typeof descriptor !== 'number') return undefined;
  return OUTCOMES[descriptor] ?? `0x${descriptor.toString(16)}`;
}

/** One AMQP frame as the tap saw it. */
export interface TappedFrame {
  readonly name: string;
  /** The channel on the side that sent it. */
  readonly channel: number;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Unsettled deliveries flowing one way. */
export interface DeliveryBook {
  /** Transfers seen (first frames of unsettled deliveries). */
  readonly transfers: number;
  /** Deliveries sent and not yet settled by a disposition that reached the sender. */
  readonly outstanding: number;
  /** The most `outstanding` ever was. */
  readonly maxOutstanding: number;
}

/** What went through the tap since it started (or since `reset()`). */
export interface WireStats {
  /** Frames from the client, by performative name. */
  readonly fromClient: Readonly<Record<string, number>>;
  /** Frames from the peer, by performative name. */
  readonly fromPeer: Readonly<Record<string, number>>;
  /** Flow frames from the client that carry a link handle (credit grants of its receivers). */
  readonly clientLinkFlows: number;
  /** Deliveries the client sent (its senders) and the peer's settlements of them. */
  readonly toPeer: DeliveryBook;
  /** Deliveries the peer sent (the client's receivers) and the client's settlements of them. */
  readonly toClient: DeliveryBook;
  /**
   * The most deliveries the client ever let its receivers have unsettled: at each flow it sends,
   * the delivery limit it grants (delivery-count + link-credit) minus the deliveries it has settled
   * (or got pre-settled) by then. With one receiver per connection this is what R1 bounds by `credit`.
   */
  readonly maxGrantedUnsettled: number;
  /**
   * How far the peer went beyond the credit granted: the most deliveries it sent past the highest
   * limit (delivery-count + link-credit) any flow from the client had granted. 0 on a peer that
   * honours credit. One receiver per connection.
   */
  readonly beyondCredit: number;
}

/** Credit accounting of one connection (tests keep one receiver link per connection). */
interface CreditLedger {
  limit: number;
  sent: number;
  gone: number;
}

class Book {
  transfers = 0;
  maxOutstanding = 0;
  readonly open = new Set<string>();

  sent(key: string): void {
    this.transfers += 1;
    this.open.add(key);
    if (this.open.size > this.maxOutstanding) this.maxOutstanding = this.open.size;
  }

  settled(session: string, first: number, last: number): void {
    for (let id = first; id <= last; id++) this.open.delete(`${session}:${id}`);
  }

  snapshot(): DeliveryBook {
    return { transfers: this.transfers, outstanding: this.open.size, maxOutstanding: this.maxOutstanding };
  }
}

/** Splits a byte stream into protocol headers and frames, whatever the chunking. */
class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (frame: RawFrame) => void) {}

  push(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let offset = 0;
    for (;;) {
      const rest = this.#pending.length - offset;
      if (rest >= 4 && this.#pending.toString('latin1', offset, offset + 4) === 'AMQP') {
        if (rest < 8) break;
        offset += 8; // a protocol header (AMQP or SASL)
        continue;
      }
      if (rest < 8) break;
      const size = this.#pending.readUInt32BE(offset);
      if (rest < size) break;
      const slice = this.#pending.subarray(offset, offset + size);
      offset += size;
      if (slice[5] !== 0) continue; // SASL frames are not counted
      const frame = frames.read_frame(slice);
      if (frame !== null) this.onFrame(frame);
    }
    this.#pending = offset === this.#pending.length ? Buffer.alloc(0) : this.#pending.subarray(offset);
  }
}

/**
 * A proxy to `target` (an `amqp://host:port` URL) on a free loopback port; point a client at
 * `tap.url`. Close it after the test.
 */
export class WireTap {
  readonly #server: Server;
  readonly #target: URL;
  readonly #sockets = new Set<Socket>();
  readonly #held: Array<() => void> = [];
  #holding = false;
  #port = 0;
  #connections = 0;
  #fromClient: Record<string, number> = {};
  #fromPeer: Record<string, number> = {};
  #clientLinkFlows = 0;
  #toPeer = new Book();
  #toClient = new Book();
  #maxGrantedUnsettled = 0;
  #beyondCredit = 0;
  /** Every frame, when recording is on. */
  readonly frames: { from: 'client' | 'peer'; frame: TappedFrame }[] = [];
  record = false;

  private constructor(target: string) {
    this.#target = new URL(target);
    this.#server = createServer((client) => this.#pipe(client));
  }

  static async start(target: string): Promise<WireTap> {
    const tap = new WireTap(target);
    await new Promise<void>((resolve, reject) => {
      tap.#server.once('error', reject);
      tap.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = tap.#server.address();
    tap.#port = typeof address === 'object' && address !== null ? address.port : 0;
    return tap;
  }

  /** The URL to give the client. */
  get url(): string {
    return `amqp://127.0.0.1:${this.#port}`;
  }

  get stats(): WireStats {
    return {
      fromClient: { ...this.#fromClient },
      fromPeer: { ...this.#fromPeer },
      clientLinkFlows: this.#clientLinkFlows,
      toPeer: this.#toPeer.snapshot(),
      toClient: this.#toClient.snapshot(),
      maxGrantedUnsettled: this.#maxGrantedUnsettled,
      beyondCredit: this.#beyondCredit,
    };
  }

  /** Starts counting afresh (the delivery books keep what is still unsettled). */
  reset(): void {
    this.#fromClient = {};
    this.#fromPeer = {};
    this.#clientLinkFlows = 0;
    this.#toPeer.transfers = 0;
    this.#toPeer.maxOutstanding = this.#toPeer.open.size;
    this.#toClient.transfers = 0;
    this.#toClient.maxOutstanding = this.#toClient.open.size;
    this.#maxGrantedUnsettled = 0;
    this.#beyondCredit = 0;
  }

  /** Holds back everything the peer sends (outcomes, credit, deliveries) until `release()`. */
  hold(): void {
    this.#holding = true;
  }

  /** Passes on what was held, in order, and stops holding. */
  release(): void {
    this.#holding = false;
    for (const pass of this.#held.splice(0)) pass();
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #pipe(client: Socket): void {
    const conn = ++this.#connections;
    const peer = connect({ host: this.#target.hostname, port: Number(this.#target.port) });
    client.setNoDelay(true);
    peer.setNoDelay(true);
    this.#sockets.add(client).add(peer);
    // The peer's channel for each session → the client's channel (from the peer's begin).
    const channels = new Map<number, number>();
    const ledger: CreditLedger = { limit: 0, sent: 0, gone: 0 };
    const fromClient = new FrameReader((frame) => this.#clientFrame(conn, frame, ledger));
    const fromPeer = new FrameReader((frame) => this.#peerFrame(conn, frame, channels, ledger));
    client.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      peer.write(chunk);
    });
    peer.on('data', (chunk: Buffer) => {
      const pass = () => {
        fromPeer.push(chunk);
        if (!client.destroyed) client.write(chunk);
      };
      if (this.#holding) this.#held.push(pass);
      else pass();
    });
    const end = () => {
      client.destroy();
      peer.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(peer);
    };
    client.on('close', end).on('error', end);
    peer.on('close', end).on('error', end);
  }

  #note(from: 'client' | 'peer', frame: RawFrame): { name: string; p: Performative } | undefined {
    const p = frame.performative;
    if (p === undefined) return undefined; // an empty frame (heartbeat)
    const name = NAMES[p.constructor.descriptor.numeric] ?? `0x${p.constructor.descriptor.numeric.toString(16)}`;
    const counts = from === 'client' ? this.#fromClient : this.#fromPeer;
    counts[name] = (counts[name] ?? 0) + 1;
    if (this.record) {
      const fields: Record<string, unknown> = {};
      for (const key of ['handle', 'delivery_count', 'delivery_id', 'settled', 'first', 'last', 'link_credit', 'drain', 'role', 'error', 'remote_channel']) {
        const value = p[key];
        if (value !== undefined && value !== null) fields[key] = value;
      }
      const state = outcomeName(p.state);
      if (state !== undefined) fields.state = state;
      this.frames.push({ from, frame: { name, channel: frame.channel, fields } });
    }
    return { name, p };
  }

  #clientFrame(conn: number, frame: RawFrame, ledger: CreditLedger): void {
    const seen = this.#note('client', frame);
    if (seen === undefined) return;
    const { name, p } = seen;
    if (name === 'flow' && p.handle !== undefined && p.handle !== null) {
      this.#clientLinkFlows += 1;
      if (typeof p.link_credit === 'number') {
        const limit = (typeof p.delivery_count === 'number' ? p.delivery_count : 0) + p.link_credit;
        ledger.limit = Math.max(ledger.limit, limit);
        this.#maxGrantedUnsettled = Math.max(this.#maxGrantedUnsettled, limit - ledger.gone);
      }
    }
    if (name === 'transfer' && p.settled !== true && typeof p.delivery_id === 'number') {
      this.#toPeer.sent(`${conn}:${frame.channel}:${p.delivery_id}`);
    }
    if (name === 'disposition' && p.settled === true && typeof p.first === 'number') {
      const last = typeof p.last === 'number' ? p.last : p.first;
      this.#toClient.settled(`${conn}:${frame.channel}`, p.first, last);
      ledger.gone += last - p.first + 1;
    }
  }

  #peerFrame(conn: number, frame: RawFrame, channels: Map<number, number>, ledger: CreditLedger): void {
    const seen = this.#note('peer', frame);
    if (seen === undefined) return;
    const { name, p } = seen;
    if (name === 'begin' && typeof p.remote_channel === 'number') channels.set(frame.channel, p.remote_channel);
    const channel = channels.get(frame.channel) ?? frame.channel;
    if (name === 'transfer' && typeof p.delivery_id === 'number') {
      ledger.sent += 1;
      if (p.settled === true) ledger.gone += 1;
      this.#beyondCredit = Math.max(this.#beyondCredit, ledger.sent - ledger.limit);
    }
    if (name === 'transfer' && p.settled !== true && typeof p.delivery_id === 'number') {
      this.#toClient.sent(`${conn}:${channel}:${p.delivery_id}`);
    }
    if (name === 'disposition' && p.settled === true && typeof p.first === 'number') {
      const last = typeof p.last === 'number' ? p.last : p.first;
      this.#toPeer.settled(`${conn}:${channel}`, p.first, last);
    }
  }
}
