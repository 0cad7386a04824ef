import { firstValueFrom, from, lastValueFrom, NEVER, Observable, of, Subject, throwError, toArray } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError, type Delivery, DeliveryAlreadySettledError, NotSupportedError } from 'rhea-rx';
import { type SettleResult, settleWith } from 'rhea-rx/operators';
import { fakeDelivery } from 'rhea-rx/testing';
import { marbles } from '../support/marbles.js';
import { failOn, goneDelivery, noModifyDelivery, toDelivery } from './helpers.js';

// prettier-ignore
describe('settleWith', () => {
  const values = () => ({ a: fakeDelivery('a'), b: fakeDelivery('b'), c: fakeDelivery('c') });
  const boom = new Error('b failed');

  it('accepts when the handler succeeds and modifies when it throws', marbles((m) => {
    const v = values();
    const source = m.cold('   -a--b--c--|', v);
    const subs = '            ^---------!';
    const expected = '        -a--b--c--|';
    m.expect(source.pipe(settleWith(failOn(boom, 'b'), { onError: 'modify' }), toDelivery())).toBeObservable(expected, v);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', 'modified', 'accepted']);
    expect(v.b.settledWith).toEqual({ deliveryFailed: true });
  }));

  it.each([
    // strategy, settled as, settled with
    ['reject', 'rejected', boom],
    ['release', 'released', undefined],
    ['modify', 'modified', { deliveryFailed: true }],
    ['modify-undeliverable', 'modified', { deliveryFailed: true, undeliverableHere: true }],
    ['accept', 'accepted', undefined],
  ] as const)("onError '%s' settles a failed delivery as %s", (onError, state, args) => marbles((m) => {
    const v = values();
    const source = m.cold('   -a-b-|', v);
    const expected = '        -a-b-|';
    m.expect(source.pipe(settleWith(failOn(boom, 'b'), { onError }), toDelivery())).toBeObservable(expected, v);
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.b.settleCalls]).toEqual(['accepted', state, 1]);
    expect(v.b.settledWith).toEqual(args);
  })());

  it('rejects by default, with the error the handler threw', marbles((m) => {
    const v = values();
    m.expect(m.cold('-b|', v).pipe(settleWith(failOn(boom, 'b')), toDelivery())).toBeObservable('-b|', v);
    m.flush();
    expect(v.b.settledAs).toBe('rejected');
    expect(v.b.settledWith).toBe(boom);
  }));

  it('rejects without a reason when the handler throws something that is not an Error', marbles((m) => {
    const v = values();
    m.expect(m.cold('-b|', v).pipe(settleWith(failOn({ code: 42 }, 'b')), toDelivery())).toBeObservable('-b|', v);
    m.flush();
    expect([v.b.settledAs, v.b.settledWith]).toEqual(['rejected', undefined]);
  }));

  it('emits a result per delivery: the value on success, the error on failure, and how it was settled', marbles((m) => {
    const v = values();
    const r = {
      A: { ok: true, delivery: v.a, settledAs: 'accepted', value: 'A' },
      B: { ok: false, delivery: v.b, settledAs: 'released', error: boom },
    } as const;
    const source = m.cold('   -a--b--|', v);
    const expected = '        -A--B--|';
    const handler = (d: Delivery<string>) => {
      if (d.body === 'b') throw boom;
      return d.body.toUpperCase();
    };
    m.expect(source.pipe(settleWith(handler, { onError: 'release' }))).toBeObservable(expected, r);
  }));

  it('takes the first value of an Observable as success and unsubscribes from it', marbles((m) => {
    const v = values();
    const work = { a: m.cold('--x--y|'), b: m.cold('-----|'), c: m.cold('-#', {}, boom) };
    const source = m.cold('   -a-------b-----c--|', v);
    const expected = '        ---a----------b-c-|';
    m.expect(source.pipe(settleWith((d) => work[d.body as 'a' | 'b' | 'c']), toDelivery())).toBeObservable(expected, v);
    m.expect(work.a).toHaveSubscriptions('-^-!');
    m.expect(work.b).toHaveSubscriptions('---------^----!');
    m.expect(work.c).toHaveSubscriptions('---------------^!');
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', 'accepted', 'rejected']);
    expect(v.c.settledWith).toBe(boom);
  }));

  it('reports the first value of an Observable, and undefined for one that completed empty', marbles((m) => {
    const v = values();
    const r = {
      A: { ok: true, delivery: v.a, settledAs: 'accepted', value: 'x' },
      B: { ok: true, delivery: v.b, settledAs: 'accepted', value: undefined },
    } as const;
    const work = { a: m.cold('-x-y|'), b: m.cold('-|') };
    m.expect(m.cold('a-b--|', v).pipe(settleWith((d) => work[d.body as 'a' | 'b']))).toBeObservable('-A-B-|', r);
  }));

  it('runs one handler at a time by default, in arrival order', marbles((m) => {
    const v = values();
    const work = m.cold('---x|');
    const source = m.cold('   -abc-----------|', v);
    const expected = '        ----a--b--c----|';
    m.expect(source.pipe(settleWith(() => work), toDelivery())).toBeObservable(expected, v);
    m.expect(work).toHaveSubscriptions(['-^--!', '----^--!', '-------^--!']);
  }));

  it('runs up to `concurrency` handlers at once and emits in the order they finish', marbles((m) => {
    const v = values();
    const work = { a: m.cold('------x|'), b: m.cold('--x|'), c: m.cold('--x|') };
    const source = m.cold('   -abc----|', v);
    const expected = '        ----b-ca|';
    m.expect(source.pipe(settleWith((d) => work[d.body as 'a' | 'b' | 'c'], { concurrency: 2 }), toDelivery())).toBeObservable(expected, v);
    m.expect(work.a).toHaveSubscriptions('-^-----!');
    m.expect(work.b).toHaveSubscriptions('--^-!');
    m.expect(work.c).toHaveSubscriptions('----^-!'); // starts when b's slot frees, not on arrival
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', 'accepted', 'accepted']);
  }));

  it('does not settle again a delivery the handler settled itself, whether it then succeeds or fails', marbles((m) => {
    const v = values();
    const r = {
      A: { ok: true, delivery: v.a, settledAs: 'released', value: undefined },
      B: { ok: false, delivery: v.b, settledAs: 'rejected', error: boom },
    } as const;
    const handler = (d: Delivery<string>) => {
      if (d.body === 'a') return d.release();
      d.reject('handled');
      throw boom;
    };
    m.expect(m.cold('-a-b-|', v).pipe(settleWith(handler, { onError: 'modify' }))).toBeObservable('-A-B-|', r);
    m.flush();
    expect([v.a.settleCalls, v.b.settleCalls, v.b.settledWith]).toEqual([1, 1, 'handled']);
  }));

  it('reports a delivery its link already let go of without settling it', marbles((m) => {
    const gone = { g: goneDelivery('g'), h: goneDelivery('h') };
    const r = {
      G: { ok: true, delivery: gone.g, settledAs: undefined, value: 'g' },
      H: { ok: false, delivery: gone.h, settledAs: undefined, error: boom },
    } as const;
    m.expect(m.cold('-g-h-|', gone).pipe(settleWith(failOn(boom, 'h')))).toBeObservable('-G-H-|', r);
    m.flush();
    expect([gone.g.settleCalls, gone.h.settleCalls]).toEqual([0, 0]);
  }));

  describe('with a failure handler', () => {
    it('lets it settle the delivery its own way', marbles((m) => {
      const v = values();
      const onError = (_: unknown, d: Delivery) => d.modify({ annotations: { 'x-failure': 'b failed' } });
      m.expect(m.cold('-a-b-|', v).pipe(settleWith(failOn(boom, 'b'), { onError }), toDelivery())).toBeObservable('-a-b-|', v);
      m.flush();
      expect([v.a.settledAs, v.b.settledAs]).toEqual(['accepted', 'modified']);
      expect(v.b.settledWith).toEqual({ annotations: { 'x-failure': 'b failed' } });
    }));

    it('passes it the error and the delivery', marbles((m) => {
      const v = values();
      const calls: unknown[][] = [];
      m.expect(m.cold('-b|', v).pipe(settleWith(failOn(boom, 'b'), { onError: (e, d) => { calls.push([e, d]); } }))).toBeObservable('-x|', {
        x: { ok: false, delivery: v.b, settledAs: 'rejected', error: boom },
      });
      m.flush();
      expect(calls).toEqual([[boom, v.b]]);
    }));

    it('rejects the delivery when it returns without settling', marbles((m) => {
      const v = values();
      m.expect(m.cold('-b|', v).pipe(settleWith(failOn(boom, 'b'), { onError: () => undefined }), toDelivery())).toBeObservable('-b|', v);
      m.flush();
      expect([v.b.settledAs, v.b.settledWith]).toEqual(['rejected', boom]);
    }));

    it('errors the stream when it throws, leaving the delivery to the link', marbles((m) => {
      const v = values();
      const bug = new TypeError('bug in the failure handler');
      const source = m.cold('   -a-b-c-|', v);
      const subs = '            ^--!';
      const expected = '        -a-#';
      m.expect(source.pipe(settleWith(failOn(boom, 'b'), { onError: () => { throw bug; } }), toDelivery())).toBeObservable(expected, v, bug);
      m.expect(source).toHaveSubscriptions(subs);
      m.flush();
      expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', undefined, undefined]);
    }));

    it('waits for its promise, then rejects what it left unsettled', async () => {
      const v = values();
      const order: string[] = [];
      const onError = async (_: unknown, d: Delivery) => {
        await Promise.resolve();
        order.push(`handled ${String(d.body)}`);
        if (d.body === 'c') d.release();
      };
      const results = await lastValueFrom(
        from([v.a, v.b, v.c]).pipe(settleWith(failOn(boom, 'b', 'c'), { onError }), toArray()),
      );
      expect(results.map((r) => [r.delivery.body, r.ok, r.settledAs])).toEqual([['a', true, 'accepted'], ['b', false, 'rejected'], ['c', false, 'released']]);
      expect(order).toEqual(['handled b', 'handled c']);
    });

    it('errors the stream when its promise rejects', async () => {
      const v = values();
      const bug = new Error('could not park it');
      const run = lastValueFrom(from([v.b]).pipe(settleWith(failOn(boom, 'b'), { onError: () => Promise.reject(bug) })));
      await expect(run).rejects.toBe(bug);
      expect(v.b.settledAs).toBeUndefined();
    });
  });

  it('errors the stream when a settlement is refused, e.g. modify on a peer without it', marbles((m) => {
    const v = { a: fakeDelivery('a'), b: noModifyDelivery('b'), c: fakeDelivery('c') };
    const source = m.cold('   -a-b-c-|', v);
    const subs = '            ^--!';
    const expected = '        -a-#';
    const error = new NotSupportedError("Cannot modify a delivery from 'fake': the peer does not support the modified outcome");
    m.expect(source.pipe(settleWith(failOn(boom, 'b'), { onError: 'modify' }), toDelivery())).toBeObservable(expected, v, error);
    m.expect(source).toHaveSubscriptions(subs);
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', undefined, undefined]);
  }));

  it('errors the stream with the typed error when accepting fails', marbles((m) => {
    const settled = fakeDelivery('s');
    // A delivery that claims to be unsettled but refuses settlement: the error is not swallowed.
    const liar = Object.create(settled, { settled: { get: () => false } }) as typeof settled;
    settled.release();
    const expected = new DeliveryAlreadySettledError("Cannot settle a delivery from 'fake' as accepted: it was already settled as released", 'settled');
    m.expect(m.cold('-s-|', { s: liar }).pipe(settleWith(() => 'ok'))).toBeObservable('-#', {}, expected);
  }));

  it('lets the handlers in flight finish when the deliveries complete', marbles((m) => {
    const v = values();
    const work = m.cold('----x|');
    const source = m.cold('   -a|', v);
    const expected = '        -----(a|)';
    m.expect(source.pipe(settleWith(() => work), toDelivery())).toBeObservable(expected, v);
    m.flush();
    expect(v.a.settledAs).toBe('accepted');
  }));

  it('cancels the handlers in flight and settles nothing when the deliveries error', marbles((m) => {
    const v = values();
    const lost = new Error('link lost');
    const work = m.cold('----x|');
    const source = m.cold('   -a-#', v, lost);
    const expected = '        ---#';
    m.expect(source.pipe(settleWith(() => work), toDelivery())).toBeObservable(expected, v, lost);
    m.expect(work).toHaveSubscriptions('-^-!');
    m.flush();
    expect(v.a.settledAs).toBeUndefined();
  }));

  it('stops taking deliveries and cancels handlers in flight when unsubscribed, settling nothing', marbles((m) => {
    const v = values();
    const work = m.cold('--x|');
    const source = m.hot('  -a---b---c--|', v);
    const unsub = '         ------!      ';
    const subs = '          ^-----!      ';
    m.expect(source.pipe(settleWith(() => work), toDelivery()), unsub).toBeObservable('---a--', v);
    m.expect(source).toHaveSubscriptions(subs);
    m.expect(work).toHaveSubscriptions(['-^-!', '-----^!']);
    m.flush();
    expect([v.a.settledAs, v.b.settledAs, v.c.settledAs]).toEqual(['accepted', undefined, undefined]);
  }));

  describe('with promises', () => {
    it('accepts when the promise resolves and settles by onError when it rejects', async () => {
      const v = values();
      const handler = async (d: Delivery<string>) => {
        await new Promise((resolve) => setTimeout(resolve, d.body === 'a' ? 5 : 1));
        if (d.body === 'b') throw boom;
        return d.body.length;
      };
      const results = await lastValueFrom(from([v.a, v.b, v.c]).pipe(settleWith(handler, { onError: 'release' }), toArray()));
      expect(results).toEqual([
        { ok: true, delivery: v.a, settledAs: 'accepted', value: 1 },
        { ok: false, delivery: v.b, settledAs: 'released', error: boom },
        { ok: true, delivery: v.c, settledAs: 'accepted', value: 1 },
      ]);
    });

    it('never has more than `concurrency` promises pending', async () => {
      const deliveries = Array.from({ length: 20 }, (_, i) => fakeDelivery(i));
      let running = 0;
      let most = 0;
      const handler = async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 1));
        running--;
      };
      const results = await lastValueFrom(from(deliveries).pipe(settleWith(handler, { concurrency: 3 }), toArray()));
      expect(most).toBe(3);
      expect(results).toHaveLength(20);
      expect(deliveries.every((d) => d.settledAs === 'accepted')).toBe(true);
    });

    it('aborts the signal of a handler in flight when unsubscribed, and settles nothing', async () => {
      const v = values();
      const signals: AbortSignal[] = [];
      const subscription = from([v.a, v.b]).pipe(settleWith((d, signal) => {
        signals.push(signal);
        return d.body === 'a' ? 'done' : new Promise<never>(() => undefined);
      })).subscribe();
      await Promise.resolve();
      subscription.unsubscribe();
      expect(signals.map((s) => s.aborted)).toEqual([false, true]);
      expect([v.a.settledAs, v.b.settledAs]).toEqual(['accepted', undefined]);
    });

    it('ignores a promise that settles after unsubscribe', async () => {
      const v = values();
      let resolve: (value: string) => void = () => undefined;
      const subscription = of(v.a).pipe(settleWith(() => new Promise<string>((r) => { resolve = r; }))).subscribe();
      subscription.unsubscribe();
      resolve('late');
      await new Promise((r) => setTimeout(r, 1));
      expect(v.a.settledAs).toBeUndefined();
    });
  });

  it('keeps the subscription per subscriber: two subscriptions do not share their limit', async () => {
    const gate = new Subject<void>();
    const handler = () => firstValueFrom(gate);
    const first = [fakeDelivery(1)];
    const second = [fakeDelivery(2)];
    const operator = settleWith(handler);
    const runs = [lastValueFrom(from(first).pipe(operator)), lastValueFrom(from(second).pipe(operator))];
    gate.next();
    await Promise.all(runs);
    expect([first[0]!.settledAs, second[0]!.settledAs]).toEqual(['accepted', 'accepted']);
  });

  it.each([
    [{ concurrency: 0 }, 'settleWith.concurrency', 'an integer of at least 1 or Infinity, got number 0'],
    [{ concurrency: 1.5 }, 'settleWith.concurrency', 'got number 1.5'],
    [{ concurrency: '2' }, 'settleWith.concurrency', 'got "2"'],
    [{ onError: 'drop' }, 'settleWith.onError', "a function or one of 'reject', 'release', 'modify', 'modify-undeliverable', 'accept', got \"drop\""],
    [{ concurency: 2 }, 'settleWith.concurency', "Unknown option 'settleWith.concurency'"],
    [[], 'settleWith', 'an options object'],
  ])('refuses %j at call time, naming %s', (options, option, message) => {
    const call = () => settleWith(() => undefined, options as never);
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(message);
    try { call(); } catch (e) { expect((e as ConfigError).option).toBe(option); }
  });

  it('refuses a handler that is not a function', () => {
    expect(() => settleWith('accept' as never)).toThrow("Invalid option 'settleWith.handler': expected a function");
  });

  it('accepts Infinity as concurrency', marbles((m) => {
    const v = values();
    const work = m.cold('---x|');
    m.expect(m.cold('(abc|)', v).pipe(settleWith(() => work, { concurrency: Infinity }), toDelivery())).toBeObservable('---(abc|)', v);
  }));

  it('infers the value type from a value, a promise or an Observable', () => {
    const source = new Observable<Delivery<{ id: number }>>();
    expectTypeOf(source.pipe(settleWith((d) => d.body.id))).toEqualTypeOf<Observable<SettleResult<{ id: number }, number>>>();
    expectTypeOf(source.pipe(settleWith(async () => 'saved'))).toEqualTypeOf<Observable<SettleResult<{ id: number }, string>>>();
    expectTypeOf(source.pipe(settleWith(() => of(true)))).toEqualTypeOf<Observable<SettleResult<{ id: number }, boolean>>>();
    expectTypeOf(source.pipe(settleWith(() => NEVER))).toEqualTypeOf<Observable<SettleResult<{ id: number }, never>>>();
    expectTypeOf(source.pipe(settleWith(() => throwError(() => boom)))).toEqualTypeOf<Observable<SettleResult<{ id: number }, never>>>();
  });
});
