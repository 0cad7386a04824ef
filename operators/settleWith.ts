import { defer, from, isObservable, mergeMap, Observable, of, type OperatorFunction, type Subscription, take } from 'rxjs';
import type { Delivery, SettlementState } from '../src/index.js';
import { count, invalid, optionsOf } from './internal/options.js';

/**
 * The work for one delivery. It may return a value, a promise or an Observable: a value, a resolved
 * promise, or an Observable's first value or completion is success; a throw, a rejected promise or
 * an Observable error is failure. An Observable is unsubscribed after its first value.
 *
 * `signal` is aborted when the operator's subscription ends while this handler is still running,
 * so promise-based work can stop too (an Observable is simply unsubscribed).
 */
export type SettleHandler<T, R> = (delivery: Delivery<T>, signal: AbortSignal) => R | PromiseLike<R> | Observable<R>;

/**
 * How a delivery whose handler failed is settled (after SmallRye's failure strategies):
 * - `'reject'`: rejected with the error's message; the broker drops or dead-letters it.
 * - `'release'`: given back untouched; redelivered, delivery-count unchanged.
 * - `'modify'`: modified with `deliveryFailed`; redelivered with delivery-count + 1.
 * - `'modify-undeliverable'`: modified with `deliveryFailed` and `undeliverableHere`; not
 *   redelivered to this link.
 * - `'accept'`: accepted anyway; the failure is only reported downstream.
 */
export type FailureStrategy = 'reject' | 'release' | 'modify' | 'modify-undeliverable' | 'accept';

/**
 * A failure strategy of your own: settle `delivery` as you see fit. When it returns (or its promise
 * resolves) and `delivery` is still unsettled, it is rejected. When it throws (or its promise
 * rejects), the stream errors with that error.
 */
export type FailureHandler<T> = (error: unknown, delivery: Delivery<T>) => void | PromiseLike<void>;

/** Options of {@link settleWith}. */
export interface SettleWithOptions<T = unknown> {
  /**
   * How many handlers may run at once: a positive integer, or `Infinity` (then the receiver's
   * `credit` is the only limit). Results are emitted in the order handlers finish.
   * @default 1
   */
  concurrency?: number;
  /** How to settle a delivery whose handler failed. @default 'reject' */
  onError?: FailureStrategy | FailureHandler<T>;
}

/** A delivery whose handler succeeded. */
export interface SettleSuccess<T, R> {
  /** Always `true`: the handler succeeded. */
  readonly ok: true;
  /** The delivery the handler worked on. */
  readonly delivery: Delivery<T>;
  /**
   * How the delivery ended up settled: `'accepted'` by this operator, or whatever the handler
   * settled it as itself. `undefined` when the link let go of it first (its receive subscription
   * ended, or the connection was lost): the broker redelivers it.
   */
  readonly settledAs: SettlementState | undefined;
  /** What the handler returned: its value, its promise's value, its Observable's first value (`undefined` when it completed empty). */
  readonly value: R | undefined;
}

/** A delivery whose handler failed. */
export interface SettleFailure<T> {
  /** Always `false`: the handler threw, rejected or errored. */
  readonly ok: false;
  /** The delivery the handler worked on. */
  readonly delivery: Delivery<T>;
  /** How the delivery ended up settled: by the failure strategy, or by the handler before it failed; `undefined` as for {@link SettleSuccess}. */
  readonly settledAs: SettlementState | undefined;
  /** What the handler threw, or the error its promise or Observable ended with. */
  readonly error: unknown;
}

/** What {@link settleWith} emits for each delivery, once that delivery is settled. */
export type SettleResult<T, R> = SettleSuccess<T, R> | SettleFailure<T>;

const strategies: readonly FailureStrategy[] = ['reject', 'release', 'modify', 'modify-undeliverable', 'accept'];

/**
 * Settles each delivery by the fate of `handler`: accepted when it succeeds, otherwise settled as
 * `options.onError` says; then emits a {@link SettleResult} for it.
 *
 * ```text
 * deliveries  -a---b---c---|
 * handler      ok  throws ok
 * output      -A---B---C---|     A, C: ok, accepted · B: failed, modified (onError: 'modify')
 * ```
 *
 * At most `concurrency` handlers run at once; deliveries that arrive meanwhile wait in arrival
 * order. Credit returns only on settlement (R2), so the wait is bounded by the receiver's `credit`
 * and a slow handler slows the link instead of filling memory. A delivery the handler settled
 * itself is not settled again, and neither is one its link already let go of (reported with
 * `settledAs: undefined`; the broker redelivers it).
 *
 * When the deliveries complete, the handlers still running finish first. Unsubscribing (or an
 * error from the deliveries) cancels the handlers in flight — Observables are unsubscribed,
 * `signal` is aborted — and settles nothing: the receive link releases what it still holds (R3).
 *
 * A settlement this operator makes that throws — e.g. `NotSupportedError` for `'modify'` on a peer
 * without the modified outcome — errors the stream: it is a configuration mistake, not a message
 * problem. The delivery stays unsettled and the link releases it.
 *
 * @param handler - Work for one delivery; may return a value, a promise or an Observable.
 * @param options - See {@link SettleWithOptions}.
 * @returns An operator that emits one result per delivery, after that delivery is settled.
 * @throws {@link rhea-rx!ConfigError | ConfigError} at call time when `handler` is not a function, `concurrency` is not
 *   a positive integer or `Infinity`, `onError` is not a strategy name or a function, or an option
 *   is unknown.
 * @throws `NotSupportedError`, `DeliveryAlreadySettledError` or the failure handler's error, as an
 *   error notification, when settling fails.
 * @see {@link retryDeliveries} to stop poison messages before they reach `handler`.
 * @example
 * import { settleWith } from 'rhea-rx/operators';
 *
 * client.receive<Order>('orders', { credit: 50 })
 *   .pipe(settleWith((d) => save(d.body), { concurrency: 10, onError: 'modify' }))
 *   .subscribe((r) => { if (!r.ok) log.warn('order failed', r.error); });
 */
