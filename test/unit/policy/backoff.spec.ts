import { describe, expect, it } from 'vitest';
import { ConfigError, delayFor, resolveBackoff } from 'rhea-rx';

describe('resolveBackoff', () => {
  it('C1: defaults to 100 ms doubling to a 10 s cap, no jitter, no attempt limit', () => {
    expect(resolveBackoff(undefined)).toEqual({ initialDelay: 100, factor: 2, maxDelay: 10_000, jitter: 0, maxAttempts: Infinity });
    expect(resolveBackoff({})).toEqual(resolveBackoff(undefined));
  });

  it('keeps what is given and fills in the rest', () => {
    expect(resolveBackoff({ initialDelay: 50, factor: 3, maxDelay: 2_000, jitter: 0.5, maxAttempts: 0 })).toEqual({
      initialDelay: 50,
      factor: 3,
      maxDelay: 2_000,
      jitter: 0.5,
      maxAttempts: 0,
    });
    expect(resolveBackoff({ jitter: 1, maxAttempts: 7 })).toMatchObject({ initialDelay: 100, jitter: 1, maxAttempts: 7 });
  });

  it('raises the default cap to an initial delay above it', () => {
    expect(resolveBackoff({ initialDelay: 20_000 }).maxDelay).toBe(20_000);
  });

  it('returns a frozen policy', () => {
    expect(Object.isFrozen(resolveBackoff({}))).toBe(true);
  });

  it.each([
    // options, option named, expectation in the message
    [{ initialDelay: -1 }, 'reconnect.initialDelay', 'a delay in milliseconds from 0 to 2147483647, got number -1'],
    [{ initialDelay: '100' }, 'reconnect.initialDelay', 'got "100"'],
    [{ maxDelay: 2 ** 31 }, 'reconnect.maxDelay', 'from 0 to 2147483647'],
    [{ maxDelay: Infinity }, 'reconnect.maxDelay', 'got number Infinity'],
    [{ initialDelay: 500, maxDelay: 400 }, 'reconnect.maxDelay', 'at least initialDelay (500 ms), got number 400'],
    [{ factor: 0.5 }, 'reconnect.factor', 'a finite number of at least 1, got number 0.5'],
    [{ factor: NaN }, 'reconnect.factor', 'got number NaN'],
    [{ jitter: 1.5 }, 'reconnect.jitter', 'a fraction from 0 to 1, got number 1.5'],
    [{ jitter: -0.1 }, 'reconnect.jitter', 'a fraction from 0 to 1'],
    [{ maxAttempts: -1 }, 'reconnect.maxAttempts', 'a non-negative integer or Infinity, got number -1'],
    [{ maxAttempts: 2.5 }, 'reconnect.maxAttempts', 'got number 2.5'],
    [{ maxDelays: 5 }, 'reconnect.maxDelays', "Unknown option 'reconnect.maxDelays'"],
    [null, 'reconnect', 'an options object, got null'],
    [5, 'reconnect', 'got number 5'],
  ])('refuses %j, naming %s', (options, option, message) => {
    let error: unknown;
    try {
      resolveBackoff(options, 'reconnect');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
    expect((error as ConfigError).message).toContain(message);
  });

  it('names the options alone when no path is given', () => {
    expect(() => resolveBackoff({ jitter: 2 })).toThrow("Invalid option 'jitter'");
  });
});

describe('delayFor', () => {
  const defaults = resolveBackoff({});

  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [7, 6_400],
    [8, 10_000], // 12 800 capped
    [9, 10_000],
    [1_000, 10_000], // 2^999 overflows to Infinity: still the cap
    [1_000_000, 10_000],
  ])('C1: waits %i → %i ms by default', (attempt, delay) => {
    expect(delayFor(defaults, attempt)).toBe(delay);
  });

  it.each([
    // options, attempt, random, expected delay
    [{ initialDelay: 0 }, 1, 0.5, 0],
    [{ initialDelay: 0 }, 5_000, 0.5, 0], // 0 × Infinity would be NaN
    [{ factor: 1 }, 50, 0.5, 100],
    [{ factor: 3, initialDelay: 10 }, 4, 0.5, 270],
    [{ initialDelay: 1_000, maxDelay: 1_500 }, 2, 0.5, 1_500],
    [{ jitter: 0.5 }, 1, 0, 100], // random 0: the whole delay
    [{ jitter: 0.5 }, 1, 0.999_999, 50], // random → 1: less by up to half
    [{ jitter: 0.5 }, 3, 0.5, 300], // 400 − 0.5 × 0.5 × 400
    [{ jitter: 1 }, 2, 0.25, 150], // full jitter: 200 × (1 − 0.25)
    [{ jitter: 1 }, 100, 0.5, 5_000], // jitter applies to the capped delay: never above maxDelay
    [{ jitter: 0.2, initialDelay: 333 }, 1, 0.3, 313], // 333 − 19.98, rounded to whole ms
  ])('%j attempt %i random %d → %i ms', (options, attempt, random, delay) => {
    expect(delayFor(resolveBackoff(options), attempt, () => random)).toBe(delay);
  });

  it('does not draw a random number without jitter', () => {
    let calls = 0;
    expect(delayFor(defaults, 3, () => ++calls)).toBe(400);
    expect(calls).toBe(0);
  });

  it('stays within [d × (1 − jitter), d] for any random number', () => {
    const policy = resolveBackoff({ jitter: 0.3 });
    for (let attempt = 1; attempt <= 12; attempt++) {
      const d = delayFor(policy, attempt, () => 0);
      for (const r of [0, 0.1, 0.5, 0.9, 0.999_999]) {
        const jittered = delayFor(policy, attempt, () => r);
        expect(jittered).toBeLessThanOrEqual(d);
        expect(jittered).toBeGreaterThanOrEqual(Math.floor(d * 0.7));
      }
    }
  });

  it.each([0, -1, 1.5, NaN])('refuses attempt %d', (attempt) => {
    expect(() => delayFor(defaults, attempt)).toThrow(RangeError);
  });
});
