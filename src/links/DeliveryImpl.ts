import type { Delivery as RheaDelivery, Message as RheaMessage } from 'rhea';
import type { Delivery, ModifyOptions, RejectError, SettlementState } from '../delivery/Delivery.js';
import type { AmqpMessage } from '../delivery/message.js';
import { DeliveryAlreadySettledError, NotSupportedError } from '../errors/errors.js';
import { decodeTypedMessage, fromRheaMessage } from './codec.js';
import { wireState } from './dispositions.js';
import type { HeldNode } from './heldList.js';
import { settleChannel } from '../tracing/channels.js';
import { type TracedMessage, traceSettle } from '../tracing/hooks.js';

/** What a delivery needs from the link that received it. */
export interface DeliveryOwner {
  /** The link's address (for a dynamic link, the one the peer gave its current attach). */
  address: string;
  /**
   * Puts the settlement on the wire and takes the delivery off the link's books; called once per
   * delivery, by the application's settlement or by the link's own release at detach.
   */
  settle(delivery: DeliveryImpl<unknown>, id: number, state: unknown, batch: 'accepted' | 'released' | undefined): void;
  /**
   * What to do with `modify()` when the peer cannot take a modified outcome: undefined when it
   * can; otherwise refuse with `NotSupportedError`, or settle as released or rejected instead.
   */
  modifyFallback: 'error' | 'release' | 'reject' | undefined;
  /** The peer, for the error message, e.g. `RabbitMQ 3.10.8`. */
  peerName: string;
}

/**
 * A received message wrapping rhea's delivery. The link owns it: the link releases it on detach
 * (R3) or marks it stale on connection loss (R4); the application settles it at most once.
 */
export class DeliveryImpl<T> implements Delivery<T>, HeldNode<DeliveryImpl<T>> {
  /** @internal The receiver's list of unsettled deliveries (see HeldList). */
  heldPrev: DeliveryImpl<T> | undefined = undefined;
  /** @internal */
  heldNext: DeliveryImpl<T> | undefined = undefined;
  /** @internal */
  heldIn: object | undefined = undefined;
  #settledAs: SettlementState | undefined;
  /** Set when the link settled it for the application (teardown) or lost it (connection loss). */
  #gone: 'detached' | 'stale' | undefined;
  #message: AmqpMessage<T> | undefined;

  constructor(
    private readonly owner: DeliveryOwner,
    private readonly raw: RheaDelivery,
    private readonly rheaMessage: RheaMessage,
    /** Pre-settled by the sender (at-most-once): nothing to send back. */
    presettled: boolean,
    /** The message's bytes, when the link decodes with AMQP types kept (receive option `typed`). */
    private readonly payload?: Buffer,
  ) {
    if (presettled) this.#settledAs = 'accepted';
  }

  get body(): T {
    return this.payload === undefined ? (this.rheaMessage.body as T) : this.message.body;
  }

  get message(): AmqpMessage<T> {
    this.#message ??= this.payload === undefined ? fromRheaMessage<T>(this.rheaMessage) : decodeTypedMessage<T>(this.payload);
    return this.#message;
  }

  get deliveryCount(): number {
    return this.rheaMessage.delivery_count ?? 0;
  }

  get address(): string {
    return this.owner.address;
  }

  get settled(): boolean {
    return this.#settledAs !== undefined || this.#gone !== undefined;
  }

  get settledAs(): SettlementState | undefined {
    return this.#settledAs;
  }

  get tag(): Buffer {
    const tag = this.raw.tag;
    return typeof tag === 'string' ? Buffer.from(tag) : tag;
  }

  /**
   * Accepts the delivery: the broker removes the message (AMQP 1.0 section 3.4.2).
   * @throws {@link DeliveryAlreadySettledError} when settled before, or when its link is gone.
   */
  accept(): void {
    this.check('accept');
    this.#settledAs = 'accepted';
    this.#settle('accepted', wireState.accepted(), 'accepted');
  }

