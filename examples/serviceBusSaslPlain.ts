// Azure Service Bus with SASL PLAIN (seed 000, Qpid Proton's allowed_mechs="PLAIN"): the key name and key as user and password, no $cbs.
// Run: npx tsx examples/serviceBusSaslPlain.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints the seed's "Hello World!", sent and received back.
import { randomBytes } from 'node:crypto';
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { createServiceBusClient, type ServiceBusClient } from 'rhea-rx';
import { createSelfSignedCertificate, EmbeddedBroker } from 'rhea-rx/testing';

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
    const sb = createServiceBusClient(connectionString, { auth: 'sasl-plain' });
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
  const sb = createServiceBusClient(broker.serviceBus.connectionString(), { tls: { ca: cert }, auth: 'sasl-plain' });
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
