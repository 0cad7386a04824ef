// The AMQP request/response pattern over a pair of links (AMQP Management, and the claims-based
// authorization node `$cbs`): a sender and a receiver on one session, requests matched to responses
// by message-id and correlation-id. Used by the Service Bus client for `$cbs` and `$management`.
import type { Connection, EventContext, Message as RheaMessage, Receiver, Sender, Session } from 'rhea';
import { AmqpError } from '../errors/AmqpError.js';
import { ConnectionLostError, LinkDetachedError, OperationTimeoutError } from '../errors/errors.js';
import { translate } from '../errors/translate.js';
import { on } from './rheaEvents.js';

/** The connection a {@link RequestResponseLink} is opened on (as `ConnectionManager.beforeOpen` hands it out). */
export type AmqpConnection = Connection;

/** A management or CBS response, as the node sent it. */
export interface Response {
  /** The status code (`statusCode`, or `status-code` on `$cbs`); HTTP's meanings. */
  readonly status: number | undefined;
  /** The status description, if any. */
  readonly description: string | undefined;
  /** The error condition a failed response names (`errorCondition`), if any. */
  readonly condition: string | undefined;
  /** The response body (a map for every Service Bus operation), as rhea decoded it. */
  readonly body: unknown;
}

/** What a request/response link pair is for. */
export interface RequestResponseOptions {
  /** The node both links attach to, e.g. `$cbs` or `orders/$management`. */
  readonly node: string;
  /**
   * The `reply-to` of each request: the node itself for `$management`, none for `$cbs` (the two as
   * azure-servicebus's uAMQP sends them). The receiving link's target address is the node, so a
   * service that routes responses by reply-to finds it either way.
   */
  readonly replyTo: string | undefined;
}

/** The part of a request the caller gives. */
export interface Request {
  readonly body: unknown;
  readonly applicationProperties: Record<string, unknown>;
  /** How long to wait for the response, in milliseconds. */
  readonly timeout: number;
  /** The operation, for error messages, e.g. `renew-lock on 'orders'`. */
  readonly what: string;
}

