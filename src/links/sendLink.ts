import type { Connection, Delivery as RheaDelivery, EventContext, Message as RheaMessage, Sender, Session } from 'rhea';
import type { OutgoingMessage } from '../delivery/message.js';
import type { Outcome, OutcomeState } from '../delivery/Outcome.js';
import { AmqpError } from '../errors/AmqpError.js';
import rhea from 'rhea';
import { BufferOverflowError, LinkDetachedError, MessageEncodeError, MessageTooLargeError, NotSupportedError, OperationTimeoutError, SendFailedError } from '../errors/errors.js';
import { isOutgoingMessage } from '../delivery/message.js';
import { translate } from '../errors/translate.js';
import { log } from '../log.js';
import type { ConnectionManager } from '../client/ConnectionManager.js';
import type { RemoteTargetAttach, ResolvedSendOptions } from '../config/options.js';
import { abandonUnanswered } from './abandon.js';
import { batchWrites } from './batchWrites.js';
import { isRabbitMq3, rabbitMq3Refusal } from './peerLimits.js';
import { toRheaMessage } from './codec.js';
import { plainRecord, remoteAttachFrame, remoteTerminus } from './remoteAttach.js';
import { on } from './rheaEvents.js';
import { sendChannel } from '../tracing/channels.js';
import { type SendTrace, sendAbandoned, sendDropped, sendFailed, sendOutcome, startSend, withTraceHeaders } from '../tracing/hooks.js';

/** Where the engine reports outcomes; the `send` operator and `sendFrom` both plug a subscriber in. */
export interface OutcomeSink<T> {
  next(outcome: Outcome<T>): void;
  error(error: SendFailedError<T | OutgoingMessage<T>>): void;
  complete(): void;
}

interface Entry<T> {
  readonly seq: number;
  readonly input: T | OutgoingMessage<T>;
  readonly encoded: RheaMessage;
  /** Sent again after a connection loss (S3): the peer may have it twice. */
  resent?: boolean;
  /** Its trace, only when the send channel had subscribers (src/tracing). */
  trace?: SendTrace | undefined;
}

let nextLinkId = 1;

/**
 * How much one event-loop turn hands to rhea at most: this many messages, or this many bytes of
 * encoded payload. The rest follows in the next turn, after pending I/O. The transfers of a turn
 * leave in one write (see batchWrites.ts); smaller writes let the peer start on the first while
 * the next are encoded, and the dispositions that come back meanwhile are read between them, so
 * the window refills steadily instead of in bursts that leave each side waiting for the other.
 * The byte limit only bounds a turn of large messages: a lower one (256 KiB, four 64 KiB
 * messages) cost more in system calls than the overlap gained (bench/README.md, Profiling).
 */
export const TURN_MESSAGES = 128;
export const TURN_BYTES = 4 * 1024 * 1024;

/**
 * One sender link and the messages on their way through it (S1, S2).
 *
 * Input goes into a bounded buffer; messages leave it only while the link has credit and fewer
 * than `maxInFlight` are unsettled at the peer. Every input ends as exactly one outcome, or in the
 * `unsettled` list of the one error that ends the stream.
 */
export class SendEngine<T> {
  readonly #manager: ConnectionManager;
  readonly #address: string;
  readonly #options: ResolvedSendOptions<T>;
  readonly #sink: OutcomeSink<T>;
  readonly #linkId = `s${nextLinkId++}`;
  /** A link to the peer's anonymous relay: no target address, each message carries its `to`. */
  readonly #anonymous: boolean;
  /** The peer's name when it is RabbitMQ 3.x (see peerLimits.ts), set at each attach. */
  #rabbitMq3: string | undefined;
  /** Encoded, waiting for credit. `#head` is the index of the oldest; compacted as it grows. */
  #buffer: Array<Entry<T> | undefined> = [];
  #head = 0;
  readonly #inFlight = new Map<RheaDelivery, Entry<T>>();
  readonly #removers: Array<() => void> = []; //     client-level listeners, for the engine's life
  readonly #linkRemovers: Array<() => void> = []; // listeners on the current link and session
  #sender: Sender | undefined;
  #session: Session | undefined;
  #seq = 0;
  /** Transfers handed to rhea; rhea counts those it has written in `sender.delivery_count`. */
  #handed = 0;
  #inputDone = false;
  #ended = false;
  #onRoom: (() => void) | undefined;
  #onIdle: (() => void) | undefined;
  #relinkTimer: NodeJS.Timeout | undefined;
  #relinkAttempt = 0;
  /** Runs out when the peer has not answered the current attach in time. */
  #attachTimer: NodeJS.Timeout | undefined;
  /** Messages and payload bytes handed to rhea in this event-loop turn (see TURN_MESSAGES). */
  #turnMessages = 0;
  #turnBytes = 0;
  /** Ends the turn: set while a turn has handed something. */
  #turnEnd: NodeJS.Immediate | undefined;

