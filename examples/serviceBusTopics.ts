// Azure Service Bus (seed 001, "Working with topics and subscriptions"): send to a topic, receive from its subscription.
// Run: npx tsx examples/serviceBusTopics.ts  (SERVICEBUS_CONNECTION_STRING, SERVICEBUS_TOPIC_NAME, SERVICEBUS_SUBSCRIPTION_NAME for a real namespace)
// Prints what the subscription received.
import { randomBytes } from 'node:crypto';
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { createServiceBusClient, type ServiceBusClient } from 'rhea-rx';
import { createSelfSignedCertificate, EmbeddedBroker } from 'rhea-rx/testing';

const LOCK_DURATION = 30_000;

async function main(sb: ServiceBusClient, _local?: EmbeddedBroker): Promise<void> {
  await sb.createSender(names.topic).sendMessages({ body: 'Data' });
  console.log(`sent 'Data' to topic ${names.topic}`);

  const received = await lastValueFrom(
    sb
      .createReceiver(names.topic, names.subscription, { maxWaitTime: 1_000 })
      .receive()
      .pipe(
        concatMap(async (message) => {
          await message.complete();
          return String(message);
        }),
        toArray(),
      ),
  );
  console.log(`subscription ${names.subscription} received: ${received.join(', ')}`);
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
