import { expect, it } from 'vitest';
import { runChaos } from '../support/chaos.js';
import { forEachPeer, usePeer } from '../support/peers.js';

forEachPeer(
  'chaos: connection cuts through FaultProxy',
  (peer) => {
    const broker = usePeer(peer);
    it('20,000 messages sent and consumed while the connection is cut at least 10 times: none lost', async () => {
      const counts = await runChaos(broker.url, peer.queue('chaos'), { messages: 20_000, minCuts: 10, seed: 7 });
      console.log(`chaos (${peer.name}):`, JSON.stringify(counts));
      expect(counts.cuts).toBeGreaterThanOrEqual(10);
      expect(counts.sent).toBe(20_000);
      expect(counts.accepted).toBe(20_000);
      expect(counts.lost).toBe(0);
      expect(counts.unique).toBe(20_000);
      expect(counts.unexplainedDuplicates).toBe(0);
    }, 180_000);
  },
  { only: ['rabbitmq'] },
);
