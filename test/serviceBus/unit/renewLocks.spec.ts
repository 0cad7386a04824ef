import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Subject } from 'rxjs';
import {
  AutoLockRenewFailedError,
  AutoLockRenewTimeoutError,
  ConfigError,
  MessageLockLostError,
  renewLocks,
  renewSessionLock,
  type ServiceBusReceivedMessage,
  type ServiceBusSessionReceiver,
} from 'rhea-rx';

const T0 = Date.parse('2030-01-01T00:00:00Z');

/** A locked message whose lock the service extends by `lockDuration` on each renewal. */
function lockedMessage(lockDuration: number, renew: () => Promise<void> = async () => undefined) {
  let lockedUntil = new Date(Date.now() + lockDuration);
  let settled = false;
  let autoRenewError: unknown;
  const listeners: Array<() => void> = [];
  const renewals: number[] = [];
  const message = {
    address: 'orders',
    lockToken: 'token',
    hasRenewableLock: true,
    get settled() {
      return settled;
    },
    get lockedUntilUtc() {
      return lockedUntil;
    },
    get autoRenewError() {
      return autoRenewError;
    },
    async renewLock() {
      renewals.push(Date.now() - T0);
      await renew();
      lockedUntil = new Date(Date.now() + lockDuration);
      return lockedUntil;
    },
    onSettled(listener: () => void) {
      listeners.push(listener);
      return () => undefined;
    },
    setAutoRenewError(error: unknown) {
      autoRenewError = error;
    },
    settle() {
      settled = true;
      listeners.forEach((l) => l());
    },
  };
  return { message: message as unknown as ServiceBusReceivedMessage & { settle(): void }, renewals };
}

describe('renewLocks (AutoLockRenewer for messages), in virtual time', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews 10 s before each expiry until the message is settled', async () => {
    const { message, renewals } = lockedMessage(30_000);
    const source = new Subject<ServiceBusReceivedMessage>();
    const seen: unknown[] = [];
    source.pipe(renewLocks()).subscribe((m) => seen.push(m));
    source.next(message);
    expect(seen).toEqual([message]); // passes through at once
    await vi.advanceTimersByTimeAsync(19_999);
    expect(renewals).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(renewals).toEqual([20_000]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(renewals).toEqual([20_000, 40_000]);
    (message as unknown as { settle(): void }).settle();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(renewals).toEqual([20_000, 40_000]);
  });

  it('renews a short lock (5 s) when a quarter of it is left', async () => {
    const { message, renewals } = lockedMessage(5_000);
    const source = new Subject<ServiceBusReceivedMessage>();
    source.pipe(renewLocks()).subscribe();
    source.next(message);
    await vi.advanceTimersByTimeAsync(11_300);
    expect(renewals).toEqual([3_750, 7_500, 11_250]);
  });

  it('stops at maxLockRenewalDuration and records AutoLockRenewTimeoutError on the message', async () => {
    const { message, renewals } = lockedMessage(30_000);
    const onFailure = vi.fn();
    const source = new Subject<ServiceBusReceivedMessage>();
    source.pipe(renewLocks({ maxLockRenewalDuration: 60_000, onFailure })).subscribe();
    source.next(message);
    await vi.advanceTimersByTimeAsync(200_000);
    expect(renewals).toEqual([20_000, 40_000]); // the next one (at 60 s) would pass the maximum
    expect(message.autoRenewError).toBeInstanceOf(AutoLockRenewTimeoutError);
    expect(onFailure).toHaveBeenCalledWith(message.autoRenewError, message);
  });

  it('records a failed renewal as AutoLockRenewFailedError with the cause, and goes on with the stream', async () => {
    const lost = new MessageLockLostError('lock lost');
    const { message } = lockedMessage(30_000, async () => {
      throw lost;
    });
    const source = new Subject<ServiceBusReceivedMessage>();
    const errors: unknown[] = [];
    source.pipe(renewLocks()).subscribe({ error: (e: unknown) => errors.push(e) });
    source.next(message);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(message.autoRenewError).toBeInstanceOf(AutoLockRenewFailedError);
    expect((message.autoRenewError as Error).cause).toBe(lost);
    expect(errors).toEqual([]);
  });

  it("with onFailure 'error', ends the stream with the AutoLockRenewFailedError", async () => {
    const { message } = lockedMessage(30_000, async () => {
      throw new Error('down');
    });
    const source = new Subject<ServiceBusReceivedMessage>();
    const errors: unknown[] = [];
    source.pipe(renewLocks({ onFailure: 'error' })).subscribe({ error: (e: unknown) => errors.push(e) });
    source.next(message);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(AutoLockRenewFailedError);
  });

  it('stops every renewal when unsubscribed', async () => {
    const a = lockedMessage(30_000);
    const b = lockedMessage(30_000);
    const source = new Subject<ServiceBusReceivedMessage>();
    const subscription = source.pipe(renewLocks()).subscribe();
    source.next(a.message);
    source.next(b.message);
    await vi.advanceTimersByTimeAsync(20_000);
    subscription.unsubscribe();
    await vi.advanceTimersByTimeAsync(100_000);
    expect(a.renewals).toEqual([20_000]);
    expect(b.renewals).toEqual([20_000]);
  });

  it('leaves messages without a lock of their own alone (peeked, receive-and-delete, session)', async () => {
    const { message, renewals } = lockedMessage(30_000);
    (message as unknown as { hasRenewableLock: boolean }).hasRenewableLock = false;
    const source = new Subject<ServiceBusReceivedMessage>();
    source.pipe(renewLocks()).subscribe();
    source.next(message);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(renewals).toEqual([]);
  });

  it('checks its options at call time', () => {
    expect(() => renewLocks({ maxLockRenewalDuration: 0 })).toThrow(ConfigError);
    expect(() => renewLocks({ onFailure: 'ignore' as never })).toThrow(ConfigError);
    expect(() => renewLocks({ every: 1 } as never)).toThrow(ConfigError);
  });
});