  /**
   * Rejects the delivery as invalid (section 3.4.3); the broker drops or dead-letters it.
   * @throws {@link DeliveryAlreadySettledError}
   */
  reject(error?: RejectError | Error | string): void {
    this.check('reject');
    this.#settledAs = 'rejected';
    this.#settle('rejected', wireState.rejected(toWireError(error)), undefined);
  }

  /**
   * Releases the delivery untouched (section 3.4.4): redelivered, delivery-count unchanged.
   * @throws {@link DeliveryAlreadySettledError}
   */
  release(): void {
    this.check('release');
    this.#settledAs = 'released';
    this.#settle('released', wireState.released(), 'released');
  }

  /**
   * Gives the delivery back as modified (section 3.4.5).
   * @throws {@link DeliveryAlreadySettledError}
   */
  modify(options: ModifyOptions = {}): void {
    this.check('modify');
    const fallback = this.owner.modifyFallback;
    if (fallback === 'release') return this.release();
    if (fallback === 'reject') return this.reject({ condition: 'amqp:internal-error', description: 'modified is not supported by the peer' });
    if (fallback === 'error') {
      throw new NotSupportedError(
        `Cannot modify a delivery from '${this.owner.address}': ${this.owner.peerName} does not support the modified outcome (it would end the session). ` +
          "Release or reject it instead, or set the receive option onModifyUnsupported to 'release' or 'reject'.",
      );
    }
    this.#settledAs = 'modified';
    const fields = {
      delivery_failed: options.deliveryFailed ?? true,
      undeliverable_here: options.undeliverableHere ?? false,
      ...(options.annotations === undefined ? {} : { message_annotations: options.annotations }),
    };
    this.#settle('modified', wireState.modified(fields), undefined);
  }

  /** The link is going away with this delivery unsettled: release it so the broker redelivers it (R3). */
  releaseForDetach(): void {
    if (this.settled) return;
    this.#gone = 'detached';
    this.#settle('released', wireState.released(), 'released', 'detach');
  }

  /** @internal The fields of the rhea message a trace reads (src/tracing). */
  get traceFields(): TracedMessage {
    return this.rheaMessage;
  }

  /** Hands the settlement to the link, on the settle tracing channel when it has subscribers. */
  #settle(state: SettlementState, wire: unknown, batch: 'accepted' | 'released' | undefined, reason: 'application' | 'detach' = 'application'): void {
    if (!settleChannel.hasSubscribers) this.owner.settle(this, this.raw.id, wire, batch);
    else traceSettle(this, this.owner.address, state, reason, this.rheaMessage, () => this.owner.settle(this, this.raw.id, wire, batch));
  }

  /** The connection that carried this delivery is gone; the broker will redeliver it (R4). */
  markStale(): void {
    if (this.settled) return;
    this.#gone = 'stale';
  }

  private check(operation: string): void {
    if (this.#settledAs !== undefined) {
      throw new DeliveryAlreadySettledError(
        `Cannot ${operation} a delivery from '${this.owner.address}': it was already settled as ${this.#settledAs}`,
        'settled',
      );
    }
    if (this.#gone === 'detached') {
      throw new DeliveryAlreadySettledError(
        `Cannot ${operation} a delivery from '${this.owner.address}': its receive subscription ended and the delivery was released to the broker`,
        'detached',
      );
    }
    if (this.#gone === 'stale') {
      throw new DeliveryAlreadySettledError(
        `Cannot ${operation} a delivery from '${this.owner.address}': the connection it came on was lost; the broker will redeliver it`,
        'stale',
      );
    }
  }
}

function toWireError(error: RejectError | Error | string | undefined): Record<string, unknown> | undefined {
  if (error === undefined) return undefined;
  if (typeof error === 'string') return { condition: 'amqp:internal-error', description: error };
  if (error instanceof Error) return { condition: 'amqp:internal-error', description: error.message };
  return {
    condition: error.condition ?? 'amqp:internal-error',
    ...(error.description === undefined ? {} : { description: error.description }),
    ...(error.info === undefined ? {} : { info: error.info }),
  };
}
