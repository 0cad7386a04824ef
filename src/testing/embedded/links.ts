/**
 * The broker's two kinds of link: {@link ConsumerLink} sends a queue's messages to a client receiver
 * within its credit; {@link ProducerLink} takes transfers from a client sender, grants it credit and
 * settles each transfer.
 *
 * @internal
 */
import createDebug from 'debug';
import rhea from 'rhea';
import type { Delivery, Message, Receiver, Sender } from 'rhea';
import { deliveryLimitOf, installDrainReply, requestFlow } from './rheaInternals.js';
import type { AddressState, Consumer, Entry, QueueNode, Store } from './store.js';
import type { PayloadTap } from '../../links/codec.js';
import { forwardBytes, splitMessage, tapSession } from './rawMessage.js';
import type { BrokerError, BrokerMessage, Outcome } from './types.js';

const log = createDebug('rhea-rx:broker');

/** What both kinds of link need to close themselves. */
export interface BrokerLink {
  readonly link: Sender | Receiver;
  /** Forgets the link: requeues what it held, drops what it withheld. Safe to call twice. */
  close(): void;
}

/** A broker sender: delivers one queue's messages to a client receiver. */
export class ConsumerLink implements Consumer, BrokerLink {
  private limit = 0;
  private highestLimit = 0;
  private sent = 0;
  private draining = false;
  private drainReplyDue = false;
  private closed = false;
  private attached = false;
  // Insertion order is send order, which requeueing after a detach preserves.
  private readonly unsettled = new Map<Delivery, Entry>();

  /**
   * @param ownsQueue - True when the queue lives only as long as this link (topic subscription, dynamic node).
   * @param presettled - At-most-once: transfers go out settled and the message is gone once sent.
   */
  constructor(
    readonly link: Sender,
    readonly address: AddressState,
    readonly queue: QueueNode,
    private readonly store: Store,
    private readonly presettled: boolean,
    private readonly ownsQueue: boolean,
  ) {
    installDrainReply(link, () => {
      const due = this.drainReplyDue;
      this.drainReplyDue = false;
      return due;
    });
    queue.consumers.push(this);
    address.consumers.add(this);
    // why: rhea writes queued transfers before pending attach frames in the same pass, and the
    // client's first flow can arrive in the same read as its attach. Our attach goes out on the
    // tick rhea already scheduled; start sending on the tick after it.
    process.nextTick(() => {
      this.attached = true;
      if (!this.closed) this.queue.dispatch();
    });
  }

  available(): number {
    return this.closed || !this.attached ? 0 : this.limit - this.sent;
  }

  deliver(entry: Entry): void {
    const message = { ...entry.message, delivery_count: entry.deliveryCount, first_acquirer: entry.firstAcquirer };
    let delivery: Delivery;
    try {
      // A message a client sent goes out with its bare message byte for byte (AMQP types kept).
      delivery = entry.raw === undefined ? this.link.send(message as Message) : this.link.send(forwardBytes(message, entry.raw) as never, undefined, 0);
    } catch (err) {
      // Messages are checked when enqueued and decoded from the wire otherwise, so this is unexpected.
      log('[%s] cannot send a message from %s, dropped: %O', this.link.name, this.address.address, err);
      return;
    }
    this.sent += 1;
    this.address.stats.delivered += 1;
    entry.firstAcquirer = false;
    if (this.presettled) return;
    this.unsettled.set(delivery, entry);
    this.queue.inFlight += 1;
  }

  afterDispatch(queue: QueueNode): void {
    if (!this.draining || this.closed || !this.attached) return;
    if (this.available() > 0 && queue.firstEligible(this) >= 0) return;
    // AMQP 1.0 §2.6.7: with drain set and nothing left to send, use up the credit and say so.
    this.draining = false;
    this.sent = this.limit;
    this.drainReplyDue = true;
    requestFlow(this.link);
  }

  /** A flow frame arrived: take the new delivery limit. */
  onFlow(): void {
    if (this.closed) return;
    const limit = deliveryLimitOf(this.link);
    const stats = this.address.stats;
    stats.flowFrames += 1;
    if (limit > this.highestLimit) {
      stats.creditGranted += limit - this.highestLimit;
      this.highestLimit = limit;
    }
    this.limit = limit;
    // why: rhea raises sender_draining right after sender_flow when the flow asks for a drain.
    this.draining = false;
    this.queue.dispatch();
  }

  /** The last flow frame asked for a drain. */
  onDraining(): void {
    if (this.closed) return;
    this.draining = true;
    this.queue.dispatch();
  }

  /** The client settled (or gave an outcome for) a delivery of this link. */
  onOutcome(delivery: Delivery, outcome: Outcome): void {
    const entry = this.unsettled.get(delivery);
    if (!entry) return;
    this.unsettled.delete(delivery);
    this.queue.inFlight -= 1;
    if (!delivery.remote_settled) delivery.update(true);
    this.store.applyOutcome(this.queue, entry, outcome, this);
  }