describe('renewSessionLock (AutoLockRenewer for a session), in virtual time', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function session(lockDuration: number, renew: () => Promise<void> = async () => undefined) {
    let until: Date | undefined = new Date(Date.now() + lockDuration);
    const renewals: number[] = [];
    const fake = {
      entityPath: 'sq',
      sessionId: 's1',
      get sessionLockedUntilUtc() {
        return until;
      },
      async renewSessionLock() {
        renewals.push(Date.now() - T0);
        await renew();
        until = new Date(Date.now() + lockDuration);
        return until;
      },
      forget() {
        until = undefined;
      },
    };
    return { fake, session: fake as unknown as ServiceBusSessionReceiver, renewals };
  }

  it('keeps the session lock while subscribed, and stops on unsubscribe', async () => {
    const { session: s, renewals } = session(30_000);
    const source = new Subject<number>();
    const seen: number[] = [];
    const subscription = source.pipe(renewSessionLock(s)).subscribe((v) => seen.push(v));
    source.next(1);
    await vi.advanceTimersByTimeAsync(45_000);
    expect(renewals).toEqual([20_000, 40_000]);
    expect(seen).toEqual([1]);
    subscription.unsubscribe();
    await vi.advanceTimersByTimeAsync(100_000);
    expect(renewals).toEqual([20_000, 40_000]);
  });

  it('renews at once when the expiry is not known', async () => {
    const { fake, session: s, renewals } = session(30_000);
    fake.forget();
    new Subject<number>().pipe(renewSessionLock(s)).subscribe();
    await vi.advanceTimersByTimeAsync(0);
    expect(renewals).toEqual([0]);
  });

  it('ends the stream with AutoLockRenewFailedError when a renewal fails (by default)', async () => {
    const { session: s } = session(30_000, async () => {
      throw new Error('session lock lost');
    });
    const errors: unknown[] = [];
    new Subject<number>().pipe(renewSessionLock(s)).subscribe({ error: (e: unknown) => errors.push(e) });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(errors[0]).toBeInstanceOf(AutoLockRenewFailedError);
  });

  it('stops quietly at maxLockRenewalDuration, telling onFailure', async () => {
    const { session: s, renewals } = session(30_000);
    const onFailure = vi.fn();
    const errors: unknown[] = [];
    new Subject<number>().pipe(renewSessionLock(s, { maxLockRenewalDuration: 30_000, onFailure })).subscribe({ error: (e: unknown) => errors.push(e) });
    await vi.advanceTimersByTimeAsync(100_000);
    expect(renewals).toEqual([20_000]);
    expect(onFailure.mock.calls[0]?.[0]).toBeInstanceOf(AutoLockRenewTimeoutError);
    expect(errors).toEqual([]);
  });
});
