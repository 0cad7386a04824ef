// One client case, repeated, against an EmbeddedBroker in its own process (or RabbitMQ with --peer rabbitmq): for profiling.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts --case receive --client rhea-rx
// Prints msg/s and µs of process CPU per message for each round.
import { parseArgs } from 'node:util';
import { rawReceive, rawSend, rheaRxReceive, rheaRxSend, type RunResult, type RunSpec } from './lib/clients.js';
import { gc } from './lib/gc.js';
import { embeddedOwnProcess, rabbitmq } from './lib/peers.js';

const { values: args } = parseArgs({
  options: {
    case: { type: 'string', default: 'receive' },
    client: { type: 'string', default: 'rhea-rx' },
    messages: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '5' },
    size: { type: 'string', default: '100' },
    credit: { type: 'string', default: '1000' },
    peer: { type: 'string', default: 'embedded' },
    'rabbitmq-port': { type: 'string', default: '5695' },
  },
});

const runners: Record<string, (spec: RunSpec) => Promise<RunResult>> = {
  'receive/rhea-rx': rheaRxReceive,
  'receive/rhea': rawReceive,
  'send/rhea-rx': rheaRxSend,
  'send/rhea': rawSend,
};
const key = `${args.case}/${args.client}`;
const run = runners[key];
if (run === undefined) throw new Error(`unknown case ${key}; one of ${Object.keys(runners).join(', ')}`);

if (args.peer !== 'embedded' && args.peer !== 'rabbitmq') throw new Error(`--peer is embedded or rabbitmq, not ${args.peer}`);
const peer =
  args.peer === 'rabbitmq'
    ? await rabbitmq({ url: process.env.RABBITMQ_URL, port: Number(args['rabbitmq-port']), log: (line) => process.stderr.write(`${line}\n`) })
    : await embeddedOwnProcess();
const count = Number(args.messages);
const size = Number(args.size);
try {
  for (let round = 0; round < Number(args.rounds); round++) {
    const address = `profile-${process.pid}-${round}`;
    if (args.case === 'receive') await peer.fill(address, count, size);
    gc();
    const r = await run({ url: peer.url, protonUrl: peer.url, address, count, body: 'x'.repeat(size), credit: Number(args.credit), window: 100 });
    console.log(`${key} round ${round + 1}: ${Math.round((count / r.ms) * 1000).toLocaleString('en-US')} msg/s, ${(r.cpuUs / count).toFixed(2)} µs CPU/msg`);
    if (args.case === 'send') await peer.drain(address, count);
  }
} finally {
  await peer.stop();
}
