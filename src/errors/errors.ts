import { AmqpError, type AmqpErrorOptions } from './AmqpError.js';

/** The connection to the peer was lost or could not be made (socket error, remote close). Retryable. */
export class ConnectionLostError extends AmqpError {
  /** Always `'ConnectionLostError'`, the class name. */
  override readonly name = 'ConnectionLostError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is `true` unless set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** The peer refused the credentials (SASL failure, `amqp:unauthorized-access` at open). Never retried (C2). */
export class AuthenticationError extends AmqpError {
  /** Always `'AuthenticationError'`, the class name. */
  override readonly name = 'AuthenticationError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** The peer refused an operation for these credentials (`amqp:unauthorized-access` on a link). Never retried (C2). */
export class AuthorizationError extends AmqpError {
  /** Always `'AuthorizationError'`, the class name. */
  override readonly name = 'AuthorizationError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** The address does not exist at the peer (`amqp:not-found`). */
export class NotFoundError extends AmqpError {
  /** Always `'NotFoundError'`, the class name. */
  override readonly name = 'NotFoundError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is `false` unless set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { retryable: false, ...options });
  }
}

/** The peer detached a link, or a session ended under it; `retryable` follows the condition. */
export class LinkDetachedError extends AmqpError {
  /** Always `'LinkDetachedError'`, the class name. */
  override readonly name = 'LinkDetachedError';
}

/**
 * A delivery was settled twice, or after the link that received it was detached (R3) or lost
 * with its connection (R4). The broker has already released, or will redeliver, that message.
 */
export class DeliveryAlreadySettledError extends AmqpError {
  /** Always `'DeliveryAlreadySettledError'`, the class name. */
  override readonly name = 'DeliveryAlreadySettledError';
  /** Why the settlement was refused: settled before, or its link is gone. */
  readonly reason: 'settled' | 'detached' | 'stale';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param reason - Why the settlement was refused; becomes {@link DeliveryAlreadySettledError.reason}.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, reason: 'settled' | 'detached' | 'stale', options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
    this.reason = reason;
  }
}

/**
 * The peer cannot do what was asked, so rhea-rx refused before anything reached the wire; e.g. a
 * `modified` settlement on RabbitMQ 3.x, which ends the whole session instead of taking it.
 */
export class NotSupportedError extends AmqpError {
  /** Always `'NotSupportedError'`, the class name. */
  override readonly name = 'NotSupportedError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** A message is larger than the link's `max-message-size` (`amqp:link:message-size-exceeded`). */
export class MessageTooLargeError extends AmqpError {
  /** Always `'MessageTooLargeError'`, the class name. */
  override readonly name = 'MessageTooLargeError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** An operation did not finish in the time allowed. Named so as not to clash with rxjs's `TimeoutError`. */
export class OperationTimeoutError extends AmqpError {
  /** Always `'OperationTimeoutError'`, the class name. */
  override readonly name = 'OperationTimeoutError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is `true` unless set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** An option or URL is not valid; thrown synchronously, naming the option, what was expected and what was given. */
export class ConfigError extends AmqpError {
  /** Always `'ConfigError'`, the class name. */
  override readonly name = 'ConfigError';
  /** The option path that is wrong, e.g. `credit` or `url.port`. */
  readonly option: string;
  /**
   * @param option - The path of the option at fault, e.g. `credit` or `url.port`.
   * @param message - What was expected and what was given; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(option: string, message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
    this.option = option;
  }
}

/** A message body or property cannot be encoded as AMQP without changing its value. */
export class MessageEncodeError extends AmqpError {
  /** Always `'MessageEncodeError'`, the class name. */
  override readonly name = 'MessageEncodeError';
  /** Where in the message the value sits, e.g. `body.amount` or `applicationProperties.count`. */
  readonly path: string;
  /**
   * @param path - Where the value sits in the message, e.g. `body.amount`.
   * @param message - Why the value cannot be encoded; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(path: string, message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
    this.path = path;
  }
}

/** A push source outran link credit and the send buffer was full (S2); `unsent` lists what never went out. */
export class BufferOverflowError<T = unknown> extends AmqpError {
  /** Always `'BufferOverflowError'`, the class name. */
  override readonly name = 'BufferOverflowError';
  /** The messages that were waiting for credit and were never sent, in input order. */
  readonly unsent: readonly T[];
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param unsent - The messages that never went out, in input order.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, unsent: readonly T[], options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
    this.unsent = unsent;
  }
}

/**
 * A send stream ended in error (S1). `unsettled` lists, in input order, every message that has no
 * outcome: sent but unconfirmed, buffered, or the one that could not be encoded. `cause` says why.
 */
export class SendFailedError<T = unknown> extends AmqpError {
  /** Always `'SendFailedError'`, the class name. */
  override readonly name = 'SendFailedError';
  /** Every input message without an outcome, in input order (S1). */
  readonly unsettled: readonly T[];
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param unsettled - Every input message without an outcome, in input order.
   * @param options - Condition, description, cause and `retryable` (default `false`), taken as given.
   */
  constructor(message: string, unsettled: readonly T[], options: AmqpErrorOptions = {}) {
    super(message, options);
    this.unsettled = unsettled;
  }
}
