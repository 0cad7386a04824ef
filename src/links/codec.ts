import rhea from 'rhea';
import type { Message as RheaMessage } from 'rhea';
import { MessageEncodeError } from '../errors/errors.js';
import { type AmqpMessage, isOutgoingMessage, type MessageHeader, type MessageProperties } from '../delivery/message.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A value rhea encodes as it is told, not by guessing from its JavaScript type. */
interface RheaTypedLike {
  toRheaTyped(): unknown;
}

function typed(make: () => unknown): RheaTypedLike {
  return { toRheaTyped: make };
}

/** rhea's own typed values (`rhea.types.wrap_uint(5)`, described types) go through as they are. */
const rheaTyped = rhea.types.wrap_uint(0).constructor;

function isTypedValue(value: object): boolean {
  return typeof (value as Partial<RheaTypedLike>).toRheaTyped === 'function' || value instanceof rheaTyped;
}

/**
 * Checks one value for what rhea's codec would silently change, and returns what to encode.
 *
 * rhea encodes `-0` as int 0 and `NaN` as null, turns BigInt, symbols and functions into `{}`,
 * and throws a RangeError for integers beyond 2^63. Here `-0` and `NaN` become doubles, a BigInt
 * in the long range becomes a long, and everything that cannot be kept exactly is an error naming
 * its path. Unchanged values are returned as they are, so a body with nothing to fix is not copied.
 */
function prepare(value: unknown, path: string, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      if (Number.isNaN(value) || Object.is(value, -0)) return typed(() => rhea.types.wrap_double(value));
      if (Number.isInteger(value) && Math.abs(value) > MAX_SAFE) {
        throw new MessageEncodeError(
          path,
          `${path}: the integer ${value} is beyond 2^53 and cannot be sent exactly; pass a BigInt for a long, or a non-integer for a double`,
        );
      }
      return value;
    case 'bigint': {
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new MessageEncodeError(path, `${path}: the BigInt ${value} does not fit an AMQP long (64-bit signed)`);
      }
      const bytes = Buffer.alloc(8);
      bytes.writeBigInt64BE(value);
      return typed(() => rhea.types.wrap_long(bytes));
    }
    case 'symbol':
    case 'function':
      throw new MessageEncodeError(path, `${path}: a ${typeof value} is not an AMQP value`);
    default:
      break;
  }
  if (value === null) return value;
  const object = value as object;
  if (depth > 64) throw new MessageEncodeError(path, `${path}: nested more than 64 levels deep (a cycle?)`);
  if (Buffer.isBuffer(object) || object instanceof Uint8Array || isTypedValue(object)) return value;
  if (object instanceof Date) {
    if (Number.isNaN(object.getTime())) throw new MessageEncodeError(path, `${path}: an invalid Date has no AMQP timestamp`);
    return value;
  }
  if (Array.isArray(object)) return prepareList(object, path, depth);
  if (object instanceof Set) return prepareList([...object], path, depth);
  if (object instanceof Map) {
    let copy: Map<unknown, unknown> | undefined;
    for (const [key, item] of object) {
      const next = prepare(item, `${path}[${String(key)}]`, depth + 1);
      const nextKey = prepare(key, `${path} key ${String(key)}`, depth + 1);
      if ((next !== item || nextKey !== key) && copy === undefined) copy = new Map(object);
      if (copy !== undefined) {
        copy.delete(key);
        copy.set(nextKey, next);
      }
    }
    return copy ?? value;
  }
  return prepareRecord(object as Record<string, unknown>, path, depth);
}

function prepareList(list: readonly unknown[], path: string, depth: number): unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const next = prepare(item, `${path}[${i}]`, depth + 1);
    if (next !== item) copy ??= list.slice();
    if (copy !== undefined) copy[i] = next;
  }
  return copy ?? (list as unknown[]);
}

function prepareRecord(record: Record<string, unknown>, path: string, depth: number): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    const item = record[key];
    const next = prepare(item, `${path}.${key}`, depth + 1);
    if (next !== item) copy ??= { ...record };
    if (copy !== undefined) copy[key] = next;
  }
  return copy ?? record;
}

function section(value: Record<string, unknown> | undefined, path: string): Record<string, unknown> | undefined {
  return value === undefined ? undefined : prepareRecord(value, path, 0);
}

/**
 * Turns what the application gave `send` — a body, or a message made by `message()` — into a rhea
 * message, refusing any value that would not arrive exactly as given.
 *
 * @throws {@link MessageEncodeError} naming the path of the first value that cannot be encoded.
 */
