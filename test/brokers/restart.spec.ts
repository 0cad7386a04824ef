// A RabbitMQ restart (stop, then start on the same data) in the middle of a stream: the clients
// reconnect by themselves, and no accepted message is lost. Runs on a node of its own.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runWorkload } from '../support/chaos.js';
import { sleep, waitFor } from '../support/embedded.js';
import { forEachPeer } from '../support/peers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const script = `${root}scripts/rabbitmq.sh`;
const PORT = String(5773 + (process.pid % 50) * 2);

forEachPeer(
  'a broker restart in the middle of a stream',
  () => {
    beforeAll(async () => {
      await run(script, ['start', PORT], { cwd: root, timeout: 90_000 });
      // A durable queue: persistent messages in it survive the restart, as on any real deployment.
      await run(
        script,
        ['ctl', PORT, 'eval', 'rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, queue, <<"restart">>), true, false, [], none, <<"test">>).'],
        { cwd: root, timeout: 60_000 },
      );
    }, 120_000);
    afterAll(async () => {
      await run(script, ['stop', PORT], { cwd: root, timeout: 60_000 }).catch(() => undefined);
    }, 60_000);

    it('5,000 persistent messages: the clients reconnect after the restart, none is lost', async () => {
      let restarted = false;
      const counts = await runWorkload(`amqp://127.0.0.1:${PORT}`, '/amq/queue/restart', {
        messages: 5000,
        durable: true,
        disrupt: async (progress) => {
          await waitFor(() => progress.outcomes() >= 1000 || progress.failed(), '1,000 outcomes before the restart', 30_000);
          await run(script, ['restart', PORT], { cwd: root, timeout: 90_000 });
          restarted = true;
          await sleep(100);
        },
      });
      console.log('restart (rabbitmq):', JSON.stringify(counts));
      expect(restarted).toBe(true);
      expect(counts.sent).toBe(5000);
      expect(counts.accepted).toBe(5000);
      expect(counts.lost).toBe(0);
      expect(counts.unique).toBe(5000);
      expect(counts.unexplainedDuplicates).toBe(0);
      expect(counts.reconnects).toBeGreaterThanOrEqual(2);
    }, 180_000);
  },
  { only: ['rabbitmq'] },
);
