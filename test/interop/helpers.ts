/** What the interop tests share: running the Qpid Proton Python scripts, and receiving a batch. */
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { Client, Delivery, Outcome, ReceiveOptions } from '../../src/index.js';

/** Debian's python3, which has the `proton` module (the pyenv python3 first on PATH does not). */
export const PYTHON = process.env.PROTON_PYTHON ?? '/usr/bin/python3';
const SCRIPTS = fileURLToPath(new URL('./python/', import.meta.url));

/** `undefined` when Qpid Proton Python can run here, else why not. */
export function whyNoProton(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import proton, sys; sys.stdout.write(".".join(map(str, proton.VERSION)))'], { timeout: 20_000 });
  if (r.error) return `Qpid Proton Python cannot run: ${PYTHON}: ${r.error.message}`;
  if (r.status !== 0) return `Qpid Proton Python is not installed (${PYTHON} has no proton module; apt-get install python3-qpid-proton)`;
  return undefined;
}

/** Runs test/interop/python/SCRIPT with ARGS and STDIN (JSON), and parses the JSON line it prints. */
export function python<T>(script: string, args: readonly string[], stdin?: unknown, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [`${SCRIPTS}${script}`, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${script} ${args.join(' ')} failed: ${error.message}\n${String(stderr).trim()}`));
        return;
      }
      const line = String(stdout).trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${script} printed no JSON: ${String(stdout).slice(0, 500)}\n${String(stderr).trim()}`));
      }
    });
    child.stdin?.end(stdin === undefined ? undefined : JSON.stringify(stdin));
  });
}

/** The peer URL with RabbitMQ's guest credentials, for Proton. */
export function protonUrl(url: string): string {
  const u = new URL(url);
  u.username = 'guest';
  u.password = 'guest';
  return u.toString().replace(/\/$/, '');
}

/** A fresh RabbitMQ queue address for one test. */
export function interopQueue(what: string): string {
  return `/queue/interop-${what}-${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Sends every input on one link and resolves with the outcomes, in order. */
export function sendAll(client: Client, address: string, inputs: readonly unknown[]): Promise<Outcome[]> {
  return lastValueFrom(from(inputs).pipe(client.send(address), toArray()), { defaultValue: [] });
}

/** Receives `n` deliveries from `address` (accepting each), or fails after `timeoutMs`. */
export function receiveN(client: Client, address: string, n: number, options: ReceiveOptions = {}, timeoutMs = 15_000): Promise<Delivery[]> {
  return new Promise((resolve, reject) => {
    const got: Delivery[] = [];
    let done = false;
    const finish = (error?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      subscription.unsubscribe();
      if (error === undefined) resolve(got);
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    const timer = setTimeout(() => finish(new Error(`received ${got.length} of ${n} messages from ${address} in ${timeoutMs} ms`)), timeoutMs);
    const subscription = client.receive(address, { credit: Math.max(1, Math.min(n, 1000)), ...options }).subscribe({
      next: (delivery) => {
        got.push(delivery);
        if (!delivery.settled) delivery.accept();
        if (got.length === n) queueMicrotask(() => finish());
      },
      error: (error: unknown) => finish(error),
    });
  });
}
