/**
 * The broker's addresses and messages: queues (FIFO, round-robin over consumers), topics (fan-out
 * to one queue per subscription), settlement outcomes and dead-lettering. No sockets and no rhea
 * here; links reach the store through the small {@link Consumer} interface.
 *
 * @internal
 */
import createDebug from 'debug';
import { Deque } from './Deque.js';
import type { RawMessage } from './rawMessage.js';
import { type BrokerMessage, type MutableStats, type Outcome, zeroStats } from './types.js';

const log = createDebug('rhea-rx:broker');

/** One message in one queue, with its delivery bookkeeping. */
export interface Entry {
  message: BrokerMessage;
  deliveryCount: number;
  firstAcquirer: boolean;
  /** Consumers that answered `modified` with `undeliverable-here`: never offered to them again. */
  excluded: Set<Consumer> | undefined;
  /** The message's bytes as a client sent it, forwarded as they are (undefined for `enqueue`d ones). */
  raw: RawMessage | undefined;
}

/** What a queue needs from a link that takes messages from it. */
export interface Consumer {
  /** How many more messages the link may take now (its remaining credit). */
  available(): number;
  /** Sends `entry`; the link owns it until it is settled or the link detaches. */
  deliver(entry: Entry): void;
  /** Called after each dispatch pass, so a draining link can report that it is drained. */
  afterDispatch(queue: QueueNode): void;
}

/** A FIFO of entries with the consumers attached to it. */
export class QueueNode {
  readonly items = new Deque<Entry>();
  readonly consumers: Consumer[] = [];
  /** Entries delivered unsettled and not yet settled. */
  inFlight = 0;
  /** Set once a link-scoped queue is gone; late returns to it are dropped. */
  removed = false;
  private nextConsumer = 0;
  private dispatching = false;
  private dispatchAgain = false;

  /**
   * @param owner - The address whose stats and dead-letter address this queue uses.
   * @param temporary - True for link-scoped queues (topic subscriptions of one link, dynamic nodes).
   */
  constructor(
    readonly owner: AddressState,
    readonly temporary: boolean,
  ) {}

  /** Appends `entry` and offers it to the consumers. */
  push(entry: Entry): void {
    if (this.removed) return;
    this.items.pushBack(entry);
    this.dispatch();
  }

  /** The index of the first entry `consumer` may take, or -1. */
  firstEligible(consumer: Consumer): number {
    for (let i = 0; i < this.items.length; i++) {
      const entry = this.items.at(i);
      if (entry && !entry.excluded?.has(consumer)) return i;
    }
    return -1;
  }

  /** Sends queued entries to consumers with credit, round-robin, until one side runs out. */
  dispatch(): void {
    // why: a consumer's deliver() or drain reply can lead back here (dead-lettering into a queue,
    // a send failure); run the loop once more instead of nesting.
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.dispatchAgain = false;
        this.deliverWhilePossible();
      } while (this.dispatchAgain);
      for (const consumer of [...this.consumers]) consumer.afterDispatch(this);
    } finally {
      this.dispatching = false;
    }
  }

  private deliverWhilePossible(): void {
    while (this.items.length > 0 && this.consumers.length > 0) {
      const count = this.consumers.length;
      let delivered = false;
      for (let i = 0; i < count && !delivered; i++) {
        const index = (this.nextConsumer + i) % count;
        const consumer = this.consumers[index];
        if (!consumer || consumer.available() <= 0) continue;
        const position = this.firstEligible(consumer);
        if (position < 0) continue;
        const entry = this.items.removeAt(position);
        if (!entry) continue;
        this.nextConsumer = (index + 1) % count;
        delivered = true;
        consumer.deliver(entry);
      }
      if (!delivered) return;
    }
  }
}

/** An address: a queue, or a topic with its subscriptions. */
export class AddressState {
  readonly stats: MutableStats = zeroStats();
  /** Links sending to client receivers (client receivers attached here). */
  readonly consumers = new Set<object>();
  /** Links receiving from client senders (client senders attached here). */
  readonly producers = new Set<object>();
  /** The queue, for a queue address or a durable subscription. */
  readonly queue: QueueNode | undefined;
  /** For a topic: every subscription queue (link-scoped and durable). */
  readonly subscriptions = new Set<QueueNode>();
  /** Created by dead-lettering: `maxDeliveryCount` does not apply here. */
  deadLetterQueue = false;
  outcomesPaused = false;
  creditPaused = false;
  /** Outcomes to give the next transfers from client senders instead of `accepted`. */
  readonly forced: Array<{ outcome: Outcome; remaining: number }> = [];
  /** Transfers from client senders held unsettled while outcomes are paused. */
  readonly withheld = new Set<{ settle(): void; drop(): void }>();
  unsettledIncoming = 0;