interface Pending {
  readonly resolve: (response: Response) => void;
  readonly reject: (error: AmqpError) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A sender and a receiver on one session of `connection`, both attached to a node, for the AMQP
 * management request/response pattern: each request has a fresh `message-id` (a ulong counter,
 * as uAMQP's), the response is the message whose `correlation-id` is that id.
 *
 * Link names are `<node>-sender` and `<node>-receiver` with source and target the node (uAMQP's
 * choice): one pair per node per connection. Requests wait for the links to attach and for credit.
 * Closing it — or a link, session or connection error — fails every request still waiting.
 */
export class RequestResponseLink {
  readonly connection: Connection;
  readonly #options: RequestResponseOptions;
  readonly #session: Session;
  readonly #sender: Sender;
  readonly #receiver: Receiver;
  readonly #pending = new Map<string, Pending>();
  readonly #byDelivery = new WeakMap<object, string>();
  readonly #removers: Array<() => void> = [];
  readonly #opened: Promise<void>;
  #waitingForCredit: Array<() => void> = [];
  #nextId = 0;
  #closed: AmqpError | undefined;
  /** Rejects the wait for the attach, once the pair is closed before it opened. */
  #failOpen: (error: AmqpError) => void = () => undefined;

  constructor(connection: Connection, options: RequestResponseOptions) {
    this.connection = connection;
    this.#options = options;
    const { node } = options;
    this.#session = connection.create_session();
    this.#session.begin();
    this.#sender = this.#session.open_sender({
      name: `${node}-sender`,
      source: { address: node },
      target: { address: node },
      snd_settle_mode: 0,
      rcv_settle_mode: 0,
      autosettle: true,
    } as Parameters<Session['open_sender']>[0]);
    this.#receiver = this.#session.open_receiver({
      name: `${node}-receiver`,
      source: { address: node },
      target: { address: node },
      snd_settle_mode: 0,
      rcv_settle_mode: 0,
      autoaccept: true,
    } as Parameters<Session['open_receiver']>[0]);
    let senderOpen = false;
    let receiverOpen = false;
    this.#opened = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (senderOpen && receiverOpen) resolve();
      };
      this.#removers.push(
        on(this.#sender, 'sender_open', () => {
          senderOpen = true;
          check();
        }),
        on(this.#receiver, 'receiver_open', () => {
          receiverOpen = true;
          check();
        }),
      );
      this.#failOpen = reject;
    });
    // A request that is never made must not leave an unhandled rejection behind.
    this.#opened.catch(() => undefined);
    this.#removers.push(
      on(this.#sender, 'sendable', () => this.#drainWaiting()),
      on(this.#receiver, 'message', (context: EventContext) => this.#onResponse(context.message)),
      on(this.#sender, 'rejected', (context: EventContext) => this.#onOutcome(context, 'rejected')),
      on(this.#sender, 'released', (context: EventContext) => this.#onOutcome(context, 'released')),
      on(this.#sender, 'modified', (context: EventContext) => this.#onOutcome(context, 'modified')),
      on(this.#sender, 'sender_error', () => this.close(translate(this.#sender.error, 'link', node))),
      on(this.#receiver, 'receiver_error', () => this.close(translate(this.#receiver.error, 'link', node))),
      on(this.#sender, 'sender_close', () => this.close(this.#detached('sender'))),
      on(this.#receiver, 'receiver_close', () => this.close(this.#detached('receiver'))),
      on(this.#session, 'session_error', () => this.close(translate(this.#session.error, 'session', node))),
      on(this.#session, 'session_close', () => this.close(new LinkDetachedError(`The peer ended the session of the links to '${node}'`, { retryable: true }))),
      on(connection, 'disconnected', () => this.lost()),
    );
  }

  /** True once closed, by us or by the peer; a closed pair takes no more requests. */
  get isClosed(): boolean {
    return this.#closed !== undefined;
  }

  /** The receiving link's name (for logs). */
  get name(): string {
    return this.#receiver.name;
  }

  /**
   * Sends a request and resolves with the response, whatever its status (the caller reads it).
   * Rejects with `OperationTimeoutError` after `timeout` ms, with the translated error when the node
   * rejects the request or a link fails, and with `ConnectionLostError` (retryable) when the
   * connection goes.
   */
  request(request: Request): Promise<Response> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    const key = String(id);
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        reject(new OperationTimeoutError(`${request.what}: no response from '${this.#options.node}' within ${request.timeout} ms`));
      }, request.timeout);
      this.#pending.set(key, { resolve, reject, timer });
      const send = () => {
        if (!this.#pending.has(key) || this.#closed !== undefined) return;
        const message: RheaMessage = {
          message_id: id,
          ...(this.#options.replyTo === undefined ? {} : { reply_to: this.#options.replyTo }),
          application_properties: request.applicationProperties,
          body: request.body,
        };
        try {
          const delivery = this.#sender.send(message);
          this.#byDelivery.set(delivery, key);
        } catch (error) {
          this.#settle(key, (p) => p.reject(translate(error, 'link', this.#options.node)));
        }
      };
      this.#opened.then(
        () => {
          if (this.#sender.sendable()) send();
          else this.#waitingForCredit.push(send);
        },
        (error: AmqpError) => this.#settle(key, (p) => p.reject(error)),
      );
    });
  }

  /**
   * Detaches both links and ends the session (when the connection is still there), and fails what
   * is waiting with `error` (or a generic "closed" error). Idempotent.
   */
  close(error?: AmqpError): void {
    if (this.#closed !== undefined) return;
    this.#closed = error ?? new AmqpError(`The request/response links to '${this.#options.node}' are closed`, { retryable: true });
    this.#failOpen(this.#closed);
    for (const [key] of this.#pending) this.#settle(key, (p) => p.reject(this.#closed!));
    this.#waitingForCredit = [];
    for (const remove of this.#removers) remove();
    this.#removers.length = 0;
    if (!this.connection.is_closed()) {
      if (!this.#sender.is_closed()) this.#sender.close();
      if (!this.#receiver.is_closed()) this.#receiver.close();
      if (!this.#session.is_closed()) this.#session.close();
    }
  }

  /** The connection went away under the links: fail what waits with a retryable error. */
  lost(error?: AmqpError): void {
    this.close(error ?? new ConnectionLostError(`The connection under the links to '${this.#options.node}' was lost`));
  }

  #detached(which: 'sender' | 'receiver'): AmqpError {
    const link = which === 'sender' ? this.#sender : this.#receiver;
    return link.error === undefined || link.error === null
      ? new LinkDetachedError(`The peer detached the ${which} link of '${this.#options.node}'`, { retryable: true })
      : translate(link.error, 'link', this.#options.node);
  }

  #drainWaiting(): void {
    while (this.#waitingForCredit.length > 0 && this.#sender.sendable()) this.#waitingForCredit.shift()!();
  }

  #onResponse(message: RheaMessage | undefined): void {
    if (message === undefined) return;
    const key = correlationKey(message.correlation_id);
    if (key === undefined || !this.#pending.has(key)) return; // a late answer to a request that timed out
    const properties = (message.application_properties ?? {}) as Record<string, unknown>;
    const response: Response = {
      status: toInteger(properties.statusCode ?? properties['status-code']),
      description: toText(properties.statusDescription ?? properties['status-description']),
      condition: toText(properties.errorCondition ?? properties['error-condition']),
      body: message.body,
    };
    this.#settle(key, (p) => p.resolve(response));
  }

  #onOutcome(context: EventContext, state: 'rejected' | 'released' | 'modified'): void {
    const delivery = context.delivery;
    const key = delivery === undefined ? undefined : this.#byDelivery.get(delivery);
    if (key === undefined) return;
    const remote = (delivery as unknown as { remote_state?: { error?: unknown } }).remote_state;
    const error =
      state === 'rejected'
        ? translate(remote?.error ?? { condition: 'amqp:internal-error', description: 'the request was rejected' }, 'link', this.#options.node)
        : new AmqpError(`'${this.#options.node}' did not take the request (${state})`, { retryable: true });
    this.#settle(key, (p) => p.reject(error));
  }

  #settle(key: string, action: (pending: Pending) => void): void {
    const pending = this.#pending.get(key);
    if (pending === undefined) return;
    this.#pending.delete(key);
    clearTimeout(pending.timer);
    action(pending);
  }
}

/** The key of a message-id or correlation-id as rhea decodes it: a ulong number, 8 bytes, a string or a uuid. */
function correlationKey(id: unknown): string | undefined {
  if (typeof id === 'number' || typeof id === 'string' || typeof id === 'bigint') return String(id);
  if (Buffer.isBuffer(id)) return id.length === 8 ? String(id.readBigUInt64BE(0)) : id.toString('hex');
  return undefined;
}

/** A status code as rhea decodes it: a number (int, uint), or a long as a number or its 8 bytes. */
function toInteger(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value) && value.length === 8) return Number(value.readBigInt64BE(0));
  return undefined;
}

/** A string field, sent as an AMQP string or symbol (rhea decodes both as strings). */
function toText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
