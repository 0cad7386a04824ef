import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type ClientState, createClient, type Outcome } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';
import { waitFor } from '../support/embedded.js';

describe('failover between two brokers', () => {
  it('moves to the second broker when the first is killed, and goes on sending without loss', async () => {
    const first = await EmbeddedBroker.start();
    const second = await EmbeddedBroker.start();
    const client = createClient({ urls: [first.url, second.url], reconnect: { initialDelay: 20, maxDelay: 200 } });
    const states: ClientState[] = [];
    client.state$.subscribe((s) => states.push(s));
    const input = new Subject<number>();
    const outcomes: Outcome<number>[] = [];
    let failed: unknown;
    input.pipe(client.send<number>('orders')).subscribe({ next: (o) => outcomes.push(o), error: (e) => (failed = e) });
    try {
      for (let i = 0; i < 500; i++) input.next(i);
      await waitFor(() => outcomes.length === 500, 'the first 500 outcomes');
      first.pauseOutcomes('orders');
      for (let i = 500; i < 600; i++) input.next(i);
      await waitFor(() => first.stats('orders').received === 600, '100 more unconfirmed at the first broker');
      await first.stop(); // killed with 100 messages unconfirmed
      for (let i = 600; i < 1000; i++) input.next(i);
      await waitFor(() => outcomes.length === 1000 || failed !== undefined, 'every outcome');
      expect(failed).toBeUndefined();
      expect(outcomes.every((o) => o.state === 'accepted')).toBe(true);
      expect(new Set(outcomes.map((o) => o.message)).size).toBe(1000);
      expect(outcomes.filter((o) => o.resent).map((o) => o.message)).toEqual([...Array(100).keys()].map((i) => i + 500));
      expect(second.queueDepth('orders')).toBe(500); // 100 resent + 400 new
      const opens = states.filter((s) => s.status === 'open').map((s) => s.url);
      expect(opens).toEqual([first.url.replace(/\/$/, ''), second.url.replace(/\/$/, '')]);
    } finally {
      input.complete();
      await client.close({ timeout: 2000 });
      await second.stop();
    }
  });
});
