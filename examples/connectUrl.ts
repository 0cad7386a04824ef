// Connecting with a URL: user and password percent-encoded in it, the path as the default address, a failover list.
// Run: npx tsx examples/connectUrl.ts [URL]  (default: an in-process EmbeddedBroker with a user)
// Prints the redacted URL and states the client went through, the message it got back, and the refused clear-text URL.
import { lastValueFrom, of } from 'rxjs';
import { ConfigError, createClient } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

async function main(): Promise<void> {
  const given = process.argv[2];
  // A password with characters a URL must encode: encodeURIComponent (or Python's quote_plus) does it.
  const password = 'p@ss/w:rd+1=';
  const broker = given === undefined ? await EmbeddedBroker.start({ users: { alice: password } }) : undefined;
  const url = given ?? `amqp://alice:${encodeURIComponent(password)}@127.0.0.1:${broker!.port}/orders`;

  const client = createClient(url);
  client.state$.subscribe((s) => console.log(`state: ${s.status.padEnd(12)} attempt ${s.attempt}  ${s.url}`));
  console.log(`default address (the URL's path): ${client.defaultAddress ?? '(none)'}`);

  // No address given: both use the URL's path.
  const outcome = await lastValueFrom(of({ id: 1, item: 'book' }).pipe(client.send()));
  const delivery = await client.receiveOne<{ id: number; item: string }>();
  delivery?.accept();
  console.log(`sent: ${outcome.state}; received: ${JSON.stringify(delivery?.body)} from ${delivery?.address}`);
  console.log(`peer: ${client.peer?.product} ${client.peer?.version}`);
  await client.close();

  if (broker !== undefined) {
    // Failover: the first URL has nothing listening, so the client moves on to the second.
    const failover = createClient({
      urls: ['amqp://127.0.0.1:1', `amqp://127.0.0.1:${broker.port}`],
      username: 'alice',
      password,
      reconnect: { initialDelay: 50 },
    });
    let attempts = 0;
    failover.state$.subscribe((s) => {
      attempts = s.attempt;
      if (s.status === 'reconnecting') console.log(`failover: ${s.error?.message}; next: ${s.url}`);
    });
    await lastValueFrom(of('via failover').pipe(failover.send('orders')));
    const again = await failover.receiveOne<string>('orders');
    again?.accept();
    console.log(`failover: received '${again?.body}' after ${attempts} attempts`);
    await failover.close();
  }

  // PLAIN in clear text to a host that is not loopback is refused before anything is dialled.
  try {
    createClient('amqp://alice:secret@10.20.30.40');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.log(`refused (${error.option}): ${error.message}`);
  }

  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
