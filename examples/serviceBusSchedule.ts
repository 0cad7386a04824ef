// Azure Service Bus (seed 001 notes): schedule messages and cancel them, schedule with scheduledEnqueueTimeUtc, and peek without locking.
// Run: npx tsx examples/serviceBusSchedule.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints the scheduled sequence numbers, what peek shows, and the message that arrives at its enqueue time.
import { randomBytes } from 'node:crypto';
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { createServiceBusClient, type ServiceBusClient } from 'rhea-rx';
import { createSelfSignedCertificate, EmbeddedBroker } from 'rhea-rx/testing';

const LOCK_DURATION = 30_000;

async function main(sb: ServiceBusClient, local: EmbeddedBroker | undefined): Promise<void> {
  const sender = sb.createSender(names.queue);
  const counts = () => (local === undefined ? '' : ` — the queue: ${JSON.stringify(local.serviceBus.counts(names.queue))}`);

  // schedule_messages(messages, schedule_time_utc) and cancel_scheduled_messages(sequence_numbers)
  const inAnHour = new Date(Date.now() + 3_600_000);
  const numbers = await sender.scheduleMessages([{ body: 'reminder 1' }, { body: 'reminder 2' }], inAnHour);
  console.log(`scheduled for ${inAnHour.toISOString()} as sequence numbers ${numbers.join(', ')}${counts()}`);
  await sender.cancelScheduledMessages(numbers);
  console.log(`cancelled${counts()}`);

  // ServiceBusMessage.scheduled_enqueue_time_utc: the x-opt-scheduled-enqueue-time annotation
  await sender.sendMessages({ body: 'arrives a second later', scheduledEnqueueTimeUtc: new Date(Date.now() + 1_000) });
  await sender.sendMessages({ body: 'here now' });

  // peek_messages(): look without locking (peeked messages cannot be settled)
  const receiver = sb.createReceiver(names.queue, { maxWaitTime: 2_000 });
  const peeked = await receiver.peekMessages(10);
  console.log(`peek: ${peeked.map((m) => `${String(m)} [${m.state}]`).join(', ')}`);

  const received = await lastValueFrom(
    receiver.receive().pipe(
      concatMap(async (message) => {
        await message.complete();
        const at = message.scheduledEnqueueTimeUtc;
        return `${String(message)}${at === undefined ? '' : ` (scheduled for ${at.toISOString()})`}`;
      }),
      toArray(),
    ),
  );
  console.log(`received: ${received.join('; ')}`);
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
