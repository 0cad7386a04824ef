import rhea from 'rhea';
import type { Message as RheaMessage, Session } from 'rhea';
import { MessageEncodeError } from '../errors/errors.js';
import { type AmqpMessage, isOutgoingMessage, type MessageHeader, type MessageProperties } from '../delivery/message.js';
import {
  amqp,
  type AmqpArrayElementType,
  AmqpScalar,
  type AmqpDescriptor,
  type AmqpTypedValue,
  isAmqpValue,
  registerAmqpEncoder,
  uuidBytes,
} from '../types/amqpTypes.js';
import { FULL_WIDTH_CONSTRUCTOR } from '../types/constructors.js';
import { decodeSections } from '../types/decode.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A value rhea encodes as it is told, not by guessing from its JavaScript type. */
interface RheaTypedLike {
  toRheaTyped(): unknown;
}

/** rhea's typed value (`types.js` Typed): what its writer takes. */
interface RheaTyped {
  value: unknown;
  descriptor?: unknown;
}

/** The part of rhea's `types` the codec uses. */
interface RheaTypes {
  wrap(value: unknown): RheaTyped;
  wrap_uint(n: number): RheaTyped;
  wrap_int(n: number): RheaTyped;
  wrap_ulong(b: Buffer): RheaTyped;
  wrap_long(b: Buffer): RheaTyped;
  wrap_double(n: number): RheaTyped;
  wrap_binary(b: Buffer): RheaTyped;
  wrap_symbol(s: string): RheaTyped;
  wrap_uuid(b: Buffer): RheaTyped;
  described(descriptor: RheaTyped, value: RheaTyped): RheaTyped;
  Ubyte(n: number): RheaTyped;
  Ushort(n: number): RheaTyped;
  Byte(n: number): RheaTyped;
  Short(n: number): RheaTyped;
  Float(n: number): RheaTyped;
  Double(n: number): RheaTyped;
  Decimal32(b: Buffer): RheaTyped;
  Decimal64(b: Buffer): RheaTyped;
  Decimal128(b: Buffer): RheaTyped;
  CharUTF32(codePoint: number): RheaTyped;
  Timestamp(b: Buffer): RheaTyped;
  Array32(values: unknown[], typecode: number, descriptor?: RheaTyped): RheaTyped;
}

const T = rhea.types as unknown as RheaTypes;

function typed(make: () => unknown): RheaTypedLike {
  return { toRheaTyped: make };
}

/** rhea's own typed values (`rhea.types.wrap_uint(5)`, described types) go through as they are. */
const rheaTyped = rhea.types.wrap_uint(0).constructor;

function isTypedValue(value: object): boolean {
  return typeof (value as Partial<RheaTypedLike>).toRheaTyped === 'function' || value instanceof rheaTyped;
}

/** A rhea body section (`rhea.message.data_section(…)`, or a received data or sequence body). */
interface RheaSection {
  typecode: number;
  content: unknown;
  multiple?: boolean;
  collect_sections(sections: unknown[]): void;
}

function isRheaSection(value: object): value is RheaSection {
  return typeof (value as Partial<RheaSection>).collect_sections === 'function';
}

/** Strings with an unpaired surrogate have no UTF-8 form: rhea would send U+FFFD instead. */
function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function checkString<S>(s: S, path: string): S {
  if (typeof s === 'string' && !wellFormed(s)) {
    throw new MessageEncodeError(path, `${path}: the string has an unpaired surrogate (no UTF-8 form; it would arrive with U+FFFD in its place)`);
  }
  return s;
}

function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}

function i64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}

function descriptorTyped(d: AmqpDescriptor): RheaTyped {
  return typeof d === 'string' ? T.wrap_symbol(d) : T.wrap_ulong(u64(d));
}

/** The array element constructors: the full-width encoding of each type. */
const ARRAY_CODES: Readonly<Record<Exclude<AmqpArrayElementType, 'array'>, number>> = FULL_WIDTH_CONSTRUCTOR;

/**
 * Checks a wrapper again (its constructor is not public API, so a hand-made one may be out of
 * range) and returns the rhea typed value that encodes it.
 */
