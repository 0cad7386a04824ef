import { AmqpError, type AmqpErrorOptions } from '../errors/AmqpError.js';
import {
  AuthenticationError,
  AuthorizationError,
  MessageTooLargeError,
  NotFoundError,
  NotSupportedError,
  OperationTimeoutError,
} from '../errors/errors.js';
import { translate } from '../errors/translate.js';

// Azure Service Bus's error taxonomy (azure-servicebus's exceptions) on rhea-rx's one base class.
// Where the core already has the class — connection lost, authentication, authorization, operation
// timeout, message too large, already settled, send failed — it is used as it is; these are the ones
// only Service Bus has. `retryable` follows the seed's client (its `_NO_RETRY_CONDITION_ERROR_CODES`).

/** No session is free to lock (all are locked by other receivers, or none has messages). Retryable: try again later. */
export class NoActiveSessionError extends AmqpError {
  /** Always `'NoActiveSessionError'`, the class name. */
  override readonly name = 'NoActiveSessionError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is `true` unless set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/**
 * The lock on a message was lost (it expired, or the message was settled or moved): the message is
 * back in the queue and must be received again to be settled. `com.microsoft:message-lock-lost`.
 */
export class MessageLockLostError extends AmqpError {
  /** Always `'MessageLockLostError'`, the class name. */
  override readonly name = 'MessageLockLostError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/**
 * The lock on a session was lost: the messages received from it can no longer be settled; accept
 * the session again to go on. `com.microsoft:session-lock-lost`.
 */
export class SessionLockLostError extends AmqpError {
  /** Always `'SessionLockLostError'`, the class name. */
  override readonly name = 'SessionLockLostError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** The session asked for is locked by another receiver. Retryable. `com.microsoft:session-cannot-be-locked`. */
export class SessionCannotBeLockedError extends AmqpError {
  /** Always `'SessionCannotBeLockedError'`, the class name. */
  override readonly name = 'SessionCannotBeLockedError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is `true` unless set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** No message has the sequence number asked for (received already, or dead-lettered). `com.microsoft:message-not-found`. */
export class MessageNotFoundError extends AmqpError {
  /** Always `'MessageNotFoundError'`, the class name. */
  override readonly name = 'MessageNotFoundError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** The queue, topic or subscription is disabled. Retryable, as in the seed's client. `com.microsoft:entity-disabled`. */
export class MessagingEntityDisabledError extends AmqpError {
  /** Always `'MessagingEntityDisabledError'`, the class name. */
  override readonly name = 'MessagingEntityDisabledError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is `true` unless set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** The service is busy; wait before trying again. Retryable. `com.microsoft:server-busy`. */
export class ServerBusyError extends AmqpError {
  /** Always `'ServerBusyError'`, the class name. */
  override readonly name = 'ServerBusyError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is `true` unless set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** A quota of the entity or namespace is used up (size, connections). `amqp:resource-limit-exceeded`. */
export class QuotaExceededError extends AmqpError {
  /** Always `'QuotaExceededError'`, the class name. */
  override readonly name = 'QuotaExceededError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** Settling a message through the management node failed; `cause` says why and `retryable` follows it. */
export class MessageSettleFailedError extends AmqpError {
  /** Always `'MessageSettleFailedError'`, the class name. */
  override readonly name = 'MessageSettleFailedError';
}

/**
 * Renewing a lock in the background failed (see `renewLocks` and `renewSessionLock`); `cause` is
 * the renewal's error. The lock will expire; receive the message (or accept the session) again.
 */
export class AutoLockRenewFailedError extends AmqpError {
  /** Always `'AutoLockRenewFailedError'`, the class name. */
  override readonly name = 'AutoLockRenewFailedError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** Renewing a lock in the background stopped at its maximum duration; the lock then expires as usual. */
export class AutoLockRenewTimeoutError extends AmqpError {
  /** Always `'AutoLockRenewTimeoutError'`, the class name. */
  override readonly name = 'AutoLockRenewTimeoutError';
  /**
   * @param message - What happened and what to do about it; never a secret.
   * @param options - Condition, description and cause; `retryable` is always `false`, whatever is set here.
   */
  constructor(message: string, options: AmqpErrorOptions = {}) {
    super(message, { ...options, retryable: false });
  }
}

type Make = (message: string, options: AmqpErrorOptions) => AmqpError;

/** One row per condition Service Bus sends, with the seed's `retryable`. */
const byCondition: Readonly<Record<string, Make>> = {
  'com.microsoft:message-lock-lost': (m, o) => new MessageLockLostError(m, o),
  'com.microsoft:session-lock-lost': (m, o) => new SessionLockLostError(m, o),
  'com.microsoft:session-cannot-be-locked': (m, o) => new SessionCannotBeLockedError(m, o),
  'com.microsoft:message-not-found': (m, o) => new MessageNotFoundError(m, o),
  'com.microsoft:entity-disabled': (m, o) => new MessagingEntityDisabledError(m, o),
  'com.microsoft:server-busy': (m, o) => new ServerBusyError(m, o),
  'com.microsoft:timeout': (m, o) => new OperationTimeoutError(m, o),
  'com.microsoft:auth-failed': (m, o) => new AuthorizationError(m, o),
  'com.microsoft:argument-error': (m, o) => new AmqpError(m, { ...o, retryable: false }),
  'com.microsoft:argument-out-of-range': (m, o) => new AmqpError(m, { ...o, retryable: false }),
  'com.microsoft:precondition-failed': (m, o) => new AmqpError(m, { ...o, retryable: false }),
  'com.microsoft:entity-already-exists': (m, o) => new AmqpError(m, { ...o, retryable: false }),
  'amqp:resource-limit-exceeded': (m, o) => new QuotaExceededError(m, o),
  'amqp:link:message-size-exceeded': (m, o) => new MessageTooLargeError(m, o),
};

/**
 * Gives an error from a Service Bus link or operation its Service Bus class: a `com.microsoft:*`
 * condition (or an AMQP condition the service gives its own meaning) becomes the matching class
 * above, keeping condition, description and the original as `cause`. Anything else — and errors
 * already of such a class — passes through unchanged.
 *
 * @param error - Whatever a link or request failed with.
 * @returns An {@link AmqpError} (a non-AMQP error is returned as it was given, for the caller to rethrow).
 */
export function toServiceBusError(error: unknown): unknown {
  if (!(error instanceof AmqpError)) return error;
  const condition = error.condition;
  if (condition === undefined) return error;
  const make = byCondition[condition];
  if (make === undefined) return error;
  const made = make(error.message, { condition, description: error.description, cause: error });
  return made.name === error.name ? error : made;
}

/** The management status codes (HTTP's) that name an error when the response has no condition. */
function byStatus(status: number, message: string, options: AmqpErrorOptions): AmqpError {
  switch (status) {
    case 400:
      return new AmqpError(message, { ...options, retryable: false });
    case 401:
    case 403:
      return new AuthorizationError(message, options);
    case 404:
      return new NotFoundError(message, options);
    case 405:
    case 501:
      return new NotSupportedError(message, options);
    case 408:
      return new OperationTimeoutError(message, options);
    case 410:
      return new MessageLockLostError(message, options);
    case 412:
      return new AmqpError(message, { ...options, retryable: false });
    case 503:
      return new ServerBusyError(message, options);
    default:
      return new AmqpError(message, { ...options, retryable: status >= 500 });
  }
}

/**
 * The error a failed management or CBS response stands for: from its error condition when it has
 * one (the `errorCondition` application property), else from its status code.
 *
 * @param what - The operation, for the message, e.g. `renew-lock on 'orders'`.
 * @param status - The response's status code.
 * @param condition - The response's error condition, if any.
 * @param description - The response's status description, if any.
 * @param scope - `cbs` makes an unauthorized answer an authentication failure (the token was refused).
 */
export function managementError(what: string, status: number, condition: string | undefined, description: string | undefined, scope: 'cbs' | 'management' = 'management'): AmqpError {
  const detail = `${what} failed with status ${status}${condition === undefined ? '' : ` (${condition})`}${description === undefined ? '' : `: ${description}`}`;
  if (scope === 'cbs' && (status === 401 || condition === 'amqp:unauthorized-access')) {
    return new AuthenticationError(`${detail}; check the key name and key, or the token`, { condition, description });
  }
  const make = condition === undefined ? undefined : byCondition[condition];
  if (make !== undefined) return make(detail, { condition, description });
  if (condition === 'amqp:not-found') return new NotFoundError(detail, { condition, description });
  if (condition === 'amqp:unauthorized-access') return new AuthorizationError(detail, { condition, description });
  const error = byStatus(status, detail, { condition, description });
  // A condition the table above does not know: its retryable flag is the core translator's.
  return condition === undefined || error.constructor !== AmqpError
    ? error
    : new AmqpError(detail, { condition, description, retryable: translate({ condition, description }, 'link', what).retryable });
}
