// Azure Service Bus (seed 001, "Working with topics and subscriptions"): send to a topic, receive from its subscription.
// Run: npx tsx examples/serviceBusTopics.ts  (SERVICEBUS_CONNECTION_STRING, SERVICEBUS_TOPIC_NAME, SERVICEBUS_SUBSCRIPTION_NAME for a real namespace)
// Prints what the subscription received.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { createServiceBusClient, type ServiceBusClient } from 'rhea-rx';
import { type EmbeddedBroker, startServiceBusBroker } from 'rhea-rx/testing';

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
// Where to run: the namespace in SERVICEBUS_CONNECTION_STRING, or else an EmbeddedBroker in Service
// Bus mode (rhea-rx/testing) with the entities used here.

const names = {
  queue: process.env.SERVICEBUS_QUEUE_NAME ?? 'orders',
  sessionQueue: process.env.SERVICEBUS_SESSION_QUEUE_NAME ?? 'sessions',
  topic: process.env.SERVICEBUS_TOPIC_NAME ?? 'events',
  subscription: process.env.SERVICEBUS_SUBSCRIPTION_NAME ?? 'audit',
};

const target = await startServiceBusBroker({
  environment: 'SERVICEBUS_CONNECTION_STRING',
  entities: { queues: [names.queue], sessionQueues: [names.sessionQueue], topics: { [names.topic]: [names.subscription] } },
  lockDuration: LOCK_DURATION,
});
const sb = createServiceBusClient(target.connectionString, target.clientOptions);
try {
  await main(sb, target.broker);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await sb.close();
  await target.stop();
}
