// Azure Service Bus (seed 001, "Send and receive a message from a session enabled queue"): a session id, a session receiver, the next available session.
// Run: npx tsx examples/serviceBusSessions.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_SESSION_QUEUE_NAME for a real namespace)
// Prints each session's messages in order, its state, and that no session is left at the end.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { NoActiveSessionError, type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

const LOCK_DURATION = 30_000;

async function main(sb: ServiceBusClient, _local?: EmbeddedBroker): Promise<void> {
  await sb.createSender(names.sessionQueue).sendMessages([
    { body: 'Session Enabled Message 1', sessionId: 'customer-1' },
    { body: 'Other session message', sessionId: 'customer-2' },
    { body: 'Session Enabled Message 2', sessionId: 'customer-1' },
  ]);

  // get_queue_receiver(queue, session_id='customer-1'): this session only, in order.
  const session = await sb.acceptSession(names.sessionQueue, 'customer-1', { maxWaitTime: 1_000 });
  const bodies = await lastValueFrom(
    session.receive().pipe(
      concatMap(async (message) => {
        await message.complete();
        return String(message);
      }),
      toArray(),
    ),
  );
  console.log(`session ${session.sessionId}: ${bodies.join(', ')}`);
  await session.setSessionState('processed 2 messages');
  console.log(`session ${session.sessionId} state: ${String(await session.getSessionState())}`);
  console.log(`session lock renewed until ${(await session.renewSessionLock()).toISOString()}`);
  await session.close();

  // session_id=None (NEXT_AVAILABLE_SESSION): whichever session has messages.
  const next = await sb.acceptNextSession(names.sessionQueue, { maxWaitTime: 1_000 });
  const bodiesOfNext = await lastValueFrom(
    next.receive().pipe(
      concatMap(async (message) => {
        await message.complete();
        return String(message);
      }),
      toArray(),
    ),
  );
  console.log(`next available session ${next.sessionId}: ${bodiesOfNext.join(', ')}`);
  await next.close();

  try {
    const none = await sb.acceptNextSession(names.sessionQueue, { maxWaitTime: 2_000 });
    console.log(`unexpected: session ${none.sessionId}`);
    await none.close();
  } catch (error) {
    if (!(error instanceof NoActiveSessionError)) throw error;
    console.log(`then no session is left: ${error.name} (retryable: ${error.retryable})`);
  }
}

await runServiceBusExample(main, { lockDuration: LOCK_DURATION });
