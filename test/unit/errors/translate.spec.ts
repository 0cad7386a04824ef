import { describe, expect, it } from 'vitest';
import {
  AmqpError,
  AuthenticationError,
  AuthorizationError,
  ConnectionLostError,
  LinkDetachedError,
  MessageTooLargeError,
  NotFoundError,
  isAmqpError,
} from '../../../src/index.js';
import { translate } from '../../../src/errors/translate.js';

describe('translate', () => {
  it.each([
    ['amqp:not-found', 'link', NotFoundError, false],
    ['amqp:unauthorized-access', 'link', AuthorizationError, false],
    ['amqp:unauthorized-access', 'connection', AuthenticationError, false],
    ['amqp:link:detach-forced', 'link', LinkDetachedError, true],
    ['amqp:link:stolen', 'link', LinkDetachedError, false],
    ['amqp:link:message-size-exceeded', 'link', MessageTooLargeError, false],
    ['amqp:connection:forced', 'connection', ConnectionLostError, true],
    ['amqp:internal-error', 'session', AmqpError, true],
    ['amqp:invalid-field', 'session', AmqpError, false],
    ['com.microsoft:server-busy', 'link', AmqpError, true],
    ['vendor:something-new', 'link', LinkDetachedError, false],
    ['vendor:something-new', 'connection', ConnectionLostError, false],
  ] as const)('%s at %s → %s (retryable %s)', (condition, scope, type, retryable) => {
    const error = translate({ condition, description: 'because' }, scope, 'orders');
    expect(error).toBeInstanceOf(type);
    expect(error.retryable).toBe(retryable);
    expect(error.condition).toBe(condition);
    expect(error.description).toBe('because');
    expect(error.message).toContain(condition);
  });

  it.each([
    ['ECONNREFUSED', true],
    ['ECONNRESET', true],
    ['ENOTFOUND', true],
    ['EACCES', false],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', false],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', false],
  ])('socket error %s → ConnectionLostError, retryable %s', (code, retryable) => {
    const socketError = Object.assign(new Error(`connect ${code}`), { code });
    const error = translate(socketError, 'connection', 'amqp://127.0.0.1:1');
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.retryable).toBe(retryable);
    expect(error.cause).toBe(socketError);
  });

  it.each(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'INVALID_CA'])(
    'names %s a TLS failure',
    (code) => {
      const error = translate(Object.assign(new Error('verify failed'), { code }), 'connection', 'amqps://h:5671');
      expect(error.message).toMatch(/^TLS failed/);
    },
  );

  it('passes an AmqpError through unchanged', () => {
    const original = new NotFoundError('gone');
    expect(translate(original, 'link', 'x')).toBe(original);
  });

  it('brands errors so instanceof works across copies of the package', () => {
    const foreign = Object.create({ [Symbol.for('rhea-rx.error')]: true }) as object;
    expect(isAmqpError(foreign)).toBe(true);
    expect(foreign instanceof AmqpError).toBe(true);
    expect(new Error('x') instanceof AmqpError).toBe(false);
    expect(new NotFoundError('x') instanceof LinkDetachedError).toBe(false);
  });

  it('serializes without the cause', () => {
    const error = translate({ condition: 'amqp:not-found', description: 'no queue' }, 'link', 'q');
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'NotFoundError',
      message: error.message,
      condition: 'amqp:not-found',
      description: 'no queue',
      retryable: false,
    });
  });
});
