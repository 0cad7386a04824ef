/** An AMQP message-id or correlation-id: string, unsigned long (number), UUID or binary (Buffer). */
export type MessageId = string | number | Buffer;

/** The message header (AMQP 1.0 section 3.2.1). */
export interface MessageHeader {
  durable?: boolean;
  priority?: number;
  /** Time to live, in milliseconds. */
  ttl?: number;
  firstAcquirer?: boolean;
  /** How many earlier attempts to deliver this message failed. */
  deliveryCount?: number;
}

/** The immutable message properties (AMQP 1.0 section 3.2.4). */
export interface MessageProperties {
  messageId?: MessageId;
  userId?: Buffer;
  to?: string;
  subject?: string;
  replyTo?: string;
  correlationId?: MessageId;
  contentType?: string;
  contentEncoding?: string;
  absoluteExpiryTime?: Date;
  creationTime?: Date;
  groupId?: string;
  groupSequence?: number;
  replyToGroupId?: string;
}

/** The sections of a message other than its body. */
export interface MessageFields {
  header?: MessageHeader;
  properties?: MessageProperties;
  applicationProperties?: Record<string, unknown>;
  messageAnnotations?: Record<string, unknown>;
  deliveryAnnotations?: Record<string, unknown>;
  footer?: Record<string, unknown>;
}

/** A received message: its body and every section the peer sent (absent sections are empty). */
export interface AmqpMessage<T = unknown> {
  readonly body: T;
  readonly header: Readonly<MessageHeader>;
  readonly properties: Readonly<MessageProperties>;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  readonly messageAnnotations: Readonly<Record<string, unknown>>;
  readonly deliveryAnnotations: Readonly<Record<string, unknown>>;
  readonly footer: Readonly<Record<string, unknown>>;
}

const outgoing = Symbol.for('rhea-rx.outgoing-message');

/** A message to send with header, properties or annotations; made by {@link message}. */
export interface OutgoingMessage<T = unknown> extends MessageFields {
  readonly [outgoing]: true;
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