  /**
   * @param address - The target address; `null` for the peer's anonymous relay (a link with no
   *   target address: each message goes to its own `properties.to`).
   */
  constructor(manager: ConnectionManager, address: string | null, options: ResolvedSendOptions<T>, sink: OutcomeSink<T>) {
    this.#manager = manager;
    this.#anonymous = address === null;
    this.#address = address ?? ANONYMOUS_LABEL;
    this.#options = options;
    this.#sink = sink;
  }

  /** Messages buffered, waiting for credit. */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  /** Messages sent and not yet settled by the peer. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  get ended(): boolean {
    return this.#ended;
  }

  start(): void {
    this.#removers.push(
      this.#manager.watch({
        lost: () => this.#requeueInFlight(),
        restored: (connection) => {
          clearTimeout(this.#relinkTimer);
          this.#relinkTimer = undefined;
          if (!this.#ended && this.#sender === undefined) this.#attach(connection);
        },
        failed: (error) => this.#fail(error),
      }),
      this.#manager.onClose((deadline) => this.#closeBy(deadline)),
      this.#manager.report(() => ({
        kind: 'sender',
        address: this.#address,
        inFlight: this.#inFlight.size,
        buffered: this.buffered,
        attached: this.#sender !== undefined,
      })),
    );
    this.#manager.acquire().then(
      (connection) => {
        if (!this.#ended) this.#attach(connection);
      },
      (error: AmqpError) => this.#fail(error),
    );
  }

  /**
   * True when a pull source may produce one more message now: nothing is waiting in the buffer
   * and the link could put a message on the wire (S4).
   */
  hasRoom(): boolean {
    return !this.#ended && this.buffered === 0 && this.#sender !== undefined && this.#canSend();
  }

  /** Calls `listener` (once) the next time {@link hasRoom} may have become true. */
  whenRoom(listener: () => void): void {
    this.#onRoom = listener;
  }

