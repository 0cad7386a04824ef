import type { AmqpMessage } from './message.js';

/** Options of {@link Delivery.modify} (AMQP 1.0 section 3.4.5). */
export interface ModifyOptions {
  /** Count this as a failed delivery attempt: the broker increments the delivery-count. @default true */
  deliveryFailed?: boolean;
  /** Do not deliver this message to this link again. @default false */
  undeliverableHere?: boolean;
  /** Message annotations to merge into the message. */
  annotations?: Record<string, unknown>;
}

/** The error sent with {@link Delivery.reject}. */
export interface RejectError {
  /** A symbolic AMQP error condition, e.g. `amqp:internal-error` or your own `com.example:invalid-order`. */
  condition?: string;
  /** Text for people: why the message was refused. */
  description?: string;
  /** Further details, as a map of AMQP values. */
  info?: Record<string, unknown>;
}

/** How a delivery was settled by the application. */
export type SettlementState = 'accepted' | 'rejected' | 'released' | 'modified';

/**
 * One received message, unsettled until the application says what became of it.
 *
 * Settling returns credit to the link (R2): the next delivery can come in only once earlier ones
 * are settled. Settle each delivery exactly once: a second settlement, or a settlement after the
 * receive subscription ended (R3) or the connection was lost (R4), throws
 * {@link rhea-rx!DeliveryAlreadySettledError | DeliveryAlreadySettledError} and sends nothing — the broker has already been told, or
 * will redeliver the message.
 */
export interface Delivery<T = unknown> {
  /** The message body. With the receive option `typed`, values keep their AMQP types (docs/types.md). */
  readonly body: T;
  /** The whole message: header, properties, application properties, annotations, footer. Decoded on first read. */
  readonly message: AmqpMessage<T>;
  /** How many earlier attempts to deliver this message failed (the header's delivery-count). */
  readonly deliveryCount: number;
  /** The address of the link it came from. */
  readonly address: string;
  /** True once settled, by the application or by the link's teardown. */
  readonly settled: boolean;
  /** How it was settled, once it is. */
  readonly settledAs: SettlementState | undefined;
  /**
   * The delivery tag the peer gave this transfer (AMQP 1.0 section 2.6.12); Azure Service Bus puts
   * the message's lock token there. Undefined where there is no transfer (a test fake, a wrapper).
   */
  readonly tag?: Buffer | undefined;
  /** Done: the broker removes the message. @throws {@link rhea-rx!DeliveryAlreadySettledError | DeliveryAlreadySettledError} when settled before. */
  accept(): void;
  /** Refuse it as invalid: the broker drops it or dead-letters it. @throws {@link rhea-rx!DeliveryAlreadySettledError | DeliveryAlreadySettledError} */
  reject(error?: RejectError | Error | string): void;
  /** Give it back untouched: the broker delivers it again, delivery-count unchanged. @throws {@link rhea-rx!DeliveryAlreadySettledError | DeliveryAlreadySettledError} */
  release(): void;
  /** Give it back as failed (delivery-count + 1 by default), optionally with annotations. @throws {@link rhea-rx!DeliveryAlreadySettledError | DeliveryAlreadySettledError} */
  modify(options?: ModifyOptions): void;
}
