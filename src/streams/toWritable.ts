import { Writable } from 'node:stream';
import { type OperatorFunction, Subject, type Subscription } from 'rxjs';
import type { Client } from '../client/Client.js';
import type { SendOptions } from '../config/options.js';
import { integer, invalid, optionsObject } from '../config/validate.js';
import type { OutgoingMessage } from '../delivery/message.js';
import type { Outcome, OutcomeState } from '../delivery/Outcome.js';
import { SendFailedError } from '../errors/errors.js';
import { OutcomeError } from '../errors/OutcomeError.js';

/** Options of {@link toWritable}: the send options, plus how the stream buffers and judges outcomes. */
export interface ToWritableOptions<T = unknown> extends SendOptions<T> {
  /**
   * How many messages `write()` takes before it returns `false` (the Writable's `highWaterMark`, in
   * objects). Messages go to the link in batches of what is buffered, so this is also about how
   * many are on their way at once: raise it for throughput, lower it for a tighter bound.
   * @default 16
   */
  highWaterMark?: number;
  /**
   * The outcome states that count as success: a write whose message gets one of them calls back
   * without an error. Any other outcome calls back with an {@link OutcomeError}, which fails the
   * stream (and a `pipeline`). Must include `'accepted'`.
   * @default ['accepted']: rejected, released and modified are errors
   */
  allow?: readonly OutcomeState[];
  /** Called with every outcome, allowed or not, before the write calls back: for counting, logging, progress. */
  onOutcome?: (outcome: Outcome<T>) => void;
}

const states: readonly OutcomeState[] = ['accepted', 'rejected', 'released', 'modified'];

/**
 * An object-mode Node `Writable` that sends each chunk to `target` and calls the write back when
 * the peer has settled it — on its outcome, not when it was handed to the socket — so that
 * `stream.pipeline(source, transform, toWritable(client, target))` has backpressure from the
 * broker all the way to the source.
 *
 * ```text
 * write     -a-b-c-------d--
 * callback  ----a-b-c------d   each one on its outcome (accepted → callback(); else → callback(error))
 * ```
 *
 * A chunk is a body, or a `message(body, fields)`. The link opens at the first write (`client.send`
 * underneath: credit, `maxInFlight` and the other {@link SendOptions} apply). Chunks go out in
 * batches of what the stream has buffered, and the next batch waits for every outcome of the
 * previous one, so a broker that is slow to settle, or out of credit, stops the writer after
 * `highWaterMark` messages. An outcome not in `allow` fails the write with an {@link OutcomeError},
 * after the rest of its batch is settled; a failure of the link fails it with a
 * {@link SendFailedError} whose `unsettled` lists the messages of the batch without an outcome
 * (S1). `end()` finishes once every outcome is in; `destroy()` detaches the link at once, and a
 * batch still waiting calls back with a `SendFailedError` listing what has no outcome. To cancel
 * with an `AbortSignal`, use `pipeline`'s `{ signal }` or `stream.addAbortSignal(signal, writable)`.
 *
 * @param client - The client to send with.
 * @param target - The address to send to. @default the client URL's path
 * @param options - See {@link ToWritableOptions}.
 * @returns An object-mode `Writable`.
 * @throws {@link ConfigError} at call time for an unknown or invalid option.
 * @see {@link toReadable} for the receiving end, `client.sendFrom` for a pull source without a pipeline.
 * @example
 * import { Readable } from 'node:stream';
 * import { pipeline } from 'node:stream/promises';
 * import { toWritable } from 'rhea-rx';
 *
 * await pipeline(Readable.from(readOrders()), toWritable(client, 'orders', { highWaterMark: 100 }));
 */
export function toWritable<T = unknown>(client: Pick<Client, 'send'>, target?: string, options: ToWritableOptions<T> = {}): Writable {
  const { highWaterMark: rawHighWaterMark, allow: rawAllow, onOutcome, ...sendOptions } = optionsObject(options, 'toWritable') as ToWritableOptions<T>;
  const highWaterMark = integer(rawHighWaterMark, 'toWritable.highWaterMark', 0, 1_000_000, 16);
  const allow = rawAllow ?? ['accepted'];
  if (!Array.isArray(allow) || !allow.includes('accepted') || allow.some((state) => !states.includes(state))) {
    invalid('toWritable.allow', `an array of outcome states (${states.map((s) => `'${s}'`).join(', ')}) that includes 'accepted'`, allow);
  }
  if (onOutcome !== undefined && typeof onOutcome !== 'function') invalid('toWritable.onOutcome', 'a function', onOutcome);
  const operator = client.send<T>(target, sendOptions); // validates the target and the send options now
  return new OutcomeWritable<T>(operator, highWaterMark, new Set(allow), onOutcome);
}

type Input<T> = T | OutgoingMessage<T>;

/** The messages of one `_write`/`_writev`, and the callback that waits for all their outcomes. */
interface Batch<T> {
  /** Messages without an outcome yet, in input order. */
  readonly pending: Input<T>[];
  /** The first outcome not allowed, or an error thrown by `onOutcome`: the batch's callback gets it. */
  failure: Error | undefined;
  readonly callback: (error?: Error | null) => void;
}

