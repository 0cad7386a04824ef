// Topics and subscriptions on plain AMQP 1.0: every subscriber of a topic gets its own copy of each message (fan-out), where the consumers of a queue share them.
// Run: npx tsx examples/topics.ts [URL [TOPIC]]  ·  an in-process EmbeddedBroker by default (TOPIC 'topic://orders'); with a URL, TOPIC defaults to RabbitMQ's '/topic/orders-RUN' (amq.topic, the rest of the address is the routing key)
// Prints what each subscriber received: two subscribers get all three messages, a late one only what came after it; then RabbitMQ's routing-key patterns, or the EmbeddedBroker's durable subscription.
import { from, lastValueFrom, map, take, tap, throwError, timeout, toArray } from 'rxjs';
import { type Client, createClient } from 'rhea-rx';
import { EMBEDDED_BROKER_PRODUCT, EmbeddedBroker } from 'rhea-rx/testing';

/** One subscriber: `attached` resolves once the broker has attached its link, `received` with the first `count` bodies. */
interface Subscriber {
  readonly attached: Promise<void>;
  readonly received: Promise<string[]>;
}

/**
 * Subscribes to `address` and collects `count` messages, accepting each. A topic copies a message only
 * to the subscriptions that exist when it arrives, and a subscription exists once its link is
 * attached: publish after `attached`.
 */
function subscribe(client: Client, address: string, count: number): Subscriber {
  let attach!: () => void;
  const ready = new Promise<void>((resolve) => (attach = resolve));
  const received = lastValueFrom(
    client.receive<string>(address, { onAttach: () => attach() }).pipe(
      tap((delivery) => delivery.accept()),
      map((delivery) => delivery.body),
      take(count),
      timeout({ each: 10_000, with: () => throwError(() => new Error(`no message on ${address} for 10 s`)) }),
      toArray(),
    ),
  );
  // If the attach is refused, `received` fails and so does `attached`, instead of waiting forever.
  return { attached: Promise.race([ready, received.then(() => undefined)]), received };
}

/** Sends `bodies` to `address` and prints the outcome of each. */
async function publish(client: Client, address: string, bodies: string[]): Promise<void> {
  const outcomes = await lastValueFrom(from(bodies).pipe(client.send<string>(address), toArray()));
  for (const o of outcomes) console.log(`   published '${String(o.message)}' to ${address}: ${o.state}`);
}

const list = (bodies: string[]) => (bodies.length === 0 ? 'nothing' : bodies.map((b) => `'${b}'`).join(', '));

async function main(): Promise<void> {
  const [url, given] = process.argv.slice(2);
  const broker = url === undefined ? await EmbeddedBroker.start() : undefined;
  const run = Date.now().toString(36); // fresh names, so that runs against a real broker do not mix
  const topic = given ?? (broker ? 'topic://orders' : `/topic/orders-${run}`);
  const publisher = createClient(url ?? broker!.url);
  const subscribers = createClient(url ?? broker!.url); // another application, on a connection of its own

  // 1. Fan-out: one publish, a copy for each subscriber.
  const billing = subscribe(subscribers, topic, 3);
  const shipping = subscribe(subscribers, topic, 3);
  await Promise.all([billing.attached, shipping.attached]);
  const peer = subscribers.peer;
  console.log(`topic ${topic} on ${peer?.product ?? 'a peer'} ${peer?.version ?? ''} (${url ?? broker!.url})`);
  console.log('1. two subscribers, three messages published once');
  await publish(publisher, topic, ['order 1 placed', 'order 2 placed', 'order 3 placed']);
  console.log(`   billing  received ${list(await billing.received)}`);
  console.log(`   shipping received ${list(await shipping.received)}`);

  // 2. A topic keeps nothing for a subscriber that is not there yet.
  console.log('2. a subscriber that comes late gets only what is published after it attached');
  const late = subscribe(subscribers, topic, 1);
  await late.attached;
  await publish(publisher, topic, ['order 4 placed']);
  console.log(`   audit    received ${list(await late.received)}`);

  if (peer?.product === 'RabbitMQ') {
    // 3. RabbitMQ: /topic/KEY publishes to amq.topic with routing key KEY; a receiver of /topic/PATTERN
    //    gets a queue of its own bound with PATTERN (* one word, # any number of words). RabbitMQ 3.10
    //    keeps those queues after the link detaches: where subscribers come and go a lot, list and
    //    delete them with rabbitmqctl (`list_queues`, `delete_queue`).
    const base = topic.startsWith('/topic/') ? topic.slice('/topic/'.length) : `orders-${run}`;
    console.log(`3. routing-key patterns on amq.topic (${base}.EVENT.REGION)`);
    const europe = subscribe(subscribers, `/topic/${base}.*.eu`, 2);
    const placed = subscribe(subscribers, `/topic/${base}.placed.#`, 2);
    await Promise.all([europe.attached, placed.attached]);
    await publish(publisher, `/topic/${base}.placed.eu`, ['order 5 placed in the EU']);
    await publish(publisher, `/topic/${base}.placed.us`, ['order 6 placed in the US']);
    await publish(publisher, `/topic/${base}.shipped.eu`, ['order 5 shipped in the EU']);
    console.log(`   ${base}.*.eu        received ${list(await europe.received)}`);
    console.log(`   ${base}.placed.#    received ${list(await placed.received)}`);
  } else if (peer?.product === EMBEDDED_BROKER_PRODUCT) {
    // 3. EmbeddedBroker: TOPIC/Subscriptions/NAME is a durable subscription of TOPIC (Azure Service
    //    Bus's naming): it collects messages while no receiver is attached.
    const archive = `${topic}/Subscriptions/archive`;
    console.log(`3. a durable subscription, ${archive}, keeps what is published while it is detached`);
    const first = subscribe(subscribers, archive, 1);
    await first.attached;
    await publish(publisher, topic, ['order 7 placed']);
    console.log(`   archive  received ${list(await first.received)}, then detached`); // take(1) completed: the link is gone
    await publish(publisher, topic, ['order 8 placed', 'order 9 placed']);
    const again = subscribe(subscribers, archive, 2);
    console.log(`   archive  attached again and received ${list(await again.received)}`);
  }

  await Promise.all([publisher.close(), subscribers.close()]);
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
