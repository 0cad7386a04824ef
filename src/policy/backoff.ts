import { invalid, onlyKnownKeys, optionsObject } from '../config/validate.js';

/**
 * The longest delay a Node timer can wait: `setTimeout` fires after 1 ms for anything larger, so a
 * longer `maxDelay` would turn into a retry storm instead of a long wait.
 */
const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * How long to wait before each new attempt: exponential backoff with an optional cap, jitter and
 * attempt limit. Shared by the `reconnect` operator and the client's reconnect (C1).
 *
 * The delay before attempt `n` (1 for the first retry) is `initialDelay × factor^(n−1)`, capped at
 * `maxDelay`, then shortened by a random part of at most `jitter` of itself.
 */
export interface BackoffOptions {
  /** The delay before the first new attempt, in milliseconds. @default 100 */
  initialDelay?: number;
  /** What each delay is multiplied by for the next attempt; 1 keeps the delay constant. @default 2 */
  factor?: number;
  /** The longest delay, in milliseconds (Qpid Proton's cap). @default 10_000, or `initialDelay` when that is larger */
  maxDelay?: number;
  /**
   * The fraction (0 to 1) of each delay that is random: a delay `d` becomes a value between
   * `d × (1 − jitter)` and `d`, so many clients that lost the same broker do not come back at the
   * same moment. 0 is no jitter; 1 is "full jitter" (anything from 0 to `d`). @default 0
   */
  jitter?: number;
  /**
   * How many new attempts to make in a row before giving up; 0 never tries again. An attempt that
   * succeeds starts the count over. @default Infinity
   */
  maxAttempts?: number;
}

/** {@link BackoffOptions} checked and filled in by {@link resolveBackoff}. */
export interface ResolvedBackoff {
  /** See {@link BackoffOptions.initialDelay}. */
  readonly initialDelay: number;
  /** See {@link BackoffOptions.factor}. */
  readonly factor: number;
  /** See {@link BackoffOptions.maxDelay}. */
  readonly maxDelay: number;
  /** See {@link BackoffOptions.jitter}. */
  readonly jitter: number;
  /** See {@link BackoffOptions.maxAttempts}. */
  readonly maxAttempts: number;
}

const known = ['initialDelay', 'factor', 'maxDelay', 'jitter', 'maxAttempts'] as const;

/**
 * Checks backoff options and fills in the defaults: 100 ms doubling to a 10 s cap, no jitter, no
 * attempt limit (Qpid Proton's reconnect defaults).
 *
 * @param options - {@link BackoffOptions} as given, checked here (they may come from a file);
 *   `undefined` means all defaults.
 * @param path - Where the options sit, for error messages, e.g. `reconnect`
 *   (`reconnect.maxDelay`); `''` names the options alone.
 * @returns The complete, frozen policy.
 * @throws {@link ConfigError} naming the first wrong option: an unknown key, a delay that is not a
 *   number from 0 to 2147483647 ms, a `factor` below 1, a `maxDelay` below `initialDelay`, a `jitter`
 *   outside 0..1, or a `maxAttempts` that is neither a non-negative integer nor `Infinity`.
 * @example
 * const policy = resolveBackoff({ maxDelay: 30_000, jitter: 0.2 }, 'reconnect');
 */
export function resolveBackoff(options: unknown, path = ''): ResolvedBackoff {
  const at = (key: string) => (path === '' ? key : `${path}.${key}`);
  const o = optionsObject(options, path);
  onlyKnownKeys(o, known, path);

  const initialDelay = delay(o.initialDelay, at('initialDelay'), 100);
  const maxDelay = delay(o.maxDelay, at('maxDelay'), Math.max(10_000, initialDelay));
  if (maxDelay < initialDelay) invalid(at('maxDelay'), `a delay of at least initialDelay (${initialDelay} ms)`, o.maxDelay);

  const factor = o.factor ?? 2;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) invalid(at('factor'), 'a finite number of at least 1', factor);

  const jitter = o.jitter ?? 0;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) invalid(at('jitter'), 'a fraction from 0 to 1', jitter);

  const maxAttempts = o.maxAttempts ?? Infinity;
  if (typeof maxAttempts !== 'number' || !(maxAttempts === Infinity || (Number.isInteger(maxAttempts) && maxAttempts >= 0))) {
    invalid(at('maxAttempts'), 'a non-negative integer or Infinity', maxAttempts);
  }

  return Object.freeze({ initialDelay, factor, maxDelay, jitter, maxAttempts });
}

function delay(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= MAX_TIMER_DELAY)) {
    invalid(path, `a delay in milliseconds from 0 to ${MAX_TIMER_DELAY}`, value);
  }
  return value;
}

/**
 * The delay before attempt `attempt` under `policy`, in whole milliseconds. Pure: the same
 * arguments give the same result, and the only randomness is `random`.
 *
 * It does not look at `maxAttempts`: whether to make attempt `attempt` at all is the caller's
 * decision (`attempt <= policy.maxAttempts`).
 *
 * @param policy - A policy from {@link resolveBackoff}.
 * @param attempt - Which new attempt is next: 1 for the first one after a failure.
 * @param random - A source of numbers in [0, 1); only used when `policy.jitter` is above 0.
 * @returns `min(maxDelay, initialDelay × factor^(attempt−1))`, less up to `jitter` of itself.
 * @throws `RangeError` when `attempt` is not a positive integer.
 * @example
 * const policy = resolveBackoff({});
 * [1, 2, 3, 8, 9].map((n) => delayFor(policy, n)); // [100, 200, 400, 10000, 10000]
 */
export function delayFor(policy: ResolvedBackoff, attempt: number, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`Backoff attempt must be a positive integer, got ${String(attempt)}`);
  }
  // why: 0 × Infinity is NaN, and factor^(attempt−1) overflows to Infinity for large attempts.
  const base = policy.initialDelay === 0 ? 0 : Math.min(policy.maxDelay, policy.initialDelay * policy.factor ** (attempt - 1));
  const spread = policy.jitter === 0 ? 0 : policy.jitter * base * random();
  return Math.round(base - spread);
}
