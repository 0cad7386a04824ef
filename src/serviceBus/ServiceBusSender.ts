import { randomUUID } from 'node:crypto';
import { catchError, from, lastValueFrom, map, Observable, type OperatorFunction, type Subscriber, type Subscription, throwError, toArray } from 'rxjs';
import type { SendOptions } from '../config/options.js';
import type { OutgoingMessage } from '../delivery/message.js';
import type { Outcome } from '../delivery/Outcome.js';
import { AmqpError } from '../errors/AmqpError.js';
import { ConfigError, SendFailedError } from '../errors/errors.js';
import { translate } from '../errors/translate.js';
import { encodeMessage } from './amqp.js';
import { toServiceBusError } from './errors.js';
import type { ServiceBusContext } from './management.js';
import { type ServiceBusMessage, toAmqpMessage } from './message.js';

/** The outcome of one sent message, with the message as it was given. */
export type ServiceBusOutcome<T = unknown> = Omit<Outcome<T>, 'message'> & { readonly message: ServiceBusMessage<T> };

/** Options of {@link ServiceBusSender.send}: the flow control of `client.send`. */
export type ServiceBusSendOptions = Pick<SendOptions, 'maxInFlight' | 'bufferSize'>;

/**
 * Sends to a queue or topic (made by `ServiceBusClient.createSender`): as an operator
 * ({@link send}), as a promise ({@link sendMessages}), or scheduled for later
 * ({@link scheduleMessages}, {@link cancelScheduledMessages}).
 */
export class ServiceBusSender {
  /** The queue or topic. */
  readonly entityPath: string;
  readonly #context: ServiceBusContext;
  #closed = false;

  /** @internal Use `ServiceBusClient.createSender`. */
  constructor(context: ServiceBusContext, entityPath: string) {
    this.#context = context;
    this.entityPath = entityPath;
  }

