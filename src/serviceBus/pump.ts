import { batch } from '../../operators/batch.js';
import { lastValueFrom, Observable, type Subscriber, type Subscription, take, takeUntil, timer } from 'rxjs';
import { AmqpError } from '../errors/AmqpError.js';
import type { ReceivedMessage } from './ServiceBusReceivedMessage.js';

/**
 * How long a pull keeps collecting after its first message arrived (azure-servicebus's
 * `_further_pull_receive_timeout_ms`): messages that were already on their way join the batch.
 */
export const FURTHER_PULL_MS = 200;

/**
 * Keeps one receive link attached and holds what it delivers until the application pulls it: the
 * shape of azure-servicebus's receivers, whose messages stay settleable after `receive_messages`
 * returns (a session receiver for the whole session; a batch for as long as its messages are not
 * settled). The link's credit bounds what waits here (R1), so nothing grows without limit.
 *
 * One consumer at a time: {@link messages} emits what waits, then what comes; what it did not take
 * stays for the next one. When the link fails, the consumer gets the error and so does every
 * later pull.
 * @internal
 */
export class LinkPump<T> {
  readonly #source: Observable<ReceivedMessage<T>>;
  readonly #waiting: Array<ReceivedMessage<T>> = [];
  #link: Subscription | undefined;
  #consumer: Subscriber<ReceivedMessage<T>> | undefined;
  #error: unknown;
  #ended = false;
  /** Set by {@link closeWhenSettled}: new arrivals go straight back. */
  #draining = false;
  #onEnd: Array<(error: unknown) => void> = [];

  constructor(source: Observable<ReceivedMessage<T>>) {
    this.#source = source;
  }

  /** Attaches the link (subscribes to the source). */
  start(): void {
    if (this.#link !== undefined || this.#ended) return;
    this.#link = this.#source.subscribe({
      next: (message) => {
        if (this.#draining) {
          giveBack(message);
          return;
        }
        // In order: straight to the consumer only when nothing is waiting to be handed over first.
        if (this.#consumer !== undefined && !this.#consumer.closed && this.#waiting.length === 0) this.#consumer.next(message);
        else this.#waiting.push(message);
      },
      error: (error: unknown) => this.#end(error),
      complete: () => this.#end(undefined),
    });
  }

  /** The error the link ended with, if it failed. */
  get error(): unknown {
    return this.#error;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Calls `listener` when the link ends (undefined for a normal end). */
  onEnd(listener: (error: unknown) => void): void {
    if (this.#ended) listener(this.#error);
    else this.#onEnd.push(listener);
  }

  /**
   * What waits, then what arrives, until unsubscribed. Errors with the link's error; completes when
   * the link ends normally. A second consumer while one is subscribed gets an error.
   */
  messages(): Observable<ReceivedMessage<T>> {
    return new Observable<ReceivedMessage<T>>((subscriber) => {
      if (this.#consumer !== undefined && !this.#consumer.closed) {
        subscriber.error(new AmqpError('This receiver is already being received from: one receive at a time'));
        return;
      }
      this.#consumer = subscriber;
      // why: hand over what waits in a microtask, not here. While this function runs, an operator
      // further down that has had enough (take, batch) cannot yet reach up and unsubscribe us — its
      // teardown is not wired until subscribe returns — so anything emitted now past its need
      // would be swallowed. Afterwards `subscriber.closed` tells the truth after every message.
      queueMicrotask(() => {
        while (this.#waiting.length > 0 && this.#consumer === subscriber && !subscriber.closed) subscriber.next(this.#waiting.shift()!);
        if (this.#consumer === subscriber && !subscriber.closed && this.#ended) {
          if (this.#error !== undefined) subscriber.error(this.#error);
          else subscriber.complete();
        }
      });
      return () => {
        if (this.#consumer === subscriber) this.#consumer = undefined;
      };
    });
  }

  /**
   * Pulls a batch: waits up to `maxWaitTime` ms for a first message (forever for `Infinity`), then
   * collects for at most {@link FURTHER_PULL_MS} more, up to `maxCount` messages. Resolves with what
   * it got, possibly none.
   */
  take(maxCount: number, maxWaitTime: number): Promise<Array<ReceivedMessage<T>>> {
    const source = maxWaitTime === Infinity ? this.messages() : this.messages().pipe(takeUntil(timer(maxWaitTime)));
    return lastValueFrom(source.pipe(batch({ maxCount, maxWaitTime: FURTHER_PULL_MS }), take(1)), { defaultValue: [] });
  }

  /**
   * Stops taking messages — anything waiting, and anything that still arrives, goes back to the
   * service — and detaches the link once every message in `taken` is settled (at once when there
   * are none).
   */
  closeWhenSettled(taken: ReadonlyArray<ReceivedMessage<T>>): void {
    this.#draining = true;
    for (const message of this.#waiting.splice(0)) giveBack(message);
    let open = taken.filter((m) => !m.settled).length;
    if (open === 0) {
      this.close();
      return;
    }
    for (const message of taken) {
      if (message.settled) continue;
      message.onSettled(() => {
        if (--open === 0) this.close();
      });
    }
  }

  /** Detaches the link; what the application still holds is released by it (R3). Idempotent. */
  close(): void {
    this.#waiting.length = 0;
    const link = this.#link;
    this.#link = undefined;
    link?.unsubscribe();
    if (!this.#ended) this.#end(undefined);
  }

  #end(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (consumer !== undefined && !consumer.closed) {
      if (error !== undefined) consumer.error(error);
      else consumer.complete();
    }
    const listeners = this.#onEnd;
    this.#onEnd = [];
    for (const listener of listeners) listener(error);
  }
}

/** Hands a message the application never saw back to the service, unchanged. */
function giveBack(message: ReceivedMessage<unknown>): void {
  if (message.settled) return;
  try {
    message.release();
  } catch {
    // its link is gone: the service has it back already
  }
}
