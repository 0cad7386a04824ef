import { describe, expect, it } from 'vitest';
import { runChaos } from '../support/chaos.js';
import { useBroker } from '../support/embedded.js';

describe('chaos: connection cuts through FaultProxy (EmbeddedBroker)', () => {
  const env = useBroker();

  it('20,000 messages sent and consumed while the connection is cut at least 10 times: none lost, duplicates only resent or redelivered', async () => {
    const broker = await env.start();
    const counts = await runChaos(broker.url, 'chaos', { messages: 20_000, minCuts: 10, seed: 20261123 });
    console.log('chaos (EmbeddedBroker):', JSON.stringify(counts));
    expect(counts.cuts).toBeGreaterThanOrEqual(10);
    expect(counts.sent).toBe(20_000);
    expect(counts.accepted).toBe(20_000);
    expect(counts.lost).toBe(0);
    expect(counts.unique).toBe(20_000);
    expect(counts.unexplainedDuplicates).toBe(0);
    expect(counts.reconnects).toBeGreaterThanOrEqual(10);
  }, 150_000);
});
