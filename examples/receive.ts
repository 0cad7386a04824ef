// Receiving messages from the command line, with the arguments and output of AMQ Python's receive.py.
// Run: npx tsx examples/receive.ts <connection-url> <address> [<message-count>]  ·  with no arguments, puts 3 messages on 'queue1' of an in-process EmbeddedBroker and receives them
// Prints "RECEIVE: Created receiver for source address '…'", then "RECEIVE: Received message '…'" for each message; stops after <message-count>, or on Ctrl-C without one.
import { fromEvent, identity, lastValueFrom, merge, take, takeUntil, tap } from 'rxjs';
import { createClient } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

const usage = 'Usage: receive.ts <connection-url> <address> [<message-count>]';

/** A body as text: strings as they are, binary as UTF-8, anything else as JSON. */
function show(body: unknown): string {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) ?? String(body);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const count = args[2] === undefined ? 0 : Number(args[2]); // 0: until stopped, as receive.py
  if ((args.length !== 0 && args.length < 2) || args.length > 3 || !Number.isSafeInteger(count) || count < 0) {
    console.error(usage);
    process.exitCode = 1;
    return;
  }

  let url: string;
  let address: string;
  let desired = count;
  const broker = args.length === 0 ? await EmbeddedBroker.start() : undefined;
  if (broker) {
    [url, address, desired] = [broker.url, 'queue1', 3];
    broker.enqueue(address, { body: 'hello' }, { body: 'bonjour' }, { body: 'hallo' });
    console.log(`(no arguments: an in-process EmbeddedBroker at ${broker.url} with 3 messages on '${address}', as if run as: receive.ts ${url} ${address} 3)`);
  } else {
    [url, address] = args as [string, string];
  }

  const client = createClient(url);
  // Credit: the most messages on their way or unsettled at once. No more than asked for, so a
  // count of 1 does not take (and then give back) a hundred.
  const credit = desired > 0 ? Math.min(desired, 100) : 100;
  await lastValueFrom(
    client
      .receive(address, {
        credit,
        onAttach: () => console.log(`RECEIVE: Created receiver for source address '${address}'`),
      })
      .pipe(
        tap((delivery) => {
          console.log(`RECEIVE: Received message '${show(delivery.body)}'`);
          delivery.accept(); // receive.py accepts each message once its handler returns
        }),
        desired > 0 ? take(desired) : identity, // the stream completes, and the link detaches
        takeUntil(merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM'))), // Ctrl-C: stop quietly
      ),
    { defaultValue: undefined },
  );
  await client.close();
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
