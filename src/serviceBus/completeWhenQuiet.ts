import { asyncScheduler, type MonoTypeOperatorFunction, Observable, type SchedulerLike, type Subscription, timer } from 'rxjs';
import type { ReceivedMessage } from './ServiceBusReceivedMessage.js';

/**
 * The `max_wait_time` of an azure-servicebus receive loop: completes once no message has come for
 * `maxWaitTime` ms *while none it emitted is still unsettled*. A Python loop waits for the next
 * message only between handlers; here the handler runs concurrently with the stream, so time spent
 * on a message does not count, and the link is not detached (releasing the message, R3) under a
 * handler still working on it.
 *
 * ```text
 * messages   --a--------------b----       maxWaitTime: 4 frames
 * settled         ^a (settled at 5)
 * output     --a----------|               4 frames after a was settled, with nothing new: complete
 * ```
 *
 * With every message settled on arrival (receive-and-delete) this is `completeWhenIdle` (rhea-rx/operators).
 * @internal
 */
export function completeWhenQuiet<M extends ReceivedMessage<unknown>>(maxWaitTime: number, scheduler: SchedulerLike = asyncScheduler): MonoTypeOperatorFunction<M> {
  if (maxWaitTime === Infinity) return (source) => source;
  return (source) =>
    new Observable<M>((subscriber) => {
      let unsettled = 0;
      let idle: Subscription | undefined;
      const arm = () => {
        idle?.unsubscribe();
        idle = unsettled === 0 ? timer(maxWaitTime, scheduler).subscribe(() => subscriber.complete()) : undefined;
      };
      const upstream = source.subscribe({
        next: (message) => {
          if (!message.settled) {
            unsettled++;
            message.onSettled(() => {
              unsettled--;
              if (!subscriber.closed) arm();
            });
          }
          arm();
          subscriber.next(message);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      arm();
      return () => {
        upstream.unsubscribe(); // 1. detach (the link releases what is unsettled, R3)
        idle?.unsubscribe(); //    2. no completion after the end
      };
    });
}
