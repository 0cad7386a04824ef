import { ConfigError } from '../errors/errors.js';
import { message as amqpMessage, type MessageId, type MessageProperties, type OutgoingMessage } from '../delivery/message.js';
import { amqp } from '../types/amqpTypes.js';
import { dataBody } from './amqp.js';
import { annotations } from './constants.js';

/**
 * A message to send to a queue or topic (azure-servicebus's `ServiceBusMessage`).
 *
 * A string body is sent as UTF-8 bytes in a data section and a Buffer (or Uint8Array) as bytes,
 * as azure-servicebus sends them; any other body is sent as an AMQP value (rhea-rx's encoding:
 * objects as maps, arrays as lists, …).
 */
export interface ServiceBusMessage<T = unknown> {
  /** The payload. */
  body: T;
  /** The message id (the properties' message-id); the service de-duplicates on it when the entity asks for it. */
  messageId?: MessageId;
  /** The session the message belongs to (the properties' group-id); needed by session-enabled entities. */
  sessionId?: string;
  /** The partition key of a partitioned entity (`x-opt-partition-key`); must equal `sessionId` when both are set. */
  partitionKey?: string;
  /** The content type, e.g. `application/json`. */
  contentType?: string;
  /** The correlation id. */
  correlationId?: MessageId;
  /** The subject (label). */
  subject?: string;
  /** The `to` address. */
  to?: string;
  /** Where replies go. */
  replyTo?: string;
  /** The session replies go to (the properties' reply-to-group-id). */
  replyToSessionId?: string;
  /**
   * How long the message lives after it is enqueued, in milliseconds; sent as the header's ttl with
   * the properties' creation-time and absolute-expiry-time, as azure-servicebus does (whole seconds).
   */
  timeToLive?: number;
  /** Enqueue the message at this time instead of now (`x-opt-scheduled-enqueue-time`). */
  scheduledEnqueueTimeUtc?: Date;
  /** Application properties. */
  applicationProperties?: Record<string, unknown>;
}

/** The latest absolute expiry time the service takes (9999-12-31, as azure-servicebus caps it). */
const MAX_ABSOLUTE_EXPIRY_TIME = 253_402_243_199_000;

const keys = new Set([
  'body',
  'messageId',
  'sessionId',
  'partitionKey',
  'contentType',
  'correlationId',
  'subject',
  'to',
  'replyTo',
  'replyToSessionId',
  'timeToLive',
  'scheduledEnqueueTimeUtc',
  'applicationProperties',
]);

/**
 * The AMQP message a {@link ServiceBusMessage} stands for, as rhea-rx's `message()` builds it.
 *
 * @param input - The Service Bus message.
 * @param path - Where it sits, for error messages.
 * @param now - The clock, for the creation time of a message with a time to live.
 * @throws {@link ConfigError} naming the field for a message that is not an object with a body, an
 *   unknown field, or a field of the wrong type.
 */
export function toAmqpMessage<T>(input: ServiceBusMessage<T>, path = 'message', now: () => number = Date.now): OutgoingMessage<unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || !('body' in input)) {
    throw new ConfigError(path, `${path}: a Service Bus message is an object with a 'body' (and optional messageId, sessionId, …)`);
  }
  for (const key of Object.keys(input)) {
    if (!keys.has(key)) throw new ConfigError(`${path}.${key}`, `${path}: unknown field '${key}'; known fields are ${[...keys].join(', ')}`);
  }
  const text = (key: keyof ServiceBusMessage<T>): string | undefined => {
    const value = input[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new ConfigError(`${path}.${key}`, `${path}.${key}: expected a string, got ${typeof value}`);
    return value;
  };
  const sessionId = text('sessionId');
  const partitionKey = text('partitionKey');
  if (sessionId !== undefined && partitionKey !== undefined && sessionId !== partitionKey) {
    throw new ConfigError(`${path}.partitionKey`, `${path}: partitionKey must equal sessionId when both are set`);
  }
  const properties: MessageProperties = {};
  if (input.messageId !== undefined) properties.messageId = input.messageId;
  if (input.correlationId !== undefined) properties.correlationId = input.correlationId;
  const set = (field: 'to' | 'subject' | 'replyTo' | 'contentType' | 'groupId' | 'replyToGroupId', value: string | undefined) => {
    if (value !== undefined) properties[field] = value;
  };
  set('to', text('to'));
  set('subject', text('subject'));
  set('replyTo', text('replyTo'));
  set('contentType', text('contentType'));
  set('groupId', sessionId);
  set('replyToGroupId', text('replyToSessionId'));

  const messageAnnotations: Record<string, unknown> = {};
  if (partitionKey !== undefined) messageAnnotations[annotations.partitionKey] = partitionKey;
  if (input.scheduledEnqueueTimeUtc !== undefined) {
    const at = input.scheduledEnqueueTimeUtc;
    if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
      throw new ConfigError(`${path}.scheduledEnqueueTimeUtc`, `${path}.scheduledEnqueueTimeUtc: expected a valid Date`);
    }
    messageAnnotations[annotations.scheduledEnqueueTime] = at;
  }

  let header: { ttl: number } | undefined;
  if (input.timeToLive !== undefined) {
    const ttl = input.timeToLive;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) {
      throw new ConfigError(`${path}.timeToLive`, `${path}.timeToLive: expected a number of milliseconds, got ${String(ttl)}`);
    }
    const ms = Math.floor(ttl / 1000) * 1000;
    header = { ttl: ms };
    if (ms > 0) {
      const created = Math.floor(now() / 1000) * 1000;
      properties.creationTime = new Date(created);
      properties.absoluteExpiryTime = new Date(Math.min(MAX_ABSOLUTE_EXPIRY_TIME, created + ms));
    }
  }
  if (input.applicationProperties !== undefined && (input.applicationProperties === null || typeof input.applicationProperties !== 'object')) {
    throw new ConfigError(`${path}.applicationProperties`, `${path}.applicationProperties: expected an object`);
  }

  return amqpMessage(wireBody(input.body), {
    ...(header === undefined ? {} : { header }),
    ...(Object.keys(properties).length === 0 ? {} : { properties }),
    ...(input.applicationProperties === undefined ? {} : { applicationProperties: applicationProperties(input.applicationProperties) }),
    ...(Object.keys(messageAnnotations).length === 0 ? {} : { messageAnnotations }),
  });
}

/**
 * Application properties with each plain integer typed as azure-servicebus (uAMQP) types a Python
 * int: an `int` from −2^31 to 2^31 − 1, else a `long` — not rhea-rx's default `uint` for a positive
 * number, which a .NET or Java consumer reading an `int` would not take. Other values (and wrappers
 * such as `amqp.uint(n)`, for an exact type) are sent as given.
 */
function applicationProperties(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0)) {
      out[key] = value >= -(2 ** 31) && value < 2 ** 31 ? amqp.int(value) : amqp.long(BigInt(value));
    } else out[key] = value;
  }
  return out;
}

/** A string or bytes go in a data section, as Service Bus clients send them; anything else as an AMQP value. */
function wireBody(body: unknown): unknown {
  if (typeof body === 'string') return dataBody(Buffer.from(body, 'utf8'));
  if (Buffer.isBuffer(body)) return dataBody(body);
  if (body instanceof Uint8Array) return dataBody(Buffer.from(body.buffer, body.byteOffset, body.length));
  return body;
}