function encodeWrapper(v: AmqpTypedValue, path: string, depth: number): RheaTyped {
  try {
    switch (v.type) {
      case 'described': {
        const inner = T.wrap(prepare(v.value, `${path}.value`, depth + 1));
        if (inner.descriptor !== undefined) {
          throw new MessageEncodeError(`${path}.value`, `${path}.value: a described value cannot directly hold another described value (rhea cannot encode it)`);
        }
        // rhea sets the descriptor on the value it is given: never on one the application owns.
        const value = Object.assign(Object.create(Object.getPrototypeOf(inner) as object) as RheaTyped, inner);
        return T.described(descriptorTyped(amqp.described(v.descriptor, null).descriptor), value);
      }
      case 'array':
        return encodeArray(v.elementType, v.values, v.descriptor, path, depth);
      default:
        return encodeScalar(v.type, v.value, path);
    }
  } catch (error) {
    if (error instanceof MessageEncodeError && error.path === '') throw new MessageEncodeError(path, `${path}: ${error.message}`);
    throw error;
  }
}

function encodeScalar(type: string, value: unknown, path: string): RheaTyped {
  switch (type) {
    case 'ubyte':
      return T.Ubyte(amqp.ubyte(value as number).value);
    case 'ushort':
      return T.Ushort(amqp.ushort(value as number).value);
    case 'uint':
      return T.wrap_uint(amqp.uint(value as number).value);
    case 'ulong':
      return T.wrap_ulong(u64(amqp.ulong(value as bigint).value));
    case 'byte':
      return T.Byte(amqp.byte(value as number).value);
    case 'short':
      return T.Short(amqp.short(value as number).value);
    case 'int':
      return T.wrap_int(amqp.int(value as number).value);
    case 'long':
      return T.wrap_long(i64(amqp.long(value as bigint).value));
    case 'float':
      return T.Float(amqp.float(value as number).value);
    case 'double':
      return T.Double(amqp.double(value as number).value);
    case 'decimal32':
      return T.Decimal32(amqp.decimal32(value as Buffer).value);
    case 'decimal64':
      return T.Decimal64(amqp.decimal64(value as Buffer).value);
    case 'decimal128':
      return T.Decimal128(amqp.decimal128(value as Buffer).value);
    case 'char':
      return T.CharUTF32(amqp.char(value as string).value.codePointAt(0)!);
    case 'timestamp':
      return T.Timestamp(i64(amqp.timestamp(value as bigint).value));
    case 'uuid':
      return T.wrap_uuid(uuidBytes(amqp.uuid(value as string).value));
    case 'binary':
      return T.wrap_binary(amqp.binary(value as Buffer).value);
    case 'symbol':
      return T.wrap_symbol(amqp.symbol(value as string).value);
    default:
      throw new MessageEncodeError(path, `${path}: unknown AMQP type '${type}'`);
  }
}

function encodeArray(type: AmqpArrayElementType, values: readonly unknown[], descriptor: AmqpDescriptor | undefined, path: string, depth: number): RheaTyped {
  if (type === 'array') throw new MessageEncodeError(path, `${path}: an array of arrays cannot be sent (rhea cannot encode one)`);
  const code = ARRAY_CODES[type];
  if (code === undefined) throw new MessageEncodeError(path, `${path}: unknown array element type '${String(type)}'`);
  // Re-checks each element (amqp.array does, but a hand-made AmqpArray may not have been) and turns
  // it into what rhea's writer takes for that element constructor.
  const checked = amqp.array(type, values as never[]).values as readonly unknown[];
  const raw = checked.map((e, i): unknown => {
    const at = `${path}[${i}]`;
    switch (type) {
      case 'boolean':
        return e ? 1 : 0;
      case 'ulong':
        return u64(e as bigint);
      case 'long':
        return i64(e as bigint);
      case 'char':
        return (e as string).codePointAt(0);
      case 'uuid':
        return uuidBytes(e as string);
      case 'string':
        return checkString(e as string, at);
      case 'list':
        return T.wrap(prepareList(e as unknown[], at, depth + 1)).value;
      case 'map':
        return T.wrap(prepare(e, at, depth + 1)).value;
      default:
        return e;
    }
  });
  return T.Array32(raw, code, descriptor === undefined ? undefined : descriptorTyped(amqp.described(descriptor, null).descriptor));
}

