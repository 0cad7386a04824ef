import { ConfigError } from '../errors/errors.js';

/** Describes a given value for an error message without echoing long or secret content. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      return Buffer.isBuffer(value) ? `a Buffer of ${value.length} bytes` : `a ${typeof value}`;
  }
}

/** Throws a {@link ConfigError} naming `path`, what was expected, and what was given. */
export function invalid(path: string, expected: string, value: unknown): never {
  throw new ConfigError(path, `Invalid option '${path}': expected ${expected}, got ${describe(value)}`);
}

/** Refuses keys that are not in `known`, naming the first unknown one (a typo is an error, not a no-op). */
export function onlyKnownKeys(value: object, known: readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const where = path === '' ? key : `${path}.${key}`;
      throw new ConfigError(where, `Unknown option '${where}'; known options${path === '' ? '' : ` of '${path}'`} are: ${known.join(', ')}`);
    }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function optionsObject(value: unknown, path: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) invalid(path === '' ? 'options' : path, 'an options object', value);
  return value;
}

export function integer(value: unknown, path: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(path, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function optionalInteger(value: unknown, path: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : integer(value, path, min, max, 0);
}

export function oneOf<const V extends string>(value: unknown, path: string, values: readonly V[], fallback: V): V {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    invalid(path, `one of ${values.map((v) => `'${v}'`).join(', ')}`, value);
  }
  return value as V;
}

export function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) invalid(path, 'a non-empty string', value);
  return value;
}

export function optionalBoolean(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') invalid(path, 'true or false', value);
  return value;
}

export function optionalRecord(value: unknown, path: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) invalid(path, 'a plain object', value);
  return value;
}

export function optionalStrings(value: unknown, path: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    invalid(path, 'an array of non-empty strings', value);
  }
  return [...(value as string[])];
}

export function optionalFunction<F extends (...args: never[]) => unknown>(value: unknown, path: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') invalid(path, 'a function', value);
  return value as F;
}

/** An address: a non-empty string. */
export function address(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) invalid(path, 'a non-empty address string', value);
  return value;
}
