// Azure Service Bus (seed 001, "Settle a message after receipt"): complete, abandon, dead-letter and defer; then the deferred and the dead-lettered ones.
// Run: npx tsx examples/serviceBusSettle.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints what each settlement did: the abandoned one comes back, the deferred one by sequence number, the dead-lettered one from the sub-queue.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

const LOCK_DURATION = 30_000;

async function main(sb: ServiceBusClient, _local?: EmbeddedBroker): Promise<void> {
  await sb.createSender(names.queue).sendMessages(['complete me', 'abandon me', 'dead-letter me', 'defer me'].map((body) => ({ body })));
  const receiver = sb.createReceiver(names.queue, { maxWaitTime: 1_000 });
  const deferred: bigint[] = [];

  const log = await lastValueFrom(
    receiver.receive().pipe(
      concatMap(async (message) => {
        const body = String(message);
        if (body === 'abandon me' && message.deliveryCount === 0) {
          await message.abandon(); // back in the queue, delivery count + 1
        } else if (body === 'dead-letter me') {
          await message.deadLetter({ reason: 'invalid', errorDescription: 'the order has no items' });
        } else if (body === 'defer me') {
          deferred.push(message.sequenceNumber!);
          await message.defer(); // set aside: only by sequence number from now on
        } else {
          await message.complete(); // removed from the queue
        }
        return `${body} → ${message.settledAs} (delivery count ${message.deliveryCount})`;
      }),
      toArray(),
    ),
  );
  for (const line of log) console.log(line);

  // receive_deferred_messages(sequence_numbers): locked again, settled through $management.
  for (const message of await receiver.receiveDeferredMessages(deferred)) {
    console.log(`deferred, received by sequence number ${String(message.sequenceNumber)}: ${String(message)}`);
    await message.complete();
  }

  // The dead-letter sub-queue: get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER)
  const dead = await lastValueFrom(
    sb
      .createReceiver(names.queue, { subQueue: 'deadLetter', maxWaitTime: 1_000 })
      .receive()
      .pipe(
        concatMap(async (message) => {
          await message.complete();
          return `${String(message)} (${message.deadLetterReason}: ${message.deadLetterErrorDescription})`;
        }),
        toArray(),
      ),
  );
  console.log(`dead-lettered: ${dead.join('; ')}`);
}

await runServiceBusExample(main, { lockDuration: LOCK_DURATION });
