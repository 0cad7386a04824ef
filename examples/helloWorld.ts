// Hello World: the smallest rhea-rx program. It sends "Hello World!" to a queue and receives it back.
// Run: npx tsx examples/helloWorld.ts [URL [ADDRESS]]  ·  an in-process EmbeddedBroker by default; ADDRESS defaults to 'examples'
// Prints: Hello World!
import { lastValueFrom, of } from 'rxjs';
import { createClient } from 'rhea-rx';
import { throwOnRejected } from 'rhea-rx/operators';
import { EmbeddedBroker } from 'rhea-rx/testing';

async function main(): Promise<void> {
  const [url, address = 'examples'] = process.argv.slice(2);
  const broker = url === undefined ? await EmbeddedBroker.start() : undefined;
  const client = createClient(url ?? broker!.url);

  // Send, and wait for the broker to accept the message (an error if it rejects it).
  await lastValueFrom(of('Hello World!').pipe(client.send<string>(address), throwOnRejected()));

  // Fetch it back, and accept it so that the broker removes it from the queue.
  const delivery = await client.receiveOne<string>(address, { timeout: 5000 });
  if (delivery === undefined) throw new Error(`nothing arrived on '${address}' within 5 s`);
  console.log(delivery.body);
  delivery.accept();

  await client.close();
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
