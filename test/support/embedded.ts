import { afterEach } from 'vitest';
import { type Client, createClient, type ClientOptions } from 'rhea-rx';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from 'rhea-rx/testing';

/** Polls `condition` every 5 ms until it holds; fails with `what` after `timeout` ms. */
export async function waitFor(condition: () => boolean, what: string, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await sleep(5);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Starts an EmbeddedBroker on port 0 for one test and a client for it; both are closed after the
 * test, and the test fails if the client left a connection open at the broker.
 */
export function useBroker(): {
  start(options?: EmbeddedBrokerOptions): Promise<EmbeddedBroker>;
  client(options?: ClientOptions): Client;
} {
  const brokers: EmbeddedBroker[] = [];
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ timeout: 2000 }).catch(() => undefined)));
    for (const broker of brokers) {
      await waitFor(() => broker.connectionCount() === 0, 'the client to close its connection', 3000);
    }
    await Promise.all(brokers.splice(0).map((b) => b.stop()));
  });
  return {
    async start(options) {
      const broker = await EmbeddedBroker.start(options);
      brokers.push(broker);
      return broker;
    },
    client(options = {}) {
      const broker = brokers.at(-1);
      const url = options.url ?? broker?.url;
      if (url === undefined) throw new Error('start a broker first');
      const client = createClient(options.urls === undefined ? { ...options, url } : options);
      clients.push(client);
      return client;
    },
  };
}
