// Azure Service Bus (seed 001, "Receive messages from a queue"): by iteration until max_wait_time, and in batches.
// Run: npx tsx examples/serviceBusReceive.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints the messages as the stream gets them, then one message and a batch of up to five from receiveMessages.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

const LOCK_DURATION = 30_000;

async function main(sb: ServiceBusClient, _local?: EmbeddedBroker): Promise<void> {
  const sender = sb.createSender(names.queue);
  await sender.sendMessages(['a', 'b', 'c'].map((x) => ({ body: `message ${x}` })));

  // Iterating a receiver with max_wait_time: the stream completes after 1 s with nothing new (and
  // nothing unsettled), like `for msg in receiver` with max_wait_time=1.
  const receiver = sb.createReceiver(names.queue, { maxWaitTime: 1_000 });
  const seen = await lastValueFrom(
    receiver.receive().pipe(
      concatMap(async (message) => {
        console.log(`received: ${String(message)} (sequence number ${String(message.sequenceNumber)})`);
        await message.complete();
        return String(message);
      }),
      toArray(),
    ),
  );
  console.log(`the stream ended after ${seen.length} messages and 1 s without one`);

  // receive_messages(max_wait_time=10): try to receive a single message within 10 seconds
  await sender.sendMessages(Array.from({ length: 7 }, (_, i) => ({ body: `batch message ${i + 1}` })));
  const [single] = await receiver.receiveMessages({ maxWaitTime: 10_000 });
  if (single !== undefined) {
    console.log(`single: ${String(single)}`);
    await single.complete();
  }

  // receive_messages(max_message_count=5, max_wait_time=10): a batch of at most 5 within 10 seconds
  const batch = await receiver.receiveMessages({ maxMessageCount: 5, maxWaitTime: 10_000 });
  console.log(`batch of ${batch.length}: ${batch.map(String).join(', ')}`);
  for (const message of batch) await message.complete();
}

await runServiceBusExample(main, { lockDuration: LOCK_DURATION });
