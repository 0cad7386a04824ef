// An Azure Service Bus connection string: what it is parsed into (amqps on 5671, SASL PLAIN, EntityPath as the default address).
// Run: npx tsx examples/serviceBusConnectionString.ts ["Endpoint=sb://…"]  (or set SERVICEBUS_CONNECTION_STRING); Azure is dialled only then.
// Prints the client's redacted URL and default address, refused malformed strings, and the same credentials used against an EmbeddedBroker.
import { lastValueFrom, of } from 'rxjs';
import { ConfigError, createClient } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

// A made-up namespace and key in the portal's format: nothing here can reach Azure.
const SAMPLE =
  'Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;' +
  'SharedAccessKey=fake-key-not-a-secret-0000=;EntityPath=orders';

async function main(): Promise<void> {
  const real = process.argv[2] ?? process.env.SERVICEBUS_CONNECTION_STRING;

  // 1. Parsing. createClient connects lazily, so this dials nothing.
  const sample = createClient(SAMPLE);
  sample.state$.subscribe((s) => console.log(`sample: ${s.status}, ${s.url}`));
  console.log(`sample: default address (EntityPath) = ${sample.defaultAddress}`);
  await sample.close();

  // 2. Malformed strings are refused at once, naming the part and never showing the key.
  for (const bad of [
    SAMPLE.replace('SharedAccessKey=', ''), // the key lost its name
    SAMPLE.replace('Endpoint=sb://', 'Endpoint=http://'),
    SAMPLE.replace(';EntityPath=orders', ';EntityPath=a;EntityPath=b'),
  ]) {
    try {
      createClient(bad);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.log(`refused (${error.option}): ${error.message}`);
    }
  }

  // 3. What the string stands for, against a local broker: the key name and key are SASL PLAIN's user
  //    and password (Service Bus accepts them this way over amqps), the key percent-encoded in a URL.
  const [, keyName = '', key = ''] = /SharedAccessKeyName=([^;]+);SharedAccessKey=([^;]+)/.exec(SAMPLE) ?? [];
  const broker = await EmbeddedBroker.start({ users: { [keyName]: key } });
  const local = createClient(`amqp://${keyName}:${encodeURIComponent(key)}@127.0.0.1:${broker.port}/orders`);
  await lastValueFrom(of('hello from the SAS key').pipe(local.send()));
  const delivery = await local.receiveOne<string>();
  delivery?.accept();
  console.log(`EmbeddedBroker: received '${delivery?.body}' as ${keyName}`);
  await local.close();
  await broker.stop();

  // 4. A real namespace, only when a connection string is given.
  if (real === undefined) {
    console.log('No connection string given: Azure was not contacted (pass one as the argument or in SERVICEBUS_CONNECTION_STRING).');
    return;
  }
  const client = createClient(real);
  client.state$.subscribe((s) => console.log(`Service Bus: ${s.status}, ${s.url}${s.error ? ` (${s.error.message})` : ''}`));
  const address = client.defaultAddress;
  if (address === undefined) {
    console.log('The connection string has no EntityPath: add ";EntityPath=QUEUE" to send and receive.');
  } else {
    await lastValueFrom(of(`hello at ${new Date().toISOString()}`).pipe(client.send(address)));
    const got = await client.receiveOne<string>(address, { timeout: 10_000 });
    got?.accept();
    console.log(`Service Bus: received '${got?.body}' from ${address}`);
  }
  await client.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
