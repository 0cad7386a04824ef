// Node streams: stream.pipeline into a queue and from it through a Transform into another, with backpressure end to end.
// Run: npx tsx examples/streamsPipeline.ts [URL]
// Prints the orders written and their outcomes, the invoices written, how far reading ran ahead of the confirmed invoices, and what is left queued.
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createClient, type Delivery, message, toReadable, toWritable } from 'rhea-rx';
import { completeWhenIdle } from 'rhea-rx/operators';
import { EmbeddedBroker } from 'rhea-rx/testing';

const TOTAL = 1000;
const CREDIT = 50;

interface Order {
  id: number;
  amount: number;
}

interface Invoice {
  order: number;
  total: number;
}

/** The producer: a generator that pipeline() reads only as fast as the broker confirms. */
async function* orders(): AsyncGenerator<Order> {
  for (let id = 1; id <= TOTAL; id++) yield { id, amount: (id % 7) * 10 + 5 };
}

async function main(): Promise<void> {
  const given = process.argv[2];
  const broker = given === undefined ? await EmbeddedBroker.start() : undefined;
  const client = createClient(given ?? broker!.url);

  // 1. A generator into the 'orders' queue: each write calls back on its message's outcome.
  const placed = { accepted: 0, other: 0 };
  await pipeline(
    Readable.from(orders()),
    toWritable<Order>(client, 'orders', { highWaterMark: 50, onOutcome: (o) => (o.state === 'accepted' ? placed.accepted++ : placed.other++) }),
  );
  console.log(`wrote ${TOTAL} orders: accepted ${placed.accepted}, other outcomes ${placed.other}`);

  // 2. 'orders' → Transform → 'invoices'. Each order is accepted when the Transform reads it; the
  //    link gets credit back only then, so a slow invoice queue stops the order queue too.
  let read = 0;
  let confirmed = 0;
  let maxAhead = 0;
  const invoice = new Transform({
    objectMode: true,
    transform(delivery: Delivery<Order>, _encoding, callback) {
      read++;
      maxAhead = Math.max(maxAhead, read - confirmed);
      const order = delivery.body;
      const total = Math.round(order.amount * 1.2 * 100) / 100;
      callback(null, message<Invoice>({ order: order.id, total }, { properties: { messageId: `invoice-${order.id}` } }));
    },
  });
  await pipeline(
    toReadable(client.receive<Order>('orders', { credit: CREDIT }).pipe(completeWhenIdle(500))),
    invoice,
    toWritable<Invoice>(client, 'invoices', { highWaterMark: 50, onOutcome: () => confirmed++ }),
  );
  console.log(`invoiced ${read} orders: ${confirmed} invoices confirmed by the broker`);
  console.log(`reading ran at most ${maxAhead} orders ahead of the confirmed invoices: the streams' buffers, never the whole queue`);

  if (broker) console.log(`broker: orders ${broker.queueDepth('orders')} left, invoices ${broker.queueDepth('invoices')} queued`);
  await client.close();
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