  constructor(
    readonly address: string,
    readonly kind: 'queue' | 'topic',
    /** Link-scoped (a dynamic node): deleted when its link detaches. */
    readonly temporary = false,
  ) {
    this.queue = kind === 'queue' ? new QueueNode(this, temporary) : undefined;
  }

  /** Takes the outcome forced on the next incoming transfer, if any. */
  takeForcedOutcome(): Outcome | undefined {
    const head = this.forced[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) this.forced.shift();
    return head.outcome;
  }

  /** Every queue that holds this address's messages: its own, or a topic's link-scoped subscriptions. */
  queues(): QueueNode[] {
    if (this.queue) return [this.queue];
    return [...this.subscriptions].filter((q) => q.temporary);
  }
}

/** Settings the store applies. */
export interface StoreSettings {
  autoCreate: boolean;
  isTopic(address: string): boolean;
  deadLetterAddress(address: string): string;
  maxDeliveryCount: number | undefined;
}

const SUBSCRIPTION = /^(.+)\/Subscriptions\/([^/]+)$/;

/** Every address of one broker. */
export class Store {
  private readonly addresses = new Map<string, AddressState>();

  constructor(private readonly settings: StoreSettings) {}

  /** The address if it exists. */
  get(address: string): AddressState | undefined {
    return this.addresses.get(address);
  }

  /**
   * The address, created when `create` is true. `TOPIC/Subscriptions/NAME` is a durable subscription
   * of `TOPIC`: created on first use when the topic exists (or can be created). Returns undefined when
   * the address does not exist and may not be created, or names a subscription of a queue.
   */
  resolve(address: string, create: boolean): AddressState | undefined {
    const known = this.addresses.get(address);
    if (known) return known;
    const subscription = SUBSCRIPTION.exec(address);
    if (subscription?.[1]) {
      const topic = this.resolveTopic(subscription[1], create);
      if (!topic) return undefined;
      const state = new AddressState(address, 'queue');
      this.addresses.set(address, state);
      if (state.queue) topic.subscriptions.add(state.queue);
      log('created durable subscription %s', address);
      return state;
    }
    if (!create) return undefined;
    const state = new AddressState(address, this.settings.isTopic(address) ? 'topic' : 'queue');
    this.addresses.set(address, state);
    log('created %s %s', state.kind, address);
    return state;
  }

  /** Creates a link-scoped queue with a generated address (a dynamic source or target). */
  createDynamic(address: string): AddressState {
    const state = new AddressState(address, 'queue', true);
    this.addresses.set(address, state);
    return state;
  }

  /** Creates the link-scoped subscription queue of one receiver attached to a topic. */
  subscribe(topic: AddressState): QueueNode {
    const queue = new QueueNode(topic, true);
    topic.subscriptions.add(queue);
    return queue;
  }

  /** Forgets a link-scoped queue and what it still holds. */
  dropTemporary(queue: QueueNode): void {
    queue.removed = true;
    queue.items.clear();
    queue.owner.subscriptions.delete(queue);
    if (queue.owner.temporary && queue.owner.queue === queue) this.addresses.delete(queue.owner.address);
  }

  /** Stores `message` at `state`: in its queue, or a copy in every subscription of a topic. */
  publish(state: AddressState, message: BrokerMessage, raw?: RawMessage): void {
    if (state.queue) {
      state.queue.push(newEntry(message, raw));
      return;
    }
    for (const queue of [...state.subscriptions]) queue.push(newEntry({ ...message }, raw));
  }

