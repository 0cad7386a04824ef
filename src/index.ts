export { Client, type CloseOptions, type PullSource, type ReceiveOneOptions } from './client/Client.js';
export type { ClientState, ClientStats, ClientStatus, LinkStats, PeerInfo } from './client/ConnectionManager.js';
export { type ClientOptions, createClient, type TlsOptions } from './client/createClient.js';
export type { ReceiveOptions, SendOptions } from './config/options.js';
export type { Delivery, ModifyOptions, RejectError, SettlementState } from './delivery/Delivery.js';
export {
  type AmqpMessage,
  isOutgoingMessage,
  type MessageFields,
  type MessageHeader,
  type MessageId,
  type MessageProperties,
  message,
  type OutgoingMessage,
} from './delivery/message.js';
export type { Outcome, OutcomeState } from './delivery/Outcome.js';
export { AmqpError, type AmqpErrorOptions, isAmqpError } from './errors/AmqpError.js';
export {
  AuthenticationError,
  AuthorizationError,
  BufferOverflowError,
  ConfigError,
  ConnectionLostError,
  DeliveryAlreadySettledError,
  LinkDetachedError,
  MessageEncodeError,
  MessageTooLargeError,
  NotFoundError,
  NotSupportedError,
  OperationTimeoutError,
  SendFailedError,
} from './errors/errors.js';
export { type BackoffOptions, delayFor, type ResolvedBackoff, resolveBackoff } from './policy/backoff.js';
export { OutcomeError } from './errors/OutcomeError.js';
export { amqp, AmqpArray, type AmqpArrayElements, type AmqpArrayElementType, type AmqpArrayInput, AmqpDescribed, type AmqpDescriptor, AmqpScalar, type AmqpScalarType, type AmqpScalarValues, type AmqpTypedValue, type AmqpTypeName, AmqpValue, isAmqpValue } from './types/amqpTypes.js';
export { toReadable, type ToReadableOptions } from './streams/toReadable.js';
export { toWritable, type ToWritableOptions } from './streams/toWritable.js';
export { toAsyncIterable, type ToAsyncIterableOptions } from './streams/toAsyncIterable.js';
export { AbortError } from './errors/AbortError.js';
export type { SendFromOptions } from './client/Client.js';
export * from './serviceBus/index.js';
