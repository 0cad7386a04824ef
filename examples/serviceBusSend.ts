// Azure Service Bus (seed 001, "Send messages to a queue"): a single message, then a list of two.
// Run: npx tsx examples/serviceBusSend.ts  (SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE_NAME for a real namespace)
// Prints each send and, against the local broker, what the queue holds afterwards.
import { from, lastValueFrom, toArray } from 'rxjs';
import { type ServiceBusClient } from 'rhea-rx';
import type { EmbeddedBroker } from 'rhea-rx/testing';
import { names, runServiceBusExample } from './support/serviceBus.js';

const LOCK_DURATION = 30_000;

async function main(sb: ServiceBusClient, local: EmbeddedBroker | undefined): Promise<void> {
  const sender = sb.createSender(names.queue);

  // Sending a single message (azure-servicebus: sender.send_messages(ServiceBusMessage("Single message")))
  await sender.sendMessages({ body: 'Single message' });
  console.log('sent: Single message');

  // Sending a list of messages
  await sender.sendMessages([{ body: 'First message' }, { body: 'Second message' }]);
  console.log('sent: First message, Second message');

  // The same as a stream, with ids and properties: one outcome per message.
  const orders = [1, 2, 3].map((n) => ({ body: `Order ${n}`, messageId: `order-${n}`, applicationProperties: { n } }));
  const outcomes = await lastValueFrom(from(orders).pipe(sender.send(), toArray()));
  console.log(`streamed: ${outcomes.map((o) => `${String(o.message.messageId)} ${o.state}`).join(', ')}`);

  if (local !== undefined) {
    const held = local.serviceBus.messages(names.queue).map((m) => {
      const body = m.message.body as { content?: unknown };
      return Buffer.isBuffer(body.content) ? body.content.toString() : String(m.message.body);
    });
    console.log(`the queue holds ${held.length} messages: ${held.join(' | ')}`);
  }
}

await runServiceBusExample(main, { lockDuration: LOCK_DURATION });