  /**
   * Deliveries whose outcome has arrived but not yet been raised as an event: rhea reads a
   * disposition and a detach in the same pass and raises the outcome events only after the detach.
   */
  *outcomesPending(): Iterable<Delivery> {
    for (const delivery of this.unsettled.keys()) {
      const state = delivery.remote_state as { constructor?: { composite_type?: string } } | undefined;
      if (state?.constructor?.composite_type !== undefined) yield delivery;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const index = this.queue.consumers.indexOf(this);
    if (index >= 0) this.queue.consumers.splice(index, 1);
    this.address.consumers.delete(this);
    const held = [...this.unsettled.values()];
    this.unsettled.clear();
    this.queue.inFlight -= held.length;
    if (this.ownsQueue) {
      this.store.dropTemporary(this.queue);
    } else {
      this.store.requeueAfterDetach(this.queue, held);
    }
  }
}

/** Settings a producer link needs from the broker. */
export interface ProducerSettings {
  creditWindow: number;
  maxMessageSize: number | undefined;
  /** Resolves the `to` of a message sent on an anonymous (relay) link. */
  resolveRelay(address: string): AddressState | undefined;
}

/** A broker receiver: stores transfers from a client sender and settles them. */
export class ProducerLink implements BrokerLink {
  private closed = false;
  private readonly withheld = new Set<{ settle(): void; drop(): void }>();
  /** The bytes of each transfer on the link's session, so messages are forwarded as sent. */
  readonly tap: PayloadTap | undefined;

  /** @param address - The target address; undefined for an anonymous relay link (routes by `to`). */
  constructor(
    readonly link: Receiver,
    readonly address: AddressState | undefined,
    private readonly store: Store,
    private readonly settings: ProducerSettings,
  ) {
    address?.producers.add(this);
    this.tap = tapSession(link.session);
  }

  /**
   * Tops the link's credit up to a full window once half of it is used (unless credit is paused):
   * a sender that keeps up never runs dry and waits a round trip for the next window, and a flow
   * frame goes out once per half window, not once per transfer.
   */
  grantIfDue(): void {
    if (this.closed || this.address?.creditPaused) return;
    const window = this.settings.creditWindow;
    const credit = (this.link as unknown as { credit: number }).credit;
    if (credit <= window / 2) this.link.add_credit(window - credit);
  }

  /**
   * A transfer arrived.
   * @param bytes - The message as encoded on the wire, when the session's transfers are tapped.
   */
  onMessage(received: Message | Buffer, delivery: Delivery, bytes?: Buffer): void {
    if (this.closed) return;
    const message = toBrokerMessage(received);
    const raw = bytes === undefined ? undefined : splitMessage(bytes);
    const target = this.address ?? this.relayTarget(message, delivery);
    if (!target) {
      this.grantIfDue();
      return;
    }
    if (this.tooLarge(message)) return;
    target.stats.received += 1;
    if (delivery.remote_settled) {
      delivery.update(true);
      this.store.publish(target, message, raw);
      this.grantIfDue();
      return;
    }
    const outcome: Outcome = target.takeForcedOutcome() ?? { kind: 'accepted' };
    if (outcome.kind === 'accepted') this.store.publish(target, message, raw);
    target.unsettledIncoming += 1;
    target.stats.maxOutstandingUnsettled = Math.max(target.stats.maxOutstandingUnsettled, target.unsettledIncoming);
    if (target.outcomesPaused) {
      const pending = {
        settle: () => {
          this.withheld.delete(pending);
          target.withheld.delete(pending);
          target.unsettledIncoming -= 1;
          if (!this.closed) settle(delivery, outcome);
        },
        drop: () => {
          this.withheld.delete(pending);
          target.withheld.delete(pending);
          target.unsettledIncoming -= 1;
        },
      };
      this.withheld.add(pending);
      target.withheld.add(pending);
    } else {
      target.unsettledIncoming -= 1;
      settle(delivery, outcome);
    }
    this.grantIfDue();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.address?.producers.delete(this);
    // The client never gets these outcomes now; the messages stay stored.
    for (const pending of [...this.withheld]) pending.drop();
  }

  private relayTarget(message: BrokerMessage, delivery: Delivery): AddressState | undefined {
    const to = message.to;
    const target = typeof to === 'string' && to.length > 0 ? this.settings.resolveRelay(to) : undefined;
    if (!target && !delivery.remote_settled) {
      delivery.reject({
        condition: 'amqp:not-found',
        description: typeof to === 'string' ? `no such address: ${to}` : 'a message on an anonymous link needs a "to" address',
      });
    } else if (!target) {
      delivery.update(true);
    }
    return target;
  }

  private tooLarge(message: BrokerMessage): boolean {
    const max = this.settings.maxMessageSize;
    if (max === undefined) return false;
    let size: number;
    try {
      size = rhea.message.encode(message).length;
    } catch {
      return false;
    }
    if (size <= max) return false;
    log('[%s] message of %d bytes exceeds %d; detaching', this.link.name, size, max);
    this.link.close({
      condition: 'amqp:link:message-size-exceeded',
      description: `message of ${size} bytes exceeds the maximum of ${max} bytes`,
    });
    this.close();
    return true;
  }
}

function toBrokerMessage(received: Message | Buffer): BrokerMessage {
  if (Buffer.isBuffer(received)) return { body: received };
  return { ...(received as BrokerMessage) };
}

function settle(delivery: Delivery, outcome: Outcome): void {
  switch (outcome.kind) {
    case 'accepted':
      delivery.accept();
      break;
    case 'released':
      delivery.release();
      break;
    case 'rejected':
      delivery.reject(outcome.error as BrokerError | undefined);
      break;
    case 'modified':
      delivery.modified({
        delivery_failed: outcome.deliveryFailed,
        undeliverable_here: outcome.undeliverableHere,
        ...(outcome.annotations ? { message_annotations: outcome.annotations } : {}),
      });
      break;
  }
}
