import { describe, expect, it } from 'vitest';
import { ConfigError, type Delivery } from 'rhea-rx';
import { MAX_DELIVERIES_EXCEEDED, retryDeliveries } from 'rhea-rx/operators';
import { type FakeDelivery, fakeDelivery } from 'rhea-rx/testing';
import { marbles } from '../support/marbles.js';
import { goneDelivery } from './helpers.js';

const settlements = (ds: Record<string, FakeDelivery<unknown>>) => Object.fromEntries(Object.entries(ds).map(([k, d]) => [k, d.settledAs ?? '-']));

/** Deliveries of the same message (same message-id), each with the broker's delivery-count. */
const redelivered = (id: string | number, ...counts: number[]) => counts.map((deliveryCount) => fakeDelivery(String(id), { deliveryCount, properties: { messageId: id } }));

// prettier-ignore
describe('retryDeliveries', () => {
  it('passes deliveries delivered at most maxDeliveries times and rejects the rest', marbles((m) => {
    const v = { a: fakeDelivery('a'), b: fakeDelivery('b', { deliveryCount: 3 }), c: fakeDelivery('c', { deliveryCount: 2 }) };
    const source = m.cold('   -a--b--c--|', v);
    const subs = '            ^---------!';
    const expected = '        -a-----c--|';
    m.expect(source.pipe(retryDeliveries({ maxDeliveries: 3 }))).toBeObservable(expected, v);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect(settlements(v)).toEqual({ a: '-', b: 'rejected', c: '-' });
    expect(v.b.settledWith).toEqual({ condition: MAX_DELIVERIES_EXCEEDED, description: 'delivered 4 times; maxDeliveries is 3' });
  }));

  it.each([
    // maxDeliveries, delivery-count, passes
    [1, 0, true],
    [1, 1, false],
    [3, 2, true],
    [3, 3, false],
    [3, 10, false],
    [10, 9, true],
  ])('maxDeliveries %i, delivery-count %i: passes %s', (maxDeliveries, deliveryCount, passes) => marbles((m) => {
    const v = { d: fakeDelivery('d', { deliveryCount }) };
    m.expect(m.cold('-d|', v).pipe(retryDeliveries({ maxDeliveries }))).toBeObservable(passes ? '-d|' : '--|', v);
    m.flush();
    expect(v.d.settledAs).toBe(passes ? undefined : 'rejected');
  })());

  it("accepts exhausted deliveries with onExhausted 'accept'", marbles((m) => {
    const v = { a: fakeDelivery('a'), b: fakeDelivery('b', { deliveryCount: 1 }) };
    m.expect(m.cold('-a-b-|', v).pipe(retryDeliveries({ maxDeliveries: 1, onExhausted: 'accept' }))).toBeObservable('-a---|', v);
    m.flush();
    expect(settlements(v)).toEqual({ a: '-', b: 'accepted' });
  }));

  describe('with an onExhausted function', () => {
    it('lets it settle the delivery, telling it the delivery number', marbles((m) => {
      const v = { a: fakeDelivery('a', { deliveryCount: 4 }) };
      const seen: [Delivery, number][] = [];
      const onExhausted = (d: Delivery<string>, n: number) => { seen.push([d, n]); d.modify({ undeliverableHere: true }); };
      m.expect(m.cold('-a|', v).pipe(retryDeliveries({ maxDeliveries: 2, onExhausted }))).toBeObservable('--|', v);
      m.flush();
      expect(seen).toEqual([[v.a, 5]]);
      expect([v.a.settledAs, v.a.settledWith]).toEqual(['modified', { undeliverableHere: true }]);
    }));

    it('rejects the delivery when it returns without settling', marbles((m) => {
      const v = { a: fakeDelivery('a', { deliveryCount: 2 }) };
      m.expect(m.cold('-a|', v).pipe(retryDeliveries({ maxDeliveries: 2, onExhausted: () => undefined }))).toBeObservable('--|', v);
      m.flush();
      expect([v.a.settledAs, v.a.settledWith]).toEqual(['rejected', { condition: MAX_DELIVERIES_EXCEEDED, description: 'delivered 3 times; maxDeliveries is 2' }]);
    }));

    it('errors the stream when it throws', marbles((m) => {
      const v = { a: fakeDelivery('a', { deliveryCount: 2 }), b: fakeDelivery('b') };
      const bug = new Error('parking queue unavailable');
      const source = m.cold('   -a-b-|', v);
      const subs = '            ^!';
      m.expect(source.pipe(retryDeliveries({ maxDeliveries: 1, onExhausted: () => { throw bug; } }))).toBeObservable('-#', v, bug);
      m.expect(source).toHaveSubscriptions(subs);
      m.flush();
      expect(settlements(v)).toEqual({ a: '-', b: '-' });
    }));
  });

  describe('redelivery counter (brokers that do not bump delivery-count on release)', () => {
    it('counts redeliveries of the same message-id when delivery-count stays 0', marbles((m) => {
      const [x1, x2, x3, x4] = redelivered('m-1', 0, 0, 0, 0);
      const v = { w: x1!, x: x2!, y: x3!, z: x4!, o: fakeDelivery('other', { properties: { messageId: 'm-2' } }) };
      const source = m.cold('   -w-x-o-y-z-|', v);
      const expected = '        -w-x-o-y---|';
      m.expect(source.pipe(retryDeliveries({ maxDeliveries: 3 }))).toBeObservable(expected, v);
      m.flush();
      expect(settlements(v)).toEqual({ w: '-', x: '-', y: '-', z: 'rejected', o: '-' });
      expect(v.z.settledWith).toEqual({ condition: MAX_DELIVERIES_EXCEEDED, description: 'delivered 4 times; maxDeliveries is 3' });
    }));

    it('counts on from the delivery-count when that is higher, and on from its own count when not', marbles((m) => {
      // first seen at delivery-count 5 (the 6th delivery), then released twice without a bump
      const [x1, x2, x3] = redelivered('m-1', 5, 5, 5);
      const v = { x: x1!, y: x2!, z: x3! };
      const onExhausted = (d: Delivery, n: number) => d.reject(`number ${n}`);
      m.expect(m.cold('-x-y-z-|', v).pipe(retryDeliveries({ maxDeliveries: 7, onExhausted }))).toBeObservable('-x-y---|', v);
      m.flush();
      expect([v.x.settledAs, v.y.settledAs, v.z.settledWith]).toEqual([undefined, undefined, 'number 8']);
    }));

    it('tells the string message-id "1" from the number 1', marbles((m) => {
      const v = { s: redelivered('1', 0)[0]!, n: redelivered(1, 0)[0]! };
      m.expect(m.cold('-s-n-|', v).pipe(retryDeliveries({ maxDeliveries: 1 }))).toBeObservable('-s-n-|', v);
    }));

    it('recognizes binary message-ids by content', marbles((m) => {
      const id = () => Buffer.from([1, 2, 3]);
      const v = { a: fakeDelivery('a', { properties: { messageId: id() } }), b: fakeDelivery('b', { properties: { messageId: id() } }) };
      m.expect(m.cold('-a-b-|', v).pipe(retryDeliveries({ maxDeliveries: 1 }))).toBeObservable('-a---|', v);
    }));

    it('does not count messages without a message-id', marbles((m) => {
      const v = { a: fakeDelivery('same'), b: fakeDelivery('same') };
      m.expect(m.cold('-a-b-|', v).pipe(retryDeliveries({ maxDeliveries: 1 }))).toBeObservable('-a-b-|', v);
    }));

    it('uses the given key instead of the message-id', marbles((m) => {
      const order = (id: string) => fakeDelivery({ orderId: id }, { applicationProperties: { orderId: id } });
      const v = { a: order('o-1'), b: order('o-2'), c: order('o-1') };
      const key = (d: Delivery) => d.message.applicationProperties['orderId'] as string | undefined;
      m.expect(m.cold('-a-b-c-|', v).pipe(retryDeliveries({ maxDeliveries: 1, key }))).toBeObservable('-a-b---|', v);
      m.flush();
      expect(settlements(v)).toEqual({ a: '-', b: '-', c: 'rejected' });
    }));

    it('relies on delivery-count alone when the key is always undefined', marbles((m) => {
      const [x1, x2] = redelivered('m-1', 0, 0);
      const v = { x: x1!, y: x2! };
      m.expect(m.cold('-x-y-|', v).pipe(retryDeliveries({ maxDeliveries: 1, key: () => undefined }))).toBeObservable('-x-y-|', v);
    }));

    it('is turned off by maxTracked 0', marbles((m) => {
      const [x1, x2] = redelivered('m-1', 0, 0);
      const v = { x: x1!, y: x2! };
      m.expect(m.cold('-x-y-|', v).pipe(retryDeliveries({ maxDeliveries: 1, maxTracked: 0 }))).toBeObservable('-x-y-|', v);
    }));

    it('remembers at most maxTracked keys, forgetting the least recently seen first', marbles((m) => {
      const d = (id: string) => fakeDelivery(id, { properties: { messageId: id } });
      const v = { a: d('a'), b: d('b'), A: d('a'), c: d('c'), B: d('b'), C: d('c') };
      // a, b, a again (seen: b, a), c (b is forgotten), b is new again (a forgotten), c again is not
      const source = m.cold('   -a-b-A-c-B-C-|', v);
      const expected = '        -a-b---c-B---|';
      m.expect(source.pipe(retryDeliveries({ maxDeliveries: 1, maxTracked: 2 }))).toBeObservable(expected, v);
      m.flush();
      expect(settlements(v)).toEqual({ a: '-', b: '-', A: 'rejected', c: '-', B: '-', C: 'rejected' });
    }));

    it('counts per subscription: a new subscription starts afresh', marbles((m) => {
      const [x1, x2] = redelivered('m-1', 0, 0);
      const v = { x: x1!, y: x2! };
      const operator = retryDeliveries({ maxDeliveries: 1 });
      m.expect(m.cold('-x|', v).pipe(operator)).toBeObservable('-x|', v);
      m.expect(m.cold('--y|', v).pipe(operator)).toBeObservable('--y|', v);
    }));
  });

  it('neither settles nor emits an exhausted delivery its link already let go of', marbles((m) => {
    const g = goneDelivery('g');
    Object.defineProperty(g, 'deliveryCount', { value: 9 });
    m.expect(m.cold('-g|', { g }).pipe(retryDeliveries({ maxDeliveries: 1 }))).toBeObservable('--|');
    m.flush();
    expect(g.settleCalls).toBe(0);
  }));

  it('passes errors through', marbles((m) => {
    const v = { a: fakeDelivery('a') };
    const lost = new Error('link lost');
    m.expect(m.cold('-a-#', v, lost).pipe(retryDeliveries({ maxDeliveries: 1 }))).toBeObservable('-a-#', v, lost);
  }));

  it('stops taking deliveries when unsubscribed, settling nothing more', marbles((m) => {
    const v = { a: fakeDelivery('a', { deliveryCount: 1 }), b: fakeDelivery('b'), c: fakeDelivery('c', { deliveryCount: 1 }) };
    const source = m.hot('  --a--b--c--|', v);
    const unsub = '         -------!    ';
    const subs = '          ^------!    ';
    m.expect(source.pipe(retryDeliveries({ maxDeliveries: 1 })), unsub).toBeObservable('-----b-', v);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect(settlements(v)).toEqual({ a: 'rejected', b: '-', c: '-' });
  }));

  it.each([
    [{}, 'retryDeliveries.maxDeliveries', 'an integer of at least 1, got undefined'],
    [{ maxDeliveries: 0 }, 'retryDeliveries.maxDeliveries', 'got number 0'],
    [{ maxDeliveries: Infinity }, 'retryDeliveries.maxDeliveries', 'got number Infinity'],
    [{ maxDeliveries: 3, onExhausted: 'release' }, 'retryDeliveries.onExhausted', "'reject', 'accept' or a function, got \"release\""],
    [{ maxDeliveries: 3, key: 'messageId' }, 'retryDeliveries.key', 'a function, got "messageId"'],
    [{ maxDeliveries: 3, maxTracked: -1 }, 'retryDeliveries.maxTracked', 'an integer of at least 0, got number -1'],
    [{ maxDeliveries: 3, maxDelivery: 3 }, 'retryDeliveries.maxDelivery', "Unknown option 'retryDeliveries.maxDelivery'"],
    [undefined, 'retryDeliveries.maxDeliveries', 'got undefined'],
  ])('refuses %j at call time, naming %s', (options, option, message) => {
    const call = () => retryDeliveries(options as never);
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(message);
    try { call(); } catch (e) { expect((e as ConfigError).option).toBe(option); }
  });
});
