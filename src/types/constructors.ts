import type { AmqpTypeName } from './amqpTypes.js';

/**
 * The full-width constructor of each AMQP type (AMQP 1.0 part 1, section 1.6): the encoding an array
 * uses for its elements, and the one a writer picks when it does not look for a shorter one.
 */
export const FULL_WIDTH_CONSTRUCTOR: Readonly<Record<Exclude<AmqpTypeName, 'described'>, number>> = {
  null: 0x40,
  boolean: 0x56,
  ubyte: 0x50,
  ushort: 0x60,
  uint: 0x70,
  ulong: 0x80,
  byte: 0x51,
  short: 0x61,
  int: 0x71,
  long: 0x81,
  float: 0x72,
  double: 0x82,
  decimal32: 0x74,
  decimal64: 0x84,
  decimal128: 0x94,
  char: 0x73,
  timestamp: 0x83,
  uuid: 0x98,
  binary: 0xb0,
  string: 0xb1,
  symbol: 0xb3,
  list: 0xd0,
  map: 0xd1,
  array: 0xf0,
};