export function settleWith<T, R>(handler: SettleHandler<T, R>, options: SettleWithOptions<T> = {}): OperatorFunction<Delivery<T>, SettleResult<T, R>> {
  if (typeof handler !== 'function') invalid('settleWith.handler', 'a function', handler);
  const o = optionsOf(options, 'settleWith', ['concurrency', 'onError']);
  const concurrency = o.concurrency === undefined ? 1 : count(o.concurrency, 'settleWith.concurrency', 1, true);
  const onError = o.onError ?? 'reject';
  if (typeof onError !== 'function' && !strategies.includes(onError as FailureStrategy)) {
    invalid('settleWith.onError', `a function or one of ${strategies.map((s) => `'${s}'`).join(', ')}`, onError);
  }
  const failure = onError as FailureStrategy | FailureHandler<T>;

  const settleOne = (delivery: Delivery<T>) =>
    new Observable<SettleResult<T, R>>((subscriber) => {
      const controller = new AbortController();
      let finished = false;
      let value: R | undefined;
      let strategyWork: Subscription | undefined;

      const finish = (result: SettleResult<T, R>) => {
        finished = true;
        subscriber.next(result);
        subscriber.complete();
      };
      const fail = (error: unknown) => {
        finished = true;
        subscriber.error(error);
      };
      /** Runs a settlement (or the user's failure handler); when it throws, the stream errors with that error. */
      const attempt = (step: () => unknown): boolean => {
        try {
          step();
          return true;
        } catch (error) {
          fail(error);
          return false;
        }
      };

      const succeeded = () => {
        // why: `settled` is also true when the link let go of it (detach, connection loss);
        // settling then would throw, and the broker redelivers it anyway.
        if (attempt(() => delivery.settled || delivery.accept())) finish({ ok: true, delivery, settledAs: delivery.settledAs, value });
      };

      const failed = (error: unknown) => {
        const done = () => finish({ ok: false, delivery, settledAs: delivery.settledAs, error });
        const rejectIfUnsettled = () => delivery.settled || delivery.reject(rejectReason(error));
        // Settled by the handler before it failed, or let go of by the link: leave it as it is.
        if (delivery.settled) return done();
        if (typeof failure === 'string') {
          if (attempt(() => settleBy(failure, delivery, error))) done();
          return;
        }
        let returned: void | PromiseLike<void>;
        try {
          returned = failure(error, delivery);
        } catch (thrown) {
          return fail(thrown);
        }
        if (!isPromiseLike(returned)) {
          if (attempt(rejectIfUnsettled)) done();
          return;
        }
        strategyWork = from(returned).subscribe({
          error: fail,
          complete: () => {
            if (attempt(rejectIfUnsettled)) done();
          },
        });
      };

      const work = defer(() => fromResult(handler(delivery, controller.signal)))
        .pipe(take(1))
        .subscribe({
          next: (v) => {
            value = v;
          },
          error: failed,
          complete: succeeded,
        });

      return () => {
        // 1. stop the handler's Observable (or ignore its promise) and any failure handler's promise
        work.unsubscribe();
        strategyWork?.unsubscribe();
        // 2. let promise-based work stop too; nothing is settled here — the link owns the delivery (R3)
        if (!finished) controller.abort();
      };
    });

  return mergeMap(settleOne, concurrency);
}

function settleBy<T>(strategy: FailureStrategy, delivery: Delivery<T>, error: unknown): void {
  switch (strategy) {
    case 'reject':
      return delivery.reject(rejectReason(error));
    case 'release':
      return delivery.release();
    case 'modify':
      return delivery.modify({ deliveryFailed: true });
    case 'modify-undeliverable':
      return delivery.modify({ deliveryFailed: true, undeliverableHere: true });
    case 'accept':
      return delivery.accept();
  }
}

/** What goes on the wire with a reject: an Error's message or a string; nothing for other thrown values. */
function rejectReason(error: unknown): Error | string | undefined {
  return error instanceof Error || typeof error === 'string' ? error : undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function fromResult<R>(result: R | PromiseLike<R> | Observable<R>): Observable<R> {
  if (isObservable(result)) return result as Observable<R>;
  if (isPromiseLike(result)) return from(result as PromiseLike<R>);
  return of(result as R);
}
