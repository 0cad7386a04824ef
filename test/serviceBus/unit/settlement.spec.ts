import { describe, expect, it, vi } from 'vitest';
import { DeliveryAlreadySettledError, MessageLockLostError, MessageSettleFailedError, NotSupportedError, SessionLockLostError } from 'rhea-rx';
import { fakeDelivery, type FakeDelivery, type FakeDeliveryOptions } from 'rhea-rx/testing';
import { ServerBusyError } from '../../../src/serviceBus/errors.js';
import type { ManagementClient } from '../../../src/serviceBus/management.js';
import { type MessageOrigin, ReceivedMessage, type ReceiveMode } from '../../../src/serviceBus/ServiceBusReceivedMessage.js';
import { lockTokenFromTag } from '../../../src/serviceBus/values.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const TOKEN = '33221100-5544-7766-8899-aabbccddeeff';

function management(overrides: Partial<Record<'updateDisposition' | 'renewLock', (...args: unknown[]) => Promise<unknown>>> = {}) {
  const calls: Array<{ op: string; args: unknown[] }> = [];
  const fake = {
    updateDisposition: async (...args: unknown[]) => {
      calls.push({ op: 'updateDisposition', args });
      return overrides.updateDisposition?.(...args);
    },
    renewLock: async (...args: unknown[]) => {
      calls.push({ op: 'renewLock', args });
      return overrides.renewLock ? overrides.renewLock(...args) : [new Date(NOW + 60_000)];
    },
  };
  return { calls, client: fake as unknown as ManagementClient };
}

function origin(mgmt: ManagementClient, extra: { receiveMode?: ReceiveMode; session?: MessageOrigin['session'] } = {}): MessageOrigin {
  return { entityPath: 'orders', management: mgmt, receiveMode: extra.receiveMode ?? 'peekLock', session: extra.session, linkName: 'receiver-link-1', now: () => NOW };
}

function onLink(body: unknown = 'hello', fields: FakeDeliveryOptions = {}, extra: Parameters<typeof origin>[1] = {}) {
  const delivery = fakeDelivery(body, {
    messageAnnotations: { 'x-opt-locked-until': new Date(NOW + 30_000), 'x-opt-sequence-number': 7 },
    ...fields,
  });
  const mgmt = management();
  const message = new ReceivedMessage<unknown>('link', delivery.message, origin(mgmt.client, extra), delivery, TOKEN);
  return { delivery, message, mgmt };
}

