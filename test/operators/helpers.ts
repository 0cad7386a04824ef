// Small helpers for the operator specs (not a spec file itself).
import { map, type OperatorFunction } from 'rxjs';
import { type Delivery, DeliveryAlreadySettledError, NotSupportedError } from 'rhea-rx';
import type { SettleResult } from 'rhea-rx/operators';
import { type FakeDelivery, fakeDelivery } from 'rhea-rx/testing';

/** Maps settle results back to their deliveries, so a marble test can use one values map. */
export function toDelivery<T>(): OperatorFunction<SettleResult<T, unknown>, Delivery<T>> {
  return map((result) => result.delivery);
}

/** A handler that throws `error` for the deliveries whose body is in `bodies`, and returns the body otherwise. */
export function failOn<T>(error: unknown, ...bodies: T[]): (d: Delivery<T>) => T {
  return (d) => {
    if (bodies.includes(d.body)) throw error;
    return d.body;
  };
}

/**
 * A delivery its link already let go of (subscription ended, connection lost): `settled` is true,
 * `settledAs` undefined, and every settlement throws, as the real one does.
 */
export function goneDelivery<T>(body: T): FakeDelivery<T> {
  const inner = fakeDelivery(body);
  let calls = 0;
  const refuse = () => {
    calls++;
    throw new DeliveryAlreadySettledError("Cannot settle a delivery from 'fake': the connection it came on was lost", 'stale');
  };
  return Object.create(inner, {
    settled: { get: () => true },
    settleCalls: { get: () => calls },
    accept: { value: refuse },
    reject: { value: refuse },
    release: { value: refuse },
    modify: { value: refuse },
  }) as FakeDelivery<T>;
}

/** A delivery from a peer without the modified outcome: `modify()` throws NotSupportedError and settles nothing. */
export function noModifyDelivery<T>(body: T): FakeDelivery<T> {
  const inner = fakeDelivery(body);
  return Object.create(inner, {
    modify: {
      value: () => {
        throw new NotSupportedError("Cannot modify a delivery from 'fake': the peer does not support the modified outcome");
      },
    },
  }) as FakeDelivery<T>;
}
