import type { Readable } from 'node:stream';
import { interval, map, type Observable, Observable as RxObservable, type OperatorFunction, takeWhile } from 'rxjs';
import { resolveReceiveOptions, resolveSendOptions, type ReceiveOptions, type SendOptions } from '../config/options.js';
import { address, integer, invalid, onlyKnownKeys, optionsObject } from '../config/validate.js';
import type { Delivery } from '../delivery/Delivery.js';
import type { OutgoingMessage } from '../delivery/message.js';
import type { Outcome } from '../delivery/Outcome.js';
import { abortErrorOf, onAbort, signalOption } from '../errors/AbortError.js';
import { SendFailedError } from '../errors/errors.js';
import { receiveLink } from '../links/receiveLink.js';
import { type OutcomeSink, SendEngine } from '../links/sendLink.js';
import type { ClientState, ClientStats, ConnectionManager, PeerInfo } from './ConnectionManager.js';

/** Options of {@link Client.receiveOne}. */
export interface ReceiveOneOptions extends Omit<ReceiveOptions, 'credit' | 'creditBatch'> {
  /** How long to wait for a message, in milliseconds; then the result is `undefined`. @default 5000 */
  timeout?: number;
  /**
   * Stops the wait: the promise rejects with an `AbortError` and the link detaches. Once a
   * delivery has been returned, aborting has no effect on it. An already aborted signal rejects
   * at once, without attaching a link.
   */
  signal?: AbortSignal;
}

/** Options of {@link Client.close}. */
export interface CloseOptions {
  /** How long to wait for in-flight sends to settle and for the peer to answer the close, in milliseconds. @default the client's `closeTimeout` */
  timeout?: number;
  /**
   * Stops waiting for the close: the promise rejects with an `AbortError` at once. The close itself
   * goes on in the background, bounded by `timeout` (it has already begun and cannot be undone).
   */
  signal?: AbortSignal;
}

/** Options of {@link Client.sendFrom}. */
export interface SendFromOptions<T = unknown> extends SendOptions<T> {
  /**
   * Cancels the send: the source is no longer read (its iterator's `return()` runs, which destroys
   * a Readable), the link detaches, and the stream errors with a `SendFailedError` whose `cause` is
   * an `AbortError` and whose `unsettled` lists every message read from the source without an
   * outcome (S1). An already aborted signal fails the stream at subscription, before the source is
   * read or a link attached.
   */
  signal?: AbortSignal;
}

/** What `sendFrom` can pull from: an async iterable, an iterable, or a Node Readable in object mode. */
export type PullSource<T> = AsyncIterable<T | OutgoingMessage<T>> | Iterable<T | OutgoingMessage<T>> | Readable;

/**
 * An AMQP 1.0 client: one connection, shared by every link it opens, opened on first use.
 * Made by `createClient`.
 */
export class Client {
  readonly #manager: ConnectionManager;
  readonly #closeTimeout: number;
  readonly #defaultAddress: string | undefined;

  /** @internal Use `createClient`. */
  constructor(manager: ConnectionManager, closeTimeout: number, defaultAddress: string | undefined) {
    this.#manager = manager;
    managers.set(this, manager);
    this.#closeTimeout = closeTimeout;
    this.#defaultAddress = defaultAddress;
  }

  /**
   * The connection's life: `idle`, `connecting`, `open`, `reconnecting`, `closed`, with the attempt
   * number and the last error. Replays the current state to each subscriber; completes on close.
   */
  get state$(): Observable<ClientState> {
    return this.#manager.state$;
  }

  /**
   * A snapshot of the client: connection status, reconnects so far, and for each link its address
   * and counters — a receiver's credit, held deliveries and unused link credit; a sender's
   * messages in flight and waiting for credit.
   */
  stats(): ClientStats {
    return this.#manager.stats();
  }