// A wrapper that rhea meets outside a message (a link property, a filter) encodes itself.
registerAmqpEncoder((value) => encodeWrapper(value as AmqpTypedValue, 'value', 0));

/**
 * Checks one value for what rhea's codec would silently change, and returns what to encode.
 *
 * rhea encodes `-0` as int 0 and `NaN` as null, turns BigInt, symbols and functions into `{}`,
 * throws a RangeError for integers beyond 2^63, and replaces an unpaired surrogate in a string by
 * U+FFFD. Here `-0` and `NaN` become doubles, a BigInt in the long range becomes a long, a wrapper
 * from `amqp.*` becomes the type it names, and everything that cannot be kept exactly is an error
 * naming its path. Unchanged values are returned as they are, so a body with nothing to fix is not
 * copied.
 */
function prepare(value: unknown, path: string, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return checkString(value, path);
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
        throw new MessageEncodeError(path, `${path}: the BigInt ${value} does not fit an AMQP long (64-bit signed); use amqp.ulong() for an unsigned one`);
      }
      const bytes = i64(value);
      return typed(() => rhea.types.wrap_long(bytes));
    }
    case 'symbol':
    case 'function':
      throw new MessageEncodeError(path, `${path}: a ${typeof value} is not an AMQP value${typeof value === 'symbol' ? " (for an AMQP symbol, use amqp.symbol('…'))" : ''}`);
    default:
      break;
  }
  if (value === null) return value;
  const object = value as object;
  if (depth > 64) throw new MessageEncodeError(path, `${path}: nested more than 64 levels deep (a cycle?)`);
  if (isAmqpValue(object)) return encodeWrapper(object, path, depth);
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
  if (isRheaSection(object)) {
    const content = prepare(object.content, `${path}.content`, depth + 1);
    if (content === object.content) return value;
    return Object.assign(Object.create(Object.getPrototypeOf(object) as object) as RheaSection, object, { content });
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
    checkString(key, `${path} key ${key}`);
    const next = prepare(item, `${path}.${key}`, depth + 1);
    if (next !== item) copy ??= { ...record };
    if (copy !== undefined) copy[key] = next;
  }
  return copy ?? record;
}

/**
 * The body, prepared. rhea writes the amqp-value section by setting its descriptor on the body's
 * typed value, which replaces the descriptor of a described body: such a body is written here, as
 * the section's bytes.
 */
function bodyOf(body: unknown): unknown {
  const prepared = prepare(body, 'body', 0);
  if (!isDescribedTyped(prepared)) return prepared;
  const writer = new (rhea.types as unknown as { Writer: new () => RheaWriter }).Writer();
  writer.write(prepared);
  const section = Buffer.concat([AMQP_VALUE_SECTION, writer.toBuffer()]);
  return {
    collect_sections(sections: unknown[]): void {
      sections.push(rawTyped(section));
    },
  };
}

interface RheaWriter {
  write(value: unknown): void;
  toBuffer(): Buffer;
}

/** The constructor of an amqp-value section: described, descriptor smallulong 0x77. */
const AMQP_VALUE_SECTION = Buffer.from([0x00, 0x53, 0x77]);

function isDescribedTyped(value: unknown): value is RheaTyped {
  return typeof value === 'object' && value !== null && value instanceof rheaTyped && (value as RheaTyped).descriptor !== undefined;
}

/**
 * A value rhea's writer copies as it is: a "fixed width" type whose type code is the first byte and
 * whose value is the rest (rhea's Writer writes the code, then copies a Buffer value).
 */
function rawTyped(bytes: Buffer): unknown {
  return { type: { typecode: bytes[0], width: bytes.length - 1, category: 1 }, value: bytes.subarray(1) };
}

