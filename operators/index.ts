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
