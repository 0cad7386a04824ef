/**
 * The sections of an AMQP message as a broker keeps them: header, annotations, properties and
 * application properties as typed values it can read and change, the body (and footer) as the
 * bytes the client sent.
 */
import { type AmqpList, type AmqpMap, type AmqpValue, amqp, AmqpDecodeError, asNumber, asString, decodeAt, encode } from './codec.js';

/** Section descriptor codes. */
export const SECTION = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
  amqpSequence: 0x76,
  amqpValue: 0x77,
  footer: 0x78,
} as const;

const SYMBOLIC: Record<string, number> = {
  'amqp:header:list': 0x70,
  'amqp:delivery-annotations:map': 0x71,
  'amqp:message-annotations:map': 0x72,
  'amqp:properties:list': 0x73,
  'amqp:application-properties:map': 0x74,
  'amqp:data:binary': 0x75,
  'amqp:amqp-sequence:list': 0x76,
  'amqp:amqp-value:*': 0x77,
  'amqp:footer:map': 0x78,
};

export const HEADER_FIELDS = ['durable', 'priority', 'ttl', 'first-acquirer', 'delivery-count'] as const;
export const PROPERTY_FIELDS = [
  'message-id',
  'user-id',
  'to',
  'subject',
  'reply-to',
  'correlation-id',
  'content-type',
  'content-encoding',
  'absolute-expiry-time',
  'creation-time',
  'group-id',
  'group-sequence',
  'reply-to-group-id',
] as const;
export type PropertyField = (typeof PROPERTY_FIELDS)[number];

/** A decoded message. `body` holds the encoded body sections and footer, verbatim. */
export interface MessageSections {
  header?: AmqpList;
  deliveryAnnotations?: AmqpMap;
  messageAnnotations?: AmqpMap;
  properties?: AmqpList;
  applicationProperties?: AmqpMap;
  body: Buffer;
}

/** The numeric code of a section descriptor (ulong or symbolic), or undefined. */
export function sectionCode(descriptor: AmqpValue): number | undefined {
  if (descriptor.type === 'ulong') return Number(descriptor.value);
  if (descriptor.type === 'symbol') return SYMBOLIC[descriptor.value];
  return undefined;
}

/** Splits an encoded message into its sections. */
export function decodeMessage(bytes: Buffer): MessageSections {
  const sections: MessageSections = { body: Buffer.alloc(0) };
  let offset = 0;
  while (offset < bytes.length) {
    const { value, end } = decodeAt(bytes, offset);
    if (value.type !== 'described') throw new AmqpDecodeError(`a message section must be described, found ${value.type}`);
    const code = sectionCode(value.descriptor);
    if (code === undefined) throw new AmqpDecodeError('unknown message section descriptor');
    if (code >= SECTION.data) {
      sections.body = bytes.subarray(offset);
      break;
    }
    const inner = value.value;
    if (code === SECTION.header || code === SECTION.properties) {
      if (inner.type !== 'list') throw new AmqpDecodeError('header and properties must be lists');
      if (code === SECTION.header) sections.header = inner;
      else sections.properties = inner;
    } else {
      if (inner.type !== 'map' && inner.type !== 'null') throw new AmqpDecodeError('annotations and application properties must be maps');
      const map = inner.type === 'map' ? inner : amqp.map([]);
      if (code === SECTION.deliveryAnnotations) sections.deliveryAnnotations = map;
      else if (code === SECTION.messageAnnotations) sections.messageAnnotations = map;
      else sections.applicationProperties = map;
    }
    offset = end;
  }
  return sections;
}

function section(code: number, value: AmqpValue): Buffer {
  return encode(amqp.described(amqp.ulong(code), value));
}

/** Encodes sections back into a message (body bytes verbatim). */
export function encodeMessage(sections: MessageSections): Buffer {
  const parts: Buffer[] = [];
  if (sections.header) parts.push(section(SECTION.header, trimList(sections.header)));
  if (sections.deliveryAnnotations && sections.deliveryAnnotations.value.length > 0) {
    parts.push(section(SECTION.deliveryAnnotations, sections.deliveryAnnotations));
  }
  if (sections.messageAnnotations && sections.messageAnnotations.value.length > 0) {
    parts.push(section(SECTION.messageAnnotations, sections.messageAnnotations));
  }
  if (sections.properties) parts.push(section(SECTION.properties, trimList(sections.properties)));
  if (sections.applicationProperties) parts.push(section(SECTION.applicationProperties, sections.applicationProperties));
  parts.push(sections.body);
  return Buffer.concat(parts);
}

/** Drops trailing nulls from a composite's field list (as the spec allows). */
function trimList(list: AmqpList): AmqpList {
  const items = [...list.value];
  while (items.length > 0 && items[items.length - 1]?.type === 'null') items.pop();
  return amqp.list(items);
}

/** Field `index` of a composite list, or undefined when absent or null. */
export function field(list: AmqpList | undefined, index: number): AmqpValue | undefined {
  const value = list?.value[index];
  return value && value.type !== 'null' ? value : undefined;
}

/** A copy of a composite list with field `index` set. */
export function withField(list: AmqpList | undefined, index: number, value: AmqpValue): AmqpList {
  const items = [...(list?.value ?? [])];
  while (items.length <= index) items.push(amqp.null());
  items[index] = value;
  return amqp.list(items);
}

/** A message property by name. */
export function property(sections: MessageSections, name: PropertyField): AmqpValue | undefined {
  return field(sections.properties, PROPERTY_FIELDS.indexOf(name));
}

/** The message's session id (`group-id`). */
export function groupId(sections: MessageSections): string | undefined {
  return asString(property(sections, 'group-id'));
}

/** The header's time-to-live in ms, if any. */
export function ttlOf(sections: MessageSections): number | undefined {
  return asNumber(field(sections.header, 2));
}
