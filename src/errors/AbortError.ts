import { AmqpError, type AmqpErrorOptions } from './AmqpError.js';
import { ConfigError } from './errors.js';

/**
 * An operation was cancelled through the `AbortSignal` given to it.
 *
 * It follows Node's own abort errors (`fs`, `timers/promises`, `stream.pipeline`): `name` is
 * `'AbortError'`, `code` is `'ABORT_ERR'`, and `cause` is the signal's `reason` — a `DOMException`
 * named `'AbortError'` for a plain `controller.abort()`, a `'TimeoutError'` for
 * `AbortSignal.timeout(ms)`, or whatever was passed to `abort(reason)`. So code that checks
 * `error.name === 'AbortError'` works unchanged, and, as an {@link AmqpError}, it is recognised by
 * `isAmqpError` like every error rhea-rx raises. Never retryable: someone asked to stop.
 *
 * A send stream is the exception that keeps S1: aborting `sendFrom` ends it with a
 * `SendFailedError` that lists the messages without an outcome, with this error as its `cause`.
 *
 * @example
 * try {
 *   await client.receiveOne('orders', { timeout: 60_000, signal });
 * } catch (error) {
 *   if (error instanceof AbortError) return; // cancelled: nothing is held, nothing is lost
 *   throw error;
 * }
 */
export class AbortError extends AmqpError {
  /** Always `'AbortError'`, the class name. */
  override readonly name = 'AbortError';
  /** Always `'ABORT_ERR'`, the code Node gives its own abort errors. */
  readonly code = 'ABORT_ERR';

  /**
   * @param message - What was aborted; `'The operation was aborted'` when omitted.
   * @param options - Usually just `cause`, the signal's `reason`; `retryable` is always `false`.
   */
  constructor(message = 'The operation was aborted', options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** @internal The AbortError for `signal`, saying what was aborted; the signal's reason becomes its `cause`. */
export function abortErrorOf(signal: AbortSignal, what: string): AbortError {
  return new AbortError(`${what} was aborted`, { cause: signal.reason });
}

/**
 * @internal Validates an optional `signal` option at call time.
 * @throws {@link ConfigError} naming `path` when the value is given and is not an AbortSignal.
 */
export function signalOption(value: unknown, path: string): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  const given = value === null ? 'null' : `a ${typeof value}`;
  throw new ConfigError(path, `Invalid option '${path}': expected an AbortSignal, got ${given}`);
}

/**
 * @internal Calls `listener` once when `signal` aborts; returns the remover, which must run on
 * every other way out so that no listener outlives the operation. A missing signal, or one already
 * aborted (the caller checks `aborted` first), adds nothing.
 */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  if (signal === undefined || signal.aborted) return () => undefined;
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
