// An EmbeddedBroker in a process of its own, driven over IPC by the benchmarks, so that the broker's
// work does not share the client's event loop. Messages: { fill, count, size } → { filled }.
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
  const body = 'x'.repeat(command.size);
  for (let i = 0; i < command.count; i++) broker.enqueue(command.fill, { body });
  process.send?.({ filled: command.fill });
});
