import { lastValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { AmqpError, ConfigError, isAmqpError, type Outcome, OutcomeError } from 'rhea-rx';
import { throwOnRejected } from 'rhea-rx/operators';
import { marbles } from '../support/marbles.js';

const outcome = (state: Outcome['state'], message: string, extra: Partial<Outcome<string>> = {}): Outcome<string> => ({ state, message, resent: false, ...extra });

// prettier-ignore
describe('throwOnRejected', () => {
  const values = {
    a: outcome('accepted', 'a'),
    b: outcome('accepted', 'b'),
    r: outcome('rejected', 'r', { error: { condition: 'amqp:invalid-field', description: 'bad body' } }),
    l: outcome('released', 'l'),
    m: outcome('modified', 'm', { modified: { deliveryFailed: true, undeliverableHere: false } }),
    u: outcome('modified', 'u', { modified: { deliveryFailed: true, undeliverableHere: true } }),
  };
  const rejected = new OutcomeError('The peer rejected a sent message (amqp:invalid-field: bad body): it will not take this message', values.r);

  it('passes outcomes through until the first rejected one, then errors with it', marbles((m) => {
    const source = m.cold('   -a--r--b--|', values);
    const subs = '            ^---!';
    const expected = '        -a--#';
    m.expect(source.pipe(throwOnRejected())).toBeObservable(expected, values, rejected);
    m.expect(source).toHaveSubscriptions(subs);
  }));

  it('lets released and modified outcomes through by default', marbles((m) => {
    const source = m.cold('   -a-l-m-u-|', values);
    m.expect(source.pipe(throwOnRejected())).toBeObservable('-a-l-m-u-|', values);
  }));

  it.each([
    // allowed, outcome, errors
    [['accepted'], 'l', true],
    [['accepted'], 'm', true],
    [['accepted', 'released'], 'l', false],
    [['accepted', 'released'], 'm', true],
    [['accepted', 'rejected'], 'r', false],
    [['accepted', 'modified'], 'u', false],
  ] as const)('with allow %j, outcome %s errors: %s', (allow, key, errors) => marbles((m) => {
    const source = m.cold('-x|', { x: values[key] });
    if (errors) m.expect(source.pipe(throwOnRejected({ allow }))).toBeObservable('-#', {}, expect.objectContaining({ name: 'OutcomeError' }));
    else m.expect(source.pipe(throwOnRejected({ allow }))).toBeObservable('-x|', { x: values[key] });
  })());

  it('raises a typed rhea-rx error carrying the outcome and the peer error', async () => {
    const error: unknown = await lastValueFrom(of(values.a, values.r).pipe(throwOnRejected())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeError);
    expect(error).toBeInstanceOf(AmqpError);
    expect(isAmqpError(error)).toBe(true);
    const e = error as OutcomeError<string>;
    expect([e.name, e.outcome, e.condition, e.description, e.retryable]).toEqual(['OutcomeError', values.r, 'amqp:invalid-field', 'bad body', false]);
    expect(e.toJSON()).toEqual({ name: 'OutcomeError', message: rejected.message, condition: 'amqp:invalid-field', description: 'bad body', retryable: false });
  });

  it.each([
    // outcome, retryable, message
    ['l', true, 'The peer released a sent message: it did not process it; sending it again may succeed'],
    ['m', true, 'The peer returned a sent message as modified: it did not process it; sending it again may succeed'],
    ['u', false, 'The peer returned a sent message as modified and undeliverable here: it will not take it on this link'],
  ] as const)('says whether sending %s again can help: %s', async (key, retryable, message) => {
    const error = (await lastValueFrom(of(values[key]).pipe(throwOnRejected({ allow: ['accepted'] }))).catch((e: unknown) => e)) as OutcomeError;
    expect([error.retryable, error.message, error.condition]).toEqual([retryable, message, undefined]);
  });

  it('stops taking outcomes when unsubscribed', marbles((m) => {
    const source = m.hot('  --a--b--r--|', values);
    const unsub = '         ------!     ';
    const subs = '          ^-----!     ';
    m.expect(source.pipe(throwOnRejected()), unsub).toBeObservable('--a--b', values);
    m.expect(source).toHaveSubscriptions(subs);
  }));

  it.each([
    [{ allow: ['released'] }, 'throwOnRejected.allow', "that includes 'accepted', got an array of 1"],
    [{ allow: ['accepted', 'dropped'] }, 'throwOnRejected.allow', "an array of outcome states ('accepted', 'rejected', 'released', 'modified')"],
    [{ allow: 'accepted' }, 'throwOnRejected.allow', 'got "accepted"'],
    [{ allowed: ['accepted'] }, 'throwOnRejected.allowed', "Unknown option 'throwOnRejected.allowed'"],
  ])('refuses %j at call time, naming %s', (options, option, message) => {
    const call = () => throwOnRejected(options as never);
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(message);
    try { call(); } catch (e) { expect((e as ConfigError).option).toBe(option); }
  });
});