  /** {@link stats} every `periodMs` milliseconds (1000 by default) while subscribed, e.g. for a progress line. */
  watchStats(periodMs = 1000): Observable<ClientStats> {
    const period = integer(periodMs, 'periodMs', 1, 2_147_483_647, 1000);
    return interval(period).pipe(map(() => this.#manager.stats()));
  }

  /** What the peer said about itself when the connection opened (product, version, capabilities); undefined before. */
  get peer(): PeerInfo | undefined {
    return this.#manager.peer;
  }

  /** The address from the URL's path, used when `receive`, `send` or `sendFrom` is given none. */
  get defaultAddress(): string | undefined {
    return this.#defaultAddress;
  }

  /**
   * Receives from `source` as a cold Observable of deliveries: each subscription attaches one
   * receiver link; unsubscribing detaches it.
   *
   * ```text
   * link      --a--b--c----d--|
   * settle       ^ a.accept()     credit returns here, not on emission (R2)
   * ```
   *
   * At most `credit` deliveries are held by the application or on their way (R1); credit returns
   * as deliveries are settled, in batches (R2). One delivery held for as long as you like does not
   * stop the others (R5). When the subscription ends — unsubscribe, error, or `client.close()` —
   * every delivery still unsettled is released to the broker, and settling it later throws
   * `DeliveryAlreadySettledError` (R3).
   *
   * @param source - The address to receive from, e.g. a queue name. @default the URL's path
   * @param options - See {@link ReceiveOptions}.
   * @returns A cold Observable of {@link Delivery}; errors with an `AmqpError` subclass.
   * @throws {@link ConfigError} at call time for an unknown or invalid option.
   * @example
   * client.receive<Order>('orders', { credit: 50 }).subscribe((d) => { handle(d.body); d.accept(); });
   */
  receive<T = unknown>(source?: string, options?: ReceiveOptions): Observable<Delivery<T>> {
    const resolved = resolveReceiveOptions(options);
    if (resolved.dynamic) {
      if (source !== undefined && source !== '') invalid('source', "no address with dynamic: true (the peer names the node), or ''", source);
      return receiveLink<T>(this.#manager, '', resolved);
    }
    const from = address(source ?? this.#defaultAddress, 'source');
    return receiveLink<T>(this.#manager, from, resolved);
  }

  /**
   * Gets one message, like AMQP 0-9-1's `basic.get`: attaches a link with credit 1, waits up to
   * `timeout` ms, and resolves with the delivery or `undefined` when none came.
   *
   * The link stays attached until the delivery is settled (so it stays locked, not redelivered),
   * then detaches. No drain is used, so it works on brokers that refuse a drain with credit left.
   * `signal` cancels the wait with an `AbortError`; its listener is removed however the call ends.
   * A link error (the address does not exist, the connection is lost and reconnect is off) rejects
   * with the `AmqpError` subclass that says so.
   *
   * @param source - The address to receive from. @default the URL's path
   * @param options - `timeout`, `signal`, and the {@link ReceiveOptions} other than credit.
   * @returns The delivery, to settle as usual, or `undefined` when none came within `timeout`.
   * @throws {@link ConfigError} at call time for an invalid option.
   * @example
   * const d = await client.receiveOne<Job>('jobs', { timeout: 1000 });
   * if (d !== undefined) {
   *   await run(d.body);
   *   d.accept(); // the link detaches once the delivery is settled
   * }
   */
  receiveOne<T = unknown>(source?: string, options: ReceiveOneOptions = {}): Promise<Delivery<T> | undefined> {
    const { timeout: rawTimeout, signal: rawSignal, ...rest } = optionsObject(options, '') as ReceiveOneOptions;
    const timeout = integer(rawTimeout, 'timeout', 0, 2_147_483_647, 5000);
    const signal = signalOption(rawSignal, 'signal');
    const link = this.receive<T>(source, { ...rest, credit: 1, creditBatch: 1 });
    const what = `Receiving one message from '${source ?? this.#defaultAddress ?? ''}'`;
    if (signal?.aborted) return Promise.reject(abortErrorOf(signal, what));
    return new Promise<Delivery<T> | undefined>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => finish(undefined), timeout);
      const removeAbort = onAbort(signal, () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        subscription.unsubscribe(); // detach: nothing is held yet, so nothing is released
        reject(abortErrorOf(signal!, what));
      });
      const subscription = link.subscribe({
        next: (delivery) => {
          if (delivery.settled) {
            // Pre-settled (at-most-once, or a peer that settles what it sends): nothing to wait for,
            // and the link must go now, before its returned credit brings a message no one takes.
            finish(delivery);
            subscription?.unsubscribe();
            return;
          }
          finish(detachOnSettle(delivery, () => subscription.unsubscribe()));
        },
        error: (error: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          removeAbort();
          reject(error);
        },
        complete: () => finish(undefined),
      });
      function finish(delivery: Delivery<T> | undefined): void {
        if (done) return;
        done = true;
        clearTimeout(timer);
        removeAbort();
        if (delivery === undefined) subscription?.unsubscribe();
        resolve(delivery);
      }
    });
  }

  /**
   * Sends each input message to `target` and emits its outcome: an operator for any Observable.
   *
   * ```text
   * input     -a-b-c----|
   * output    ---A--B-C-|     A, B, C: the outcome of a, b, c (accepted, rejected, released, modified)
   * ```
   *
   * Messages go on the wire only while the link has credit, and at most `maxInFlight` are unsettled
   * at the peer (S2). A source that outruns credit fills a buffer of `bufferSize`; when it is full
   * the `overflow` policy applies. Every input gets exactly one outcome, or — if the stream fails —
   * is listed in the `SendFailedError`'s `unsettled` (S1). For large or synchronous sources (an
   * array of a million), use {@link sendFrom}, which pulls only as credit allows.
   *
   * A bare value is sent as the body; use `message(body, fields)` for properties and annotations.
   * Each subscription attaches one sender link. Unsubscribing takes no more input and detaches it:
   * messages already sent get no outcome here, and their fate is the peer's.
   *
   * @param target - The address to send to; `null` for the peer's anonymous relay, where each
   *   message goes to its own `properties.to` (one link for many addresses, e.g. a server's
   *   replies; a message without `to` gets a client-made `rejected` outcome with a
   *   `MessageEncodeError`; a peer that does not offer ANONYMOUS-RELAY fails the stream with
   *   `NotSupportedError`). @default the URL's path
   * @param options - See {@link SendOptions}.
   * @returns An operator that emits one {@link Outcome} per input message, as the peer settles
   *   them. It errors with a `SendFailedError` listing the messages without an outcome in
   *   `unsettled`; its `cause` says why (`BufferOverflowError`, `ConnectionLostError`, …).
   * @throws {@link ConfigError} at call time for an unknown or invalid option.
   * @example
   * from(orders).pipe(client.send('orders')).subscribe((o) => console.log(o.state));
   */
  send<T = unknown>(target?: string | null, options?: SendOptions<T>): OperatorFunction<T | OutgoingMessage<T>, Outcome<T>> {
    const to = target === null ? null : address(target ?? this.#defaultAddress, 'target');
    const resolved = resolveSendOptions<T>(options);
    const manager = this.#manager;
    return (input) =>
      new RxObservable<Outcome<T>>((subscriber) => {
        const engine = new SendEngine<T>(manager, to, resolved, sinkOf(subscriber));
        engine.start();
        // takeWhile stops a synchronous source (from(array)) as soon as the engine has ended.
        const upstream = input.pipe(takeWhile(() => !engine.ended)).subscribe({
          next: (value) => engine.push(value),
          error: (error: unknown) => engine.abort(error),
          complete: () => engine.end(),
        });
        return () => {
          upstream.unsubscribe(); // 1. take no more input
          engine.dispose(); //       2. detach; outcomes still due are not reported
        };
      });
  }

  /**
   * Sends what a pull source yields, reading it only as link credit allows (S4): end-to-end
   * backpressure from the broker to the producer, with no buffer growth.
   *
   * `options.signal` cancels it: see {@link SendFromOptions.signal}. Unsubscribing stops reading
   * (the iterator's `return()` runs, which destroys a Readable) and detaches the link; an error
   * thrown by the source fails the stream with a `SendFailedError` listing the messages read but
   * not yet settled.
   *
   * @param source - An async iterable (an async generator), an iterable, or an object-mode Readable.
   * @param target - The address to send to; `null` for the peer's anonymous relay, where each
   *   message goes to its own `properties.to` (one link for many addresses, e.g. a server's
   *   replies; a message without `to` gets a client-made `rejected` outcome with a
   *   `MessageEncodeError`; a peer that does not offer ANONYMOUS-RELAY fails the stream with
   *   `NotSupportedError`). @default the URL's path
   * @param options - See {@link SendFromOptions}.
   * @returns A cold Observable of one {@link Outcome} per message; completes after the last outcome.
   * @throws {@link ConfigError} at call time for an invalid source or option.
   * @example
   * async function* readOrders() {
   *   for await (const row of db.stream('SELECT * FROM orders')) {
   *     yield message(row, { properties: { messageId: row.id } });
   *   }
   * }
   * client.sendFrom(readOrders(), 'orders', { maxInFlight: 20 }).subscribe({ error: console.error });
   */
  sendFrom<T = unknown>(source: PullSource<T>, target?: string | null, options?: SendFromOptions<T>): Observable<Outcome<T>> {
    const iterable = source as Partial<AsyncIterable<unknown>> & Partial<Iterable<unknown>>;
    if (
      source === null ||
      typeof source !== 'object' ||
      (typeof iterable[Symbol.asyncIterator] !== 'function' && typeof iterable[Symbol.iterator] !== 'function')
    ) {
      invalid('source', 'an AsyncIterable, an Iterable or a Readable', source);
    }
    const to = target === null ? null : address(target ?? this.#defaultAddress, 'target');
    const { signal: rawSignal, ...sendOptions } = optionsObject(options, '') as SendFromOptions<T>;
    const signal = signalOption(rawSignal, 'signal');
    const resolved = resolveSendOptions<T>(sendOptions);
    const manager = this.#manager;
    return new RxObservable<Outcome<T>>((subscriber) => {
      const what = to === null ? 'Sending through the anonymous relay' : `Sending to '${to}'`;
      if (signal?.aborted) {
        subscriber.error(new SendFailedError(`${what} was aborted before it started`, [], { cause: abortErrorOf(signal, what) }));
        return;
      }
      const engine = new SendEngine<T>(manager, to, resolved, sinkOf(subscriber));
      const iterator: AsyncIterator<T | OutgoingMessage<T>> | Iterator<T | OutgoingMessage<T>> =
        typeof iterable[Symbol.asyncIterator] === 'function'
          ? (source as AsyncIterable<T | OutgoingMessage<T>>)[Symbol.asyncIterator]()
          : (source as Iterable<T | OutgoingMessage<T>>)[Symbol.iterator]();
      let stopped = false;
      let pulling = false;
      // Pulls one message each time the link can take one, and waits otherwise (S4).
      const pull = async (): Promise<void> => {
        if (pulling || stopped) return;
        pulling = true;
        try {
          while (!stopped) {
            if (!engine.hasRoom()) {
              engine.whenRoom(() => void pull());
              return;
            }
            const next = await iterator.next();
            if (stopped) return;
            if (next.done === true) {
              engine.end();
              return;
            }
            engine.push(next.value);
          }
        } catch (error) {
          if (!stopped) engine.abort(error);
        } finally {
          pulling = false;
        }
      };
      engine.whenRoom(() => void pull());
      const removeAbort = onAbort(signal, () => engine.abort(abortErrorOf(signal!, what)));
      engine.start();
      return () => {
        stopped = true;
        removeAbort();
        engine.dispose();
        void Promise.resolve(iterator.return?.()).catch(() => undefined);
      };
    });
  }

  /**
   * Closes the client: waits for in-flight sends to settle (up to `timeout` ms), completes every
   * receive stream (releasing what it holds), detaches every link and closes the connection.
   * Send streams still waiting for outcomes at the deadline fail with `SendFailedError` listing
   * them. Idempotent. `signal` stops the wait, not the close: see {@link CloseOptions.signal}.
   *
   * @param options - See {@link CloseOptions}.
   * @example
   * process.once('SIGTERM', () => void client.close({ timeout: 5000 }));
   */
  async close(options: CloseOptions = {}): Promise<void> {
    const o = optionsObject(options, '');
    onlyKnownKeys(o, ['timeout', 'signal'], '');
    const timeout = integer(o.timeout, 'timeout', 0, 2_147_483_647, this.#closeTimeout);
    const signal = signalOption(o.signal, 'signal');
    const closing = this.#manager.close(timeout);
    if (signal === undefined) return closing;
    closing.catch(() => undefined); // once aborted, no one hears it: it must not become unhandled
    if (signal.aborted) throw abortErrorOf(signal, 'Closing the client');
    await new Promise<void>((resolve, reject) => {
      const removeAbort = onAbort(signal, () => reject(abortErrorOf(signal, 'Closing the client')));
      closing.then(
        () => {
          removeAbort();
          resolve();
        },
        (error: unknown) => {
          removeAbort();
          reject(error);
        },
      );
    });
  }
}

const managers = new WeakMap<Client, ConnectionManager>();

/**
 * The connection owner behind a client, for modules built on top of it that open links of their own
 * (Azure Service Bus's `$cbs` and `$management` request/response links). Not part of the public API.
 * @internal
 */
export function connectionManagerOf(client: Client): ConnectionManager {
  const manager = managers.get(client);
  if (manager === undefined) throw new TypeError('Not a client made by createClient');
  return manager;
}

function sinkOf<T>(subscriber: { next(o: Outcome<T>): void; error(e: unknown): void; complete(): void }): OutcomeSink<T> {
  return {
    next: (outcome) => subscriber.next(outcome),
    error: (error) => subscriber.error(error),
    complete: () => subscriber.complete(),
  };
}

/** Wraps a delivery so that settling it also ends the link it came on (for receiveOne). */
function detachOnSettle<T>(delivery: Delivery<T>, detach: () => void): Delivery<T> {
  const settleThen = (settle: () => void): void => {
    try {
      settle();
    } finally {
      // Also when settling threw because it was settled before or its link is gone; not when a
      // refused modify left it unsettled (it can still be released or rejected on this link).
      if (delivery.settled) detach();
    }
  };
  return {
    get body() {
      return delivery.body;
    },
    get message() {
      return delivery.message;
    },
    get deliveryCount() {
      return delivery.deliveryCount;
    },
    get address() {
      return delivery.address;
    },
    get settled() {
      return delivery.settled;
    },
    get settledAs() {
      return delivery.settledAs;
    },
    accept() {
      settleThen(() => delivery.accept());
    },
    reject(error) {
      settleThen(() => delivery.reject(error));
    },
    release() {
      settleThen(() => delivery.release());
    },
    modify(options) {
      settleThen(() => delivery.modify(options));
    },
  };
}
