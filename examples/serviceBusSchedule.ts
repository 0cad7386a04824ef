// Azure Service Bus (seed 001 notes): schedule messages and cancel them, schedule with scheduledEnqueueTimeUtc, and peek without locking.
// Run: npx tsx examples/serviceBusSchedule.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints the scheduled sequence numbers, what peek shows, and the message that arrives at its enqueue time.
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

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

await runServiceBusExample(main, { lockDuration: LOCK_DURATION });
