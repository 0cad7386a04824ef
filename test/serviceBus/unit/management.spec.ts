import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Message } from 'rhea';
import { amqp, MessageNotFoundError, NotFoundError, OperationTimeoutError, ServerBusyError } from 'rhea-rx';
import type { ConnectionManager } from '../../../src/client/ConnectionManager.js';
import { resolveBackoff } from '../../../src/policy/backoff.js';
import { encodeMessage } from '../../../src/serviceBus/amqp.js';
import { ManagementClient, type ServiceBusContext } from '../../../src/serviceBus/management.js';
import { toAmqpMessage } from '../../../src/serviceBus/message.js';
import { autoAnswering, type SentRequest } from './fakeConnection.js';

type Answer = (request: SentRequest) => Partial<Message> | undefined;

function setup(answer: Answer) {
  const requests: SentRequest[] = [];
  const authorized: string[] = [];
  const connection = autoAnswering((r) => {
    requests.push(r);
    return answer(r) as Message | undefined;
  });
  // eslint-disable-next-line prefer-const
  let management: ManagementClient;
  const context: ServiceBusContext = {
    namespace: 'ns',
    client: undefined as never,
    manager: { acquire: async () => connection.asRhea() } as unknown as ConnectionManager,
    operationTimeout: 1_000,
    retry: resolveBackoff({ initialDelay: 800, factor: 2, maxDelay: 60_000, maxAttempts: 3 }),
    authorize: async (path: string) => {
      authorized.push(path);
    },
    management: () => management,
    isClosed: false,
  };
  management = new ManagementClient(context, 'orders');
  return { management, requests, authorized, connection };
}

const ok = (body?: unknown): Partial<Message> => ({ application_properties: { statusCode: 200 }, ...(body === undefined ? {} : { body }) });
const TOKEN = '33221100-5544-7766-8899-aabbccddeeff';

