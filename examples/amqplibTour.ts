// The py-amqplib tour in rhea-rx: publish to an exchange with a routing key, get one message (basic_get), consume until a sentinel and cancel (basic_consume/basic_cancel).
// Run: npx tsx examples/amqplibTour.ts [URL]  ·  an in-process EmbeddedBroker by default, or a RabbitMQ 3.x URL with the AMQP 1.0 plugin, e.g. amqp://guest:guest@127.0.0.1:5672
// Prints each step: what was published where and with what outcome, what the get returned, what the consumer processed and what stayed queued.
import { EMPTY, firstValueFrom, from, lastValueFrom, map, takeWhile, tap, timeout, toArray } from 'rxjs';
import { type Client, createClient } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Publishes `bodies` to `address` and prints the outcome of each. */
async function publish(client: Client, address: string, bodies: string[], note = ''): Promise<void> {
  const outcomes = await lastValueFrom(from(bodies).pipe(client.send<string>(address), toArray()));
  for (const o of outcomes) console.log(`   published ${JSON.stringify(o.message)} to ${address}: ${o.state}${note}`);
}

/** What is left on a queue: reads (and accepts) until it has been quiet for 300 ms. */
function leftOn(client: Client, address: string): Promise<unknown[]> {
  return lastValueFrom(
    client.receive(address).pipe(
      timeout({ first: 1000, each: 300, with: () => EMPTY }),
      tap((d) => d.accept()),
      map((d) => d.body),
      toArray(),
    ),
  );
}

async function main(): Promise<void> {
  const given = process.argv[2];
  const broker = given === undefined ? await EmbeddedBroker.start() : undefined;
  const client = createClient(given ?? broker!.url);
  const run = Date.now().toString(36); // fresh names, so that runs against a real broker do not mix
  // RabbitMQ declares a queue when a link attaches to /queue/NAME; the EmbeddedBroker creates any
  // address on attach, so the same string is a plain queue there.
  const queue = `/queue/myqueue-${run}`;

  // 0. Connect and declare the queue (chan.queue_declare): attaching a link to it is enough.
  await client.receiveOne(queue, { timeout: 50 });
  const peer = `${client.peer?.product ?? 'an unnamed peer'} ${client.peer?.version ?? ''}`.trim();
  const rabbit = client.peer?.product === 'RabbitMQ';
  console.log(`rhea-rx py-amqplib tour against ${broker ? 'an in-process ' : ''}${peer} (${given ?? broker!.url})`);
  console.log(`0. queue ${queue} declared by attaching to it`);

  // 1. Publish with a routing key (chan.basic_publish(msg, exchange, routing_key)).
  console.log('1. publish to an exchange with a routing key');
  const key = `myq.myx.${run}`;
  if (rabbit) {
    // Receiving from /exchange/EX/KEY makes RabbitMQ bind a queue of this link's own to EX with
    // KEY. An exchange keeps nothing for queues that are not bound yet, and receive() has no
    // attached signal, so the subscription gets a moment before the publish.
    const got = firstValueFrom(client.receive<string>(`/exchange/amq.direct/${key}`).pipe(tap((d) => d.accept())));
    await sleep(300);
    await publish(client, `/exchange/amq.direct/${key}`, ['This is a test message']);
    await publish(client, `/exchange/amq.direct/nobody.${run}`, ['routed nowhere'], ' (RabbitMQ accepts, then drops what no queue is bound for)');
    console.log(`   the queue bound with ${key} got ${JSON.stringify((await got).body)}`);
    // /topic/KEY is /exchange/amq.topic/KEY: bindings may use patterns.
    const topic = firstValueFrom(client.receive<string>(`/topic/tour.${run}.*`).pipe(tap((d) => d.accept())));
    await sleep(300);
    await publish(client, `/topic/tour.${run}.eu`, ['an order from the EU']);
    console.log(`   the queue bound to amq.topic with tour.${run}.* got ${JSON.stringify((await topic).body)}`);
  } else {
    console.log(`   (${peer} has no exchanges: publishing to the plain queue ${queue} instead of /exchange/amq.direct/${key})`);
    await publish(client, queue, ['This is a test message']);
    console.log(`   left on ${queue}: ${JSON.stringify(await leftOn(client, queue))}`);
  }

  // 2. Get one message (chan.basic_get(queue, no_ack=False)), then acknowledge it (basic_ack).
  console.log('2. get one message');
  await publish(client, queue, ['first', 'second', 'third']);
  const msg = await client.receiveOne<string>(queue, { timeout: 2000 });
  console.log(`   basic_get returned ${JSON.stringify(msg?.body)}; accepting it`);
  msg?.accept();
  console.log(`   left on ${queue}: ${JSON.stringify(await leftOn(client, queue))}`);

  // 3. Consume (basic_consume) until a sentinel, then cancel (basic_cancel): ending the stream
  //    detaches the link, and whatever it had received after the sentinel goes back to the queue.
  console.log('3. consume until a sentinel, then cancel');
  await publish(client, queue, ['m0', 'm1', 'm2', '-1', 'm4', 'm5']);
  const processed = await lastValueFrom(
    client.receive<string>(queue, { credit: 10 }).pipe(
      tap((d) => d.accept()),
      takeWhile((d) => !d.body.includes('-1'), true),
      map((d) => d.body),
      toArray(),
    ),
  );
  console.log(`   processed ${JSON.stringify(processed)}, then cancelled`);
  console.log(`   still queued: ${JSON.stringify(await leftOn(client, queue))}`);

  await client.close();
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
