// Small conversions between what rhea decodes and what the Service Bus API hands out: 64-bit
// sequence numbers as exact bigints, .NET GUID lock tokens as canonical UUID strings, timestamps
// and .NET ticks as Dates.
import { isAmqpValue, uuidString } from '../types/amqpTypes.js';
import { TICKS_AT_UNIX_EPOCH } from './constants.js';

/**
 * A 64-bit integer as rhea decodes it — a number when it is below 2^53, else its 8 bytes — or
 * as a typed value, as an exact bigint. Undefined for anything else.
 */
export function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (Buffer.isBuffer(value) && value.length === 8) return value.readBigInt64BE(0);
  if (isAmqpValue(value) && typeof (value as { value?: unknown }).value === 'bigint') return (value as { value: bigint }).value;
  if (isAmqpValue(value) && typeof (value as { value?: unknown }).value === 'number') return BigInt((value as { value: number }).value);
  return undefined;
}

/** A timestamp as rhea decodes it (a Date), or milliseconds; undefined for anything else. */
export function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value);
  const ms = toBigInt(value);
  return ms === undefined ? undefined : new Date(Number(ms));
}

/** .NET ticks (the service's `com.microsoft:locked-until-utc`) as a Date. */
export function ticksToDate(value: unknown): Date | undefined {
  const ticks = toBigInt(value);
  if (ticks === undefined) return undefined;
  return new Date(Number((ticks - TICKS_AT_UNIX_EPOCH) / 10_000n));
}

/**
 * The lock token a delivery tag carries. Service Bus writes the token's GUID in .NET byte order
 * (the first three fields little-endian), as azure-servicebus reads it (`uuid.UUID(bytes_le=tag)`).
 */
export function lockTokenFromTag(tag: Buffer): string | undefined {
  if (tag.length !== 16) return undefined;
  const b = Buffer.from([tag[3]!, tag[2]!, tag[1]!, tag[0]!, tag[5]!, tag[4]!, tag[7]!, tag[6]!, ...tag.subarray(8)]);
  return uuidString(b);
}

/** A uuid as rhea decodes it (16 bytes), a typed uuid, or a canonical string, as a canonical string. */
export function uuidOf(value: unknown): string | undefined {
  if (typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return value.toLowerCase();
  if (Buffer.isBuffer(value) && value.length === 16) return uuidString(value);
  if (isAmqpValue(value) && value.type === 'uuid') return String((value as { value: unknown }).value);
  return undefined;
}

/** A string from a value rhea decoded as a string or a symbol. */
export function toText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isAmqpValue(value) && value.type === 'symbol') return String((value as { value: unknown }).value);
  return undefined;
}

/** The integer value of a number-like field (status codes come as int, uint or long). */
export function toInteger(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  const big = toBigInt(value);
  return big === undefined ? undefined : Number(big);
}
