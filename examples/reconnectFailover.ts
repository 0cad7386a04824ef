// Reconnect and failover: a client with two brokers keeps sending while the first one dies; the
// messages it had not confirmed are sent again to the second, and state$ shows every step.
// Run: npx tsx examples/reconnectFailover.ts  ·  Prints the connection states and the outcome counts.
import { Subject } from 'rxjs';
import { createClient, type Outcome } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const primary = await EmbeddedBroker.start();
  const standby = await EmbeddedBroker.start();
  const client = createClient({
    urls: [primary.url, standby.url], // tried in order, round robin
    reconnect: { initialDelay: 50, maxDelay: 2000, jitter: 0.2 },
  });
  client.state$.subscribe((s) =>
    console.log(`state     ${s.status.padEnd(12)} attempt ${s.attempt} ${s.url}${s.error ? ` (after: ${s.error.name})` : ''}`),
  );

  const orders = new Subject<number>();
  const outcomes: Outcome<number>[] = [];
  const done = new Promise<void>((resolve, reject) =>
    orders.pipe(client.send<number>('orders')).subscribe({ next: (o) => outcomes.push(o), error: reject, complete: resolve }),
  );

  for (let i = 0; i < 100; i++) orders.next(i);
  await sleep(100);
  primary.pauseOutcomes('orders'); // the next ones reach the primary but are never confirmed
  for (let i = 100; i < 150; i++) orders.next(i);
  await sleep(100);
  console.log(`primary   stopped with ${primary.stats('orders').received - 100} messages unconfirmed`);
  await primary.stop();
  for (let i = 150; i < 200; i++) orders.next(i);
  orders.complete();
  await done;

  const resent = outcomes.filter((o) => o.resent).length;
  const accepted = outcomes.filter((o) => o.state === 'accepted').length;
  console.log(`outcomes  ${outcomes.length} (accepted ${accepted}, of which resent after failover ${resent})`);
  console.log(`standby   holds ${standby.queueDepth('orders')} messages`);
  await client.close();
  await standby.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
