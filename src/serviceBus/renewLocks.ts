import { asyncScheduler, type MonoTypeOperatorFunction, Observable, type SchedulerLike, type Subscription, timer } from 'rxjs';
import type { AmqpError } from '../errors/AmqpError.js';
import { ConfigError } from '../errors/errors.js';
import { AutoLockRenewFailedError, AutoLockRenewTimeoutError, toServiceBusError } from './errors.js';
import { log } from './log.js';
import type { ServiceBusReceivedMessage } from './ServiceBusReceivedMessage.js';
import type { ServiceBusSessionReceiver } from './ServiceBusReceiver.js';

/** Options of {@link renewLocks} and {@link renewSessionLock}. */
export interface RenewLocksOptions {
  /**
   * How long to keep a lock, in milliseconds from when the message (or the subscription, for a
   * session) came; after that the lock is left to expire (azure-servicebus's
   * `max_lock_renewal_duration`).
   * @default 300_000 (five minutes)
   */
  maxLockRenewalDuration?: number;
  /**
   * Renew when this little of the lock is left, in milliseconds. A lock shorter than this (plus
   * half a second) when first seen is renewed when a quarter of it is left, as azure-servicebus does.
   * @default 10_000
   */
  renewBefore?: number;
  /**
   * What a failed renewal does. `'error'` ends the stream with an `AutoLockRenewFailedError`
   * (`cause`: why). A function is called with the error and goes on. Default for messages: the error
   * is recorded on the message (`autoRenewError`) and settling it later fails with
   * `MessageLockLostError` whose `cause` it is; default for a session: `'error'`.
   */
  onFailure?: 'error' | ((error: AutoLockRenewFailedError | AutoLockRenewTimeoutError, subject: unknown) => void);
  /** The scheduler of the renewal timers (a TestScheduler, for virtual time). @default asyncScheduler */
  scheduler?: SchedulerLike;
}

interface Resolved {
  readonly maxDuration: number;
  readonly renewBefore: number | undefined;
  readonly onFailure: RenewLocksOptions['onFailure'];
  readonly scheduler: SchedulerLike;
}

const DEFAULT_RENEW_BEFORE = 10_000;
/** A lock this short (`renewBefore` + 500 ms) is renewed at a quarter of its life left. */
const SHORT_LOCK_SLACK = 500;