export function toRheaMessage(input: unknown): RheaMessage {
  if (!isOutgoingMessage(input)) return { body: prepare(input, 'body', 0) };
  const out: RheaMessage = { body: prepare(input.body, 'body', 0) };
  const h: MessageHeader | undefined = input.header;
  if (h !== undefined) {
    if (h.durable !== undefined) out.durable = h.durable;
    if (h.priority !== undefined) out.priority = h.priority;
    if (h.ttl !== undefined) out.ttl = h.ttl;
    if (h.firstAcquirer !== undefined) out.first_acquirer = h.firstAcquirer;
    if (h.deliveryCount !== undefined) out.delivery_count = h.deliveryCount;
  }
  const p: MessageProperties | undefined = input.properties;
  if (p !== undefined) {
    if (p.messageId !== undefined) out.message_id = p.messageId;
    if (p.userId !== undefined) out.user_id = p.userId as unknown as string;
    if (p.to !== undefined) out.to = p.to;
    if (p.subject !== undefined) out.subject = p.subject;
    if (p.replyTo !== undefined) out.reply_to = p.replyTo;
    if (p.correlationId !== undefined) out.correlation_id = p.correlationId;
    if (p.contentType !== undefined) out.content_type = p.contentType;
    if (p.contentEncoding !== undefined) out.content_encoding = p.contentEncoding;
    if (p.absoluteExpiryTime !== undefined) out.absolute_expiry_time = p.absoluteExpiryTime;
    if (p.creationTime !== undefined) out.creation_time = p.creationTime;
    if (p.groupId !== undefined) out.group_id = p.groupId;
    if (p.groupSequence !== undefined) out.group_sequence = p.groupSequence;
    if (p.replyToGroupId !== undefined) out.reply_to_group_id = p.replyToGroupId;
  }
  const ap = section(input.applicationProperties, 'applicationProperties');
  if (ap !== undefined) out.application_properties = ap;
  const ma = section(input.messageAnnotations, 'messageAnnotations');
  if (ma !== undefined) out.message_annotations = ma;
  const da = section(input.deliveryAnnotations, 'deliveryAnnotations');
  if (da !== undefined) out.delivery_annotations = da;
  const f = section(input.footer, 'footer');
  if (f !== undefined) (out as unknown as Record<string, unknown>).footer = f;
  return out;
}

const empty: Readonly<Record<string, unknown>> = Object.freeze({});

/** A received rhea message in rhea-rx's shape (camelCase sections, absent sections empty). */
export function fromRheaMessage<T>(m: RheaMessage): AmqpMessage<T> {
  const header: MessageHeader = {};
  if (m.durable !== undefined) header.durable = m.durable;
  if (m.priority !== undefined) header.priority = m.priority;
  if (m.ttl !== undefined) header.ttl = m.ttl;
  if (m.first_acquirer !== undefined) header.firstAcquirer = m.first_acquirer;
  if (m.delivery_count !== undefined) header.deliveryCount = m.delivery_count;
  const properties: MessageProperties = {};
  if (m.message_id !== undefined) properties.messageId = m.message_id as MessageProperties['messageId'];
  if (m.user_id !== undefined) properties.userId = m.user_id as unknown as Buffer;
  if (m.to !== undefined) properties.to = m.to;
  if (m.subject !== undefined) properties.subject = m.subject;
  if (m.reply_to !== undefined) properties.replyTo = m.reply_to;
  if (m.correlation_id !== undefined) properties.correlationId = m.correlation_id as MessageProperties['correlationId'];
  if (m.content_type !== undefined) properties.contentType = m.content_type;
  if (m.content_encoding !== undefined) properties.contentEncoding = m.content_encoding;
  if (m.absolute_expiry_time !== undefined) properties.absoluteExpiryTime = m.absolute_expiry_time as Date;
  if (m.creation_time !== undefined) properties.creationTime = m.creation_time as Date;
  if (m.group_id !== undefined) properties.groupId = m.group_id;
  if (m.group_sequence !== undefined) properties.groupSequence = m.group_sequence;
  if (m.reply_to_group_id !== undefined) properties.replyToGroupId = m.reply_to_group_id;
  return {
    body: m.body as T,
    header,
    properties,
    applicationProperties: m.application_properties ?? empty,
    messageAnnotations: m.message_annotations ?? empty,
    deliveryAnnotations: m.delivery_annotations ?? empty,
    footer: ((m as unknown as Record<string, unknown>).footer as Record<string, unknown> | undefined) ?? empty,
  };
}
