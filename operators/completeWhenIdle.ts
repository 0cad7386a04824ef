import { EMPTY, identity, type MonoTypeOperatorFunction, timeout } from 'rxjs';
import { waitTime } from './internal/options.js';

/**
 * Completes when nothing arrives for `maxWaitTime` ms: the `max_wait_time` of an azure-servicebus
 * streaming receive. The wait starts at subscription and starts over with every delivery.
 *
 * ```text
 * deliveries  --a--b--------c--|     maxWaitTime: 5 frames
 * output      --a--b----|            5 frames after b, nothing came: complete
 * ```
 *
 * Completing unsubscribes the source, so a receive link detaches and releases every delivery
 * still unsettled (R3) — including one a slower handler further down is still working on. Such a
 * delivery is not lost (the broker redelivers it), but pick `maxWaitTime` longer than one
 * handler's work if that matters. Errors from the source pass through; unsubscribing cancels the
 * timer.
 *
 * @param maxWaitTime - How long to wait for the next item, in milliseconds (0 to 2147483647);
 *   `Infinity` never completes early.
 * @returns An operator that mirrors the source until it has been idle for `maxWaitTime`.
 * @throws {@link rhea-rx!ConfigError | ConfigError} at call time when `maxWaitTime` is not such a time.
 * @see {@link batch} to collect deliveries with a wait time per batch.
 * @example
 * import { completeWhenIdle, settleWith } from 'rhea-rx/operators';
 *
 * // Drain a queue: handle everything there is, stop after 2 s without a message.
 * await lastValueFrom(
 *   client.receive('jobs').pipe(completeWhenIdle(2_000), settleWith((d) => run(d.body))),
 *   { defaultValue: undefined },
 * );
 */
export function completeWhenIdle<T>(maxWaitTime: number): MonoTypeOperatorFunction<T> {
  const wait = waitTime(maxWaitTime, 'completeWhenIdle.maxWaitTime');
  if (wait === Infinity) return identity;
  // `each` alone also times the first item from subscription; switching to EMPTY completes.
  return timeout<T, typeof EMPTY>({ each: wait, with: () => EMPTY });
}