class OutcomeWritable<T> extends Writable {
  readonly #operator: OperatorFunction<Input<T>, Outcome<T>>;
  readonly #allowed: ReadonlySet<OutcomeState>;
  readonly #onOutcome: ((outcome: Outcome<T>) => void) | undefined;
  /** Feeds the send operator; undefined when no send subscription is open. */
  #input: Subject<Input<T>> | undefined;
  #subscription: Subscription | undefined;
  #batch: Batch<T> | undefined;
  #finalCallback: ((error?: Error | null) => void) | undefined;

  constructor(
    operator: OperatorFunction<Input<T>, Outcome<T>>,
    highWaterMark: number,
    allowed: ReadonlySet<OutcomeState>,
    onOutcome: ((outcome: Outcome<T>) => void) | undefined,
  ) {
    super({ objectMode: true, highWaterMark });
    this.#operator = operator;
    this.#allowed = allowed;
    this.#onOutcome = onOutcome;
  }

  override _write(chunk: Input<T>, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Input<T> }>, callback: (error?: Error | null) => void): void {
    this.#send(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    const input = this.#input;
    if (input === undefined) {
      callback();
      return;
    }
    this.#finalCallback = callback; // called when the send stream completes: every outcome is in
    input.complete();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const batch = this.#batch;
    this.#batch = undefined;
    this.#finalCallback = undefined;
    this.#close(); // detach now; outcomes still due are not reported
    if (batch !== undefined && batch.pending.length > 0) {
      // S1: a write that will never see its outcome says so, listing what is unconfirmed.
      batch.callback(
        new SendFailedError<Input<T>>(
          `The stream was destroyed with ${batch.pending.length} message(s) sent and not yet settled by the peer`,
          [...batch.pending],
          { cause: error ?? undefined },
        ),
      );
    }
    callback(error);
  }

  #send(inputs: Input<T>[], callback: (error?: Error | null) => void): void {
    const batch: Batch<T> = { pending: [...inputs], failure: undefined, callback };
    this.#batch = batch;
    const input = this.#open();
    for (const value of inputs) {
      if (this.#batch !== batch) return; // the send stream failed on an earlier one (e.g. not encodable)
      input.next(value);
    }
  }

  /** The send subscription, opened at the first write and again after the client closed it idle. */
  #open(): Subject<Input<T>> {
    if (this.#input !== undefined) return this.#input;
    const input = new Subject<Input<T>>();
    this.#input = input;
    this.#subscription = input.pipe(this.#operator).subscribe({
      next: (outcome) => this.#outcome(outcome),
      error: (error: Error) => this.#failed(input, error),
      complete: () => this.#completed(input),
    });
    return input;
  }

  #outcome(outcome: Outcome<T>): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    const index = batch.pending.indexOf(outcome.message);
    batch.pending.splice(index === -1 ? 0 : index, 1);
    if (!this.#allowed.has(outcome.state)) batch.failure ??= new OutcomeError(describeOutcome(outcome), outcome);
    try {
      this.#onOutcome?.(outcome);
    } catch (error) {
      batch.failure ??= error instanceof Error ? error : new Error(String(error));
    }
    if (batch.pending.length > 0) return;
    this.#batch = undefined;
    batch.callback(batch.failure ?? null);
  }

  /** The send stream failed (S1: its `unsettled` lists the batch's messages without an outcome). */
  #failed(input: Subject<Input<T>>, error: Error): void {
    if (this.#input !== input) return;
    this.#input = undefined;
    this.#subscription = undefined;
    const batch = this.#batch;
    const final = this.#finalCallback;
    this.#batch = undefined;
    this.#finalCallback = undefined;
    if (batch !== undefined) batch.callback(error);
    else if (final !== undefined) final(error);
    else this.destroy(error); // the link failed between writes: nothing is unconfirmed, but say so
  }

  #completed(input: Subject<Input<T>>): void {
    if (this.#input !== input) return;
    this.#input = undefined;
    this.#subscription = undefined;
    const final = this.#finalCallback;
    this.#finalCallback = undefined;
    // Without `end()`, only a closing client completes the send stream, and only when nothing is
    // unconfirmed; the next write opens a new one (which fails if the client is closed).
    final?.();
  }

  #close(): void {
    const subscription = this.#subscription;
    this.#input = undefined;
    this.#subscription = undefined;
    subscription?.unsubscribe();
  }
}

function describeOutcome(outcome: Outcome<unknown>): string {
  const reason = outcome.error === undefined ? '' : ` (${outcome.error.condition}${outcome.error.description === undefined ? '' : `: ${outcome.error.description}`})`;
  switch (outcome.state) {
    case 'rejected':
      return `The peer rejected a written message${reason}: it will not take this message`;
    case 'released':
      return 'The peer released a written message: it did not process it; writing it again may succeed';
    case 'modified':
      return 'The peer returned a written message as modified: it did not process it';
    default:
      return `The peer settled a written message as ${outcome.state}, which this stream does not allow`;
  }
}