/**
 * A message-id or correlation-id: a string; a ulong (a non-negative safe integer, a bigint, or
 * `amqp.ulong`); a uuid (`amqp.uuid`, or 16 bytes — rhea's rule, kept so that a received uuid id,
 * which the default decode gives as 16 bytes, can be sent back as a correlation-id); binary (a
 * Buffer of any other length, or `amqp.binary` for 16 bytes). rhea alone would pad or cut any
 * Buffer to 16 bytes and send it as a uuid.
 */
function messageId(value: unknown, path: string): unknown {
  if (typeof value === 'string') return checkString(value, path);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0 || Object.is(value, -0)) {
      throw new MessageEncodeError(path, `${path}: a number id is sent as a ulong and must be a non-negative integer below 2^53, got ${value}; use a bigint above`);
    }
    return value;
  }
  if (typeof value === 'bigint') return encodeWrapper(amqp.ulong(value), path, 0);
  if (value instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
    return bytes.length === 16 ? T.wrap_uuid(bytes) : T.wrap_binary(bytes);
  }
  if (isAmqpValue(value) && (value.type === 'ulong' || value.type === 'uuid' || value.type === 'binary')) return encodeWrapper(value, path, 0);
  if (typeof value === 'object' && value !== null && value instanceof rheaTyped) return value;
  throw new MessageEncodeError(
    path,
    `${path}: an id is a string, a ulong (number, bigint or amqp.ulong), a uuid (amqp.uuid) or binary (a Buffer); got ${isAmqpValue(value) ? `amqp.${value.type}` : typeof value}`,
  );
}

/** content-type and content-encoding are symbols: ASCII, which rhea writes byte by byte. */
function symbolField(value: string, path: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value === 'string' && !/^[\x00-\x7f]*$/.test(value)) {
    throw new MessageEncodeError(path, `${path}: a symbol is ASCII only, got ${JSON.stringify(value)}`);
  }
  return value;
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
  if (!isOutgoingMessage(input)) return { body: bodyOf(input) };
  const out: RheaMessage = { body: bodyOf(input.body) };
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
    if (p.messageId !== undefined) out.message_id = messageId(p.messageId, 'properties.messageId') as string;
    if (p.userId !== undefined) out.user_id = p.userId as unknown as string;
    if (p.to !== undefined) out.to = checkString(p.to, 'properties.to');
    if (p.subject !== undefined) out.subject = checkString(p.subject, 'properties.subject');
    if (p.replyTo !== undefined) out.reply_to = checkString(p.replyTo, 'properties.replyTo');
    if (p.correlationId !== undefined) out.correlation_id = messageId(p.correlationId, 'properties.correlationId') as string;
    if (p.contentType !== undefined) out.content_type = symbolField(p.contentType, 'properties.contentType');
    if (p.contentEncoding !== undefined) out.content_encoding = symbolField(p.contentEncoding, 'properties.contentEncoding');
    if (p.absoluteExpiryTime !== undefined) out.absolute_expiry_time = p.absoluteExpiryTime;
    if (p.creationTime !== undefined) out.creation_time = p.creationTime;
    if (p.groupId !== undefined) out.group_id = checkString(p.groupId, 'properties.groupId');
    if (p.groupSequence !== undefined) out.group_sequence = p.groupSequence;
    if (p.replyToGroupId !== undefined) out.reply_to_group_id = checkString(p.replyToGroupId, 'properties.replyToGroupId');
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

// ---------------------------------------------------------------------------------------------
// The typed decode (receive option `typed`): the message's own bytes, decoded by src/types/decode.ts.

type SectionName =
  | 'header'
  | 'deliveryAnnotations'
  | 'messageAnnotations'
  | 'properties'
  | 'applicationProperties'
  | 'data'
  | 'sequence'
  | 'value'
  | 'footer';