  /**
   * Sends each input message and emits its outcome: `client.send` for Service Bus messages.
   *
   * ```text
   * input     -a-b-c----|
   * output    ---A--B-C-|     A, B, C: the outcome of a, b, c (accepted unless the service refused)
   * ```
   *
   * The input is subscribed at once; its messages wait until the entity is authorized (the CBS
   * token is on the connection), then go out as link credit allows (S2). Every input gets one
   * outcome, or is listed in the `SendFailedError` that ends the stream (S1), with the message as
   * it was given.
   *
   * @example
   * from([{ body: 'First message' }, { body: 'Second message' }]).pipe(sender.send()).subscribe((o) => console.log(o.state));
   */
  send<T = unknown>(options: ServiceBusSendOptions = {}): OperatorFunction<ServiceBusMessage<T>, ServiceBusOutcome<T>> {
    const context = this.#context;
    const entityPath = this.entityPath;
    const linkName = () => `sender-link-${randomUUID()}`;
    return (input) => {
      const originals = new WeakMap<object, ServiceBusMessage<T>>();
      const original = (m: unknown) => originals.get(m as object) ?? (m as ServiceBusMessage<T>);
      return afterAuthorization(
        input,
        () => {
          if (this.#closed) return Promise.reject(new AmqpError(`The sender for '${entityPath}' is closed`));
          return context.authorize(entityPath);
        },
        (held) =>
          held.pipe(
            map((message, index) => {
              const out = toAmqpMessage(message, `messages[${index}]`);
              originals.set(out, message);
              return out as OutgoingMessage<T>;
            }),
            context.client.send<T>(entityPath, { ...options, linkName: linkName() }),
            map((outcome): ServiceBusOutcome<T> => ({ ...outcome, message: original(outcome.message) })),
            catchError((error: unknown) => {
              if (error instanceof SendFailedError) {
                const cause = toServiceBusError(error.cause);
                return throwError(
                  () => new SendFailedError(error.message, error.unsettled.map(original), { condition: error.condition, description: error.description, retryable: error.retryable, cause }),
                );
              }
              return throwError(() => toServiceBusError(error));
            }),
          ),
      );
    };
  }

  /**
   * Sends one message or a list and resolves once the service has accepted every one
   * (azure-servicebus's `send_messages`).
   *
   * @throws (rejects) `SendFailedError` listing the messages the service did not accept, with the
   *   reason as `cause` (e.g. `MessageTooLargeError`, `QuotaExceededError`).
   * @example
   * await sender.sendMessages({ body: 'Single message' });
   * await sender.sendMessages([{ body: 'First message' }, { body: 'Second message' }]);
   */
  async sendMessages<T = unknown>(messages: ServiceBusMessage<T> | ReadonlyArray<ServiceBusMessage<T>>): Promise<void> {
    const list = Array.isArray(messages) ? [...(messages as ReadonlyArray<ServiceBusMessage<T>>)] : [messages as ServiceBusMessage<T>];
    if (list.length === 0) return;
    list.forEach((m, i) => toAmqpMessage(m, `messages[${i}]`)); // fail before anything is sent
    const outcomes = await lastValueFrom(from(list).pipe(this.send<T>(), toArray()));
    const refused = outcomes.filter((o) => o.state !== 'accepted');
    if (refused.length === 0) return;
    const first = refused[0]!;
    const cause =
      first.error === undefined
        ? new AmqpError(`'${this.entityPath}' did not accept the message (${first.state})`, { retryable: first.state === 'released' })
        : toServiceBusError(translate(first.error, 'link', this.entityPath));
    throw new SendFailedError(
      `${refused.length} of ${list.length} message(s) to '${this.entityPath}' were not accepted: ${cause instanceof Error ? cause.message : String(cause)}`,
      refused.map((o) => o.message),
      { retryable: cause instanceof AmqpError && cause.retryable, cause },
    );
  }

  /**
   * Schedules messages to be enqueued at `scheduledEnqueueTimeUtc` (`schedule-message` on
   * `$management`); resolves with their sequence numbers, for {@link cancelScheduledMessages}. A
   * message without a `messageId` gets a random one (the service needs one).
   */
  async scheduleMessages<T = unknown>(messages: ServiceBusMessage<T> | ReadonlyArray<ServiceBusMessage<T>>, scheduledEnqueueTimeUtc: Date): Promise<bigint[]> {
    this.#checkOpen();
    if (!(scheduledEnqueueTimeUtc instanceof Date) || Number.isNaN(scheduledEnqueueTimeUtc.getTime())) {
      throw new ConfigError('scheduledEnqueueTimeUtc', 'scheduleMessages: the enqueue time must be a valid Date');
    }
    const list = Array.isArray(messages) ? (messages as ReadonlyArray<ServiceBusMessage<T>>) : [messages as ServiceBusMessage<T>];
    if (list.length === 0) return [];
    const requests = list.map((m, i) => {
      const messageId = m.messageId ?? randomUUID();
      const amqpMessage = toAmqpMessage({ ...m, messageId, scheduledEnqueueTimeUtc }, `messages[${i}]`);
      return {
        messageId: String(messageId),
        sessionId: m.sessionId,
        partitionKey: m.partitionKey,
        bytes: encodeMessage(amqpMessage),
      };
    });
    return this.#context.management(this.entityPath).schedule(requests);
  }

  /** Cancels scheduled messages by their sequence numbers (`cancel-scheduled-message`). */
  async cancelScheduledMessages(sequenceNumbers: bigint | number | ReadonlyArray<bigint | number>): Promise<void> {
    this.#checkOpen();
    const list = (Array.isArray(sequenceNumbers) ? sequenceNumbers : [sequenceNumbers]) as Array<bigint | number>;
    const numbers = list.map((n, i) => {
      if (typeof n === 'bigint' && n >= 0n) return n;
      if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return BigInt(n);
      throw new ConfigError(`sequenceNumbers[${i}]`, 'cancelScheduledMessages: sequence numbers are non-negative integers (number or bigint)');
    });
    if (numbers.length === 0) return;
    await this.#context.management(this.entityPath).cancelScheduled(numbers);
  }

  /** Stops new sends; sends in progress finish. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new AmqpError(`The sender for '${this.entityPath}' is closed`);
    if (this.#context.isClosed) throw new AmqpError('The Service Bus client is closed');
  }
}

type Held<T> = { kind: 'next'; value: T } | { kind: 'error'; error: unknown } | { kind: 'complete' };

/**
 * Subscribes to `input` at once (so a hot source loses nothing) and holds what it emits until
 * `ready` resolves; then hands it, and what follows, to the pipeline `run` builds. When `ready`
 * fails, the stream fails with a `SendFailedError` listing every message held (S1).
 */
function afterAuthorization<T, R>(input: Observable<T>, ready: () => Promise<void>, run: (held: Observable<T>) => Observable<R>): Observable<R> {
  return new Observable<R>((subscriber) => {
    const queue: Array<Held<T>> = [];
    let sink: Subscriber<T> | undefined;
    let downstream: Subscription | undefined;
    let stopped = false;
    const push = (item: Held<T>) => {
      if (sink === undefined) {
        queue.push(item);
        return;
      }
      if (item.kind === 'next') sink.next(item.value);
      else if (item.kind === 'error') sink.error(item.error);
      else sink.complete();
    };
    const upstream = input.subscribe({
      next: (value) => push({ kind: 'next', value }),
      error: (error: unknown) => push({ kind: 'error', error }),
      complete: () => push({ kind: 'complete' }),
    });
    ready().then(
      () => {
        if (stopped) return;
        const held = new Observable<T>((s) => {
          sink = s;
          for (const item of queue.splice(0)) push(item);
          return () => {
            sink = undefined;
          };
        });
        downstream = run(held).subscribe(subscriber);
      },
      (error: unknown) => {
        if (stopped) return;
        const unsent = queue.flatMap((item) => (item.kind === 'next' ? [item.value] : []));
        subscriber.error(
          new SendFailedError(`Could not send: ${error instanceof Error ? error.message : String(error)}`, unsent, {
            retryable: error instanceof AmqpError && error.retryable,
            cause: error,
          }),
        );
      },
    );
    return () => {
      stopped = true; //           1. nothing starts after this
      upstream.unsubscribe(); //   2. take no more input
      downstream?.unsubscribe(); // 3. detach the link (outcomes still due are not reported)
    };
  });
}