describe('settlement on the link (the outcomes azure-servicebus sends)', () => {
  it('complete → accepted', async () => {
    const { delivery, message } = onLink();
    await message.complete();
    expect(delivery.settledAs).toBe('accepted');
    expect(message.settled).toBe(true);
    expect(message.settledAs).toBe('accepted');
  });

  it('abandon → modified(delivery-failed, not undeliverable-here), with the properties to modify as annotations', async () => {
    const { delivery, message } = onLink();
    await message.abandon({ reason: 'retry later' });
    expect(delivery.settledAs).toBe('modified');
    expect(delivery.settledWith).toEqual({ deliveryFailed: true, undeliverableHere: false, annotations: { reason: 'retry later' } });
  });

  it('defer → modified(delivery-failed, undeliverable-here)', async () => {
    const { delivery, message } = onLink();
    await message.defer();
    expect(delivery.settledWith).toEqual({ deliveryFailed: true, undeliverableHere: true });
  });

  it('dead-letter → rejected with com.microsoft:dead-letter, the description, and both reason and description in info', async () => {
    const { delivery, message } = onLink();
    await message.deadLetter({ reason: 'bad', errorDescription: 'very bad' });
    expect(delivery.settledAs).toBe('rejected');
    expect(delivery.settledWith).toEqual({
      condition: 'com.microsoft:dead-letter',
      description: 'very bad',
      info: { DeadLetterReason: 'bad', DeadLetterErrorDescription: 'very bad' },
    });
  });

  it('dead-letter without reasons sends both info keys as null (as the seed client does)', async () => {
    const { delivery, message } = onLink();
    await message.deadLetter();
    expect(delivery.settledWith).toEqual({ condition: 'com.microsoft:dead-letter', info: { DeadLetterReason: null, DeadLetterErrorDescription: null } });
  });

  it.each([
    ['accept', (m: ReceivedMessage) => m.accept(), 'accepted', undefined],
    ['reject(Error)', (m: ReceivedMessage) => m.reject(new RangeError('too big')), 'rejected', { condition: 'com.microsoft:dead-letter', description: 'too big', info: { DeadLetterReason: 'RangeError', DeadLetterErrorDescription: 'too big' } }],
    ['release', (m: ReceivedMessage) => m.release(), 'released', undefined],
    ['modify()', (m: ReceivedMessage) => m.modify({ deliveryFailed: true }), 'modified', { deliveryFailed: true }],
  ] as const)('as a rhea-rx Delivery: %s', (_name, settle, state, settledWith) => {
    const { delivery, message } = onLink();
    settle(message);
    expect(delivery.settledAs).toBe(state);
    expect((delivery as FakeDelivery).settledWith).toEqual(settledWith);
  });

  it('refuses a second settlement with DeliveryAlreadySettledError', async () => {
    const { message } = onLink();
    await message.complete();
    await expect(message.abandon()).rejects.toBeInstanceOf(DeliveryAlreadySettledError);
  });

  it('refuses to settle after the lock expired, with MessageLockLostError (nothing is sent)', async () => {
    const { delivery, message } = onLink('x', { messageAnnotations: { 'x-opt-locked-until': new Date(NOW - 1) } });
    await expect(message.complete()).rejects.toBeInstanceOf(MessageLockLostError);
    expect(delivery.settleCalls).toBe(0);
  });

  it('refuses to settle a message of a session whose lock was lost, with SessionLockLostError', async () => {
    const session = { sessionId: 's1', lockLost: new SessionLockLostError('gone') };
    const { delivery, message } = onLink('x', {}, { session });
    await expect(message.complete()).rejects.toBeInstanceOf(SessionLockLostError);
    expect(delivery.settleCalls).toBe(0);
  });

  it('refuses to settle in receiveAndDelete mode, and a peeked message', async () => {
    const { message } = onLink('x', {}, { receiveMode: 'receiveAndDelete' });
    await expect(message.complete()).rejects.toBeInstanceOf(NotSupportedError);
    const peeked = new ReceivedMessage('peeked', fakeDelivery('p').message, origin(management().client));
    await expect(peeked.deadLetter()).rejects.toThrow(/peeked messages are not locked/);
    expect(peeked.isPeeked).toBe(true);
  });

  it('tells settlement listeners once', async () => {
    const { message } = onLink();
    const heard = vi.fn();
    message.onSettled(heard);
    await message.complete();
    expect(heard).toHaveBeenCalledTimes(1);
    const late = vi.fn();
    message.onSettled(late);
    expect(late).toHaveBeenCalledTimes(1);
  });
});

describe('settlement through $management (deferred messages)', () => {
  function deferred(overrides: Parameters<typeof management>[0] = {}, extra: Parameters<typeof origin>[1] = {}) {
    const mgmt = management(overrides);
    const message = new ReceivedMessage<unknown>('management', fakeDelivery('d').message, origin(mgmt.client, extra), undefined, TOKEN);
    return { message, mgmt };
  }

  it.each([
    ['complete', (m: ReceivedMessage) => m.complete(), 'completed', {}],
    ['abandon', (m: ReceivedMessage) => m.abandon({ n: 1 }), 'abandoned', { propertiesToModify: { n: 1 } }],
    ['defer', (m: ReceivedMessage) => m.defer(), 'defered', {}],
    ['deadLetter', (m: ReceivedMessage) => m.deadLetter({ reason: 'r' }), 'suspended', { deadLetterReason: 'r', deadLetterDescription: '' }],
  ] as const)('%s → update-disposition %s with the lock token', async (_name, settle, status, fields) => {
    const { message, mgmt } = deferred();
    await settle(message);
    expect(mgmt.calls).toEqual([{ op: 'updateDisposition', args: [status, [TOKEN], fields, { associatedLinkName: 'receiver-link-1' }] }]);
    expect(message.settled).toBe(true);
  });

  it('sends the session id for a session message', async () => {
    const { message, mgmt } = deferred({}, { session: { sessionId: 's1', lockLost: undefined } });
    await message.complete();
    expect(mgmt.calls[0]!.args[2]).toEqual({ sessionId: 's1' });
  });

  it('fails with MessageSettleFailedError (retryable as its cause) and stays unsettled, so it can be tried again', async () => {
    let fail = true;
    const { message } = deferred({
      updateDisposition: async () => {
        if (fail) throw new ServerBusyError('busy');
      },
    });
    const error = await message.complete().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageSettleFailedError);
    expect(error).toMatchObject({ retryable: true });
    expect(message.settled).toBe(false);
    fail = false;
    await message.complete();
    expect(message.settled).toBe(true);
  });

  it('passes a lost lock through as MessageLockLostError', async () => {
    const { message } = deferred({
      updateDisposition: async () => {
        throw new MessageLockLostError('lock lost');
      },
    });
    await expect(message.complete()).rejects.toBeInstanceOf(MessageLockLostError);
  });
});

