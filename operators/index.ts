/**
 * RxJS operators for deliveries and outcomes: settle by a handler's fate ({@link settleWith},
 * {@link accept}), guard against poison messages ({@link retryDeliveries}), resubscribe after
 * retryable errors ({@link reconnect}), shape a receive ({@link batch}, {@link completeWhenIdle})
 * and stop on a refused message ({@link throwOnRejected}).
 *
 * They know deliveries and outcomes only through the `Delivery` and `Outcome` interfaces of
 * `rhea-rx`, so they can be marble-tested with the fakes of `rhea-rx/testing`.
 *
 * @packageDocumentation
 * @module rhea-rx/operators
 */
export { accept } from './accept.js';
export { type BatchOptions, batch } from './batch.js';
export { completeWhenIdle } from './completeWhenIdle.js';
export { type ReconnectOptions, reconnect } from './reconnect.js';
export { type ExhaustedStrategy, MAX_DELIVERIES_EXCEEDED, type RetryDeliveriesOptions, retryDeliveries } from './retryDeliveries.js';
export {
  type FailureHandler,
  type FailureStrategy,
  type SettleFailure,
  type SettleHandler,
  type SettleResult,
  type SettleSuccess,
  type SettleWithOptions,
  settleWith,
} from './settleWith.js';
export { type ThrowOnRejectedOptions, throwOnRejected } from './throwOnRejected.js';
