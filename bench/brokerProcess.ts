// An EmbeddedBroker in a process of its own, driven over IPC by the benchmarks, so that the broker's
// work does not share the client's event loop or its CPU account.
// Messages in:  { fill: address, count, size }  → { filled: address }
//               { stop: true }                  → exits once the broker has stopped
// Message out at start: { url }
// With `--latency MS`, a FaultProxy in this process holds every chunk MS ms each way, and `url` is
// the proxy's (fills still go straight to the broker).
import { parseArgs } from 'node:util';
import { EmbeddedBroker, FaultProxy } from 'rhea-rx/testing';

interface Fill {
  fill: string;
  count: number;
  size: number;
}

const { values: args } = parseArgs({ options: { latency: { type: 'string', default: '0' } } });
const latency = Number(args.latency);
const broker = await EmbeddedBroker.start();
const proxy = latency > 0 ? await FaultProxy.start({ target: broker.url, latency }) : undefined;
process.send?.({ url: proxy?.url ?? broker.url });
process.on('message', (command: Fill | { stop: true }) => {
  if ('stop' in command) {
    void Promise.resolve(proxy?.stop())
      .then(() => broker.stop())
      .then(() => process.exit(0));
    return;
  }
  // One body string shared by every message: the broker's memory stays small for big backlogs.
  const body = 'x'.repeat(command.size);
  for (let i = 0; i < command.count; i++) broker.enqueue(command.fill, { body });
  process.send?.({ filled: command.fill });
});
process.on('disconnect', () => process.exit(0));
