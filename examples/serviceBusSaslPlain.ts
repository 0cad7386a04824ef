// Azure Service Bus with SASL PLAIN (seed 000, Qpid Proton's allowed_mechs="PLAIN"): the key name and key as user and password, no $cbs.
// Run: npx tsx examples/serviceBusSaslPlain.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints the seed's "Hello World!", sent and received back.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

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

await runServiceBusExample(main, { lockDuration: LOCK_DURATION, client: { auth: 'sasl-plain' } });
