// Azure Service Bus with SASL PLAIN (seed 000, Qpid Proton's allowed_mechs="PLAIN"): the key name and key as user and password, no $cbs.
// Run: npx tsx examples/serviceBusSaslPlain.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints the seed's "Hello World!", sent and received back.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { createServiceBusClient, type ServiceBusClient } from 'rhea-rx';
import { type EmbeddedBroker, startServiceBusBroker } from 'rhea-rx/testing';

const LOCK_DURATION = 30_000;

async function main(sb: ServiceBusClient, _local?: EmbeddedBroker): Promise<void> {
  // conn = BlockingConnection(server, allowed_mechs="PLAIN"); conn.create_sender(queue).send(Message(body="Hello World!"))
  await sb.createSender(names.queue).sendMessages({ body: 'Hello World!' });
  const received = await lastValueFrom(
    sb
      .createReceiver(names.queue, { maxWaitTime: 1_000 })
      .receive()
      .pipe(
        concatMap(async (message) => {
          await message.complete();
          return String(message);
        }),
        toArray(),
      ),
  );
  console.log(`received with SASL PLAIN: ${received.join(', ')}`);
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
const sb = createServiceBusClient(target.connectionString, { ...target.clientOptions, auth: 'sasl-plain' });
try {
  await main(sb, target.broker);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await sb.close();
  await target.stop();
}
