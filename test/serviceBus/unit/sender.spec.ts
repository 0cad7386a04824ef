import { describe, expect, it } from 'vitest';
import { from, lastValueFrom, map, type OperatorFunction, Subject, toArray } from 'rxjs';
import { AuthenticationError, type Client, type Outcome, type OutgoingMessage, SendFailedError, type ServiceBusMessage } from 'rhea-rx';
import type { ManagementClient, ServiceBusContext } from '../../../src/serviceBus/management.js';
import { ServiceBusSender } from '../../../src/serviceBus/ServiceBusSender.js';

/** A context whose client "sends" by answering each message with `state`, and whose authorization waits for `authorized`. */
function context(options: { authorized?: Promise<void>; state?: (m: OutgoingMessage) => Outcome['state']; schedule?: unknown[] } = {}) {
  const sent: OutgoingMessage[] = [];
  const scheduled: unknown[][] = [];
  const client = {
    send: () =>
      ((input) =>
        input.pipe(
          map((m) => {
            sent.push(m as OutgoingMessage);
            const state = options.state?.(m as OutgoingMessage) ?? 'accepted';
            return {
              state,
              message: m,
              resent: false,
              ...(state === 'rejected' ? { error: { condition: 'amqp:link:message-size-exceeded', description: 'too big' } } : {}),
            } as Outcome;
          }),
        )) as OperatorFunction<unknown, Outcome>,
  } as unknown as Client;
  const management = {
    schedule: async (requests: unknown[]) => {
      scheduled.push(requests);
      return requests.map((_, i) => BigInt(i + 10));
    },
    cancelScheduled: async (numbers: bigint[]) => {
      scheduled.push(numbers);
    },
  } as unknown as ManagementClient;
  const ctx: ServiceBusContext = {
    namespace: 'ns',
    client,
    manager: undefined as never,
    operationTimeout: 1_000,
    retry: undefined as never,
    authorize: () => options.authorized ?? Promise.resolve(),
    management: () => management,
    isClosed: false,
  };
  return { ctx, sent, scheduled };
}

describe('ServiceBusSender', () => {
  it('emits one outcome per message, with the message as it was given', async () => {
    const { ctx, sent } = context();
    const sender = new ServiceBusSender(ctx, 'orders');
    const input: ServiceBusMessage[] = [{ body: 'a', sessionId: 's' }, { body: 'b' }];
    const outcomes = await lastValueFrom(from(input).pipe(sender.send(), toArray()));
    expect(outcomes.map((o) => o.message)).toEqual(input);
    expect(outcomes[0]!.message).toBe(input[0]);
    expect(sent[0]!.properties).toEqual({ groupId: 's' });
  });

  it('holds what a hot source emits until the entity is authorized: nothing is lost', async () => {
    let authorize!: () => void;
    const authorized = new Promise<void>((resolve) => (authorize = resolve));
    const { ctx, sent } = context({ authorized });
    const hot = new Subject<ServiceBusMessage>();
    const outcomes: Outcome['state'][] = [];
    hot.pipe(new ServiceBusSender(ctx, 'orders').send()).subscribe((o) => outcomes.push(o.state));
    hot.next({ body: 'early 1' });
    hot.next({ body: 'early 2' });
    await Promise.resolve();
    expect(sent).toHaveLength(0);
    authorize();
    await authorized;
    await Promise.resolve();
    hot.next({ body: 'late' });
    expect(outcomes).toEqual(['accepted', 'accepted', 'accepted']);
  });

  it('fails with SendFailedError listing every held message when authorization fails (S1)', async () => {
    const refused = new AuthenticationError('token refused');
    const { ctx } = context({ authorized: Promise.reject(refused) });
    const error = await lastValueFrom(from([{ body: 'a' }, { body: 'b' }]).pipe(new ServiceBusSender(ctx, 'q').send())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendFailedError);
    expect((error as SendFailedError).unsettled).toEqual([{ body: 'a' }, { body: 'b' }]);
    expect((error as SendFailedError).cause).toBe(refused);
    expect((error as SendFailedError).retryable).toBe(false);
  });

  it('sendMessages resolves when all are accepted, and rejects with SendFailedError naming the refused ones and why', async () => {
    const { ctx } = context({ state: (m) => (String((m.body as { content?: Buffer }).content) === 'huge' ? 'rejected' : 'accepted') });
    const sender = new ServiceBusSender(ctx, 'q');
    await sender.sendMessages({ body: 'Single message' });
    const error = await sender.sendMessages([{ body: 'ok' }, { body: 'huge' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendFailedError);
    expect((error as SendFailedError).unsettled).toEqual([{ body: 'huge' }]);
    expect((error as SendFailedError).cause).toMatchObject({ name: 'MessageTooLargeError' });
  });

  it('checks every message before sending any', async () => {
    const { ctx, sent } = context();
    await expect(new ServiceBusSender(ctx, 'q').sendMessages([{ body: 'ok' }, { nobody: 1 } as never])).rejects.toMatchObject({ name: 'ConfigError' });
    expect(sent).toHaveLength(0);
  });

  it('schedules with a message id (made up when missing) and the encoded message; cancels by sequence number', async () => {
    const { ctx, scheduled } = context();
    const sender = new ServiceBusSender(ctx, 'q');
    const at = new Date('2030-01-01T00:00:00Z');
    expect(await sender.scheduleMessages([{ body: 'a', messageId: 'm-a', sessionId: 's' }, { body: 'b' }], at)).toEqual([10n, 11n]);
    const requests = scheduled[0] as Array<{ messageId: string; sessionId?: string; bytes: Buffer }>;
    expect(requests[0]).toMatchObject({ messageId: 'm-a', sessionId: 's' });
    expect(requests[1]!.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(requests[0]!.bytes.includes(Buffer.from('x-opt-scheduled-enqueue-time'))).toBe(true);
    await sender.cancelScheduledMessages([10n, 11]);
    expect(scheduled[1]).toEqual([10n, 11n]);
    await expect(sender.scheduleMessages({ body: 'x' }, new Date(Number.NaN))).rejects.toMatchObject({ name: 'ConfigError' });
  });
});

