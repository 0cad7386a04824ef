/**
 * The bytes of a message as a client sent it, kept so the broker forwards it exactly.
 *
 * rhea decodes a message into JavaScript values and encodes it again from them, which changes AMQP
 * types (a symbol arrives as a string, a ulong beyond 2^53 as an imprecise number, a char as a
 * string, …). AMQP 1.0 §3.2 makes the bare message — properties, application properties, body
 * and footer — immutable for intermediaries; only the header and the annotations are theirs to
 * change. So the broker keeps the bare message's bytes and rewrites only what it owns: the header
 * (delivery-count, first-acquirer) always, the annotations only when it changed them.
 *
 * @internal
 */
import rhea from 'rhea';
import type { Session } from 'rhea';
import { type PayloadTap, tapPayloads } from '../../links/codec.js';
import { decodeAt } from '../serviceBus/codec.js';
import { sectionCode } from '../serviceBus/message.js';
import type { BrokerMessage } from './types.js';

/** The parts of a received message the broker forwards as they came. */
export interface RawMessage {
  /** The bare message: from the first properties, application-properties or body section to the end. */
  readonly bare: Buffer;
  /** The delivery- and message-annotations sections as received; undefined once the broker changed them. */
  readonly annotations: Buffer | undefined;
}

const HEADER = 0x70;
const PROPERTIES = 0x73;

/** Splits an encoded message into its parts; undefined when it cannot be read (it is re-encoded then). */
export function splitMessage(bytes: Buffer): RawMessage | undefined {
  let offset = 0;
  let annotationsStart: number | undefined;
  try {
    while (offset < bytes.length) {
      const { value, end } = decodeAt(bytes, offset);
      if (value.type !== 'described') return undefined;
      const code = sectionCode(value.descriptor);
      if (code === undefined) return undefined;
      if (code >= PROPERTIES) break;
      if (code !== HEADER) annotationsStart ??= offset;
      else if (annotationsStart !== undefined) return undefined; // a header after annotations: not a message rhea-rx forwards raw
      offset = end;
    }
  } catch {
    return undefined;
  }
  return {
    bare: bytes.subarray(offset),
    annotations: annotationsStart === undefined ? undefined : bytes.subarray(annotationsStart, offset),
  };
}

/**
 * The bytes to deliver: a header with the broker's delivery-count and first-acquirer, the
 * annotations (as received, or encoded from `message` when the broker changed them), the bare
 * message as received.
 */
export function forwardBytes(message: BrokerMessage, raw: RawMessage): Buffer {
  const head: Record<string, unknown> = {
    durable: message.durable,
    priority: message.priority,
    ttl: message.ttl,
    first_acquirer: message.first_acquirer,
    delivery_count: message.delivery_count,
  };
  if (raw.annotations === undefined) {
    head.delivery_annotations = message.delivery_annotations;
    head.message_annotations = message.message_annotations;
  }
  // rhea writes every section it knows (an empty properties list, a null body): keep what comes
  // before the first bare section.
  const encoded = rhea.message.encode(head as never) as Buffer;
  const own = splitMessage(encoded);
  const prefix = own === undefined ? encoded : encoded.subarray(0, encoded.length - own.bare.length);
  return Buffer.concat(raw.annotations === undefined ? [prefix, raw.bare] : [prefix, raw.annotations, raw.bare]);
}

const taps = new WeakMap<Session, PayloadTap>();

/** Keeps the bytes of each message arriving on `session` (once per session). */
export function tapSession(session: Session): PayloadTap {
  let tap = taps.get(session);
  if (tap === undefined) {
    tap = tapPayloads(session);
    taps.set(session, tap);
  }
  return tap;
}