describe('ManagementClient ($management requests as azure-servicebus sends them)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('authorizes the entity, then sends operation, type entity-mgmt and associated-link-name, with reply-to the node', async () => {
    const { management, requests, authorized } = setup(() => ok({ expirations: [new Date(5)] }));
    await management.renewLock([TOKEN], { associatedLinkName: 'receiver-link-1' });
    expect(authorized).toEqual(['orders']);
    const { message, link } = requests[0]!;
    expect(link.name).toBe('orders/$management-sender');
    expect(message.reply_to).toBe('orders/$management');
    expect(message.application_properties).toEqual({
      'associated-link-name': 'receiver-link-1',
      operation: 'com.microsoft:renew-lock',
      type: 'entity-mgmt',
    });
  });

  it('renew-lock: lock-tokens as an array of uuid; returns the expirations', async () => {
    const { management, requests } = setup(() => ok({ expirations: [new Date(1_000)] }));
    expect(await management.renewLock([TOKEN])).toEqual([new Date(1_000)]);
    expect(requests[0]!.message.body).toEqual({ 'lock-tokens': amqp.array('uuid', [TOKEN]) });
  });

  it('peek-message: from-sequence-number as a long, message-count as an int, session-id when given; decodes the messages', async () => {
    const bytes = encodeMessage(toAmqpMessage({ body: 'peeked', messageId: 'p1' }));
    const { management, requests } = setup(() => ok({ messages: [{ message: bytes }] }));
    const found = await management.peek(4n, 3, 's1');
    expect(requests[0]!.message.body).toEqual({ 'from-sequence-number': amqp.long(4n), 'message-count': amqp.int(3), 'session-id': 's1' });
    expect(found).toHaveLength(1);
    expect(found[0]!.message.properties.messageId).toBe('p1');
    expect((found[0]!.message.body as { content: Buffer }).content.toString()).toBe('peeked');
  });

  it('answers 204 (nothing to peek) with no messages', async () => {
    const { management } = setup(() => ({ application_properties: { statusCode: 204 } }));
    expect(await management.peek(1n, 1, undefined)).toEqual([]);
  });

  it('receive-by-sequence-number: sequence-numbers as longs and receiver-settle-mode as a uint; reads each lock token', async () => {
    const withAnnotation = encodeMessage(toAmqpMessage({ body: 'a' }));
    const { management, requests } = setup(() =>
      // (no wire in between: the lock token is what rhea decodes a uuid to, its 16 bytes)
      ok({ messages: [{ message: withAnnotation, 'lock-token': Buffer.from(TOKEN.replace(/-/g, ''), 'hex') }] }),
    );
    const found = await management.receiveBySequenceNumber([7n, 2n ** 62n], false, undefined);
    expect(requests[0]!.message.body).toEqual({ 'sequence-numbers': amqp.array('long', [7n, 2n ** 62n]), 'receiver-settle-mode': amqp.uint(1) });
    expect(found[0]!.lockToken).toBe(TOKEN);
    await management.receiveBySequenceNumber([1n], true, 's');
    expect(requests[1]!.message.body).toEqual({ 'sequence-numbers': amqp.array('long', [1n]), 'receiver-settle-mode': amqp.uint(0), 'session-id': 's' });
  });

  it('schedule-message: each message as message-id and its encoded bytes; returns the sequence numbers exactly', async () => {
    const big = Buffer.alloc(8);
    big.writeBigInt64BE(2n ** 60n);
    const { management, requests } = setup(() => ok({ 'sequence-numbers': [5, big] }));
    const bytes = Buffer.from('x');
    expect(await management.schedule([{ messageId: 'm', bytes }, { messageId: 'n', sessionId: 's', bytes }])).toEqual([5n, 2n ** 60n]);
    expect(requests[0]!.message.body).toEqual({
      messages: [
        { 'message-id': 'm', message: amqp.binary(bytes) },
        { 'message-id': 'n', 'session-id': 's', message: amqp.binary(bytes) },
      ],
    });
  });

  it('cancel-scheduled-message, update-disposition and the session operations', async () => {
    const { management, requests } = setup((r) => {
      const op = r.message.application_properties?.operation;
      if (op === 'com.microsoft:get-session-state') return ok({ 'session-state': Buffer.from('st') });
      if (op === 'com.microsoft:renew-session-lock') return ok({ expiration: new Date(9) });
      return ok();
    });
    await management.cancelScheduled([3n]);
    await management.updateDisposition('suspended', [TOKEN], { deadLetterReason: 'r', deadLetterDescription: 'd', sessionId: 's' });
    expect(await management.getSessionState('s')).toEqual(Buffer.from('st'));
    await management.setSessionState('s', Buffer.from('new'));
    await management.setSessionState('s', null);
    expect(await management.renewSessionLock('s')).toEqual(new Date(9));
    expect(requests.map((r) => [r.message.application_properties?.operation, r.message.body])).toEqual([
      ['com.microsoft:cancel-scheduled-message', { 'sequence-numbers': amqp.array('long', [3n]) }],
      [
        'com.microsoft:update-disposition',
        { 'disposition-status': 'suspended', 'lock-tokens': amqp.array('uuid', [TOKEN]), 'deadletter-reason': 'r', 'deadletter-description': 'd', 'session-id': 's' },
      ],
      ['com.microsoft:get-session-state', { 'session-id': 's' }],
      ['com.microsoft:set-session-state', { 'session-id': 's', 'session-state': amqp.binary(Buffer.from('new')) }],
      ['com.microsoft:set-session-state', { 'session-id': 's', 'session-state': null }],
      ['com.microsoft:renew-session-lock', { 'session-id': 's' }],
    ]);
  });

  it('throws the error a failed response names, without retrying one that cannot succeed', async () => {
    const { management, requests } = setup(() => ({
      application_properties: { statusCode: 404, statusDescription: 'no such message', errorCondition: 'com.microsoft:message-not-found' },
    }));
    await expect(management.receiveBySequenceNumber([1n], false, undefined)).rejects.toBeInstanceOf(MessageNotFoundError);
    expect(requests).toHaveLength(1);
  });

  it('maps a status without a condition, e.g. 404 → NotFoundError', async () => {
    const { management } = setup(() => ({ application_properties: { statusCode: 404 } }));
    await expect(management.cancelScheduled([1n])).rejects.toBeInstanceOf(NotFoundError);
  });

  it('retries a retryable failure with backoff (800 ms, then 1.6 s, …), at most 3 times', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const { management } = setup(() => {
      calls++;
      return calls < 3 ? { application_properties: { statusCode: 503, errorCondition: 'com.microsoft:server-busy' } } : ok({ expirations: [new Date(1)] });
    });
    const pending = management.renewLock([TOKEN]);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(800);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(1_600);
    expect(calls).toBe(3);
    await expect(pending).resolves.toEqual([new Date(1)]);

    calls = -10; // always busy from now on
    const failing = management.renewLock([TOKEN]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(800 + 1_600 + 3_200 + 100);
    expect(await failing).toBeInstanceOf(ServerBusyError);
    expect(calls).toBe(-6); // 1 try + 3 retries
  });

  it('times out (retryably) when no response comes', async () => {
    vi.useFakeTimers();
    const { management } = setup(() => undefined);
    const failing = management.cancelScheduled([1n]).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000 + 800 + 1_000 + 1_600 + 1_000 + 3_200 + 1_000 + 100);
    expect(await failing).toBeInstanceOf(OperationTimeoutError);
  });
});
