import { describe, expect, it } from 'vitest';
import {
  AmqpError,
  AuthenticationError,
  AuthorizationError,
  isAmqpError,
  MessageLockLostError,
  MessageNotFoundError,
  MessageTooLargeError,
  MessagingEntityDisabledError,
  NotFoundError,
  OperationTimeoutError,
  QuotaExceededError,
  ServerBusyError,
  SessionCannotBeLockedError,
  SessionLockLostError,
  toServiceBusError,
} from 'rhea-rx';
import { translate } from '../../../src/errors/translate.js';
import { managementError } from '../../../src/serviceBus/errors.js';

// The seed client's taxonomy (azure-servicebus exceptions and its no-retry list), condition by condition.
describe('toServiceBusError', () => {
  it.each([
    ['com.microsoft:message-lock-lost', MessageLockLostError, false],
    ['com.microsoft:session-lock-lost', SessionLockLostError, false],
    ['com.microsoft:session-cannot-be-locked', SessionCannotBeLockedError, true],
    ['com.microsoft:message-not-found', MessageNotFoundError, false],
    ['com.microsoft:entity-disabled', MessagingEntityDisabledError, true],
    ['com.microsoft:server-busy', ServerBusyError, true],
    ['com.microsoft:timeout', OperationTimeoutError, true],
    ['com.microsoft:auth-failed', AuthorizationError, false],
    ['amqp:resource-limit-exceeded', QuotaExceededError, false],
    ['amqp:link:message-size-exceeded', MessageTooLargeError, false],
  ] as const)('%s on a link becomes %o (retryable: %s)', (condition, Class, retryable) => {
    const wire = translate({ condition, description: 'the service says so' }, 'link', 'orders');
    const error = toServiceBusError(wire) as AmqpError;
    expect(error).toBeInstanceOf(Class);
    expect(isAmqpError(error)).toBe(true);
    expect(error).toMatchObject({ condition, description: 'the service says so', retryable });
    if (error !== wire) expect(error.cause).toBe(wire);
  });

  it.each([
    ['com.microsoft:argument-error', false],
    ['com.microsoft:argument-out-of-range', false],
    ['com.microsoft:precondition-failed', false],
  ])('%s stays a plain AmqpError, not retryable', (condition, retryable) => {
    const error = toServiceBusError(translate({ condition }, 'link', 'q')) as AmqpError;
    expect(error.constructor).toBe(AmqpError);
    expect(error.retryable).toBe(retryable);
  });

  it('com.microsoft:container-close detaches the link retryably (attach again, as azure-servicebus retries)', () => {
    const error = translate({ condition: 'com.microsoft:container-close' }, 'link', 'q');
    expect(error).toMatchObject({ name: 'LinkDetachedError', retryable: true });
    expect(toServiceBusError(error)).toBe(error);
  });

  it('passes through errors it has nothing to add to, and non-AMQP errors', () => {
    const notFound = translate({ condition: 'amqp:not-found' }, 'link', 'q');
    expect(toServiceBusError(notFound)).toBe(notFound);
    const plain = new TypeError('user code');
    expect(toServiceBusError(plain)).toBe(plain);
    const noCondition = new AmqpError('x');
    expect(toServiceBusError(noCondition)).toBe(noCondition);
    const already = new SessionLockLostError('lost', { condition: 'com.microsoft:session-lock-lost' });
    expect(toServiceBusError(already)).toBe(already);
  });
});

describe('managementError', () => {
  it('names the class by the response condition when there is one', () => {
    const error = managementError("renew-lock on 'q'", 410, 'com.microsoft:message-lock-lost', 'The lock supplied is invalid.');
    expect(error).toBeInstanceOf(MessageLockLostError);
    expect(error.message).toBe("renew-lock on 'q' failed with status 410 (com.microsoft:message-lock-lost): The lock supplied is invalid.");
  });

  it.each([
    [400, AmqpError, false],
    [401, AuthorizationError, false],
    [403, AuthorizationError, false],
    [404, NotFoundError, false],
    [408, OperationTimeoutError, true],
    [410, MessageLockLostError, false],
    [500, AmqpError, true],
    [503, ServerBusyError, true],
  ] as const)('status %i without a condition → %o (retryable: %s)', (status, Class, retryable) => {
    const error = managementError('peek-message', status, undefined, undefined);
    expect(error).toBeInstanceOf(Class);
    expect(error.retryable).toBe(retryable);
  });

  it('makes a refused token an AuthenticationError on $cbs (never retried, C2)', () => {
    const error = managementError("put-token for 'sb://ns/q'", 401, undefined, 'InvalidSignature');
    expect(managementError("put-token for 'sb://ns/q'", 401, undefined, 'x', 'cbs')).toBeInstanceOf(AuthenticationError);
    expect(managementError('put-token', 200, 'amqp:unauthorized-access', 'x', 'cbs').retryable).toBe(false);
    expect(error).toBeInstanceOf(AuthorizationError);
  });

  it("keeps an unknown condition with the core translator's retryable flag", () => {
    expect(managementError('x', 500, 'amqp:internal-error', undefined)).toMatchObject({ condition: 'amqp:internal-error', retryable: true });
    expect(managementError('x', 500, 'amqp:not-allowed', undefined)).toMatchObject({ condition: 'amqp:not-allowed', retryable: false });
  });
});
