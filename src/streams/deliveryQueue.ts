import type { Observable, Subscription } from 'rxjs';
import type { Delivery } from '../delivery/Delivery.js';
import { BufferOverflowError } from '../errors/errors.js';

interface Entry<T> {
  readonly delivery: Delivery<T>;
  /** Settled when it arrived (at-most-once, or settled upstream): its credit is already back. */
  readonly presettled: boolean;
}

/**
 * @internal True for a delivery the link took back before a reader got it: released when its receive
 * subscription ended (R3) or gone stale with its connection (R4). Settled, yet never settled *as*
 * anything by the application: the broker delivers it again, so no reader may be handed it.
 */
export function takenBack(delivery: Delivery<unknown>): boolean {
  return delivery.settled && delivery.settledAs === undefined;
}

/**
 * @internal The deliveries a receive subscription has emitted and a pull-based reader (a Readable,
 * an async iterator) has not taken yet.
 *
 * It needs no bound of its own for peek-lock deliveries: they hold link credit until settled (R1,
 * R2), so at most `credit` can wait here. Deliveries that arrive already settled (at-most-once, or
 * settled by an operator upstream) gave their credit back on emission, so nothing stops the link
 * for them: past `maxBuffered` of those waiting, the queue ends with a {@link BufferOverflowError}
 * carrying them, rather than growing without limit.
 */
export class DeliveryQueue<T> {
  readonly #source: Observable<Delivery<T>>;
  readonly #maxBuffered: number;
  readonly #onChange: () => void;
  #entries: Array<Entry<T> | undefined> = [];
  #head = 0;
  #presettled = 0;
  #subscription: Subscription | undefined;
  #started = false;
  #ended = false;
  #error: { readonly value: unknown } | undefined;

  /**
   * @param onChange - Called when a delivery arrives and when the source ends; it may read the
   *   queue at once.
   */
  constructor(source: Observable<Delivery<T>>, maxBuffered: number, onChange: () => void) {
    this.#source = source;
    this.#maxBuffered = maxBuffered;
    this.#onChange = onChange;
  }

  get started(): boolean {
    return this.#started;
  }

  /** True once the source completed or failed (or the queue was stopped); deliveries may still wait. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The source's error, once it failed. */
  get error(): { readonly value: unknown } | undefined {
    return this.#error;
  }

  /** Subscribes to the source: for a receive Observable, this attaches the link. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const subscription = this.#source.subscribe({
      next: (delivery) => this.#add(delivery),
      // The link releases what it holds right after these notifications (R3): end on a microtask,
      // so that `take` then sees those deliveries as taken back and skips them.
      error: (error: unknown) => queueMicrotask(() => this.#end({ value: error })),
      complete: () => queueMicrotask(() => this.#end(undefined)),
    });
    if (this.#ended) subscription.unsubscribe();
    else this.#subscription = subscription;
  }

  /** The oldest waiting delivery a reader may have, or undefined; skips what the link took back. */
  take(): Delivery<T> | undefined {
    if (this.isEmpty()) return undefined;
    const entry = this.#entries[this.#head]!;
    this.#entries[this.#head++] = undefined;
    if (entry.presettled) this.#presettled--;
    this.#compact();
    return entry.delivery;
  }

  /** True when no delivery a reader may have is waiting (those the link took back are dropped). */
  isEmpty(): boolean {
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head]!;
      if (!takenBack(entry.delivery)) return false;
      this.#entries[this.#head++] = undefined;
      if (entry.presettled) this.#presettled--;
    }
    this.#entries = [];
    this.#head = 0;
    return true;
  }

  /**
   * Unsubscribes from the source — the link detaches and releases every delivery still unsettled,
   * waiting here or not (R3) — and forgets what waits. Idempotent.
   */
  stop(): void {
    this.#ended = true;
    const subscription = this.#subscription;
    this.#subscription = undefined;
    this.#entries = [];
    this.#head = 0;
    this.#presettled = 0;
    subscription?.unsubscribe();
  }

  #add(delivery: Delivery<T>): void {
    if (this.#ended) return;
    const presettled = delivery.settled;
    this.#entries.push({ delivery, presettled });
    if (presettled && ++this.#presettled > this.#maxBuffered) {
      const waiting = this.#entries.slice(this.#head).map((entry) => entry!.delivery);
      const error = new BufferOverflowError<Delivery<T>>(
        `More than ${this.#maxBuffered} deliveries from '${delivery.address}' arrived already settled and wait for a slow reader: ` +
          "settled deliveries give their credit back at once, so the link cannot pace them; receive with settleMode 'peek-lock' " +
          'for backpressure, or raise maxBuffered',
        waiting,
      );
      this.stop();
      this.#error = { value: error };
      this.#onChange();
      return;
    }
    this.#onChange();
  }

  #end(error: { readonly value: unknown } | undefined): void {
    if (this.#ended) return; // stopped by the reader: nobody is waiting for the end
    this.#ended = true;
    this.#error = error;
    this.#subscription = undefined;
    this.#onChange();
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