  /** Applies a client receiver's outcome to an entry it held, then offers the queue again. */
  applyOutcome(queue: QueueNode, entry: Entry, outcome: Outcome, consumer: Consumer): void {
    const stats = queue.owner.stats;
    switch (outcome.kind) {
      case 'accepted':
        stats.accepted += 1;
        break;
      case 'released':
        stats.released += 1;
        entry.firstAcquirer = false;
        this.returnToHead(queue, entry);
        break;
      case 'rejected':
        stats.rejected += 1;
        this.deadLetter(queue, entry, outcome.error?.condition ?? 'Rejected', outcome.error?.description);
        break;
      case 'modified':
        stats.modified += 1;
        entry.firstAcquirer = false;
        if (outcome.annotations && Object.keys(outcome.annotations).length > 0) {
          entry.message = {
            ...entry.message,
            message_annotations: { ...(entry.message.message_annotations ?? {}), ...outcome.annotations },
          };
          if (entry.raw) entry.raw = { bare: entry.raw.bare, annotations: undefined }; // the annotations are the broker's now
        }
        if (outcome.undeliverableHere) {
          entry.excluded ??= new Set();
          entry.excluded.add(consumer);
        }
        if (outcome.deliveryFailed) entry.deliveryCount += 1;
        if (outcome.deliveryFailed && this.exhausted(queue, entry)) this.deadLetterExhausted(queue, entry);
        else this.returnToHead(queue, entry);
        break;
    }
    queue.dispatch();
  }

  /**
   * Returns entries that were unsettled when their link went away, in the order they were sent,
   * to the head of the queue, each counted as a failed delivery attempt.
   */
  requeueAfterDetach(queue: QueueNode, entries: Entry[]): void {
    if (queue.removed || entries.length === 0) return;
    const back: Entry[] = [];
    for (const entry of entries) {
      entry.deliveryCount += 1;
      entry.firstAcquirer = false;
      if (this.exhausted(queue, entry)) this.deadLetterExhausted(queue, entry);
      else back.push(entry);
    }
    for (let i = back.length - 1; i >= 0; i--) queue.items.pushFront(back[i] as Entry);
    queue.owner.stats.requeuedOnDetach += back.length;
    queue.dispatch();
  }

  /** Moves an entry to the dead-letter address of its queue, recording why in its annotations. */
  deadLetter(queue: QueueNode, entry: Entry, reason: string, description?: string): void {
    const source = queue.owner;
    source.stats.deadLettered += 1;
    const annotations: Record<string, unknown> = {
      ...(entry.message.message_annotations ?? {}),
      'x-opt-deadletter-reason': reason,
      'x-opt-deadletter-source': source.address,
    };
    if (description !== undefined) annotations['x-opt-deadletter-description'] = description;
    const message: BrokerMessage = {
      ...entry.message,
      message_annotations: annotations,
      delivery_count: entry.deliveryCount,
    };
    const targetAddress = this.settings.deadLetterAddress(source.address);
    const existed = this.addresses.has(targetAddress);
    const target = this.resolve(targetAddress, true);
    if (!target) {
      log('dead-letter address %s of %s cannot hold messages; message dropped', targetAddress, source.address);
      return;
    }
    if (!existed) target.deadLetterQueue = true;
    this.publish(target, message, entry.raw && { bare: entry.raw.bare, annotations: undefined });
  }

  /** Every address, for shutdown. */
  all(): IterableIterator<AddressState> {
    return this.addresses.values();
  }

  private resolveTopic(address: string, create: boolean): AddressState | undefined {
    const known = this.addresses.get(address);
    if (known) return known.kind === 'topic' ? known : undefined;
    if (!create) return undefined;
    const state = new AddressState(address, 'topic');
    this.addresses.set(address, state);
    log('created topic %s', address);
    return state;
  }

  private returnToHead(queue: QueueNode, entry: Entry): void {
    if (!queue.removed) queue.items.pushFront(entry);
  }

  private exhausted(queue: QueueNode, entry: Entry): boolean {
    const max = this.settings.maxDeliveryCount;
    return max !== undefined && !queue.owner.deadLetterQueue && entry.deliveryCount >= max;
  }

  private deadLetterExhausted(queue: QueueNode, entry: Entry): void {
    const max = this.settings.maxDeliveryCount;
    this.deadLetter(
      queue,
      entry,
      'MaxDeliveryCountExceeded',
      `Message could not be consumed after ${max} delivery attempts.`,
    );
  }
}

/** A fresh entry for a message entering a queue; a `delivery_count` it carries is kept. */
export function newEntry(message: BrokerMessage, raw?: RawMessage): Entry {
  const count = message.delivery_count;
  return {
    message,
    deliveryCount: typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : 0,
    firstAcquirer: true,
    excluded: undefined,
    raw,
  };
}
