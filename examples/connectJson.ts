// Connecting with Qpid Proton's connect.json: createClient() with no argument reads the file MESSAGING_CONNECT_FILE names.
// Run: npx tsx examples/connectJson.ts  (writes a temp connect.json for an in-process EmbeddedBroker, then removes it)
// Prints the file, the redacted URL the client used, the message it got back, and the error for a misspelled key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, of } from 'rxjs';
import { ConfigError, createClient } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

async function main(): Promise<void> {
  const broker = await EmbeddedBroker.start({ users: { app: 'app-secret' } });
  const dir = mkdtempSync(join(tmpdir(), 'rhea-rx-connect-json-'));
  const file = join(dir, 'connect.json');
  try {
    // JSON with JavaScript comments. Without MESSAGING_CONNECT_FILE the search path is ./connect.json,
    // ~/.config/messaging/connect.json, then /etc/messaging/connect.json.
    const text = `// Where the order service connects
{
  "scheme": "amqp",          /* the default is amqps: plain TCP is fine on loopback */
  "host": "127.0.0.1",
  "port": ${broker.port},
  "user": "app",
  "password": "app-secret",
  "sasl": { "mechanisms": ["PLAIN"] }
}
`;
    writeFileSync(file, text, { mode: 0o600 });
    process.env.MESSAGING_CONNECT_FILE = file;
    console.log(`${file}:\n${text.replace('app-secret', '***')}`);

    const client = createClient();
    client.state$.subscribe((s) => console.log(`state: ${s.status.padEnd(10)} ${s.url}`));
    await lastValueFrom(of('configured by connect.json').pipe(client.send('orders')));
    const delivery = await client.receiveOne<string>('orders');
    delivery?.accept();
    console.log(`received: '${delivery?.body}'`);
    await client.close();

    // A misspelled key is an error naming the key and the file, never silently ignored.
    writeFileSync(file, '{ "host": "127.0.0.1", "sasl": { "allowInsecure": true } }');
    try {
      createClient();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.log(`refused (${error.option}): ${error.message}`);
    }
  } finally {
    delete process.env.MESSAGING_CONNECT_FILE;
    rmSync(dir, { recursive: true, force: true });
    await broker.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
