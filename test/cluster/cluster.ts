// A 3-node RabbitMQ cluster for one test file, driven through scripts/rabbitmq-cluster.sh: started in
// beforeAll on free ports, stopped in afterAll (and, as a last resort, when the process exits).
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { alive, claim as claimFile, portFree, release as releaseFile } from '../support/claims.js';

// Re-exported for the spec: global setup starts the shared peers (a single RabbitMQ node, the Proton
// broker) for every spec file that imports support/peers itself, and this suite needs none of them.
export { brokersRequired, selfStartedPeer } from '../support/peers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = `${ROOT}scripts/rabbitmq-cluster.sh`;
/** Bases tried in turn: nodes on BASE, BASE+2, BASE+4, distribution +20000, epmd BASE+10000. */
const BASES = [5901, 5911, 5921, 5931, 5941, 5951];

export const VHOST = 'qqv';

export interface ScriptResult {
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: string[], timeout: number): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      SCRIPT,
      args,
      { cwd: ROOT, timeout, env: { ...process.env, BROKER_OWNER_PID: String(process.pid) } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`rabbitmq-cluster.sh ${args.join(' ')} failed: ${String(stderr).trim() || error.message}`));
        else resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end();
  });
}



/** Claims a base for this process (see test/support/claims.ts). */
function claim(base: number): boolean {
  return claimFile(`rabbitmq-cluster-${base}`);
}

function release(base: number): void {
  releaseFile(`rabbitmq-cluster-${base}`);
}

/** True when a node of this base is left running by a test process that is gone (start stops it). */
function leftOverByDeadRun(base: number): boolean {
  return [base, base + 2, base + 4].some((port) => {
    try {
      const owner = Number(readFileSync(`${ROOT}.brokers/rabbit-${port}/owner.pid`, 'utf8').trim());
      return owner > 0 && !alive(owner);
    } catch {
      return false;
    }
  });
}

export class Cluster {
  readonly base: number;
  readonly ports: readonly number[];
  /** The AMQP URL of each node. */
  readonly urls: readonly string[];
  /** Milliseconds from `start` to a formed cluster (as the script measured it). */
  formedInMs = 0;
  #stopped = false;
  readonly #onExit = () => this.stopSync();

  private constructor(base: number) {
    this.base = base;
    this.ports = [base, base + 2, base + 4];
    this.urls = this.ports.map((port) => `amqp://127.0.0.1:${port}`);
  }

  /** Forms a cluster on the first free base, with a vhost whose queues are quorum queues. */
  static async start(): Promise<Cluster> {
    const notes: string[] = [];
    for (const base of BASES) {
      if (!claim(base)) {
        notes.push(`${base}: claimed by another run`);
        continue;
      }
      const ports = [0, 2, 4].flatMap((d) => [base + d, base + d + 20000]).concat(base + 10000);
      const free = (await Promise.all(ports.map(portFree))).every(Boolean);
      if (!free && !leftOverByDeadRun(base)) {
        release(base);
        notes.push(`${base}: ports in use`);
        continue;
      }
      const cluster = new Cluster(base);
      process.once('exit', cluster.#onExit);
      try {
        const { stdout } = await run(['start', String(base)], 120_000);
        const info = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { ms?: number };
        cluster.formedInMs = info.ms ?? 0;
        await run(['vhost', String(base), VHOST], 30_000);
        return cluster;
      } catch (error) {
        await cluster.stop();
        throw error;
      }
    }
    throw new Error(`no free base for a RabbitMQ cluster (${notes.join('; ')})`);
  }

  /** Declares a quorum queue in the quorum vhost, led by node `leaderPort`. */
  async declare(queue: string, leaderPort: number, options: { maxLength?: number; overflow?: 'reject-publish' | 'drop-head' } = {}): Promise<void> {
    const args = ['declare', String(this.base), queue, '--vhost', VHOST, '--on', String(leaderPort)];
    if (options.maxLength !== undefined) args.push('--max-length', String(options.maxLength));
    if (options.overflow !== undefined) args.push('--overflow', options.overflow);
    await run(args, 30_000);
  }

  /** The AMQP port of the queue's leader (waits through an election). */
  async leader(queue: string): Promise<number> {
    const { stdout } = await run(['leader', String(this.base), queue, VHOST], 30_000);
    return Number(stdout.trim());
  }

  /** Waits until every member of the queue is online (a restarted node has caught up). */
  async allMembersOnline(queue: string): Promise<void> {
    await run(['members', String(this.base), queue, VHOST], 70_000);
  }

  /** SIGKILLs the node on `port`. */
  async kill(port: number): Promise<void> {
    await run(['kill', String(this.base), String(port)], 30_000);
  }

  /** Starts the node on `port` again on its data; resolves when it answers an AMQP open. */
  async resume(port: number): Promise<void> {
    await run(['resume', String(this.base), String(port)], 90_000);
  }

  /** Nodes that are not running (a test that failed half-way may leave one down). */
  async downNodes(): Promise<number[]> {
    const { stdout } = await new Promise<ScriptResult>((resolve) => {
      execFile(SCRIPT, ['status', String(this.base)], { cwd: ROOT, timeout: 30_000 }, (_error, out, err) =>
        resolve({ stdout: String(out), stderr: String(err) }),
      );
    });
    return this.ports.filter((port) => !stdout.includes(`running: rabbit-${port}@`));
  }

  /** Brings back any node that is down, so each test starts on three nodes. */
  async ensureAllUp(): Promise<number[]> {
    const down = await this.downNodes();
    await Promise.all(down.map((port) => this.resume(port)));
    return down;
  }

  /** The node URLs in failover order, starting at the node on `port`. */
  urlsFrom(port: number): string[] {
    const i = this.ports.indexOf(port);
    if (i < 0) throw new Error(`${port} is not a node of the cluster on ${this.base}`);
    return [...this.urls.slice(i), ...this.urls.slice(0, i)];
  }

  /** Stops every node and the cluster's epmd. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    process.off('exit', this.#onExit);
    try {
      await run(['stop', String(this.base)], 90_000);
    } finally {
      release(this.base);
    }
  }

  /** Last resort when the process exits without afterAll. */
  stopSync(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    spawnSync(SCRIPT, ['stop', String(this.base)], { cwd: ROOT, stdio: 'ignore', timeout: 60_000 });
    release(this.base);
  }
}
