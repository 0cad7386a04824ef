import { describe, expect, it } from 'vitest';
import { ConfigError } from 'rhea-rx';
import { completeWhenIdle } from 'rhea-rx/operators';
import { fakeDelivery } from 'rhea-rx/testing';
import { marbles } from '../support/marbles.js';

// prettier-ignore
describe('completeWhenIdle', () => {
  const values = () => ({ a: fakeDelivery('a'), b: fakeDelivery('b'), c: fakeDelivery('c') });

  it('completes when nothing arrives for maxWaitTime, unsubscribing the source', marbles((m) => {
    const v = values();
    const source = m.cold('   --a--b--------c--|', v);
    const subs = '            ^---------!';
    const expected = '        --a--b----|';
    m.expect(source.pipe(completeWhenIdle(5))).toBeObservable(expected, v);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual([undefined, undefined, undefined]); // the link releases them
  }));

  it('starts the wait at subscription', marbles((m) => {
    const v = values();
    const source = m.cold('   --------a-|', v);
    const subs = '            ^--!';
    m.expect(source.pipe(completeWhenIdle(3))).toBeObservable('---|', v);
    m.expect(source).toHaveSubscriptions(subs);
  }));

  it('starts the wait over with every item', marbles((m) => {
    const v = values();
    const source = m.cold('   -a--a--a--a--|', v);
    m.expect(source.pipe(completeWhenIdle(3))).toBeObservable('-a--a--a--a--|', v);
  }));

  it('completes after exactly maxWaitTime of silence, not one frame later', marbles((m) => {
    const v = values();
    m.expect(m.cold('-a----b|', v).pipe(completeWhenIdle(4))).toBeObservable('-a---|', v);
  }));

  it('passes errors through', marbles((m) => {
    const v = values();
    const lost = new Error('link lost');
    m.expect(m.cold('-a-#', v, lost).pipe(completeWhenIdle(5))).toBeObservable('-a-#', v, lost);
  }));

  it('never completes early with Infinity', marbles((m) => {
    const v = values();
    m.expect(m.cold('-a 5000ms b|', v).pipe(completeWhenIdle(Infinity))).toBeObservable('-a 5000ms b|', v);
  }));

  it('stops taking deliveries and settles nothing when unsubscribed', marbles((m) => {
    const v = values();
    const source = m.hot('  --a--b--c--|', v);
    const unsub = '         ------!     ';
    const subs = '          ^-----!     ';
    m.expect(source.pipe(completeWhenIdle(100)), unsub).toBeObservable('--a--b', v);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual([undefined, undefined, undefined]);
  }));

  it.each([
    [undefined, 'got undefined'],
    [-1, 'got number -1'],
    [NaN, 'got number NaN'],
    ['5000', 'got "5000"'],
    [2 ** 31, 'got number 2147483648'],
  ])('refuses %s at call time', (maxWaitTime, message) => {
    const call = () => completeWhenIdle(maxWaitTime as never);
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(`Invalid option 'completeWhenIdle.maxWaitTime': expected a time in milliseconds from 0 to 2147483647, or Infinity, ${message}`);
  });
});
