// Sending a message from the command line, with the arguments and output of AMQ Python's send.py.
// Run: npx tsx examples/send.ts <connection-url> <address> <message-body>  ·  with no arguments, sends 'hello' to 'queue1' on an in-process EmbeddedBroker
// Prints "SEND: Opened sender for target address '…'" and "SEND: Sent message '…'"; exits 1 if the broker does not accept it.
import { lastValueFrom, of } from 'rxjs';
import { createClient } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

const usage = 'Usage: send.ts <connection-url> <address> <message-body>';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length !== 0 && args.length < 3) {
    console.error(usage);
    process.exitCode = 1;
    return;
  }
  const broker = args.length === 0 ? await EmbeddedBroker.start() : undefined;
  const [url, address, body] = broker ? [broker.url, 'queue1', 'hello'] : (args as [string, string, string]);
  if (broker) console.log(`(no arguments: an in-process EmbeddedBroker at ${broker.url}, as if run as: send.ts ${broker.url} ${address} ${body})`);

  const client = createClient(url);
  // One message, one outcome: the send link attaches, sends once it has credit, and completes when
  // the broker has settled the message. Completing the input closes the link.
  const outcome = await lastValueFrom(
    of(body).pipe(client.send<string>(address, { onAttach: (attach) => console.log(`SEND: Opened sender for target address '${attach.address ?? address}'`) })),
  );
  if (outcome.state === 'accepted') {
    console.log(`SEND: Sent message '${body}'`);
  } else {
    const why = outcome.error ? `: ${outcome.error.condition} ${outcome.error.description ?? ''}`.trimEnd() : '';
    console.error(`SEND: Message '${body}' was ${outcome.state}${why}`);
    process.exitCode = 1;
  }
  await client.close();

  if (broker) {
    console.log(`(the EmbeddedBroker holds ${broker.queueDepth(address)} message on '${address}' and stops with this program: give a URL to keep it)`);
    await broker.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
