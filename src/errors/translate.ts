import { AmqpError } from './AmqpError.js';
import {
  AuthenticationError,
  AuthorizationError,
  ConnectionLostError,
  LinkDetachedError,
  MessageTooLargeError,
  NotFoundError,
} from './errors.js';

/** Where an error was seen: it decides, e.g., whether `unauthorized-access` means bad credentials or no permission. */
export type ErrorScope = 'connection' | 'session' | 'link';

/** What the translator needs from an error rhea hands over: an AMQP error object, a `ConnectionError`, or a socket error. */
interface WireError {
  condition?: unknown;
  description?: unknown;
  code?: unknown;
  message?: unknown;
}

type Make = (message: string, condition: string, description: string | undefined, cause: unknown) => AmqpError;

const link = (retryable: boolean): Make => (m, condition, description, cause) =>
  new LinkDetachedError(m, { condition, description, retryable, cause });
const lost = (retryable: boolean): Make => (m, condition, description, cause) =>
  new ConnectionLostError(m, { condition, description, retryable, cause });
const generic = (retryable: boolean): Make => (m, condition, description, cause) =>
  new AmqpError(m, { condition, description, retryable, cause });

/**
 * One row per AMQP condition: which class, and whether trying again can help.
 * Conditions from AMQP 1.0 section 2.8.15–2.8.18, plus the ones Azure Service Bus sends.
 */
const conditions: Record<string, Make> = {
  'amqp:not-found': (m, condition, description, cause) => new NotFoundError(m, { condition, description, cause }),
  'amqp:link:message-size-exceeded': (m, condition, description, cause) =>
    new MessageTooLargeError(m, { condition, description, cause }),
  'amqp:link:detach-forced': link(true),
  'amqp:link:stolen': link(false),
  'amqp:link:redirect': link(true),
  'amqp:link:transfer-limit-exceeded': link(false),
  'amqp:session:window-violation': link(false),
  'amqp:session:errant-link': link(false),
  'amqp:session:handle-in-use': link(false),
  'amqp:session:unattached-handle': link(false),
  'amqp:connection:forced': lost(true),
  'amqp:connection:framing-error': lost(true),
  'amqp:connection:redirect': lost(true),
  'amqp:internal-error': generic(true),
  'amqp:resource-limit-exceeded': generic(true),
  'amqp:resource-locked': generic(true),
  'amqp:resource-deleted': generic(false),
  'amqp:illegal-state': generic(false),
  'amqp:precondition-failed': generic(false),
  'amqp:not-allowed': generic(false),
  'amqp:not-implemented': generic(false),
  'amqp:invalid-field': generic(false),
  'amqp:decode-error': generic(false),
  'amqp:frame-size-too-small': generic(false),
  'com.microsoft:server-busy': generic(true),
  'com.microsoft:timeout': generic(true),
  'com.microsoft:operation-cancelled': generic(true),
  'com.microsoft:message-lock-lost': generic(false),
  'com.microsoft:session-lock-lost': generic(false),
  'com.microsoft:session-cannot-be-locked': generic(true),
  'com.microsoft:entity-disabled': generic(false),
  // The service moved the entity's container: attach again (azure-servicebus retries it).
  'com.microsoft:container-close': link(true),
  'com.microsoft:message-not-found': generic(false),
  'com.microsoft:argument-error': generic(false),
  'com.microsoft:argument-out-of-range': generic(false),
};

/** Node socket error codes that mean "the network failed": reconnecting can help. */
const retryableSocketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
]);

/** TLS failures: the peer is not who it claims, or we cannot prove who we are. Never retried. */
const tlsCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
]);

function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT') || tlsCodes.has(code);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Turns whatever rhea or the socket reported into an {@link AmqpError} subclass.
 *
 * This is the only place that maps AMQP conditions and Node error codes to classes. An
 * {@link AmqpError} passes through unchanged; built-in errors thrown by user code are not
 * translated here (callers never pass them).
 *
 * @param error - An AMQP error (`{ condition, description }`), a rhea `ConnectionError`, or a socket error.
 * @param scope - Where it was seen.
 * @param subject - What it concerns, for the message: an address, or a redacted URL.
 */
export function translate(error: unknown, scope: ErrorScope, subject: string): AmqpError {
  if (error instanceof AmqpError) return error;
  const wire = (typeof error === 'object' && error !== null ? error : {}) as WireError;
  const condition = text(wire.condition);
  const description = text(wire.description);
  const where = scope === 'link' ? `link to '${subject}'` : `${scope} to ${subject}`;

  if (condition !== undefined) {
    const detail = description === undefined ? condition : `${condition}: ${description}`;
    if (condition === 'amqp:unauthorized-access') {
      return scope === 'link'
        ? new AuthorizationError(`Not authorized: ${where} refused (${detail})`, { condition, description, cause: error })
        : new AuthenticationError(`Authentication failed for ${where} (${detail}); check the user name and password`, {
            condition,
            description,
            cause: error,
          });
    }
    const make = conditions[condition];
    if (make !== undefined) {
      const what = make === conditions['amqp:not-found'] ? `Address not found: ${where} (${detail})` : `${where} failed: ${detail}`;
      return make(what, condition, description, error);
    }
    // An unknown condition: keep it, and let the scope decide the class.
    return scope === 'link'
      ? new LinkDetachedError(`${where} detached: ${detail}`, { condition, description, retryable: false, cause: error })
      : new ConnectionLostError(`${where} closed: ${detail}`, { condition, description, retryable: false, cause: error });
  }

  const code = text(wire.code);
  const reason = text(wire.message) ?? (typeof error === 'string' ? error : 'unknown error');
  if (code !== undefined) {
    if (isTlsCode(code)) {
      return new ConnectionLostError(`TLS failed for ${where}: ${reason} (${code})`, { retryable: false, cause: error });
    }
    return new ConnectionLostError(`Connection lost for ${where}: ${reason} (${code})`, {
      retryable: retryableSocketCodes.has(code),
      cause: error,
    });
  }
  if (scope === 'link') {
    return new LinkDetachedError(`${where} detached: ${reason}`, { retryable: true, cause: error });
  }
  return new ConnectionLostError(`Connection lost for ${where}: ${reason}`, { retryable: true, cause: error });
}
