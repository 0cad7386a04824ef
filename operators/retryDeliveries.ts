import { defer, filter, type MonoTypeOperatorFunction } from 'rxjs';
import type { Delivery, MessageId, RejectError } from '../src/index.js';
import { count, fn, invalid, optionsOf } from './internal/options.js';

/**
 * What to do with a delivery that has been delivered more than `maxDeliveries` times:
 * - `'reject'`: reject it (condition `rhea-rx:max-deliveries-exceeded`); the broker dead-letters
 *   or drops it.
 * - `'accept'`: accept it; the message is gone.
 * - a function of the delivery and its delivery number that settles it as it sees fit (e.g. after
 *   copying it to a parking queue). When it returns with the delivery still unsettled, the
 *   delivery is rejected; when it throws, the stream errors with that error.
 */
export type ExhaustedStrategy<T> = 'reject' | 'accept' | ((delivery: Delivery<T>, deliveries: number) => void);

/** Options of {@link retryDeliveries}. */
export interface RetryDeliveriesOptions<T = unknown> {
  /**
   * How many times one message may be delivered to the application (the first delivery counts):
   * a positive integer. With 3, a message is handed on at its first, second and third delivery
   * and settled by `onExhausted` at its fourth.
   */
  maxDeliveries: number;
  /** How to settle a message delivered too often. @default 'reject' */
  onExhausted?: ExhaustedStrategy<T>;
  /**
   * What identifies one message across redeliveries, for the redelivery counter; `undefined`
   * means "do not count this one". Return `undefined` for every delivery to rely on the broker's
   * delivery-count alone.
   * @default the message-id (`message.properties.messageId`), when there is one
   */
  key?: (delivery: Delivery<T>) => string | undefined;
  /**
   * How many message keys the redelivery counter remembers; the least recently seen are
   * forgotten first. 0 turns the counter off.
   * @default 10_000
   */
  maxTracked?: number;
}

/** The rejection sent for an exhausted delivery: a condition dead-letter queues can show. */
export const MAX_DELIVERIES_EXCEEDED = 'rhea-rx:max-deliveries-exceeded';

/**
 * Stops poison messages: a delivery delivered more than `maxDeliveries` times is settled by
 * `onExhausted` and not emitted; every other delivery passes through untouched.
 *
 * ```text
 * deliveries  -a---b---c---|     b: delivery-count 3
 * output      -a-------c---|     maxDeliveries: 3 · b rejected (4th delivery), a and c unsettled
 * ```
 *
 * A delivery's number is its delivery-count + 1 (AMQP counts failed earlier attempts) — or more,
 * from a redelivery counter kept for this subscription: some brokers do not bump delivery-count
 * when a message is released (RabbitMQ 3.10), so a message released over and over would never be
 * stopped. The counter keys messages by `key` (the message-id by default) and gives each arrival
 * of a key the number after the last one it saw. It is bounded (`maxTracked`, least recently seen
 * forgotten first), local to the subscription and to the process: with competing consumers it can
 * only count low, never stop a message early.
 *
 * Put it before the operator that settles (`settleWith`) so poison messages never reach the
 * handler, and fail handlers with `'modify'` (or `'release'`) so redeliveries are counted.
 * Unsubscribing settles nothing.
 *
 * @param options - See {@link RetryDeliveriesOptions}.
 * @returns An operator that settles exhausted deliveries and passes on the rest.
 * @throws {@link rhea-rx!ConfigError | ConfigError} at call time when `maxDeliveries` is not a positive integer,
 *   `onExhausted` is not `'reject'`, `'accept'` or a function, `key` is not a function,
 *   `maxTracked` is not a non-negative integer, or an option is unknown.
 * @throws `DeliveryAlreadySettledError` (or the `onExhausted` function's error), as an error
 *   notification, when settling an exhausted delivery fails.
 * @see {@link settleWith} whose `onError` decides how failures are redelivered.
 * @example
 * import { retryDeliveries, settleWith } from 'rhea-rx/operators';
 *
 * client.receive<Order>('orders')
 *   .pipe(retryDeliveries({ maxDeliveries: 5 }), settleWith((d) => save(d.body), { onError: 'release' }))
 *   .subscribe();
 */
export function retryDeliveries<T>(options: RetryDeliveriesOptions<T>): MonoTypeOperatorFunction<Delivery<T>> {
  const o = optionsOf(options, 'retryDeliveries', ['maxDeliveries', 'onExhausted', 'key', 'maxTracked']);
  const maxDeliveries = count(o.maxDeliveries, 'retryDeliveries.maxDeliveries', 1, false);
  const onExhausted = o.onExhausted ?? 'reject';
  if (onExhausted !== 'reject' && onExhausted !== 'accept' && typeof onExhausted !== 'function') {
    invalid('retryDeliveries.onExhausted', "'reject', 'accept' or a function", onExhausted);
  }
  const key = fn<(delivery: Delivery<T>) => string | undefined>(o.key, 'retryDeliveries.key', messageIdKey);
  const maxTracked = o.maxTracked === undefined ? 10_000 : count(o.maxTracked, 'retryDeliveries.maxTracked', 0, false);
  const exhausted = onExhausted as ExhaustedStrategy<T>;

  return (deliveries) =>
    defer(() => {
      // Per subscription: a new subscription (e.g. after reconnect) starts counting afresh.
      const seen = new Map<string, number>();

      const deliveryNumber = (delivery: Delivery<T>): number => {
        const counted = delivery.deliveryCount + 1;
        const k = maxTracked === 0 ? undefined : key(delivery);
        if (k === undefined) return counted;
        // why: count on from the last number seen, not from 1, so that a message first seen with
        // delivery-count 5 and then released without a bump counts 6, 7, 8 … rather than stalling.
        const n = Math.max(counted, (seen.get(k) ?? 0) + 1);
        seen.delete(k); // re-insert: a Map iterates in insertion order, so the first key is the least recent
        seen.set(k, n);
        if (seen.size > maxTracked) seen.delete(seen.keys().next().value as string);
        return n;
      };

      return deliveries.pipe(
        filter((delivery) => {
          const n = deliveryNumber(delivery);
          if (n <= maxDeliveries) return true;
          // The link may have let go of it already (detach, connection loss): nothing to settle.
          if (delivery.settled) return false;
          if (exhausted === 'accept') delivery.accept();
          else if (exhausted === 'reject') delivery.reject(reason(n, maxDeliveries));
          else {
            exhausted(delivery, n);
            if (!delivery.settled) delivery.reject(reason(n, maxDeliveries));
          }
          return false;
        }),
      );
    });
}

function reason(n: number, maxDeliveries: number): RejectError {
  return { condition: MAX_DELIVERIES_EXCEEDED, description: `delivered ${n} times; maxDeliveries is ${maxDeliveries}` };
}

/** The default key: the message-id, typed so that the string '1' and the number 1 differ. */
function messageIdKey(delivery: Delivery): string | undefined {
  const id: MessageId | undefined = delivery.message.properties.messageId;
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string') return `s:${id}`;
  if (typeof id === 'number' || typeof id === 'bigint') return `n:${String(id)}`;
  if (Buffer.isBuffer(id)) return `b:${id.toString('hex')}`;
  return undefined;
}
