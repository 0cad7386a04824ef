import type { Outcome } from '../delivery/Outcome.js';
import { AmqpError, type AmqpErrorOptions } from './AmqpError.js';

/**
 * The peer settled a sent message with an outcome the application does not accept as success —
 * by default `rejected` (raised by the `throwOnRejected` operator). `outcome` is the whole outcome,
 * with the message as it was given to `send`; `condition` and `description` are the peer's error,
 * where it sent one.
 *
 * `retryable` says whether sending the same message again can succeed: not after `rejected` (the
 * peer found it invalid), nor after `modified` with `undeliverableHere`; yes after `released` or
 * another `modified` (the peer did not process it).
 */
export class OutcomeError<T = unknown> extends AmqpError {
  /** Always `'OutcomeError'`, the class name. */
  override readonly name = 'OutcomeError';
  /** The outcome that was not allowed. */
  readonly outcome: Outcome<T>;

  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param outcome - The outcome that was not allowed; its error supplies `condition` and `description`.
   * @param options - Overrides for `condition`, `description` and `retryable` (otherwise taken from
   *   `outcome`), and the `cause`.
   */
  constructor(message: string, outcome: Outcome<T>, options: AmqpErrorOptions = {}) {
    super(message, {
      condition: outcome.error?.condition,
      description: outcome.error?.description,
      retryable: outcome.state === 'released' || (outcome.state === 'modified' && outcome.modified?.undeliverableHere !== true),
      ...options,
    });
    this.outcome = outcome;
  }
}