/** Message sections by descriptor, numeric (as a decimal string) and symbolic (AMQP 1.0 section 3.2). */
const SECTIONS: Readonly<Record<string, SectionName>> = {
  '112': 'header',
  'amqp:header:list': 'header',
  '113': 'deliveryAnnotations',
  'amqp:delivery-annotations:map': 'deliveryAnnotations',
  '114': 'messageAnnotations',
  'amqp:message-annotations:map': 'messageAnnotations',
  '115': 'properties',
  'amqp:properties:list': 'properties',
  '116': 'applicationProperties',
  'amqp:application-properties:map': 'applicationProperties',
  '117': 'data',
  'amqp:data:binary': 'data',
  '118': 'sequence',
  'amqp:amqp-sequence:list': 'sequence',
  '119': 'value',
  'amqp:value:*': 'value',
  '120': 'footer',
  'amqp:footer:map': 'footer',
};

/** A header or properties field, whose AMQP type the section fixes: the plain JavaScript value. */
function plain(v: unknown): unknown {
  if (!isAmqpValue(v) || v.type === 'array' || v.type === 'described') return v;
  const inner = v.value;
  return typeof inner === 'bigint' && inner <= BigInt(MAX_SAFE) && inner >= -BigInt(MAX_SAFE) ? Number(inner) : inner;
}

function fields(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** An annotations or properties map with its keys as strings (symbols by name, ulongs in decimal). */
function record(v: unknown): Record<string, unknown> {
  if (!(v instanceof Map)) return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [key, item] of v) {
    const name = isAmqpValue(key) && key.type !== 'array' && key.type !== 'described' ? String(key.value) : String(key);
    if (name === '__proto__') Object.defineProperty(out, name, { value: item, enumerable: true, writable: true, configurable: true });
    else out[name] = item;
  }
  return out;
}

/**
 * Decodes a message from its bytes keeping every AMQP type (receive option `typed`): in the body,
 * application properties, annotations and footer, a value of a type JavaScript has no type of its
 * own for arrives as a wrapper (`AmqpScalar`, `AmqpArray`, `AmqpDescribed`), and a 64-bit integer
 * is exact over its whole range. A message-id or correlation-id arrives as a string, an
 * `AmqpScalar` of type `ulong` or `uuid`, or a Buffer (binary; an `AmqpScalar` of type `binary` for
 * 16 bytes, which a Buffer would be sent back as a uuid). Header and properties fields whose
 * type the section fixes (priority, ttl, content-type, …) are plain values, as in the default decode;
 * a data or sequence body is the same rhea section object the default decode gives.
 *
 * @throws AmqpError with condition `amqp:decode-error` for bytes that are not a valid message.
 */
export function decodeTypedMessage<T>(payload: Buffer): AmqpMessage<T> {
  const header: MessageHeader = {};
  const properties: MessageProperties = {};
  const maps: Partial<Record<SectionName, Record<string, unknown>>> = {};
  let body: unknown;
  let hasValue = false;
  const data: unknown[] = [];
  let kind: 'data' | 'sequence' | undefined;
  for (const s of decodeSections(payload)) {
    const name = SECTIONS[String(s.descriptor)];
    switch (name) {
      case 'header': {
        const [durable, priority, ttl, firstAcquirer, deliveryCount] = fields(s.value).map(plain);
        if (durable !== null && durable !== undefined) header.durable = durable as boolean;
        if (priority !== null && priority !== undefined) header.priority = priority as number;
        if (ttl !== null && ttl !== undefined) header.ttl = ttl as number;
        if (firstAcquirer !== null && firstAcquirer !== undefined) header.firstAcquirer = firstAcquirer as boolean;
        if (deliveryCount !== null && deliveryCount !== undefined) header.deliveryCount = deliveryCount as number;
        break;
      }
      case 'properties': {
        const f = fields(s.value);
        const set = <K extends keyof MessageProperties>(key: K, index: number, keepType = false): void => {
          const v = keepType ? f[index] : plain(f[index]);
          if (v !== null && v !== undefined) properties[key] = v as MessageProperties[K];
        };
        set('messageId', 0, true);
        set('userId', 1);
        set('to', 2);
        set('subject', 3);
        set('replyTo', 4);
        set('correlationId', 5, true);
        set('contentType', 6);
        set('contentEncoding', 7);
        set('absoluteExpiryTime', 8, true);
        set('creationTime', 9, true);
        set('groupId', 10);
        set('groupSequence', 11);
        set('replyToGroupId', 12);
        // A 16-byte Buffer id is sent as a uuid: a 16-byte binary id stays wrapped, to be sent back as binary.
        for (const key of ['messageId', 'correlationId'] as const) {
          const id = properties[key];
          if (Buffer.isBuffer(id) && id.length === 16) properties[key] = new AmqpScalar('binary', id) as unknown as Buffer;
        }
        break;
      }
      case 'deliveryAnnotations':
      case 'messageAnnotations':
      case 'applicationProperties':
      case 'footer':
        maps[name] = record(s.value);
        break;
      case 'value':
        body = s.value;
        hasValue = true;
        break;
      case 'data':
      case 'sequence':
        // As rhea does: the first body section sets the kind, later ones of another kind are ignored.
        kind ??= name;
        if (kind === name) data.push(s.value);
        break;
      default:
        break; // an unknown section: ignored, as rhea does
    }
  }
  if (!hasValue && kind !== undefined) {
    const one = data.length === 1;
    if (kind === 'data') body = one ? rhea.message.data_section(data[0]) : rhea.message.data_sections(data);
    else body = one ? rhea.message.sequence_section(data[0]) : rhea.message.sequence_sections(data);
  }
  return {
    body: body as T,
    header,
    properties,
    applicationProperties: maps.applicationProperties ?? empty,
    messageAnnotations: maps.messageAnnotations ?? empty,
    deliveryAnnotations: maps.deliveryAnnotations ?? empty,
    footer: maps.footer ?? empty,
  };
}

