import { defer, type Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthenticationError, ConfigError, ConnectionLostError, LinkDetachedError } from 'rhea-rx';
import { reconnect } from 'rhea-rx/operators';
import { marbles } from '../support/marbles.js';

/** A source whose n-th subscription gets the n-th Observable. */
const attempts = <T>(...sources: Observable<T>[]) => {
  let n = 0;
  return defer(() => sources[Math.min(n++, sources.length - 1)]!);
};

// prettier-ignore
describe('reconnect', () => {
  const lost = new ConnectionLostError('Connection lost for connection to amqp://broker:5672: read ECONNRESET (ECONNRESET)');
  const values = { a: 'a', b: 'b', c: 'c' };

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('C1: resubscribes after retryable errors, 100 ms doubling, and gives up after maxAttempts with the last error', marbles((m) => {
    const last = new LinkDetachedError("link to 'q' detached", { retryable: true });
    const source = attempts(m.cold('--#', {}, lost), m.cold('--#', {}, lost), m.cold('--#', {}, lost), m.cold('--#', {}, last));
    const first = m.cold('--#', {}, lost);
    const again = m.cold('--#', {}, lost);
    m.expect(source.pipe(reconnect({ maxAttempts: 3 }))).toBeObservable('708ms #', {}, last); // the last error, as it is
    // the subscriptions one by one: waits of 100, 200 and 400 ms between them
    m.expect(attempts(first, again).pipe(reconnect({ maxAttempts: 3 }))).toBeObservable('708ms #', {}, lost);
    m.expect(first).toHaveSubscriptions('^-!');
    m.expect(again).toHaveSubscriptions(['102ms ^-!', '304ms ^-!', '706ms ^-!']);
  }));

  it('passes values through from every subscription', marbles((m) => {
    const one = m.cold('  -a-#', values, lost);
    const two = m.cold('  -b-c|', values);
    const source = attempts(one, two);
    m.expect(source.pipe(reconnect())).toBeObservable('-a 102ms b-c|', values);
    m.expect(one).toHaveSubscriptions('^--!');
    m.expect(two).toHaveSubscriptions('103ms ^---!');
  }));

  it('starts the attempts over after the source emits a value', marbles((m) => {
    const failing = m.cold('--#', {}, lost);
    const emitting = m.cold('-a-#', values, lost);
    const done = m.cold('--|');
    const source = attempts(failing, failing, emitting, done);
    // waits: 100, 200, then a resets the count: 100 again, not 400
    m.expect(source.pipe(reconnect())).toBeObservable('305ms a 103ms |', values);
    m.expect(failing).toHaveSubscriptions(['^-!', '102ms ^-!']);
    m.expect(emitting).toHaveSubscriptions('304ms ^--!');
    m.expect(done).toHaveSubscriptions('407ms ^-!');
  }));

  it('C2: lets a non-retryable error through at once', marbles((m) => {
    const denied = new AuthenticationError('Authentication failed for connection to amqp://broker:5672 (amqp:unauthorized-access)');
    const source = m.cold('   -a-#', values, denied);
    const subs = '            ^--!';
    m.expect(source.pipe(reconnect())).toBeObservable('-a-#', values, denied);
    m.expect(source).toHaveSubscriptions(subs);
  }));

  it('lets errors that are not rhea-rx errors through by default', marbles((m) => {
    const bug = new TypeError('x is not a function');
    const source = m.cold('--#', {}, bug);
    m.expect(source.pipe(reconnect())).toBeObservable('--#', {}, bug);
    m.expect(source).toHaveSubscriptions('^-!');
  }));

  it('lets an error through after non-retryable ones follow retryable ones', marbles((m) => {
    const denied = new AuthenticationError('Authentication failed');
    const source = attempts(m.cold('--#', {}, lost), m.cold('--#', {}, denied));
    m.expect(source.pipe(reconnect())).toBeObservable('104ms #', {}, denied);
  }));

  it('retries what isRetryable says', marbles((m) => {
    const busy = new Error('busy');
    const source = attempts(m.cold('--#', {}, busy), m.cold('--#', {}, lost), m.cold('-a|', values));
    const isRetryable = (e: unknown) => e === busy;
    m.expect(source.pipe(reconnect({ isRetryable }))).toBeObservable('104ms #', {}, lost);
  }));

  it('follows the given policy: initial delay, factor and cap', marbles((m) => {
    const failing = m.cold('#', {}, lost);
    const done = m.cold('|');
    const source = attempts(failing, failing, failing, failing, done);
    m.expect(source.pipe(reconnect({ initialDelay: 10, factor: 3, maxDelay: 50 }))).toBeObservable('140ms |');
    m.expect(failing).toHaveSubscriptions(['(^!)', '10ms (^!)', '40ms (^!)', '90ms (^!)']);
    m.expect(done).toHaveSubscriptions('140ms (^!)');
  }));

  it('shortens each wait by the jitter', marbles((m) => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const failing = m.cold('#', {}, lost);
    const source = attempts(failing, failing, m.cold('|'));
    // 100 × (1 − 0.5 × 0.5) = 75, then 200 × 0.75 = 150
    m.expect(source.pipe(reconnect({ jitter: 0.5 }))).toBeObservable('225ms |');
    m.expect(failing).toHaveSubscriptions(['(^!)', '75ms (^!)']);
  }));

  it('does not retry with maxAttempts 0', marbles((m) => {
    const source = m.cold('-a-#', values, lost);
    m.expect(source.pipe(reconnect({ maxAttempts: 0 }))).toBeObservable('-a-#', values, lost);
    m.expect(source).toHaveSubscriptions('^--!');
  }));

  it('cancels the wait and resubscribes nothing when unsubscribed', marbles((m) => {
    const source = m.cold('   --#', {}, lost);
    const unsub = '           50ms !';
    m.expect(source.pipe(reconnect()), unsub).toBeObservable('');
    m.expect(source).toHaveSubscriptions('^-!');
  }));

  it('unsubscribes from the source when unsubscribed', marbles((m) => {
    const source = m.hot('    -a--b--c--|', values);
    const unsub = '           -----!     ';
    const subs = '            ^----!     ';
    m.expect(source.pipe(reconnect()), unsub).toBeObservable('-a--b-', values);
    m.expect(source).toHaveSubscriptions(subs);
  }));

  it.each([
    [{ initialDelay: -5 }, 'reconnect.initialDelay', 'a delay in milliseconds'],
    [{ factor: 0 }, 'reconnect.factor', 'a finite number of at least 1'],
    [{ jitter: 2 }, 'reconnect.jitter', 'a fraction from 0 to 1'],
    [{ maxAttempts: -1 }, 'reconnect.maxAttempts', 'a non-negative integer or Infinity'],
    [{ isRetryable: true }, 'reconnect.isRetryable', 'a function, got boolean true'],
    [{ retries: 3 }, 'reconnect.retries', "Unknown option 'reconnect.retries'"],
    ['fast', 'reconnect', 'an options object'],
  ])('refuses %j at call time, naming %s', (options, option, message) => {
    const call = () => reconnect(options as never);
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(message);
    try { call(); } catch (e) { expect((e as ConfigError).option).toBe(option); }
  });
});
