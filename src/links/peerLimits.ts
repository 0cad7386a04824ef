import { isOutgoingMessage } from '../delivery/message.js';
import { AmqpArray, AmqpDescribed, type AmqpArrayElementType } from '../types/amqpTypes.js';

/**
 * What RabbitMQ 3.x's AMQP 1.0 plugin cannot parse. Each of these ends the whole connection with a
 * framing error — every link on it, and the outcome of every message in flight — so the send
 * engine refuses such a message locally, before the wire (verified against RabbitMQ 3.10.8 by
 * test/interop/proton.spec.ts; docs/types.md lists them).
 */
const RABBITMQ_3_ARRAY_ELEMENTS: ReadonlySet<AmqpArrayElementType> = new Set([
  'boolean',
  'ubyte',
  'ushort',
  'uint',
  'ulong',
  'byte',
  'short',
  'int',
  'long',
  'string',
  'symbol',
]);

const ARRAYS_TAKEN = ' (RabbitMQ 3.x parses arrays of boolean, integer, string and symbol elements only)';

/** How deep the check follows nested lists and maps; deeper values are the codec's concern. */
const MAX_DEPTH = 32;

/** True for a peer whose AMQP 1.0 support has the limits {@link rabbitMq3Refusal} checks. */
export function isRabbitMq3(product: string | undefined, version: string | undefined): boolean {
  if (product !== 'RabbitMQ') return false;
  const major = Number.parseInt(version ?? '', 10);
  return !Number.isNaN(major) && major < 4;
}

/**
 * Why RabbitMQ 3.x would drop the connection on this message, or undefined when it takes it.
 * Looks only at what the application gave (the body, application properties and message
 * annotations); a message with a plain body and no typed values costs a few type checks.
 */
export function rabbitMq3Refusal(input: unknown): string | undefined {
  if (!isOutgoingMessage(input)) return bodyRefusal(input);
  return (
    recordRefusal(input.applicationProperties, 'application property') ??
    recordRefusal(input.messageAnnotations, 'message annotation') ??
    bodyRefusal(input.body)
  );
}

function bodyRefusal(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined; // a string, a number: nothing to look into
  if (Array.isArray(body) && body.length >= 2) {
    return `a body that is a list of ${body.length} values (RabbitMQ 3.x reads it as the fields of the amqp-value section)`;
  }
  const array = unsupportedArray(body, 0);
  return array === undefined ? undefined : `${array} in the body${ARRAYS_TAKEN}`;
}

function recordRefusal(record: Record<string, unknown> | undefined, name: string): string | undefined {
  if (record === undefined) return undefined;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const value = record[key];
    if (value instanceof AmqpDescribed) return `a described value as the ${name} '${key}'`;
    const array = unsupportedArray(value, 0);
    if (array !== undefined) return `${array} in the ${name} '${key}'${ARRAYS_TAKEN}`;
  }
  return undefined;
}

/** The first array of an element type RabbitMQ 3.x cannot parse, anywhere in `value`. */
function unsupportedArray(value: unknown, depth: number): string | undefined {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  if (value instanceof AmqpArray) {
    // Elements of the types it takes are scalars: nothing nested to look into.
    if (RABBITMQ_3_ARRAY_ELEMENTS.has(value.elementType)) return undefined;
    return `an array of ${value.elementType} elements`;
  }
  if (value instanceof AmqpDescribed) return unsupportedArray(value.value, depth + 1);
  if (Array.isArray(value)) {
    for (const element of value) {
      const found = unsupportedArray(element, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = unsupportedArray(k, depth + 1) ?? unsupportedArray(v, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Buffer.isBuffer(value) || value instanceof Date || Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  for (const v of Object.values(value)) {
    const found = unsupportedArray(v, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
