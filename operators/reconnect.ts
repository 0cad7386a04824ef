import { type MonoTypeOperatorFunction, retry, throwError, timer } from 'rxjs';
import { isAmqpError } from '../src/errors/AmqpError.js';
import type { BackoffOptions } from '../src/index.js';
import { delayFor, resolveBackoff } from '../src/policy/backoff.js';
import { fn, optionsOf } from './internal/options.js';

/** Options of {@link reconnect}: the backoff policy, and which errors are worth another try. */
export interface ReconnectOptions extends BackoffOptions {
  /**
   * Whether resubscribing can help after `error`. Errors it refuses pass through at once.
   * @default rhea-rx errors marked `retryable` (connection lost, forced detach, server busy …);
   *   never authentication, authorization, not-found or configuration errors (C2)
   */
  isRetryable?: (error: unknown) => boolean;
}

const defaultIsRetryable = (error: unknown): boolean => isAmqpError(error) && error.retryable;

/**
 * Resubscribes to the source after a retryable error, waiting longer after each failure in a row:
 * 100 ms doubling to a 10 s cap by default, the same policy as the client's own reconnect.
 *
 * ```text
 * source      -a-#                        ConnectionLostError (retryable)
 *                 ~100ms~-b-#             resubscribed; b starts the attempts over
 *                           ~100ms~-c-|   resubscribed again after 100 ms, not 200
 * output      -a----------b----------c-|
 * ```
 *
 * An error that `isRetryable` refuses passes through at once; after `maxAttempts` failed
 * resubscriptions in a row the last error passes through as it is. A value from the source counts
 * as success and starts the attempts over. The wait is a timer on rxjs's async scheduler, so
 * virtual time drives it in marble tests. Unsubscribing during a wait cancels the timer and
 * resubscribes nothing.
 *
 * Each resubscription is a new subscription to the source: with `client.receive()` that is a new
 * link whose deliveries are new objects; deliveries held from the old one were released by it
 * (R3). Within one client the connection itself already reconnects (C1); this operator is for
 * what that does not cover, e.g. a link the peer detached with a retryable condition.
 *
 * @param policy - The backoff policy (see `BackoffOptions`) and `isRetryable`.
 * @returns An operator that mirrors the source across retryable failures.
 * @throws {@link rhea-rx!ConfigError | ConfigError} at call time when a backoff option is invalid (named as
 *   `reconnect.<option>`), `isRetryable` is not a function, or an option is unknown.
 * @example
 * import { reconnect } from 'rhea-rx/operators';
 *
 * client.receive('events')
 *   .pipe(reconnect({ maxDelay: 30_000, jitter: 0.2 }))
 *   .subscribe(handle);
 */
export function reconnect<T>(policy: ReconnectOptions = {}): MonoTypeOperatorFunction<T> {
  const o = optionsOf(policy, 'reconnect', ['initialDelay', 'factor', 'maxDelay', 'jitter', 'maxAttempts', 'isRetryable']);
  const { isRetryable: given, ...backoffOptions } = o;
  const isRetryable = fn<(error: unknown) => boolean>(given, 'reconnect.isRetryable', defaultIsRetryable);
  const backoff = resolveBackoff(backoffOptions, 'reconnect');

  return retry<T>({
    count: backoff.maxAttempts,
    resetOnSuccess: true,
    delay: (error: unknown, attempt: number) =>
      isRetryable(error) ? timer(delayFor(backoff, attempt)) : throwError(() => error),
  });
}
