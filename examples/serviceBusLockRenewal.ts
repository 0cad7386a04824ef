// Azure Service Bus (seed 001, "Automatically renew Message or Session locks"): AutoLockRenewer as the renewLocks and renewSessionLock operators.
// Run: npx tsx examples/serviceBusLockRenewal.ts  (SERVICEBUS_CONNECTION_STRING, SERVICEBUS_QUEUE_NAME, SERVICEBUS_SESSION_QUEUE_NAME for a real namespace)
// Prints each message's lock expiry before and after work that outlasts the lock (the local broker locks for 2 s).
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { renewLocks, renewSessionLock, type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

const LOCK_DURATION = 2_000;
const WORK_MS = 3_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(sb: ServiceBusClient, _local?: EmbeddedBroker): Promise<void> {
  // Message locks: renewer.register(receiver, msg, max_lock_renewal_duration=60)
  await sb.createSender(names.queue).sendMessages([{ body: 'long job 1' }, { body: 'long job 2' }]);
  const done = await lastValueFrom(
    sb
      .createReceiver(names.queue, { maxWaitTime: 1_000 })
      .receive()
      .pipe(
        renewLocks({ maxLockRenewalDuration: 60_000, onFailure: (error) => console.log(`renewal stopped: ${error.message}`) }),
        concatMap(async (message) => {
          const before = message.lockedUntilUtc?.toISOString();
          await sleep(WORK_MS); // longer than the lock
          await message.complete(); // still locked, so it completes
          return `${String(message)}: locked until ${before}, kept until ${message.lockedUntilUtc?.toISOString()}, completed`;
        }),
        toArray(),
      ),
  );
  for (const line of done) console.log(line);

  // A session lock: renewer.register(receiver, receiver.session, max_lock_renewal_duration=300)
  await sb.createSender(names.sessionQueue).sendMessages({ body: 'session job', sessionId: 'long-running' });
  const session = await sb.acceptSession(names.sessionQueue, 'long-running', { maxWaitTime: 1_000 });
  const first = session.sessionLockedUntilUtc?.toISOString();
  const sessionDone = await lastValueFrom(
    session.receive().pipe(
      renewSessionLock(session, { maxLockRenewalDuration: 300_000 }),
      concatMap(async (message) => {
        await sleep(WORK_MS);
        await message.complete();
        return String(message);
      }),
      toArray(),
    ),
  );
  console.log(`session ${session.sessionId}: '${sessionDone.join(', ')}' completed; the lock was until ${first}, kept until ${session.sessionLockedUntilUtc?.toISOString()}`);
  await session.close();
}

await runServiceBusExample(main, { lockDuration: LOCK_DURATION });
