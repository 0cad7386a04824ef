import { type MonoTypeOperatorFunction, tap } from 'rxjs';
import type { Delivery } from '../src/index.js';

/**
 * Accepts each delivery as it passes: acknowledge-on-receipt.
 *
 * ```text
 * deliveries  -a--b--c--|
 * output      -a--b--c--|     each accepted before it is emitted
 * ```
 *
 * Credit returns at once, so the link runs as fast as the broker sends; work done downstream is
 * not protected (a crash loses what was accepted). Use `settleWith` to settle after the work.
 *
 * @returns An operator that accepts, then emits, each delivery.
 * @throws `DeliveryAlreadySettledError` (as an error notification) when a delivery was already settled.
 * @example
 * client.receive('logs').pipe(accept()).subscribe((d) => console.log(d.body));
 */
export function accept<T>(): MonoTypeOperatorFunction<Delivery<T>> {
  return tap((delivery) => delivery.accept());
}