/** A data section holding `bytes`, as a message body: sent as exactly that section. */
export function dataSection(bytes: Buffer): unknown {
  return rhea.message.data_section(bytes);
}

/**
 * A message's bytes, encoded as `client.send` encodes it (for a message carried inside another,
 * such as a Service Bus `schedule-message` request).
 *
 * @throws MessageEncodeError for a value that cannot be encoded.
 */
export function encodeMessageBytes(message: unknown): Buffer {
  return (rhea.message as unknown as { encode(m: RheaMessage): Buffer }).encode(toRheaMessage(message));
}

/** A message decoded from its bytes, as a received message is by default. */
export function decodeMessageBytes<T = unknown>(bytes: Buffer): AmqpMessage<T> {
  return fromRheaMessage<T>(rhea.message.decode(bytes) as unknown as RheaMessage);
}

/** The fields of an incoming transfer frame the tap reads. */
interface TransferFrame {
  performative: { handle?: number; more?: boolean; aborted?: boolean };
  payload?: Buffer;
}

/** The encoded bytes of each message as it arrives on a session; see {@link tapPayloads}. */
export interface PayloadTap {
  /** The bytes of the message being dispatched now (valid inside rhea's `message` event only). */
  current(): Buffer | undefined;
}

/**
 * Keeps the bytes of each incoming message on `session` for the typed decode: rhea decodes a
 * message and drops its bytes before it emits `message`, and its decoder cannot keep AMQP types.
 *
 * rhea 3.x has no public hook for this: the session's `on_transfer` (called by the connection for
 * every transfer frame on the session) is wrapped, on this session object only. Frames of a
 * multi-frame message are joined as rhea joins them. Only sessions of links that asked for
 * `typed` are tapped.
 */
export function tapPayloads(session: Session): PayloadTap {
  const target = session as unknown as { on_transfer(frame: TransferFrame): void };
  const original = target.on_transfer;
  const pending = new Map<number, Buffer[]>();
  let complete: Buffer | undefined;
  target.on_transfer = function (this: unknown, frame: TransferFrame): void {
    const handle = frame.performative.handle ?? 0;
    const parts = pending.get(handle) ?? [];
    if (frame.payload !== undefined && frame.payload.length > 0) parts.push(frame.payload);
    if (frame.performative.more === true && frame.performative.aborted !== true) {
      pending.set(handle, parts);
      original.call(this, frame);
      return;
    }
    pending.delete(handle);
    complete = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    try {
      original.call(this, frame);
    } finally {
      complete = undefined;
    }
  };
  return { current: () => complete };
}