  push(input: T | OutgoingMessage<T>): void {
    if (this.#ended) return;
    const seq = this.#seq++;
    const trace = sendChannel.hasSubscribers ? startSend(this.#manager, this.#address, input) : undefined;
    let encoded: RheaMessage;
    try {
      encoded = trace === undefined ? toRheaMessage(input) : withTraceHeaders(toRheaMessage(input), trace);
    } catch (error) {
      this.#fail(error as AmqpError, { seq, input, encoded: { body: null }, trace });
      return;
    }
    const entry: Entry<T> = trace === undefined ? { seq, input, encoded } : { seq, input, encoded, trace };
    if (this.buffered >= this.#options.bufferSize) {
      if (!this.#overflow(entry)) return;
    } else {
      this.#buffer.push(entry);
    }
    this.#pump();
  }

  /** The input is complete: finish when everything has an outcome. */
  end(): void {
    this.#inputDone = true;
    this.#completeIfDone();
  }

  /** The input failed: end the stream with that error, listing what has no outcome. */
  abort(cause: unknown): void {
    this.#fail(cause);
  }

  /** Detaches the link and forgets everything; idempotent. Outcomes still due are not reported. */
  dispose(): void {
    this.#ended = true;
    if (sendChannel.hasSubscribers) sendAbandoned([this.#inFlight.values(), this.#buffer]); // traces still open end here
    clearTimeout(this.#relinkTimer);
    clearTimeout(this.#attachTimer);
    clearImmediate(this.#turnEnd);
    this.#turnEnd = undefined;
    this.#onRoom = undefined;
    for (const remove of [...this.#linkRemovers, ...this.#removers]) remove();
    this.#linkRemovers.length = 0;
    this.#removers.length = 0;
    if (this.#sender !== undefined && this.#session !== undefined) abandonUnanswered(this.#session, this.#sender);
    this.#sender = undefined;
    this.#session = undefined;
  }

  /** The client is closing: wait for outcomes until `deadline`, then end the stream. */
  async #closeBy(deadline: number): Promise<void> {
    if (this.#ended) return;
    if (this.buffered + this.#inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#onIdle = undefined;
    }
    if (this.#ended) return;
    if (this.buffered + this.#inFlight.size > 0) {
      this.#fail(new AmqpError(`The client was closed before the peer settled every message sent to '${this.#address}'`));
    } else {
      this.dispose();
      this.#sink.complete();
    }
  }

  /**
   * The link went with its connection: messages sent and not yet settled have no outcome and may
   * or may not have reached the peer. They go back to the front of the buffer, in input order, to
   * be sent again on the new link with `resent: true` (S3). rhea alone drops them.
   */
  /**
   * The peer detached the link or ended its session. With reconnect on and a retryable error (a
   * broker shutting down, `amqp:link:detach-forced`), what is in flight goes back to the buffer
   * and the link is attached again after the reconnect policy's delay (S3); otherwise the stream
   * ends listing every message without an outcome (S1).
   */
  #linkFailed(error: AmqpError, endSession = true): void {
    if (this.#ended) return;
    const delay = error.retryable ? this.#manager.reconnectPolicy?.delay(++this.#relinkAttempt) : undefined;
    if (delay === undefined) {
      this.#fail(error);
      return;
    }
    const old = this.#session;
    this.#requeueInFlight();
    try {
      if (endSession && old !== undefined && !old.is_closed()) old.close();
    } catch {
      // the connection under it is gone too: nothing to end
    }
    log.sender('[%s/%s] link lost (%s); attaching again in %d ms', this.#manager.id, this.#linkId, error.message, delay);
    clearTimeout(this.#relinkTimer);
    this.#relinkTimer = setTimeout(() => {
      this.#relinkTimer = undefined;
      if (this.#ended) return;
      this.#manager.acquire().then(
        (connection) => {
          if (!this.#ended && this.#sender === undefined) this.#attach(connection);
        },
        (failure: AmqpError) => this.#fail(failure),
      );
    }, delay);
  }

  #requeueInFlight(): void {
    clearTimeout(this.#attachTimer);
    for (const remove of this.#linkRemovers) remove();
    this.#linkRemovers.length = 0;
    this.#sender = undefined;
    this.#session = undefined;
    this.#handed = 0; // the new link's delivery count starts at 0
    const unconfirmed = [...this.#inFlight.values()].sort((a, b) => a.seq - b.seq);
    this.#inFlight.clear();
    for (const entry of unconfirmed) entry.resent = true;
    const waiting: Entry<T>[] = [];
    for (let i = this.#head; i < this.#buffer.length; i++) waiting.push(this.#buffer[i]!);
    this.#buffer = [...unconfirmed, ...waiting];
    this.#head = 0;
    log.sender('[%s/%s] connection lost: %d message(s) to send again', this.#manager.id, this.#linkId, unconfirmed.length);
  }

  #attach(connection: Connection): void {
    const peer = this.#manager.peer;
    // The peer of this connection, for the values RabbitMQ 3.x cannot parse (checked per message).
    this.#rabbitMq3 = peer !== undefined && isRabbitMq3(peer.product, peer.version) ? `${peer.product} ${peer.version}` : undefined;
    if (this.#anonymous && peer !== undefined && !peer.offeredCapabilities.includes('ANONYMOUS-RELAY')) {
      const name = `${peer.product ?? 'The peer'}${peer.version === undefined ? '' : ` ${peer.version}`}`;
      this.#fail(new NotSupportedError(`${name} offers no anonymous relay (ANONYMOUS-RELAY in its open frame): send to an address instead`));
      return;
    }
    const session = connection.create_session();
    session.begin();
    const sender = session.open_sender({
      ...(this.#options.linkName === undefined ? {} : { name: this.#options.linkName }),
      target: {
        ...(this.#anonymous ? {} : { address: this.#address }),
        ...(this.#options.durable ? { durable: 2, expiry_policy: 'never' } : {}),
        ...(this.#options.capabilities === undefined ? {} : { capabilities: [...this.#options.capabilities] }),
      },
      autosettle: true,
      treat_modified_as_released: false,
      ...(this.#options.properties === undefined ? {} : { properties: this.#options.properties }),
    } as Parameters<Session['open_sender']>[0]);
    this.#session = session;
    this.#sender = sender;
    const address = this.#address;
    clearTimeout(this.#attachTimer);
    // An attach the peer does not answer in time is given up, and attached again after the
    // reconnect policy's delay when reconnect is on (a broker failing over answers a later one).
    this.#attachTimer = setTimeout(() => {
      this.#attachTimer = undefined;
      if (this.#ended || this.#sender !== sender) return;
      this.#linkFailed(new OperationTimeoutError(`The peer did not answer the attach of the link to '${address}' within ${this.#options.attachTimeout} ms`), false);
      abandonUnanswered(session, sender);
    }, this.#options.attachTimeout);
    const outcome = (state: OutcomeState) => (context: EventContext) => this.#settle(context.delivery!, state);
    this.#linkRemovers.push(
      on(sender, 'sendable', () => this.#pump()),
      on(sender, 'sender_open', () => {
        clearTimeout(this.#attachTimer);
        this.#attachTimer = undefined;
        this.#relinkAttempt = 0;
        log.sender('[%s/%s] attached to %s', this.#manager.id, this.#linkId, address);
        if (this.#options.onAttach !== undefined) {
          try {
            this.#options.onAttach(remoteTargetAttachOf(sender));
          } catch (error) {
            this.#fail(error);
            return;
          }
        }
        this.#pump();
      }),
      on(sender, 'accepted', outcome('accepted')),
      on(sender, 'rejected', outcome('rejected')),
      on(sender, 'released', outcome('released')),
      on(sender, 'modified', outcome('modified')),
      // A peer may settle without saying how; AMQP then applies the target's default outcome.
      on(sender, 'settled', outcome('accepted')),
      on(sender, 'sender_draining', () => {
        if (this.buffered === 0) sender.set_drained(true);
      }),
      on(sender, 'sender_error', () => this.#linkFailed(translate(sender.error, 'link', address))),
      on(sender, 'sender_close', () =>
        this.#linkFailed(
          sender.error
            ? translate(sender.error, 'link', address)
            : new LinkDetachedError(`The peer detached the link to '${address}'`, { retryable: true }),
        ),
      ),
      on(session, 'session_error', (context: EventContext) => this.#linkFailed(translate(context.session?.error, 'link', address))),
      on(session, 'session_close', (context: EventContext) =>
        this.#linkFailed(
          context.session?.error
            ? translate(context.session.error, 'link', address)
            : new LinkDetachedError(`The peer ended the session of the link to '${address}'`, { retryable: true }),
        ),
      ),
    );
  }

  /**
   * Credit the peer granted that is not yet spoken for. rhea takes a credit only when it writes
   * the transfer (on its next tick), so transfers handed over but not yet written still count.
   */
  #available(sender: Sender): number {
    const counts = sender as unknown as { delivery_count: number; credit: number };
    return counts.credit - (this.#handed - counts.delivery_count);
  }

  #canSend(): boolean {
    const sender = this.#sender!;
    return (
      this.#turnMessages < TURN_MESSAGES &&
      this.#turnBytes < TURN_BYTES &&
      this.#inFlight.size < this.#options.maxInFlight &&
      this.#available(sender) > 0 &&
      sender.sendable()
    );
  }

  /** Counts a transfer against this turn's share; the first of a turn schedules its end. */
  #handedOne(delivery: RheaDelivery): void {
    this.#handed++;
    this.#turnMessages++;
    this.#turnBytes += payloadBytes(delivery);
    if (this.#turnEnd === undefined) this.#turnEnd = setImmediate(this.#endTurn);
  }

  /** A new turn: what the last one could not send goes now. */
  readonly #endTurn = (): void => {
    this.#turnEnd = undefined;
    const full = this.#turnMessages >= TURN_MESSAGES || this.#turnBytes >= TURN_BYTES;
    this.#turnMessages = 0;
    this.#turnBytes = 0;
    if (full) this.#pump();
  };

  #pump(): void {
    const sender = this.#sender;
    if (sender === undefined || this.#ended || !sender.is_open()) return;
    const limit = maxMessageSizeOf(sender);
    const rabbitMq3 = this.#rabbitMq3;
    let refused = false;
    const handedBefore = this.#handed;
    while (this.#head < this.#buffer.length && this.#canSend()) {
      const entry = this.#buffer[this.#head]!;
      this.#buffer[this.#head++] = undefined;
      if (this.#anonymous && !hasTo(entry.input)) {
        refused = true;
        this.#refuseWithoutTo(entry);
        if (this.#ended || this.#sender !== sender) return;
        continue;
      }
      if (rabbitMq3 !== undefined) {
        // RabbitMQ 3.x ends the whole connection on a few values it cannot parse: refuse those here.
        const reason = rabbitMq3Refusal(entry.input);
        if (reason !== undefined) {
          refused = true;
          this.#refuseUnsupported(entry, reason, rabbitMq3);
          if (this.#ended || this.#sender !== sender) return;
          continue;
        }
      }
      if (limit === undefined) {
        const delivery = sender.send(entry.encoded);
        this.#inFlight.set(delivery, entry);
        this.#handedOne(delivery);
        continue;
      }
      // The peer set a max-message-size on the link: measure the message, and refuse one that is
      // larger here rather than have the peer detach the link (failing every message on it).
      const payload = rhea.message.encode(entry.encoded) as Buffer;
      if (payload.length > limit) {
        refused = true;
        this.#refuse(entry, payload.length, limit);
        if (this.#ended || this.#sender !== sender) return;
        continue;
      }
      const delivery = sender.send(payload, undefined, 0);
      this.#inFlight.set(delivery, entry);
      this.#handedOne(delivery);
    }
    if (this.#handed !== handedBefore) batchWrites(sender);
    if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    if (refused) {
      // A refused message may have been the last one due.
      this.#completeIfDone();
      if (this.#onIdle !== undefined && this.buffered + this.#inFlight.size === 0) this.#onIdle();
    }
    if (this.#onRoom !== undefined && this.hasRoom()) {
      const listener = this.#onRoom;
      this.#onRoom = undefined;
      listener();
    }
  }

  /**
   * Reports a message the peer could not parse without sending it: a `rejected` outcome whose
   * `error` is a {@link NotSupportedError} (condition `amqp:not-implemented`), generated here.
   */
  #refuseUnsupported(entry: Entry<T>, reason: string, peerName: string): void {
    const description = `${peerName} cannot take ${reason}: sending it would end the connection, so it was not sent to '${this.#address}'`;
    this.#refuseWith(entry, new NotSupportedError(`Refused before sending: ${description}`, { condition: 'amqp:not-implemented', description }));
  }

  /** A message on an anonymous-relay link needs a `to`: one without is refused here, not sent. */
  #refuseWithoutTo(entry: Entry<T>): void {
    const description = 'a message sent through the anonymous relay needs properties.to (the address it goes to); it was not sent';
    this.#refuseWith(entry, new MessageEncodeError('properties.to', `Refused before sending: ${description}`, { condition: 'amqp:precondition-failed', description }));
  }

  /**
   * Reports a message larger than the link's max-message-size without sending it: a `rejected`
   * outcome whose `error` is a {@link MessageTooLargeError} (condition
   * `amqp:link:message-size-exceeded`), generated here — the message never left the client.
   */
  #refuse(entry: Entry<T>, size: number, limit: number): void {
    const description = `the message is ${size} bytes encoded, over the max-message-size of ${limit} bytes the peer set on the link to '${this.#address}'; it was not sent`;
    this.#refuseWith(entry, new MessageTooLargeError(`Refused before sending: ${description}`, { condition: 'amqp:link:message-size-exceeded', description }));
  }

  /** Reports `entry` as rejected by the client itself, with `error` (which has a condition and a description). */
  #refuseWith(entry: Entry<T>, error: AmqpError): void {
    log.sender('[%s/%s] refused: %s', this.#manager.id, this.#linkId, error.description);
    this.#report(entry, { state: 'rejected', message: entry.input, error: error as AmqpError & { readonly condition: string }, resent: entry.resent === true });
  }

  #settle(delivery: RheaDelivery, state: OutcomeState): void {
    const entry = this.#inFlight.get(delivery);
    if (entry === undefined) return; // already reported (an outcome, then its 'settled')
    this.#inFlight.delete(delivery);
    const remote = delivery.remote_state as unknown as Record<string, unknown> | undefined;
    let outcome: Outcome<T>;
    if (state === 'rejected') {
      const error = (remote?.error ?? {}) as { condition?: string; description?: string };
      outcome = {
        state,
        message: entry.input,
        error: { condition: error.condition ?? 'amqp:internal-error', description: error.description },
        resent: entry.resent === true,
      };
    } else if (state === 'modified') {
      outcome = {
        state,
        message: entry.input,
        modified: {
          deliveryFailed: remote?.delivery_failed === true,
          undeliverableHere: remote?.undeliverable_here === true,
          annotations: remote?.message_annotations as Record<string, unknown> | undefined,
        },
        resent: entry.resent === true,
      };
    } else {
      outcome = { state, message: entry.input, resent: entry.resent === true };
    }
    this.#report(entry, outcome);
    this.#pump();
    this.#completeIfDone();
    if (this.#onIdle !== undefined && this.buffered + this.#inFlight.size === 0) this.#onIdle();
  }

  /** Hands an outcome to the application; a traced message's trace ends around it (src/tracing). */
  #report(entry: Entry<T>, outcome: Outcome<T>): void {
    if (entry.trace === undefined) this.#sink.next(outcome);
    else sendOutcome(entry.trace, outcome, (o) => this.#sink.next(o));
  }

  #completeIfDone(): void {
    if (this.#ended || !this.#inputDone || this.buffered > 0 || this.#inFlight.size > 0) return;
    this.dispose();
    this.#sink.complete();
  }

  /** Applies the overflow policy; returns false when the stream has ended because of it. */
  #overflow(entry: Entry<T>): boolean {
    const { overflow, onDrop } = this.#options;
    if (overflow === 'drop-newest') {
      if (entry.trace !== undefined) sendDropped(entry.trace);
      onDrop?.(entry.input);
      return false;
    }
    if (overflow === 'drop-oldest') {
      const oldest = this.#buffer[this.#head]!;
      this.#buffer[this.#head++] = undefined;
      this.#buffer.push(entry);
      if (oldest.trace !== undefined) sendDropped(oldest.trace);
      onDrop?.(oldest.input);
      return true;
    }
    const unsent: Array<T | OutgoingMessage<T>> = [];
    for (let i = this.#head; i < this.#buffer.length; i++) unsent.push(this.#buffer[i]!.input);
    unsent.push(entry.input);
    this.#fail(
      new BufferOverflowError(
        `The send buffer for '${this.#address}' is full (${this.#options.bufferSize} messages waiting for credit); the source produces faster than the peer grants credit`,
        unsent,
      ),
      entry,
    );
    return false;
  }

  /** Everything without an outcome, in input order: in flight first (older), then buffered. */
  #pending(): Entry<T>[] {
    const waiting: Entry<T>[] = [...this.#inFlight.values()];
    for (let i = this.#head; i < this.#buffer.length; i++) waiting.push(this.#buffer[i]!);
    return waiting.sort((a, b) => a.seq - b.seq);
  }

  #fail(cause: unknown, extra?: Entry<T>): void {
    if (this.#ended) return;
    const pending = this.#pending();
    if (extra !== undefined) pending.push(extra);
    const unsettled = pending.map((e) => e.input);
    const reason = cause instanceof Error ? cause.message : String(cause);
    const amqp = cause as Partial<AmqpError>;
    const error = new SendFailedError<T | OutgoingMessage<T>>(
      `Sending to '${this.#address}' failed with ${unsettled.length} message(s) unconfirmed: ${reason}`,
      unsettled,
      { condition: amqp.condition, description: amqp.description, retryable: amqp.retryable ?? false, cause },
    );
    sendFailed(pending, error); // before dispose(): these end as failed, not abandoned
    this.dispose();
    this.#inFlight.clear();
    this.#buffer = [];
    this.#head = 0;
    log.sender('[%s/%s] %s', this.#manager.id, this.#linkId, error.message);
    this.#sink.error(error);
  }
}

/** What the peer's attach says about a sender link, for `onAttach`. */
function remoteTargetAttachOf(sender: Sender): RemoteTargetAttach {
  const attach = remoteAttachFrame(sender);
  const target = remoteTerminus(attach?.target);
  return {
    name: sender.name,
    address: typeof target?.address === 'string' ? target.address : undefined,
    maxMessageSize: maxMessageSizeOf(sender),
    properties: plainRecord(attach?.properties),
    hasTarget: target !== undefined,
  };
}

/** The bytes of a transfer handed to rhea: its encoded message, in one or more frames' worth. */
function payloadBytes(delivery: RheaDelivery): number {
  const data = (delivery as unknown as { data?: Buffer[] }).data;
  if (data === undefined) return 0;
  let bytes = 0;
  for (const fragment of data) bytes += fragment.length;
  return bytes;
}

/** What a link to the anonymous relay is called in messages and logs. */
const ANONYMOUS_LABEL = '(anonymous relay)';

/** Whether an input names the address it goes to (`message(body, { properties: { to } })`). */
function hasTo(input: unknown): boolean {
  if (!isOutgoingMessage(input)) return false;
  const to = input.properties?.to;
  return typeof to === 'string' && to.length > 0;
}

/** The max-message-size the peer set in its attach for this sender link, when it set one (0 is none). */
function maxMessageSizeOf(sender: Sender): number | undefined {
  const size = remoteAttachFrame(sender)?.max_message_size;
  return typeof size === 'number' && size > 0 && Number.isSafeInteger(size) ? size : undefined;
}
