import { describe, expect, it } from 'vitest';
import { DeliveryAlreadySettledError } from 'rhea-rx';
import { accept } from 'rhea-rx/operators';
import { fakeDelivery } from 'rhea-rx/testing';
import { marbles } from '../support/marbles.js';

// prettier-ignore
describe('accept', () => {
  const values = () => ({ a: fakeDelivery('a'), b: fakeDelivery('b'), c: fakeDelivery('c') });

  it('accepts each delivery and passes it on', marbles((m) => {
    const v = values();
    const source = m.cold('   -a--b--c--|', v);
    const subs = '            ^---------!';
    const expected = '        -a--b--c--|';
    m.expect(source.pipe(accept())).toBeObservable(expected, v);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', 'accepted', 'accepted']);
  }));

  it('errors with the typed error when a delivery was settled before', marbles((m) => {
    const v = values();
    v.b.release();
    const source = m.cold('   -a--b--c--|', v);
    const expected = '        -a--#';
    m.expect(source.pipe(accept())).toBeObservable(expected, v, new DeliveryAlreadySettledError(
      "Cannot settle a delivery from 'fake' as accepted: it was already settled as released", 'settled'));
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', 'released', undefined]);
  }));

  it('stops taking deliveries when unsubscribed', marbles((m) => {
    const v = values();
    const source = m.hot('  --a--b--c--|', v);
    const unsub = '         ------!     ';
    const subs = '          ^-----!     ';
    m.expect(source.pipe(accept()), unsub).toBeObservable('--a--b', v);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect(v.c.settledAs).toBeUndefined();
  }));
});
