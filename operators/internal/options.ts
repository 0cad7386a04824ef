// Option checks shared by the operators: every check runs when the operator is created, and a
// wrong option is a ConfigError whose message names `operator.option`, what was expected and what
// was given (the same wording as the client's options).
import { invalid } from '../../src/config/validate.js';
import { ConfigError } from '../../src/errors/errors.js';

/** The longest delay a Node timer can wait; larger ones fire after 1 ms. */
export const MAX_TIMER_DELAY = 2_147_483_647;

export { invalid } from '../../src/config/validate.js';

/** The options bag of `operator`: a plain object with only `known` keys, or `{}` for undefined. */
export function optionsOf(value: unknown, operator: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  const proto: unknown = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) invalid(operator, 'an options object', value);
  const options = value as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${operator}.${key}`, `Unknown option '${operator}.${key}'; known options of '${operator}' are: ${known.join(', ')}`);
    }
  }
  return options;
}

/** An integer from `min` up, or `Infinity` when `infinite` allows it. */
export function count(value: unknown, path: string, min: number, infinite: boolean): number {
  const ok = typeof value === 'number' && ((Number.isInteger(value) && value >= min) || (infinite && value === Infinity));
  if (!ok) invalid(path, `an integer of at least ${min}${infinite ? ' or Infinity' : ''}`, value);
  return value as number;
}

/** A time in milliseconds a timer can wait (0 to 2147483647), or `Infinity` for "no timer". */
export function waitTime(value: unknown, path: string): number {
  const ok = typeof value === 'number' && ((value >= 0 && value <= MAX_TIMER_DELAY) || value === Infinity);
  if (!ok) invalid(path, `a time in milliseconds from 0 to ${MAX_TIMER_DELAY}, or Infinity`, value);
  return value as number;
}

/** A function, or the fallback when undefined. */
export function fn<F>(value: unknown, path: string, fallback: F): F {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') invalid(path, 'a function', value);
  return value as F;
}