function resolve(options: RenewLocksOptions, operator: string): Resolved {
  if (options === null || typeof options !== 'object') throw new ConfigError(operator, `${operator}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (!['maxLockRenewalDuration', 'renewBefore', 'onFailure', 'scheduler'].includes(key)) {
      throw new ConfigError(`${operator}.${key}`, `Unknown option '${operator}.${key}'`);
    }
  }
  const maxDuration = options.maxLockRenewalDuration ?? 300_000;
  if (typeof maxDuration !== 'number' || !(maxDuration > 0)) {
    throw new ConfigError(`${operator}.maxLockRenewalDuration`, `Invalid option '${operator}.maxLockRenewalDuration': expected a positive number of milliseconds`);
  }
  const renewBefore = options.renewBefore;
  if (renewBefore !== undefined && (typeof renewBefore !== 'number' || !(renewBefore >= 0))) {
    throw new ConfigError(`${operator}.renewBefore`, `Invalid option '${operator}.renewBefore': expected a number of milliseconds`);
  }
  const onFailure = options.onFailure;
  if (onFailure !== undefined && onFailure !== 'error' && typeof onFailure !== 'function') {
    throw new ConfigError(`${operator}.onFailure`, `Invalid option '${operator}.onFailure': expected 'error' or a function`);
  }
  return { maxDuration, renewBefore, onFailure, scheduler: options.scheduler ?? asyncScheduler };
}

/** How early to renew, decided when the lock is first seen (`left`: what remains of it then). */
function renewPeriod(resolved: Resolved, left: number): number {
  const before = resolved.renewBefore ?? DEFAULT_RENEW_BEFORE;
  return left <= before + SHORT_LOCK_SLACK ? Math.max(0, left / 4) : before;
}

/** Internals of a received message the renewal needs. */
interface Renewable {
  readonly hasRenewableLock?: boolean;
  onSettled?(listener: () => void): () => void;
  setAutoRenewError?(error: AmqpError): void;
}

/**
 * Keeps the lock of each message alive while the pipeline after it works on the message
 * (azure-servicebus's `AutoLockRenewer` for messages): the lock is renewed (`renew-lock`) shortly
 * before it expires, until the message is settled or `maxLockRenewalDuration` has passed.
 *
 * ```text
 * messages   -a-------b---------|
 * renewals     ·  r  r  ·  r  r    each message's lock, until it is settled
 * output     -a-------b---------|  (unchanged)
 * ```
 *
 * Messages pass through unchanged and at once. Messages without a lock of their own (peeked,
 * received in receive-and-delete mode, or from a session — renew the session lock instead) pass
 * without renewal. Unsubscribing stops every renewal; so does the end of the stream only when the
 * messages are settled (renewal goes on for messages still being handled after the source completed).
 *
 * @param options - See {@link RenewLocksOptions}.
 * @throws {@link ConfigError} at call time for an invalid option.
 * @example
 * receiver.receive().pipe(
 *   renewLocks({ maxLockRenewalDuration: 60_000 }),
 *   mergeMap(async (message) => { await longWork(message.body); await message.complete(); }, 4),
 * ).subscribe();
 */
export function renewLocks<M extends ServiceBusReceivedMessage<unknown>>(options: RenewLocksOptions = {}): MonoTypeOperatorFunction<M> {
  const resolved = resolve(options, 'renewLocks');
  return (source) =>
    new Observable<M>((subscriber) => {
      const renewals = new Set<Subscription>();
      const upstream = source.subscribe({
        next: (message) => {
          watch(message);
          subscriber.next(message);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });

      function watch(message: M): void {
        const internal = message as unknown as Renewable;
        if (internal.hasRenewableLock !== true || message.settled || message.lockedUntilUtc === undefined) return;
        const { scheduler } = resolved;
        const started = scheduler.now();
        const period = renewPeriod(resolved, message.lockedUntilUtc.getTime() - started);
        let current: Subscription | undefined;
        let stopped = false;
        const stop = () => {
          stopped = true;
          if (current !== undefined) {
            current.unsubscribe();
            renewals.delete(current);
          }
        };
        const removeSettled = internal.onSettled?.(stop);
        const fail = (error: AutoLockRenewFailedError | AutoLockRenewTimeoutError) => {
          stop();
          removeSettled?.();
          internal.setAutoRenewError?.(error);
          log.locks('[%s] lock renewal of %s stopped: %s', message.address, message.lockToken, error.message);
          if (resolved.onFailure === 'error' && error instanceof AutoLockRenewFailedError) subscriber.error(error);
          else if (typeof resolved.onFailure === 'function') resolved.onFailure(error, message);
        };
        const next = () => {
          if (stopped || message.settled) return stop();
          const until = message.lockedUntilUtc?.getTime();
          if (until === undefined) return stop();
          const now = scheduler.now();
          const deadline = started + resolved.maxDuration;
          const renewAt = until - period;
          const at = Math.min(renewAt, deadline);
          const timerSub: Subscription = timer(Math.max(0, at - now), scheduler).subscribe(() => {
            renewals.delete(timerSub);
            if (stopped || message.settled) return stop();
            if (renewAt >= deadline) {
              fail(new AutoLockRenewTimeoutError(`Lock renewal of a message from '${message.address}' reached its maximum duration of ${resolved.maxDuration} ms`));
              return;
            }
            message.renewLock().then(
              (newUntil) => {
                log.locks('[%s] renewed %s until %s', message.address, message.lockToken, newUntil.toISOString());
                next();
              },
              (error: unknown) => {
                if (stopped || message.settled) return stop();
                const cause = toServiceBusError(error);
                fail(
                  new AutoLockRenewFailedError(`Could not renew the lock of a message from '${message.address}': ${cause instanceof Error ? cause.message : String(cause)}`, {
                    cause,
                  }),
                );
              },
            );
          });
          current = timerSub;
          if (!timerSub.closed) renewals.add(timerSub);
        };
        next();
      }

      return () => {
        upstream.unsubscribe(); //                              1. take no more messages
        for (const renewal of renewals) renewal.unsubscribe(); // 2. no renewal after the end
        renewals.clear();
      };
    });
}

/**
 * Keeps a session's lock alive while the stream it is applied to is subscribed (azure-servicebus's
 * `AutoLockRenewer` for a session): `renew-session-lock` shortly before the lock expires, until
 * unsubscribed or `maxLockRenewalDuration` has passed.
 *
 * A failed renewal ends the stream with `AutoLockRenewFailedError` by default (the session is as
 * good as lost); at the maximum duration renewal stops quietly (`onFailure` as a function hears
 * both).
 *
 * @param session - The session receiver whose lock to keep.
 * @param options - See {@link RenewLocksOptions}.
 * @throws {@link ConfigError} at call time for an invalid option.
 * @example
 * session.receive({ maxWaitTime: 5_000 })
 *   .pipe(renewSessionLock(session, { maxLockRenewalDuration: 300_000 }), concatMap((m) => m.complete()))
 *   .subscribe();
 */
export function renewSessionLock<T>(session: ServiceBusSessionReceiver<unknown>, options: RenewLocksOptions = {}): MonoTypeOperatorFunction<T> {
  const resolved = resolve(options, 'renewSessionLock');
  const onFailure = resolved.onFailure ?? 'error';
  return (source) =>
    new Observable<T>((subscriber) => {
      const { scheduler } = resolved;
      const started = scheduler.now();
      const initial = session.sessionLockedUntilUtc?.getTime();
      const period = initial === undefined ? 0 : renewPeriod(resolved, initial - started);
      let current: Subscription | undefined;
      let stopped = false;
      const fail = (error: AutoLockRenewFailedError | AutoLockRenewTimeoutError) => {
        stopped = true;
        log.locks('[%s] session lock renewal of %s stopped: %s', session.entityPath, session.sessionId, error.message);
        if (onFailure === 'error' && error instanceof AutoLockRenewFailedError) subscriber.error(error);
        else if (typeof onFailure === 'function') onFailure(error, session);
      };
      const next = () => {
        if (stopped) return;
        const until = session.sessionLockedUntilUtc?.getTime() ?? scheduler.now(); // unknown: renew now, to learn it
        const deadline = started + resolved.maxDuration;
        const renewAt = until - period;
        current = timer(Math.max(0, Math.min(renewAt, deadline) - scheduler.now()), scheduler).subscribe(() => {
          if (stopped) return;
          if (renewAt >= deadline) {
            fail(new AutoLockRenewTimeoutError(`Lock renewal of session '${session.sessionId}' reached its maximum duration of ${resolved.maxDuration} ms`));
            return;
          }
          session.renewSessionLock().then(
            () => next(),
            (error: unknown) => {
              if (stopped) return;
              const cause = toServiceBusError(error);
              fail(
                new AutoLockRenewFailedError(`Could not renew the lock of session '${session.sessionId}': ${cause instanceof Error ? cause.message : String(cause)}`, { cause }),
              );
            },
          );
        });
      };
      next();
      const upstream = source.subscribe(subscriber);
      return () => {
        stopped = true; //        1. no renewal from now on
        current?.unsubscribe(); // 2. cancel the timer
        upstream.unsubscribe(); // 3. and the stream
      };
    });
}
