import { describe, expect, it } from 'vitest';
import { ConfigError } from 'rhea-rx';
import { batch } from 'rhea-rx/operators';
import { fakeDelivery } from 'rhea-rx/testing';
import { marbles } from '../support/marbles.js';

// prettier-ignore
describe('batch', () => {
  const values = () => {
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((body) => fakeDelivery(body));
    return { a: a!, b: b!, c: c!, d: d!, e: e! };
  };
  const unsettled = (v: ReturnType<typeof values>) => Object.values(v).every((d) => d.settledAs === undefined);

  it('emits when maxCount is reached, maxWaitTime after the first item, and the rest on completion', marbles((m) => {
    const v = values();
    const w = { x: [v.a, v.b, v.c], y: [v.d], z: [v.e] };
    const source = m.cold('   -a-b-c-d------e--|', v);
    const subs = '            ^----------------!';
    const expected = '        -----x------y----(z|)';
    m.expect(source.pipe(batch({ maxCount: 3, maxWaitTime: 5 }))).toBeObservable(expected, w);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect(unsettled(v)).toBe(true); // batching settles nothing
  }));

  it('starts the wait at the first item of a batch, not at subscription or at the last batch', marbles((m) => {
    const v = values();
    const w = { x: [v.a, v.b], y: [v.c] };
    const source = m.cold('   ---a--b---------c-|', v);
    const expected = '        -------x----------(y|)';
    m.expect(source.pipe(batch({ maxCount: 10, maxWaitTime: 4 }))).toBeObservable(expected, w);
  }));

  it('forgets the wait of a batch that filled up', marbles((m) => {
    const v = values();
    const w = { x: [v.a, v.b], y: [v.c] };
    const source = m.cold('   -abc-----|', v);
    const expected = '        --x----y-|'; // not [c] at frame 5, a's deadline
    m.expect(source.pipe(batch({ maxCount: 2, maxWaitTime: 4 }))).toBeObservable(expected, w);
  }));

  it('never emits an empty batch', marbles((m) => {
    m.expect(m.cold('--------|').pipe(batch({ maxCount: 2, maxWaitTime: 2 }))).toBeObservable('--------|');
  }));

  it('emits each item alone with maxCount 1', marbles((m) => {
    const v = values();
    m.expect(m.cold('-a-b|', v).pipe(batch({ maxCount: 1, maxWaitTime: 100 }))).toBeObservable('-x-y|', { x: [v.a], y: [v.b] });
  }));

  it('waits for maxCount or completion alone with maxWaitTime Infinity', marbles((m) => {
    const v = values();
    const w = { x: [v.a, v.b], y: [v.c] };
    m.expect(m.cold('-a 500ms b 500ms c 500ms |', v).pipe(batch({ maxCount: 2, maxWaitTime: Infinity }))).toBeObservable('502ms x 1001ms (y|)', w);
  }));

  it('drops what waits and settles nothing when the source errors', marbles((m) => {
    const v = values();
    const lost = new Error('link lost');
    const source = m.cold('   -a-b-#', v, lost);
    m.expect(source.pipe(batch({ maxCount: 3, maxWaitTime: 10 }))).toBeObservable('-----#', {}, lost);
    m.flush();
    expect(unsettled(v)).toBe(true);
  }));

  it('keeps a batch per subscription', marbles((m) => {
    const v = values();
    const operator = batch<typeof v.a>({ maxCount: 2, maxWaitTime: 3 });
    m.expect(m.cold('-a-|', v).pipe(operator)).toBeObservable('---(x|)', { x: [v.a] });
    m.expect(m.cold('--b--|', v).pipe(operator)).toBeObservable('-----(y|)', { y: [v.b] });
  }));

  it('stops taking items, emits nothing more and settles nothing when unsubscribed', marbles((m) => {
    const v = values();
    const source = m.hot('  -a-b-c-----|', v);
    const unsub = '         ------!     ';
    const subs = '          ^-----!     ';
    m.expect(source.pipe(batch({ maxCount: 2, maxWaitTime: 3 })), unsub).toBeObservable('---x--', { x: [v.a, v.b] });
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect(unsettled(v)).toBe(true);
  }));

  it.each([
    [{ maxWaitTime: 10 }, 'batch.maxCount', 'an integer of at least 1, got undefined'],
    [{ maxCount: 0, maxWaitTime: 10 }, 'batch.maxCount', 'got number 0'],
    [{ maxCount: 2.5, maxWaitTime: 10 }, 'batch.maxCount', 'got number 2.5'],
    [{ maxCount: 10 }, 'batch.maxWaitTime', 'a time in milliseconds from 0 to 2147483647, or Infinity, got undefined'],
    [{ maxCount: 10, maxWaitTime: -1 }, 'batch.maxWaitTime', 'got number -1'],
    [{ maxCount: 10, maxWaitTime: 2 ** 31 }, 'batch.maxWaitTime', 'got number 2147483648'],
    [{ maxCount: 10, maxWaitTime: 5, maxWaitTimeInMs: 5 }, 'batch.maxWaitTimeInMs', "Unknown option 'batch.maxWaitTimeInMs'"],
  ])('refuses %j at call time, naming %s', (options, option, message) => {
    const call = () => batch(options as never);
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(message);
    try { call(); } catch (e) { expect((e as ConfigError).option).toBe(option); }
  });
});
