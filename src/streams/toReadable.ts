import { Readable } from 'node:stream';
import type { Observable } from 'rxjs';
import { integer, oneOf, onlyKnownKeys, optionsObject } from '../config/validate.js';
import type { Delivery } from '../delivery/Delivery.js';
import { DeliveryQueue, takenBack } from './deliveryQueue.js';

/** Options of {@link toReadable}. */
export interface ToReadableOptions {
  /**
   * How many deliveries the stream keeps in its own buffer ahead of the reader (the Readable's
   * `highWaterMark`, in objects). They stay unsettled there, so they hold link credit: the receive's
   * `credit` bounds what is taken from the broker, whatever this is.
   * @default 16
   */
  highWaterMark?: number;
  /**
   * Who settles. `'on-read'`: the stream accepts each delivery at the moment it hands it to the
   * reader (a `'data'` event, `read()`, an async iteration step) — the reader gets it settled.
   * `'manual'`: the reader gets it unsettled and must settle it; credit returns only then (R2), so
   * a pipeline can accept after the work is done (at-least-once end to end).
   * @default 'on-read'
   */
  settle?: 'on-read' | 'manual';
  /**
   * The most deliveries that arrived already settled (settleMode `'at-most-once'`, or an `accept()`
   * upstream) may wait for the reader. Such deliveries gave their credit back on emission, so the
   * link does not stop for them; past this many the stream is destroyed with a
   * `BufferOverflowError` carrying them. Peek-lock deliveries are bounded by credit and never
   * count.
   * @default 10000
   */
  maxBuffered?: number;
}

/**
 * Turns a receive Observable into an object-mode Node `Readable` of deliveries whose reads pace
 * the link: a paused or slow stream stops the link at the broker, not just the consumer.
 *
 * ```text
 * link     --a--b--c--d-·········   credit 4: the fifth waits at the broker
 * reader   ----a-------(paused)--   a accepted on read (settle 'on-read') → one credit back → e
 * ```
 *
 * The receive subscription starts at the first read. Deliveries wait in the stream unsettled, so
 * they hold link credit until the reader takes them (settle `'on-read'`) or settles them (`'manual'`):
 * a reader that stops reading stops the link after `credit` deliveries (R1, R2), and the broker
 * keeps the rest. Nothing is accepted before a reader has it.
 *
 * Destroying the stream — `destroy()`, a failed `pipeline`, `break` out of `for await` —
 * unsubscribes: the link detaches and every delivery not yet accepted, including those still in
 * the stream's buffer, is released to the broker (R3). When the receive stream completes (e.g.
 * `completeWhenIdle`, `client.close()`), the link likewise releases what waits; the stream skips
 * those deliveries and ends. When it errors, the stream is destroyed with that error. A reader is
 * never handed a delivery the link took back. To cancel with an `AbortSignal`, use `pipeline`'s
 * `{ signal }` or `stream.addAbortSignal(signal, readable)`: both destroy the stream.
 *
 * @param receive$ - Usually `client.receive(source, { credit })`; its `credit` bounds what the
 *   stream takes from the broker.
 * @param options - See {@link ToReadableOptions}.
 * @returns An object-mode `Readable` whose chunks are {@link Delivery} objects.
 * @throws {@link ConfigError} at call time for an unknown or invalid option.
 * @see {@link toWritable} for the sending end of a pipeline, {@link toAsyncIterable} for `for await`.
 * @example
 * import { pipeline } from 'node:stream/promises';
 * import { toReadable, toWritable } from 'rhea-rx';
 *
 * await pipeline(
 *   toReadable(client.receive<Order>('orders', { credit: 50 })),
 *   async function* (deliveries) { for await (const d of deliveries) yield invoiceFor(d.body); },
 *   toWritable(client, 'invoices'),
 * );
 */
export function toReadable<T = unknown>(receive$: Observable<Delivery<T>>, options: ToReadableOptions = {}): Readable {
  const o = optionsObject(options, 'toReadable');
  onlyKnownKeys(o, ['highWaterMark', 'settle', 'maxBuffered'], 'toReadable');
  const highWaterMark = integer(o.highWaterMark, 'toReadable.highWaterMark', 0, 1_000_000, 16);
  const settle = oneOf(o.settle, 'toReadable.settle', ['on-read', 'manual'], 'on-read');
  const maxBuffered = integer(o.maxBuffered, 'toReadable.maxBuffered', 1, 1_000_000_000, 10_000);
  return new DeliveryReadable<T>(receive$, highWaterMark, settle, maxBuffered);
}

class DeliveryReadable<T> extends Readable {
  readonly #queue: DeliveryQueue<T>;
  readonly #settleOnRead: boolean;
  /** The last `push` had room (or `_read` asked since): more may be pushed now. */
  #wanted = false;
  /** A `#flush` is running: pushing can run the reader's code, which can call back in. */
  #flushing = false;
  #endPushed = false;

  constructor(receive$: Observable<Delivery<T>>, highWaterMark: number, settle: 'on-read' | 'manual', maxBuffered: number) {
    super({ objectMode: true, highWaterMark });
    this.#settleOnRead = settle === 'on-read';
    this.#queue = new DeliveryQueue<T>(receive$, maxBuffered, () => this.#flush());
  }

  override _read(): void {
    this.#wanted = true;
    if (!this.#queue.started) this.#queue.start(); // the link attaches at the first read
    this.#flush();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#queue.stop(); // the link detaches and releases what is unsettled, buffered here or not (R3)
    callback(error);
  }

  /**
   * Every chunk leaves a Readable through a `'data'` event — from `read()` (which the async
   * iterator and flowing mode call too) or pushed straight to a flowing reader — so this is the
   * one place where a delivery is handed over: settle it here, and hold back one the link took
   * back while it sat in the buffer (the receive stream ended meanwhile).
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      const delivery = args[0] as Delivery<T>;
      if (takenBack(delivery)) return false;
      if (this.#settleOnRead && !delivery.settled) {
        try {
          delivery.accept();
        } catch (error) {
          this.destroy(error as Error);
          return false;
        }
      }
    }
    return super.emit(event, ...args);
  }

  /** Skips deliveries the link took back while they waited in the buffer (see `emit`). */
  override read(size?: number): unknown {
    for (;;) {
      const chunk: unknown = super.read(size);
      if (chunk === null || !takenBack(chunk as Delivery<T>)) return chunk;
    }
  }

  /** Moves waiting deliveries into the stream while it has room; ends or fails it with the source. */
  #flush(): void {
    if (this.#flushing || this.destroyed) return;
    this.#flushing = true;
    try {
      while (this.#wanted) {
        const delivery = this.#queue.take();
        if (delivery === undefined) break;
        this.#wanted = this.push(delivery);
      }
      if (this.#queue.ended && !this.destroyed) {
        const failure = this.#queue.error;
        if (failure !== undefined) this.destroy(failure.value as Error);
        else if (!this.#endPushed && this.#queue.isEmpty()) {
          this.#endPushed = true;
          this.push(null);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
