// Azure Service Bus (seed 001, "Working with topics and subscriptions"): send to a topic, receive from its subscription.
// Run: npx tsx examples/serviceBusTopics.ts  (SERVICEBUS_CONNECTION_STRING, SERVICEBUS_TOPIC_NAME, SERVICEBUS_SUBSCRIPTION_NAME for a real namespace)
// Prints what the subscription received.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

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

await runServiceBusExample(main, { lockDuration: LOCK_DURATION });
