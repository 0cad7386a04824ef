import type { Observable } from 'rxjs';
import { integer, onlyKnownKeys, optionsObject } from '../config/validate.js';
import type { Delivery } from '../delivery/Delivery.js';
import { abortErrorOf, onAbort, signalOption } from '../errors/AbortError.js';
import { DeliveryQueue } from './deliveryQueue.js';

/** Options of {@link toAsyncIterable}. */
export interface ToAsyncIterableOptions {
  /**
   * Cancels the iteration: the link detaches, what it holds is released (R3), and the pending or
   * next `next()` rejects with an `AbortError` (so `for await` throws it); then the iterator is done.
   * An already aborted signal rejects the first `next()` without attaching a link.
   */
  signal?: AbortSignal;
  /**
   * The most deliveries that arrived already settled (settleMode `'at-most-once'`, or an `accept()`
   * upstream) may wait for the loop. Those gave their credit back on emission, so the link does not
   * stop for them; past this many the iteration fails with a `BufferOverflowError` carrying them.
   * Peek-lock deliveries are bounded by credit and never count.
   * @default 10000
   */
  maxBuffered?: number;
}

/**
 * Turns a receive Observable into an async iterator of deliveries for `for await`, paced by link
 * credit: it buffers only what the link delivered, and the link delivers only as deliveries are
 * settled (R1, R2) — no unbounded buffer behind a slow loop.
 *
 * ```text
 * link    --a--b--c·······d--    credit 3: d comes once the loop settles a
 * loop    ---a------a.accept()   one step per delivery; the loop settles each one
 * ```
 *
 * The loop settles every delivery (`accept()`, `reject()`, …); a loop that holds deliveries stops
 * the link after `credit` of them. The receive subscription starts at the first `next()`, so each
 * iterator attaches its own link; it is single-use, like a generator.
 *
 * `break`, `return`, or an exception in the loop calls `return()`: the link detaches and every
 * delivery not yet settled — waiting in the iterator, or the one the loop was handling — is
 * released to the broker (R3); settling it afterwards throws `DeliveryAlreadySettledError`. When
 * the receive stream completes the loop ends (deliveries the link released meanwhile are skipped);
 * when it errors the loop throws that error. `signal` cancels with an `AbortError` (see
 * {@link ToAsyncIterableOptions.signal}); its listener is removed however the iteration ends.
 *
 * @param receive$ - Usually `client.receive(source, { credit })`.
 * @param options - See {@link ToAsyncIterableOptions}.
 * @returns An async iterable iterator of {@link Delivery}.
 * @throws {@link ConfigError} at call time for an unknown or invalid option.
 * @see {@link toReadable} for a Node stream.
 * @example
 * import { toAsyncIterable } from 'rhea-rx';
 *
 * for await (const d of toAsyncIterable(client.receive<Order>('orders', { credit: 10 }), { signal })) {
 *   await handle(d.body);
 *   d.accept();
 * }
 */
export function toAsyncIterable<T = unknown>(
  receive$: Observable<Delivery<T>>,
  options: ToAsyncIterableOptions = {},
): AsyncIterableIterator<Delivery<T>> {
  const o = optionsObject(options, 'toAsyncIterable');
  onlyKnownKeys(o, ['signal', 'maxBuffered'], 'toAsyncIterable');
  const signal = signalOption(o.signal, 'toAsyncIterable.signal');
  const maxBuffered = integer(o.maxBuffered, 'toAsyncIterable.maxBuffered', 1, 1_000_000_000, 10_000);
  return new DeliveryIterator<T>(receive$, signal, maxBuffered);
}

interface Waiter<T> {
  resolve(result: IteratorResult<Delivery<T>, undefined>): void;
  reject(error: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

class DeliveryIterator<T> implements AsyncIterableIterator<Delivery<T>> {
  readonly #queue: DeliveryQueue<T>;
  readonly #signal: AbortSignal | undefined;
  readonly #waiters: Waiter<T>[] = [];
  #removeAbort: () => void = () => undefined;
  #finished = false;
  /** An error no `next()` has seen yet: the next call rejects with it, once. */
  #failure: { readonly value: unknown } | undefined;

  constructor(receive$: Observable<Delivery<T>>, signal: AbortSignal | undefined, maxBuffered: number) {
    this.#signal = signal;
    this.#queue = new DeliveryQueue<T>(receive$, maxBuffered, () => this.#dispatch());
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery<T>> {
    return this;
  }

  next(): Promise<IteratorResult<Delivery<T>, undefined>> {
    if (!this.#finished && !this.#queue.started) this.#start();
    if (this.#finished) {
      const failure = this.#failure;
      this.#failure = undefined;
      return failure === undefined ? Promise.resolve(DONE) : Promise.reject(failure.value);
    }
    const delivery = this.#waiters.length === 0 ? this.#queue.take() : undefined;
    if (delivery !== undefined) return Promise.resolve({ done: false, value: delivery });
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#dispatch(); // the source may have ended with nothing left
    });
  }

  /** Ends the iteration: the link detaches and releases what is unsettled (R3). Idempotent. */
  return(): Promise<IteratorResult<Delivery<T>, undefined>> {
    this.#finish(undefined);
    return Promise.resolve(DONE);
  }

  #start(): void {
    const signal = this.#signal;
    if (signal?.aborted) {
      this.#finish({ value: abortErrorOf(signal, 'Iterating the deliveries') });
      return;
    }
    this.#removeAbort = onAbort(signal, () => this.#finish({ value: abortErrorOf(signal!, 'Iterating the deliveries') }));
    this.#queue.start();
  }

  /** Hands waiting deliveries to waiting `next()` calls; ends them when the source has ended. */
  #dispatch(): void {
    while (this.#waiters.length > 0) {
      const delivery = this.#queue.take();
      if (delivery === undefined) break;
      this.#waiters.shift()!.resolve({ done: false, value: delivery });
    }
    if (this.#queue.ended && this.#queue.isEmpty() && !this.#finished) this.#finish(this.#queue.error);
  }

  /**
   * The one way out: removes the abort listener, stops the source (the link releases what is
   * unsettled), and settles every pending `next()` — the first with the error, if any, the rest done.
   */
  #finish(failure: { readonly value: unknown } | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#removeAbort(); //   1. no listener outlives the iteration
    this.#queue.stop(); //    2. detach; unsettled deliveries go back to the broker (R3)
    const waiters = this.#waiters.splice(0);
    const first = waiters.shift();
    if (failure !== undefined && first !== undefined) first.reject(failure.value);
    else {
      this.#failure = failure; // 3. surfaces at the next next(), once
      first?.resolve(DONE);
    }
    for (const waiter of waiters) waiter.resolve(DONE);
  }
}
