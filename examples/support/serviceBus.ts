// Where the Service Bus examples run: the namespace in SERVICEBUS_CONNECTION_STRING (with the entity
// names of the seed's environment variables), or else an EmbeddedBroker in Service Bus mode
// (rhea-rx/testing) that has those entities.
import { createServiceBusClient, type ServiceBusClient, type ServiceBusClientOptions } from 'rhea-rx';
import { type EmbeddedBroker, startServiceBusBroker } from 'rhea-rx/testing';

/** The entities the examples use. */
export const names = {
  queue: process.env.SERVICEBUS_QUEUE_NAME ?? 'orders',
  sessionQueue: process.env.SERVICEBUS_SESSION_QUEUE_NAME ?? 'sessions',
  topic: process.env.SERVICEBUS_TOPIC_NAME ?? 'events',
  subscription: process.env.SERVICEBUS_SUBSCRIPTION_NAME ?? 'audit',
};

/**
 * Runs `main` with a client for the namespace or the local broker (`local` is the broker, or
 * undefined for a namespace), then closes both; an error is printed and sets the exit code to 1.
 */
export async function runServiceBusExample(
  main: (sb: ServiceBusClient, local: EmbeddedBroker | undefined) => Promise<void>,
  options: { lockDuration: number; client?: ServiceBusClientOptions },
): Promise<void> {
  const target = await startServiceBusBroker({
    environment: 'SERVICEBUS_CONNECTION_STRING',
    entities: { queues: [names.queue], sessionQueues: [names.sessionQueue], topics: { [names.topic]: [names.subscription] } },
    lockDuration: options.lockDuration,
  });
  const sb = createServiceBusClient(target.connectionString, { ...target.clientOptions, ...options.client });
  try {
    await main(sb, target.broker);
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    await sb.close();
    await target.stop();
  }
}
