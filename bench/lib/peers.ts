// The peers the benchmarks run against: EmbeddedBroker in this process, EmbeddedBroker in a process
// of its own, and RabbitMQ 3.10 (started and stopped with scripts/rabbitmq.sh, or given by URL).
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EmbeddedBroker } from 'rhea-rx/testing';
import { drainWithRhea, fillWithRhea, peerProduct, rheaClose, rheaConnect } from './rheaUtil.js';

export type PeerId = 'embedded-own' | 'embedded-local' | 'rabbitmq' | 'embedded-rtt';

export interface Peer {
  readonly id: PeerId;
  label: string;
  /** For the Node clients. */
  readonly url: string;
  /** The broker's own process, when it is not this one and its CPU time can be read. */
  pid?: number;
  /** For Qpid Proton (which wants explicit credentials where the broker needs them). */
  readonly protonUrl: string;
  /** Product and version from the peer's open frame. */
  product: string;
  /** The address of a fresh queue called `name` on this peer. */
  queue(name: string): string;
  /** Puts `count` messages with a body of `size` characters on `address`. */
  fill(address: string, count: number, size: number): Promise<void>;
  /** Takes what a send run left on `address` off the peer. */
  drain(address: string, count: number): Promise<void>;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

async function readProduct(url: string): Promise<string> {
  const c = await rheaConnect(url);
  const product = peerProduct(c);
  await rheaClose(c);
  return product;
}

/** An EmbeddedBroker in this process: the client and the broker share one event loop and one CPU account. */
export async function embeddedLocal(): Promise<Peer> {
  const broker = await EmbeddedBroker.start();
  const peer: Peer = {
    id: 'embedded-local',
    label: 'EmbeddedBroker, same process',
    url: broker.url,
    protonUrl: broker.url,
    product: '',
    queue: (name) => name,
    fill: async (address, count, size) => {
      const body = 'x'.repeat(size);
      for (let i = 0; i < count; i++) broker.enqueue(address, { body });
    },
    drain: async (address, count) => {
      await drainWithRhea(broker.url, address, count);
    },
    stop: () => broker.stop(),
  };
  peer.product = await readProduct(broker.url);
  return peer;
}

/**
 * Starts bench/brokerProcess.ts: an EmbeddedBroker in a child process, filled over IPC. With
 * `latency` (ms), the clients reach it through a FaultProxy in that process that holds every chunk
 * that long each way: a network's round trip on loopback.
 */
export async function embeddedOwnProcess(options: { latency?: number } = {}): Promise<Peer> {
  const latency = options.latency ?? 0;
  const child: ChildProcess = fork(fileURLToPath(new URL('../brokerProcess.ts', import.meta.url)), latency > 0 ? ['--latency', String(latency)] : [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`the broker process exited with ${code}`)));
  });
  const peer: Peer = {
    id: latency > 0 ? 'embedded-rtt' : 'embedded-own',
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    label: latency > 0 ? `EmbeddedBroker, own process, ${latency} ms each way` : 'EmbeddedBroker, own process',
    url,
    protonUrl: url,
    product: '',
    queue: (name) => name,
    fill: (address, count, size) =>
      new Promise<void>((resolve) => {
        const onMessage = (m: { filled?: string }) => {
          if (m.filled !== address) return;
          child.off('message', onMessage);
          resolve();
        };
        child.on('message', onMessage);
        child.send({ fill: address, count, size });
      }),
    drain: async (address, count) => {
      await drainWithRhea(url, address, count);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ stop: true });
      }),
  };
  peer.product = await readProduct(url);
  return peer;
}

export const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin/rabbitmq-server';

export function rabbitInstalled(): boolean {
  return existsSync(RABBITMQ_BIN);
}

/**
 * RabbitMQ: the broker at `url` when given (left running), or a node this process starts on `port`
 * with scripts/rabbitmq.sh and stops again in `stop()`.
 */
export async function rabbitmq(options: { url?: string; port: number; log: (line: string) => void }): Promise<Peer> {
  let url = options.url;
  let started = false;
  const script = `${ROOT}scripts/rabbitmq.sh`;
  if (url === undefined) {
    const status = await run(script, ['status', String(options.port)]).then(
      () => true,
      () => false,
    );
    if (status) {
      options.log(`RabbitMQ already runs on port ${options.port}: using it and leaving it running`);
    } else {
      options.log(`starting RabbitMQ on 127.0.0.1:${options.port} (scripts/rabbitmq.sh start ${options.port}) …`);
      await run(script, ['start', String(options.port)], { timeout: 120_000 });
      started = true;
    }
    url = `amqp://127.0.0.1:${options.port}`;
  }
  const u = new URL(url);
  const protonUrl = u.username ? url : `amqp://guest:guest@${u.host}`;
  const peer: Peer = {
    id: 'rabbitmq',
    label: 'RabbitMQ',
    url,
    protonUrl,
    product: '',
    queue: (name) => `/queue/${name}`,
    fill: (address, count, size) => fillWithRhea(url, address, count, 'x'.repeat(size)),
    drain: async (address, count) => {
      await drainWithRhea(url, address, count);
    },
    stop: async () => {
      if (!started) return;
      started = false;
      options.log(`stopping RabbitMQ on port ${options.port}`);
      await run(script, ['stop', String(options.port)], { timeout: 60_000 });
    },
  };
  try {
    peer.product = await readProduct(url);
  } catch (error) {
    await peer.stop();
    throw error;
  }
  peer.label = peer.product.startsWith('RabbitMQ') ? peer.product : 'RabbitMQ';
  if (options.url === undefined) {
    // The node's Erlang VM, whose CPU the throughput table reports (a broker given by URL may be anywhere).
    const pid = Number((await run(script, ['pid', String(options.port)]).catch(() => ({ stdout: '' }))).stdout.trim());
    if (Number.isInteger(pid) && pid > 0) peer.pid = pid;
  }
  return peer;
}
