// Settlement strategies: a handler that fails sometimes, settleWith's failure strategy, and a
// poison-message guard that rejects (dead-letters) what keeps failing.
// Run: npx tsx examples/settlementStrategies.ts [URL]  ·  Prints each strategy's counts and the dead-letter queue.
import { lastValueFrom, range, map, takeWhile, toArray } from 'rxjs';
import { createClient, message } from 'rhea-rx';
import { completeWhenIdle, retryDeliveries, settleWith } from 'rhea-rx/operators';
import { EmbeddedBroker } from 'rhea-rx/testing';

interface Payment {
  id: number;
  amount: number;
}

/** Fails on every 10th payment until its third delivery, and always on payment 13 (a poison message). */
async function charge(payment: Payment, deliveryCount: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  if (payment.id === 13) throw new Error('card number is malformed');
  if (payment.id % 10 === 0 && deliveryCount < 2) throw new Error('payment service busy');
  return `charged ${payment.amount}`;
}

async function main(): Promise<void> {
  const given = process.argv[2];
  const broker = given === undefined ? await EmbeddedBroker.start() : undefined;
  const client = createClient(given ?? broker!.url);
  const queue = 'payments';

  await lastValueFrom(
    range(1, 50).pipe(
      map((id) => message<Payment>({ id, amount: id * 10 }, { properties: { messageId: `payment-${id}` } })),
      client.send<Payment>(queue),
      toArray(),
    ),
  );
  console.log('sent 50 payments');

  // modify on failure: the broker redelivers with delivery-count + 1; after 3 deliveries the
  // guard rejects the message, which the broker dead-letters. (On RabbitMQ 3.x, which cannot take
  // modified, use onError: 'release': retryDeliveries counts by message-id there.)
  const counts = { accepted: 0, modified: 0, rejected: 0, poison: 0 };
  const results = await lastValueFrom(
    client.receive<Payment>(queue, { credit: 20 }).pipe(
      retryDeliveries({
        maxDeliveries: 3,
        onExhausted: (delivery, deliveries) => {
          counts.poison++;
          delivery.reject({ condition: 'app:poison-message', description: `failed ${deliveries} times` });
        },
      }),
      settleWith((d) => charge(d.body, d.deliveryCount), { concurrency: 5, onError: 'modify' }),
      map((result) => {
        counts[result.settledAs === 'accepted' ? 'accepted' : result.settledAs === 'modified' ? 'modified' : 'rejected']++;
        return result;
      }),
      takeWhile(() => counts.accepted < 49, true),
      completeWhenIdle(2000),
      toArray(),
    ),
  );
  console.log(`settled ${results.length} deliveries: accepted ${counts.accepted}, modified for retry ${counts.modified}, rejected as poison ${counts.poison}`);
  if (broker) {
    const dead = broker.messages(`${queue}/$DeadLetterQueue`);
    for (const m of dead) {
      const annotations = m.message.message_annotations as Record<string, unknown> | undefined;
      console.log(`dead-lettered: ${JSON.stringify(m.message.body)} reason=${String(annotations?.['x-opt-deadletter-reason'])}`);
    }
  }
  await client.close();
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
