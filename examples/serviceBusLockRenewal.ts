// Azure Service Bus (seed 001, "Automatically renew Message or Session locks"): AutoLockRenewer as the renewLocks and renewSessionLock operators.
// Run: npx tsx examples/serviceBusLockRenewal.ts  (SERVICEBUS_CONNECTION_STRING, SERVICEBUS_QUEUE_NAME, SERVICEBUS_SESSION_QUEUE_NAME for a real namespace)
// Prints each message's lock expiry before and after work that outlasts the lock (the local broker locks for 2 s).
import { randomBytes } from 'node:crypto';
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { createServiceBusClient, renewLocks, renewSessionLock, type ServiceBusClient } from 'rhea-rx';
import { createSelfSignedCertificate, EmbeddedBroker } from 'rhea-rx/testing';

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

// ---------------------------------------------------------------------------------------------
// Where to run: the namespace in SERVICEBUS_CONNECTION_STRING, or an in-process EmbeddedBroker in
// Service Bus mode (TLS with a throwaway certificate, a random key) with the entities used here.

const names = {
  queue: process.env.SERVICEBUS_QUEUE_NAME ?? 'orders',
  sessionQueue: process.env.SERVICEBUS_SESSION_QUEUE_NAME ?? 'sessions',
  topic: process.env.SERVICEBUS_TOPIC_NAME ?? 'events',
  subscription: process.env.SERVICEBUS_SUBSCRIPTION_NAME ?? 'audit',
};

async function serviceBus(): Promise<{ sb: ServiceBusClient; local: EmbeddedBroker | undefined; stop(): Promise<void> } | undefined> {
  const connectionString = process.env.SERVICEBUS_CONNECTION_STRING;
  if (connectionString !== undefined) {
    const sb = createServiceBusClient(connectionString);
    return { sb, local: undefined, stop: () => sb.close() };
  }
  const { key, cert } = createSelfSignedCertificate();
  let broker: EmbeddedBroker;
  try {
    broker = await EmbeddedBroker.start({
      tls: { key, cert },
      serviceBus: {
        keys: { RootManageSharedAccessKey: randomBytes(32).toString('base64') },
        entities: { queues: [names.queue], sessionQueues: [names.sessionQueue], topics: { [names.topic]: [names.subscription] } },
        lockDuration: LOCK_DURATION,
      },
    });
  } catch (error) {
    console.log(`No Service Bus to run against: this EmbeddedBroker has no Service Bus mode (${(error as Error).message}).`);
    console.log('Set SERVICEBUS_CONNECTION_STRING to run against a namespace.');
    return undefined;
  }
  const sb = createServiceBusClient(broker.serviceBus.connectionString(), { tls: { ca: cert } });
  return { sb, local: broker, stop: async () => (await sb.close(), await broker.stop()) };
}

const target = await serviceBus();
if (target !== undefined) {
  try {
    await main(target.sb, target.local);
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    await target.stop();
  }
}
