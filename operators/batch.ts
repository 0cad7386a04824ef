import { Observable, type OperatorFunction, type Subscription, timer } from 'rxjs';
import { count, optionsOf, waitTime } from './internal/options.js';

/** Options of {@link batch}. */
export interface BatchOptions {
  /**
   * The most items in one batch: a batch is emitted as soon as it has this many. Keep it at or
   * below the receiver's `credit`: deliveries held in a batch hold credit, so a larger batch can
   * only fill up when `maxWaitTime` runs out.
   */
  maxCount: number;
  /**
   * How long, in milliseconds, a batch waits for more items after its first one arrived; then it
   * is emitted with what it has. `Infinity` waits for `maxCount` (or completion) alone.
   */
  maxWaitTime: number;
}

/**
 * Collects deliveries (or any values) into arrays: a batch is emitted when it holds `maxCount`
 * items, or `maxWaitTime` ms after its first item arrived, whichever comes first (the semantics of
 * azure-servicebus `receive_messages(max_message_count, max_wait_time)`).
 *
 * ```text
 * deliveries  -a-b-c-d------e--|      maxCount: 3 · maxWaitTime: 5 frames
 * output      -----x------y----(z|)  x = [a, b, c] (full) · y = [d] (5 after d) · z = [e] (completion)
 * ```
 *
 * No empty batch is ever emitted, and no timer runs while nothing is waiting. When the source
 * completes, the items waiting are emitted as a last batch. On an error or unsubscribe they are
 * dropped, not settled: the receive link releases the deliveries it still holds (R3).
 *
 * @param options - See {@link BatchOptions}.
 * @returns An operator that emits arrays of 1 to `maxCount` items, in arrival order.
 * @throws {@link rhea-rx!ConfigError | ConfigError} at call time when `maxCount` is not a positive integer, `maxWaitTime`
 *   is not a time from 0 to 2147483647 ms or `Infinity`, or an option is unknown.
 * @see {@link completeWhenIdle} to end a receive when nothing more comes.
 * @example
 * import { batch } from 'rhea-rx/operators';
 *
 * client.receive<Reading>('readings', { credit: 100 })
 *   .pipe(batch({ maxCount: 100, maxWaitTime: 1_000 }))
 *   .subscribe(async (deliveries) => {
 *     await db.insertMany(deliveries.map((d) => d.body));
 *     deliveries.forEach((d) => d.accept());
 *   });
 */
export function batch<T>(options: BatchOptions): OperatorFunction<T, T[]> {
  const o = optionsOf(options, 'batch', ['maxCount', 'maxWaitTime']);
  const maxCount = count(o.maxCount, 'batch.maxCount', 1, false);
  const maxWaitTime = waitTime(o.maxWaitTime, 'batch.maxWaitTime');

  return (source) =>
    new Observable<T[]>((subscriber) => {
      let waiting: T[] = [];
      let deadline: Subscription | undefined;

      const flush = () => {
        deadline?.unsubscribe();
        deadline = undefined;
        // why: swap before emitting; emitting can make the source deliver more at once (re-entrant)
        const full = waiting;
        waiting = [];
        subscriber.next(full);
      };

      const upstream = source.subscribe({
        next: (item) => {
          waiting.push(item);
          if (waiting.length >= maxCount) flush();
          else if (waiting.length === 1 && maxWaitTime !== Infinity) deadline = timer(maxWaitTime).subscribe(flush);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          if (waiting.length > 0) flush();
          subscriber.complete();
        },
      });

      return () => {
        upstream.unsubscribe(); // 1. take no more items
        deadline?.unsubscribe(); // 2. no batch after the end
        waiting = []; //            3. forget what waits; the link releases held deliveries (R3)
      };
    });
}
