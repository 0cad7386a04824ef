// Worker processes for the cluster tests: each runs test/cluster/worker.ts with `node --import tsx`
// and reports over IPC what it processed and where it is connected.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkerConfig, WorkerReport } from './worker.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerStats {
  maxHeld: number;
  skippedStale: number;
  processed: number;
  busyMs: number;
  spanMs: number;
}

/** A running worker and what it has reported so far. */
export class Worker {
  readonly name: string;
  readonly child: ChildProcess;
  /** Message ids in the order this worker processed them (a redelivered one may appear again). */
  readonly processed: number[] = [];
  /** The URL of each connection it opened, in order (`open` states). */
  readonly opened: string[] = [];
  /** How many messages it had processed when each of those connections opened. */
  readonly processedAtOpen: number[] = [];
  /** Times it attached its receiver link (1 + re-attaches). */
  attaches = 0;
  errors: string[] = [];
  /**
   * Transfers RabbitMQ sent beyond the credit granted, as rhea reports them on stderr (PEER_CAPS
   * exactCredit); the library holds them back, so they never count as held by the application.
   */
  beyondCredit = 0;
  stats: WorkerStats | undefined;
  exitCode: number | null | undefined;
  readonly #exited: Promise<void>;
  readonly #onProcessed: (ids: number[]) => void;

  constructor(config: WorkerConfig, onProcessed: (ids: number[]) => void = () => {}) {
    this.name = config.name;
    this.#onProcessed = onProcessed;
    this.child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}test/cluster/worker.ts`, JSON.stringify(config)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, DEBUG: '' },
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (line.startsWith('Received transfer when credit was')) this.beyondCredit++;
        else process.stderr.write(`[${this.name}] ${line}\n`);
      });
    }
    this.child.on('message', (message: WorkerReport) => this.#receive(message));
    this.#exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      });
    });
  }

  /** The URL of its current (last opened) connection. */
  get url(): string | undefined {
    return this.opened.at(-1);
  }

  #receive(message: WorkerReport): void {
    switch (message.type) {
      case 'processed':
        this.processed.push(...message.ids);
        this.#onProcessed(message.ids);
        break;
      case 'state':
        if (message.status === 'open') {
          this.opened.push(message.url);
          this.processedAtOpen.push(this.processed.length);
        }
        break;
      case 'attached':
        this.attaches++;
        break;
      case 'done':
        this.stats = {
          maxHeld: message.maxHeld,
          skippedStale: message.skippedStale,
          processed: message.processed,
          busyMs: message.busyMs,
          spanMs: message.spanMs,
        };
        break;
      case 'error':
        this.errors.push(message.message);
        break;
    }
  }

  /** Asks it to stop (it closes its client and reports its stats); SIGKILL after `timeout` ms. */
  async stop(timeout = 10_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    if (this.child.connected) this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.kill(), timeout);
    await this.#exited;
    clearTimeout(timer);
  }

  /** SIGKILL by PID, if it still runs. */
  kill(): void {
    if (this.exitCode === undefined && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
