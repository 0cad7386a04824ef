// An EmbeddedBroker in a process of its own, driven over IPC by the benchmarks, so that the broker's
// work does not share the client's event loop or its CPU account.
// Messages in:  { fill: address, count, size }  → { filled: address }
//               { stop: true }                  → exits once the broker has stopped
// Message out at start: { url }
import { EmbeddedBroker } from 'rhea-rx/testing';

interface Fill {
  fill: string;
  count: number;
  size: number;
}

const broker = await EmbeddedBroker.start();
process.send?.({ url: broker.url });
process.on('message', (command: Fill | { stop: true }) => {
  if ('stop' in command) {
    void broker.stop().then(() => process.exit(0));
    return;
  }
  // One body string shared by every message: the broker's memory stays small for big backlogs.
  const body = 'x'.repeat(command.size);
  for (let i = 0; i < command.count; i++) broker.enqueue(command.fill, { body });
  process.send?.({ filled: command.fill });
});
process.on('disconnect', () => process.exit(0));
