// A stand-in for the part of a rhea connection the request/response links use: sessions, a
// sender that records what is sent (and has credit when told), a receiver that can be handed
// responses. No socket, no frames: the tests play the service.
import { EventEmitter } from 'node:events';
import type { Connection, Message } from 'rhea';

export interface SentRequest {
  readonly link: FakeLink;
  readonly message: Message;
  readonly delivery: FakeDeliveryRecord;
}

export interface FakeDeliveryRecord {
  readonly id: number;
}

export class FakeLink extends EventEmitter {
  readonly name: string;
  readonly options: Record<string, unknown>;
  readonly role: 'sender' | 'receiver';
  credit = 0;
  closed = false;
  error: unknown;
  readonly sent: SentRequest[] = [];
  #nextDelivery = 0;

  constructor(role: 'sender' | 'receiver', options: Record<string, unknown>, private readonly session: FakeSession) {
    super();
    this.role = role;
    this.options = options;
    this.name = String(options.name);
  }

  sendable(): boolean {
    return this.credit > 0;
  }

  send(message: Message): FakeDeliveryRecord {
    if (this.credit <= 0) throw new Error('no credit');
    this.credit--;
    const delivery = { id: this.#nextDelivery++ };
    this.sent.push({ link: this, message, delivery });
    this.session.connection.requests.push({ link: this, message, delivery });
    this.session.connection.emit('request', { link: this, message, delivery });
    return delivery;
  }

  is_closed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
  }

  /** The peer answered the attach. */
  open(): void {
    this.emit(this.role === 'sender' ? 'sender_open' : 'receiver_open', {});
  }

  /** The peer granted credit. */
  grant(credit: number): void {
    this.credit += credit;
    this.emit('sendable', {});
  }
}

export class FakeSession extends EventEmitter {
  readonly links: FakeLink[] = [];
  closed = false;
  error: unknown;

  constructor(readonly connection: FakeConnection) {
    super();
  }

  begin(): void {}

  open_sender(options: Record<string, unknown>): FakeLink {
    const link = new FakeLink('sender', options, this);
    this.links.push(link);
    this.connection.emit('link', link);
    return link;
  }

  open_receiver(options: Record<string, unknown>): FakeLink {
    const link = new FakeLink('receiver', options, this);
    this.links.push(link);
    this.connection.emit('link', link);
    return link;
  }

  is_closed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
  }
}

export class FakeConnection extends EventEmitter {
  readonly sessions: FakeSession[] = [];
  readonly requests: SentRequest[] = [];
  closed = false;

  create_session(): FakeSession {
    const session = new FakeSession(this);
    this.sessions.push(session);
    return session;
  }

  is_closed(): boolean {
    return this.closed;
  }

  /** Every link opened so far. */
  get links(): FakeLink[] {
    return this.sessions.flatMap((s) => s.links);
  }

  link(name: string): FakeLink {
    const found = this.links.find((l) => l.name === name);
    if (found === undefined) throw new Error(`no link named ${name}; have ${this.links.map((l) => l.name).join(', ')}`);
    return found;
  }

  /** Attaches every link and gives every sender credit (the service answering). */
  openAll(credit = 10): void {
    for (const link of this.links) {
      link.open();
      if (link.role === 'sender') link.grant(credit);
    }
  }

  /** Delivers a response on the receiver of `node`. */
  respond(node: string, message: Partial<Message> & Record<string, unknown>): void {
    this.link(`${node}-receiver`).emit('message', { message });
  }

  asRhea(): Connection {
    return this as unknown as Connection;
  }
}

/** A connection that answers every request through `answer` (after attaching links as they open). */
export function autoAnswering(answer: (request: SentRequest) => Message | undefined): FakeConnection {
  const connection = new FakeConnection();
  connection.on('link', (link: FakeLink) => {
    queueMicrotask(() => {
      link.open();
      if (link.role === 'sender') link.grant(100);
    });
  });
  connection.on('request', (request: SentRequest) => {
    const response = answer(request);
    if (response === undefined) return;
    const node = String((request.link.options.target as { address: string }).address);
    queueMicrotask(() => connection.respond(node, { correlation_id: request.message.message_id, ...response }));
  });
  return connection;
}
