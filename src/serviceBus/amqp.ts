// What the Service Bus client needs of the AMQP layer, without rhea: the request/response link pair
// for `$cbs` and `$management` (src/links/requestResponse.ts), and the message encoding the
// management operations carry (a message as bytes inside a request, and back) from the codec.
import type { AmqpMessage } from '../delivery/message.js';
import { dataSection, decodeMessageBytes, encodeMessageBytes } from '../links/codec.js';

export { type AmqpConnection, type Request, type RequestResponseOptions, RequestResponseLink, type Response } from '../links/requestResponse.js';

/** A data section holding `bytes`: how Service Bus clients send a string or binary body. */
export function dataBody(bytes: Buffer): unknown {
  return dataSection(bytes);
}

/** The body of a received message as the application wants it: a data section's bytes, else the value. */
export function plainBody(body: unknown): unknown {
  const section = body as { typecode?: unknown; content?: unknown; multiple?: unknown } | null;
  if (section === null || typeof section !== 'object' || typeof section.typecode !== 'number') return body;
  if (section.typecode === 0x75) {
    if (Buffer.isBuffer(section.content)) return section.content;
    if (Array.isArray(section.content) && section.content.every((c) => Buffer.isBuffer(c))) return Buffer.concat(section.content as Buffer[]);
  }
  if (section.typecode === 0x76) return section.content;
  return body;
}

/**
 * Encodes a message to its bytes (the `message` field of a schedule request), through the same
 * encoder as `client.send`.
 *
 * @throws MessageEncodeError for a value that cannot be encoded.
 */
export function encodeMessage(message: unknown): Buffer {
  return encodeMessageBytes(message);
}

/** Decodes a message from its bytes (a peeked or deferred message in a response) into rhea-rx's shape. */
export function decodeMessage<T = unknown>(bytes: Buffer): AmqpMessage<T> {
  return decodeMessageBytes<T>(bytes);
}
