/**
 * Peer-neutral helpers for the broker suites: clients and wire taps that are closed after each test,
 * and ways to fill and read back a queue through a second client — so that tests observe a real
 * broker the way an application would, not through EmbeddedBroker introspection.
 */
import { EMPTY, lastValueFrom, map, timeout, toArray } from 'rxjs';
import { format } from 'node:util';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { type Client, type ClientOptions, createClient, type Delivery, type Outcome } from 'rhea-rx';
import { WireTap } from './wireTap.js';

export { sleep, waitFor } from '../../support/embedded.js';

/** What rhea prints (console.error) for each transfer a peer sends beyond the credit granted. */
const RHEA_OVER_CREDIT = 'Received transfer when credit was';

/**
 * Clients and taps for one test, closed (clients first) after it. rhea's console complaint about
 * each transfer beyond credit (thousands on RabbitMQ 3.10, see PEER_CAPS.exactCredit) is counted in
 * `overCredit()` instead of printed; anything else rhea prints goes to stderr as usual.
 */
export function useClients(): {
  client(url: string, options?: Omit<ClientOptions, 'url'>): Client;
  tap(target: string): Promise<WireTap>;
  /** Transfers rhea reported as received beyond credit during this test. */
  overCredit(): number;
} {
  const clients: Client[] = [];
  const taps: WireTap[] = [];
  let overCredit = 0;
  let restore: (() => void) | undefined;
  beforeEach(() => {
    overCredit = 0;
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith(RHEA_OVER_CREDIT)) overCredit += 1;
      else process.stderr.write(`${format(...args)}\n`);
    });
    restore = () => spy.mockRestore();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close({ timeout: 2000 }).catch(() => undefined)));
    await Promise.all(taps.splice(0).map((t) => t.close()));
    restore?.();
    restore = undefined;
  });
  return {
    client(url, options = {}) {
      const client = createClient({ ...options, url });
      clients.push(client);
      return client;
    },
    async tap(target) {
      const tap = await WireTap.start(target);
      taps.push(tap);
      return tap;
    },
    overCredit: () => overCredit,
  };
}

/** `m0`, `m1`, … */
export const bodies = (count: number, first = 0): string[] => Array.from({ length: count }, (_, i) => `m${first + i}`);

/**
 * Sends `input` (bodies, or a count of `m0…`) to `address`, pulled as credit allows, and expects
 * every outcome to be `accepted`.
 */
export async function fill<T = string>(client: Client, address: string, input: number | readonly T[]): Promise<Outcome<T>[]> {
  const source = typeof input === 'number' ? (bodies(input) as unknown as readonly T[]) : input;
  const outcomes = await lastValueFrom(client.sendFrom<T>(source, address).pipe(toArray()));
  const states = new Set(outcomes.map((o) => o.state));
  expect([...states]).toEqual(outcomes.length === 0 ? [] : ['accepted']);
  return outcomes;
}

/** Settles a delivery as accepted unless the peer pre-settled it. */
export function acceptIfUnsettled(delivery: Delivery): void {
  if (!delivery.settled) delivery.accept();
}

/**
 * Reads `address` empty through `client`: accepts every delivery and stops once nothing has arrived
 * for `idleMs` (the first one may take `firstMs`, the attach included). Resolves with the bodies in
 * arrival order.
 */
export async function drain<T = unknown>(
  client: Client,
  address: string,
  { idleMs = 300, firstMs = 1500, credit = 500 }: { idleMs?: number; firstMs?: number; credit?: number } = {},
): Promise<T[]> {
  return lastValueFrom(
    client.receive<T>(address, { credit }).pipe(
      timeout({ first: firstMs, each: idleMs, with: () => EMPTY }),
      map((d) => {
        acceptIfUnsettled(d);
        return d.body;
      }),
      toArray(),
    ),
  );
}

/** The same values sorted (for comparing what came back when a broker may requeue out of order). */
export function sorted<T>(values: readonly T[]): T[] {
  return [...values].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
}

/** A tag unique to this process and call, for names on a peer shared by the whole run. */
let tags = 0;
export function uniqueTag(): string {
  tags += 1;
  return `${process.pid.toString(36)}${Date.now().toString(36)}${tags.toString(36)}`;
}
