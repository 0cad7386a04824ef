/**
 * Reactive streams for AMQP 1.0 on Node: RxJS 7 on top of rhea.
 *
 * {@link createClient} makes a {@link Client}; `client.receive()` is an Observable of
 * {@link Delivery | deliveries} whose pace is link credit (credit returns when a delivery is
 * settled), and `client.send()` is an operator that emits one {@link Outcome} per message, sending
 * only while the link has credit. Errors are {@link AmqpError}s; {@link toReadable},
 * {@link toWritable} and {@link toAsyncIterable} bridge to Node streams and `for await`.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { createClient } from 'rhea-rx';
 *
 * const client = createClient('amqp://localhost:5672');
 * from(orders).pipe(client.send('orders')).subscribe((outcome) => console.log(outcome.state));
 * client.receive<Order>('orders', { credit: 50 }).subscribe((d) => { handle(d.body); d.accept(); });
 * ```
 *
 * @packageDocumentation
 * @module rhea-rx
 */
export { Client, type CloseOptions, type PullSource, type ReceiveOneOptions } from './client/Client.js';
export type { ClientState, ClientStats, ClientStatus, LinkStats, PeerInfo } from './client/ConnectionManager.js';
export { type ClientOptions, createClient, type SaslOptions, type TlsOptions } from './client/createClient.js';
export type { ReceiveOptions, RemoteTargetAttach, SendOptions } from './config/options.js';
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
export * from './tracing/index.js';