describe('renewLock', () => {
  it('renews through $management and updates lockedUntilUtc', async () => {
    const { message, mgmt } = onLink();
    const until = await message.renewLock();
    expect(until).toEqual(new Date(NOW + 60_000));
    expect(message.lockedUntilUtc).toEqual(until);
    expect(mgmt.calls).toEqual([{ op: 'renewLock', args: [[TOKEN], { associatedLinkName: 'receiver-link-1' }] }]);
  });

  it('is refused for a session message (renew the session lock) and a settled one', async () => {
    const { message } = onLink('x', {}, { session: { sessionId: 's', lockLost: undefined } });
    await expect(message.renewLock()).rejects.toThrow(/renew the session lock/);
    const settled = onLink();
    await settled.message.complete();
    await expect(settled.message.renewLock()).rejects.toBeInstanceOf(DeliveryAlreadySettledError);
  });
});

describe('what a received message says', () => {
  it('reads the service annotations and properties', () => {
    const seq = Buffer.alloc(8);
    seq.writeBigInt64BE(2n ** 60n + 5n);
    const { message } = onLink(Buffer.from('Single message'), {
      header: { ttl: 60_000 },
      deliveryCount: 2,
      properties: { messageId: 'm1', groupId: 's1', correlationId: 'c', subject: 'sub', replyToGroupId: 'r' },
      applicationProperties: { DeadLetterReason: 'bad', DeadLetterErrorDescription: 'very bad', kind: 'x' },
      messageAnnotations: {
        'x-opt-sequence-number': seq,
        'x-opt-enqueued-time': new Date(NOW),
        'x-opt-locked-until': new Date(NOW + 30_000),
        'x-opt-partition-key': 's1',
        'x-opt-deadletter-source': 'orders',
        'x-opt-message-state': 1,
      },
    });
    const expected = {
      messageId: 'm1',
      sessionId: 's1',
      correlationId: 'c',
      subject: 'sub',
      replyToSessionId: 'r',
      partitionKey: 's1',
      sequenceNumber: 2n ** 60n + 5n,
      enqueuedTimeUtc: new Date(NOW),
      expiresAtUtc: new Date(NOW + 60_000),
      lockedUntilUtc: new Date(NOW + 30_000),
      lockToken: TOKEN,
      deadLetterReason: 'bad',
      deadLetterErrorDescription: 'very bad',
      deadLetterSource: 'orders',
      state: 'deferred',
      deliveryCount: 2,
      timeToLive: 60_000,
      address: 'orders',
    };
    // (read one by one: the getters use private fields, which matchers that copy the object cannot reach)
    const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, (message as unknown as Record<string, unknown>)[k]]));
    expect(actual).toEqual(expected);
    expect(String(message)).toBe('Single message');
    expect(message.applicationProperties.kind).toBe('x');
  });

  it('gives a data section body as its bytes', () => {
    const section = { typecode: 0x75, content: Buffer.from('abc') };
    const { message } = onLink(section);
    expect(message.body).toEqual(Buffer.from('abc'));
  });
});

describe('lockTokenFromTag', () => {
  it('reads the GUID in .NET byte order, as azure-servicebus (uuid.UUID(bytes_le=tag))', () => {
    expect(lockTokenFromTag(Buffer.from('00112233445566778899aabbccddeeff', 'hex'))).toBe(TOKEN);
    expect(lockTokenFromTag(Buffer.from([1, 0, 0, 0]))).toBeUndefined();
  });
});
