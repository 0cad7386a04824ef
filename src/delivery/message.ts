import type { AmqpScalar } from '../types/amqpTypes.js';
/** An AMQP message-id or correlation-id: a string, a ulong (a number, a bigint or `amqp.ulong`), a uuid (`amqp.uuid`, or a Buffer of 16 bytes) or binary (a Buffer, or `amqp.binary`). */
export type MessageId = string | number | bigint | Buffer | AmqpScalar<'ulong' | 'uuid' | 'binary'>;

/** The message header (AMQP 1.0 section 3.2.1). */
export interface MessageHeader {
  /** Whether the broker must keep the message across its own restart. AMQP's default: `false`. */
  durable?: boolean;
  /** Relative priority, 0 to 255 (brokers commonly honour 0–9). AMQP's default: 4. */
  priority?: number;
  /** Time to live, in milliseconds. */
  ttl?: number;
  /** True when no earlier delivery of this message was acquired by another link. */
  firstAcquirer?: boolean;
  /** How many earlier attempts to deliver this message failed. */
  deliveryCount?: number;
}

/** The immutable message properties (AMQP 1.0 section 3.2.4). */
export interface MessageProperties {
  /** Identifies the message, e.g. for duplicate detection; a 16-byte Buffer is sent as a UUID. */
  messageId?: MessageId;
  /** The identity of the user who produced the message, as the broker may check it. */
  userId?: Buffer;
  /** The address the message is for (some brokers route on it). */
  to?: string;
  /** A short summary, or a routing key on brokers that use it (RabbitMQ's topic exchanges). */
  subject?: string;
  /** The address to send replies to. */
  replyTo?: string;
  /** Ties a reply to the request it answers: usually the request's `messageId`. */
  correlationId?: MessageId;
  /** The MIME type of the body, e.g. `application/json`, for a binary body. */
  contentType?: string;
  /** The encoding of the body applied on top of `contentType`, e.g. `gzip`. */
  contentEncoding?: string;
  /** When the message expires, whatever its `ttl`. */
  absoluteExpiryTime?: Date;
  /** When the message was made. */
  creationTime?: Date;
  /** The group the message belongs to (a Service Bus session id). */
  groupId?: string;
  /** The message's position in its group. */
  groupSequence?: number;
  /** The group replies belong to. */
  replyToGroupId?: string;
}

/** The sections of a message other than its body. */
export interface MessageFields {
  /** Transport headers: durability, priority, time to live. */
  header?: MessageHeader;
  /** The standard properties: ids, addresses, content type. */
  properties?: MessageProperties;
  /** The application's own properties, e.g. for selectors and filters; values are AMQP simple types. */
  applicationProperties?: Record<string, unknown>;
  /** Annotations for the broker and intermediaries (keys are symbols such as `x-opt-…`). */
  messageAnnotations?: Record<string, unknown>;
  /** Annotations for the next hop only. */
  deliveryAnnotations?: Record<string, unknown>;
  /** Annotations after the body, such as checksums or signatures. */
  footer?: Record<string, unknown>;
}

/** A received message: its body and every section the peer sent (absent sections are empty). */
export interface AmqpMessage<T = unknown> {
  /** The body, decoded from its section: an amqp-value as its value, a data section as a Buffer. */
  readonly body: T;
  /** See {@link MessageHeader}. */
  readonly header: Readonly<MessageHeader>;
  /** See {@link MessageProperties}. */
  readonly properties: Readonly<MessageProperties>;
  /** See {@link MessageFields.applicationProperties}. */
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  /** See {@link MessageFields.messageAnnotations}; e.g. `x-opt-enqueued-time` from Service Bus. */
  readonly messageAnnotations: Readonly<Record<string, unknown>>;
  /** See {@link MessageFields.deliveryAnnotations}. */
  readonly deliveryAnnotations: Readonly<Record<string, unknown>>;
  /** See {@link MessageFields.footer}. */
  readonly footer: Readonly<Record<string, unknown>>;
}

const outgoing = Symbol.for('rhea-rx.outgoing-message');

/** A message to send with header, properties or annotations; made by {@link message}. */
export interface OutgoingMessage<T = unknown> extends MessageFields {
  /** @internal Marks what {@link message} made, for {@link isOutgoingMessage}. */
  readonly [outgoing]: true;
  /** The body, sent as an amqp-value section (see the AMQP type table in docs/types.md). */
  readonly body: T;
}

/**
 * Makes a message with sections besides its body, for `client.send` and `client.sendFrom`.
 *
 * Anything else given to `send` is taken as the body itself, so a body that happens to have a
 * `body` field is never mistaken for a message.
 *
 * @example
 * of(message(order, { properties: { messageId: order.id, subject: 'order' }, applicationProperties: { region: 'eu' } }))
 *   .pipe(client.send('orders'))
 */
export function message<T>(body: T, fields: MessageFields = {}): OutgoingMessage<T> {
  return { ...fields, body, [outgoing]: true };
}

/** True when `value` was made by {@link message}. */
export function isOutgoingMessage(value: unknown): value is OutgoingMessage {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[outgoing] === true;
}
