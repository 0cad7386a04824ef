// The main job: 10,000 orders through an in-process broker, sent with per-message outcomes and
// received with a credit window and a handler that fails on a few (they come back redelivered).
// Run: npm run demo [-- URL]  ·  Prints outcome counts, settlements, redeliveries and throughput.
import { performance } from 'node:perf_hooks';
import { defer, lastValueFrom, mergeMap, range, map, take, toArray } from 'rxjs';
import { createClient, message, type Delivery } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

const TOTAL = 10_000;
const CREDIT = 200;
const QUEUE = 'orders';

interface Order {
  id: number;
  amount: number;
}

/** The "business logic": async, and it fails the first time it sees every 1,000th order. */
async function handle(order: Order, attempt: number): Promise<void> {
  await Promise.resolve();
  if (order.id % 1000 === 999 && attempt === 0) throw new Error(`order ${order.id}: inventory service timed out`);
}

const rate = (count: number, ms: number) => `${Math.round((count / ms) * 1000).toLocaleString('en-US')} msg/s`;

async function main(): Promise<void> {
  const given = process.argv[2];
  const broker = given === undefined ? await EmbeddedBroker.start() : undefined;
  const url = given ?? broker!.url;
  const client = createClient(url);
  console.log(`rhea-rx demo: ${TOTAL.toLocaleString('en-US')} orders through '${QUEUE}' at ${broker ? 'an EmbeddedBroker' : url}`);

  // 1. Send: one outcome per message.
  let t0 = performance.now();
  const outcomes = await lastValueFrom(
    range(0, TOTAL).pipe(
      map((id) => message<Order>({ id, amount: (id % 97) + 0.5 }, { properties: { messageId: `order-${id}` } })),
      client.send<Order>(QUEUE),
      toArray(),
    ),
  );
  const sendMs = performance.now() - t0;
  const sent = countBy(outcomes.map((o) => o.state));
  console.log(`sent      ${fmt(sent)} in ${sendMs.toFixed(0)} ms (${rate(TOTAL, sendMs)})`);

  // 2. Receive: credit-limited, settled by the handler's fate.
  const settled = { accepted: 0, modified: 0 };
  let redeliveries = 0;
  let maxHeld = 0;
  let held = 0;
  t0 = performance.now();
  // A live progress line from client.watchStats(): what the link holds and what it may still take.
  const progress = client.watchStats(100).subscribe((stats) => {
    const link = stats.links.find((l) => l.kind === 'receiver');
    if (link?.kind !== 'receiver' || !process.stdout.isTTY) return;
    process.stdout.write(`\rreceiving accepted ${settled.accepted}, held ${link.held}/${link.credit}, link credit ${link.linkCredit}   `);
  });
  await lastValueFrom(
    client.receive<Order>(QUEUE, { credit: CREDIT }).pipe(
      mergeMap(
        (d: Delivery<Order>) =>
          defer(async () => {
            held++;
            maxHeld = Math.max(maxHeld, held);
            if (d.deliveryCount > 0) redeliveries++;
            try {
              await handle(d.body, d.deliveryCount);
              d.accept();
              settled.accepted++;
            } catch {
              d.modify({ deliveryFailed: true }); // back to the queue, delivery-count + 1
              settled.modified++;
            } finally {
              held--;
            }
          }),
        50,
      ),
      // Done when every order has been accepted once.
      mergeMap(() => (settled.accepted === TOTAL ? [true] : [])),
      take(1),
    ),
  );
  const receiveMs = performance.now() - t0;
  progress.unsubscribe();
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  console.log(`received  accepted ${settled.accepted}, modified ${settled.modified} (handler failures), redelivered ${redeliveries}`);
  console.log(`          in ${receiveMs.toFixed(0)} ms (${rate(settled.accepted + settled.modified, receiveMs)}); at most ${maxHeld} in the handler, credit ${CREDIT}`);
  await client.close(); // waits for the last settlements to reach the broker
  if (broker) {
    console.log(`broker    queue depth ${broker.queueDepth(QUEUE)}, unsettled ${broker.unsettledCount(QUEUE)}`);
  }
  await broker?.stop();
  const lost = TOTAL - settled.accepted;
  console.log(lost === 0 ? 'result    every order processed, none lost' : `result    ${lost} orders not processed`);
  if (lost !== 0 || sent.accepted !== TOTAL) process.exitCode = 1;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = { accepted: 0, rejected: 0, released: 0, modified: 0 };
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

function fmt(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
