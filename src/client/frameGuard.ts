import { createRequire } from 'node:module';
import type { Connection } from 'rhea';

/** The smallest frame AMQP allows (its 8-byte header), and the smallest max-frame-size (2.7.1, 512). */
const FRAME_HEADER_SIZE = 8;
export const MIN_MAX_FRAME_SIZE = 512;

const { ProtocolError } = createRequire(import.meta.url)('rhea/lib/errors.js') as { ProtocolError: new (message: string) => Error };

/** The part of rhea's `Transport` (one per layer: SASL, AMQP) the guard wraps. */
interface TransportInternals {
  header_received?: unknown;
  protocol_id: number;
  peek_size(buffer: Buffer): number | undefined;
  read(buffer: Buffer): number;
}

interface ConnectionInternals {
  amqp_transport?: TransportInternals;
  sasl_transport?: { transport?: TransportInternals };
}

/**
 * Makes rhea refuse, as a protocol error, every incoming frame whose size is below the 8-byte frame
 * header or above `maxFrameSize` (the max-frame-size this end announced in its open frame).
 *
 * rhea 3.x reads a frame's size from its first four bytes and then buffers input until that many
 * bytes have arrived, with no limit: a peer that writes garbage (`HTTP…` reads as a 1.2 GB frame),
 * or a frame header announcing 4 GB, makes the connection wait for ever while memory grows with
 * whatever the peer sends. Here each transport of the connection (SASL, then AMQP) checks the size
 * of every frame it is about to read or wait for; a bad one throws rhea's `ProtocolError`, which
 * rhea reports as a `protocol_error` event on the connection (the connection manager ends the
 * connection with `amqp:connection:framing-error`). Only this connection's transports are wrapped.
 */
export function guardFrames(connection: Connection, maxFrameSize: number): void {
  const c = connection as unknown as ConnectionInternals;
  for (const transport of [c.sasl_transport?.transport, c.amqp_transport]) {
    if (transport === undefined || typeof transport.read !== 'function' || typeof transport.peek_size !== 'function') continue;
    guardTransport(transport, maxFrameSize);
  }
}

function guardTransport(transport: TransportInternals, max: number): void {
  const check = (size: number): void => {
    if (size < FRAME_HEADER_SIZE || size > max) {
      throw new ProtocolError(
        size < FRAME_HEADER_SIZE
          ? `Invalid frame size ${size}: a frame is at least ${FRAME_HEADER_SIZE} bytes`
          : `Frame of ${size} bytes is larger than the max-frame-size of ${max} bytes announced to the peer`,
      );
    }
  };
  const peekSize = transport.peek_size;
  transport.peek_size = function (this: TransportInternals, buffer: Buffer): number | undefined {
    const size = peekSize.call(this, buffer);
    if (size !== undefined) check(size);
    return size;
  };
  const read = transport.read;
  transport.read = function (this: TransportInternals, buffer: Buffer): number {
    // The protocol header comes first: a wrong one is left to rhea, whose error names it. Then
    // frames, back to back. After the SASL outcome the next layer's protocol header follows: the
    // scan stops at it, and rhea reads it.
    if (!this.header_received && !expectedHeader(buffer, this.protocol_id)) return read.call(this, buffer);
    let offset = this.header_received ? 0 : FRAME_HEADER_SIZE;
    while (offset + 4 <= buffer.length) {
      if (buffer.toString('latin1', offset, offset + 4) === 'AMQP') break;
      const size = buffer.readUInt32BE(offset);
      check(size);
      offset += size;
    }
    return read.call(this, buffer);
  };
}

/** True when `buffer` starts with the protocol header this transport expects (AMQP, its protocol id, 1.0). */
function expectedHeader(buffer: Buffer, protocolId: number): boolean {
  return (
    buffer.length >= FRAME_HEADER_SIZE &&
    buffer.toString('latin1', 0, 4) === 'AMQP' &&
    buffer[4] === protocolId &&
    buffer[5] === 1 &&
    buffer[6] === 0
  );
}
