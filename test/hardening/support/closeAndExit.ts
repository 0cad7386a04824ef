/**
 * Child process for the leak tests: connects to the URL given, attaches a receiver, and then either
 * closes the client at once (`close`) or first waits for the receive stream to fail because the
 * peer ended the connection (`peer-closes`); prints `closed` after `client.close()` and returns.
 * Nothing the library left behind may keep the process alive after that: the parent measures how
 * long it takes to exit.
 *
 *   node --import tsx closeAndExit.ts URL IDLE_TIMEOUT close|peer-closes
 */
import { createClient } from '../../../src/index.js';

const [url, idleTimeout, mode] = process.argv.slice(2);
const client = createClient({ url: url!, reconnect: false, idleTimeout: Number(idleTimeout), connectTimeout: 2000 });
await new Promise<void>((resolve, reject) => {
  const sub = client.receive('q', { onAttach: () => (mode === 'close' ? resolve() : undefined), attachTimeout: 2000 }).subscribe({
    error: (error: unknown) => (mode === 'peer-closes' ? resolve() : reject(error)),
  });
  setTimeout(() => sub.unsubscribe(), 3000).unref();
});
await client.close({ timeout: 100 });
process.stdout.write('closed\n');
