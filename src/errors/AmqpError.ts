const brand = Symbol.for('rhea-rx.error');

/** Options shared by every {@link AmqpError} constructor. */
export interface AmqpErrorOptions {
  /** The AMQP error condition, e.g. `amqp:not-found`. */
  condition?: string | undefined;
  /** The peer's description, when the error came from the wire. */
  description?: string | undefined;
  /** Whether trying again (reconnect, re-attach, resend) can succeed. */
  retryable?: boolean | undefined;
  /** The underlying error: a rhea error, a Node `SystemError`, a user error. */
  cause?: unknown;
}

/**
 * The base of every error rhea-rx raises.
 *
 * `condition` and `description` come from the AMQP error the peer sent, when there was one;
 * `retryable` says whether reconnecting or trying again can help. Messages never contain a
 * password, key or token. `instanceof` works across duplicate installs of the package.
 */
export class AmqpError extends Error {
  /** The class name, e.g. `'NotFoundError'`. */
  override readonly name: string = 'AmqpError';
  /** The AMQP error condition, e.g. `amqp:not-found`; `undefined` when the error did not come from one. */
  readonly condition: string | undefined;
  /** The description the peer sent with the condition, when it sent one. */
  readonly description: string | undefined;
  /** Whether trying again (reconnect, re-attach, resend) can succeed; the `reconnect` operator reads it. */
  readonly retryable: boolean;

  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description, retryable and cause; see {@link AmqpErrorOptions}.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.condition = options.condition;
    this.description = options.description;
    this.retryable = options.retryable ?? false;
  }

  /** Recognizes rhea-rx errors even when two copies of the package are loaded. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === AmqpError) return isAmqpError(value);
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  /** @internal Marks rhea-rx errors for {@link isAmqpError}, across copies of the package. */
  get [brand](): true {
    return true;
  }

  /** The fields worth logging, without `cause` or the stack: `{ name, message, condition, description, retryable }`. */
  toJSON(): { name: string; message: string; condition?: string; description?: string; retryable: boolean } {
    return {
      name: this.name,
      message: this.message,
      ...(this.condition === undefined ? {} : { condition: this.condition }),
      ...(this.description === undefined ? {} : { description: this.description }),
      retryable: this.retryable,
    };
  }
}

/** True for any error raised by rhea-rx, whichever copy of the package raised it. */
export function isAmqpError(value: unknown): value is AmqpError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
