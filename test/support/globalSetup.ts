/**
 * Starts the real AMQP 1.0 peers the run needs (RabbitMQ, the Proton C broker) once, hands their URLs
 * to the tests (`inject('peers')`, see peers.ts) and stops them afterwards — also when tests fail, when
 * setup fails half-way, and (best effort) when the process exits or is terminated.
 *
 * - A selected peer that is not installed fails the run with REQUIRE_BROKERS=1, and is otherwise
 *   dropped with a visible message (its tests show up as skipped, with the reason).
 * - Ports: RABBITMQ_PORT / PROTON_PORT when set (exactly those), else the first free of 5679, 5681, …
 *   (RabbitMQ) and 5680, 5682, … (Proton), so that concurrent runs do not collide.
 * - A node started by hand on the chosen port (`scripts/rabbitmq.sh start`) is reused and left
 *   running; a node owned by another live test run is never reused.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { alive, claim as claimFile, portFree, release as releaseFile } from './claims.js';
import {
  brokersRequired,
  DEFAULT_PORTS,
  type PeerName,
  type ProvidedPeers,
  REAL_PEERS,
  type RunningPeer,
  SETUP_FAILURES,
  selectedPeers,
  whyNotInstalled,
} from './peers.js';

type RealPeer = (typeof REAL_PEERS)[number];

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT: Record<RealPeer, string> = {
  rabbitmq: `${ROOT}scripts/rabbitmq.sh`,
  'proton-c': `${ROOT}scripts/proton-broker.sh`,
};
const STATE_DIR: Record<RealPeer, (port: number) => string> = {
  rabbitmq: (port) => `${ROOT}.brokers/rabbit-${port}`,
  'proton-c': (port) => `${ROOT}.brokers/proton-${port}`,
};
/** Other ports a peer binds next to its AMQP port (RabbitMQ: Erlang distribution). */
const EXTRA_PORTS: Record<RealPeer, (port: number) => number[]> = {
  rabbitmq: (port) => [port + 20000],
  'proton-c': () => [],
};
const PORT_ENV: Record<RealPeer, string> = { rabbitmq: 'RABBITMQ_PORT', 'proton-c': 'PROTON_PORT' };
const PORT_CANDIDATES = 8;
const START_TIMEOUT_MS = 90_000;

function say(line: string): void {
  process.stderr.write(`[peers] ${line}\n`);
}

function candidatePorts(name: RealPeer): number[] {
  const raw = process.env[PORT_ENV[name]];
  if (raw) {
    const port = Number(raw);
    if (!Number.isInteger(port) || port <= 0 || port > 45535) {
      throw new Error(`${PORT_ENV[name]} must be a TCP port (at most 45535), got '${raw}'`);
    }
    return [port];
  }
  return Array.from({ length: PORT_CANDIDATES }, (_, i) => DEFAULT_PORTS[name] + 2 * i);
}



/** The test run that started the peer in `dir`: none (started by hand), alive, or gone. */
function ownerOf(dir: string): { pid: number; alive: boolean } | undefined {
  try {
    const pid = Number(readFileSync(`${dir}/owner.pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? { pid, alive: alive(pid) } : undefined;
  } catch {
    return undefined;
  }
}

/** Claims `port` for this run (see claims.ts), so that concurrent runs never pick the same port. */
function claim(name: RealPeer, port: number): boolean {
  return claimFile(`${name}-${port}`);
}

function release(name: RealPeer, port: number): void {
  releaseFile(`${name}-${port}`);
}

interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runScript(name: RealPeer, args: string[], timeout = START_TIMEOUT_MS): Promise<ScriptResult> {
  return new Promise((resolve) => {
    const child = execFile(
      SCRIPT[name],
      args,
      { timeout, cwd: ROOT, env: { ...process.env, BROKER_OWNER_PID: String(process.pid) } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end();
  });
}

function lastJsonLine(text: string): Record<string, unknown> {
  const line = text
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  try {
    return line ? (JSON.parse(line) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Whether any test file of this run uses the peer registry. Lets `vitest run test/unit` skip the
 * broker start-up. Best effort: when in doubt the answer is yes.
 */
async function runUsesPeers(project: TestProject): Promise<boolean> {
  try {
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern ?? [];
    const specs = await project.vitest.globTestSpecifications(filters);
    if (specs.length === 0) return true;
    for (const spec of specs) {
      const text = await readFile(spec.moduleId, 'utf8');
      if (/support\/peers(\.js|\.ts)?['"]/.test(text)) return true;
    }
    return false;
  } catch {
    return true;
  }
}

interface Acquired {
  readonly peer: RunningPeer;
  /** `true` when this run started it (and must stop it). */
  readonly owned: boolean;
}

/** Reuses a hand-started peer or starts one on the first free candidate port. */
async function acquire(name: RealPeer, onStarted: (port: number) => void): Promise<Acquired> {
  const notes: string[] = [];
  for (const port of candidatePorts(name)) {
    if (!claim(name, port)) {
      notes.push(`port ${port}: claimed by another test run`);
      continue;
    }
    const dir = STATE_DIR[name](port);
    const runningHere = (await runScript(name, ['status', String(port)], 10_000)).code === 0;
    // A peer left running by a test run that died is adopted: this run stops it.
    let adopt = false;
    if (runningHere) {
      const owner = ownerOf(dir);
      if (owner?.alive && owner.pid !== process.pid) {
        release(name, port);
        notes.push(`port ${port}: owned by the test run with pid ${owner.pid}`);
        continue;
      }
      adopt = owner !== undefined;
      if (!adopt) release(name, port); // a hand-started peer may be shared by several runs
    } else {
      const busy: number[] = [];
      for (const p of [port, ...EXTRA_PORTS[name](port)]) if (!(await portFree(p))) busy.push(p);
      if (busy.length > 0) {
        release(name, port);
        notes.push(`port ${busy.join(', ')} in use`);
        continue;
      }
    }
    const t0 = Date.now();
    const owned = !runningHere || adopt;
    // Registered before the start completes, so that a half-started peer is stopped too.
    if (owned) onStarted(port);
    const r = await runScript(name, ['start', String(port)]);
    if (r.code !== 0) throw new Error(`${name} did not start on port ${port} (exit ${r.code}):\n${r.stderr.trim()}`);
    const info = lastJsonLine(r.stdout);
    const peer: RunningPeer = {
      url: `amqp://127.0.0.1:${port}`,
      host: '127.0.0.1',
      port,
      product: typeof info.product === 'string' ? info.product : null,
      version: typeof info.version === 'string' ? info.version : null,
    };
    const what = [peer.product, peer.version].filter(Boolean).join(' ');
    const label = `${peer.url}${what ? ` (${what})` : ''}`;
    say(
      !runningHere
        ? `${name} ready on ${label} in ${Date.now() - t0} ms`
        : adopt
          ? `${name}: adopting the peer on ${label} left running by a test run that is gone; it is stopped after this run`
          : `${name}: reusing the peer already running on ${label}; it is left running`,
    );
    return { peer, owned };
  }
  throw new Error(`${name}: no usable port (${notes.join('; ')}); set ${PORT_ENV[name]} to pick one`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const required = brokersRequired();
  const selected = selectedPeers();
  const running: Partial<Record<PeerName, RunningPeer>> = {};
  const unavailable: Partial<Record<PeerName, string>> = {};
  const real = REAL_PEERS.filter((name) => selected.includes(name));

  // Peers this run must stop (not those that were already running).
  const owned: { name: RealPeer; port: number }[] = [];
  let stopped = false;

  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    for (const { name, port } of owned) {
      spawnSync(SCRIPT[name], ['stop', String(port)], { stdio: 'ignore', timeout: 40_000 });
      release(name, port);
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    stopSync();
    if (process.listenerCount(signal) === 0) process.exit(signal === 'SIGTERM' ? 143 : 129);
  };
  process.once('exit', stopSync);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);

  const teardown = async (): Promise<void> => {
    process.off('exit', stopSync);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    if (stopped) return;
    stopped = true;
    await Promise.all(
      owned.map(async ({ name, port }) => {
        const t0 = Date.now();
        const r = await runScript(name, ['stop', String(port)], 60_000);
        release(name, port);
        if (r.code !== 0) say(`stopping ${name} failed (exit ${r.code}): ${r.stderr.trim()}`);
        else say(`${name} stopped in ${Date.now() - t0} ms`);
      }),
    );
  };

  try {
    const missing = real.flatMap((name) => {
      const reason = whyNotInstalled(name);
      return reason ? [{ name, reason }] : [];
    });
    if (missing.length > 0 && required) {
      throw new Error(
        `REQUIRE_BROKERS=1 but ${missing.map((m) => `${m.name}: ${m.reason}`).join('; ')}. ` +
          'Install them with scripts/install-brokers.sh, or pick peers with PEERS=embedded,...',
      );
    }
    for (const { name, reason } of missing) {
      unavailable[name] = 'not installed';
      say(`SKIPPING every test on ${name}: ${reason}`);
    }

    let toStart = real.filter((name) => !unavailable[name]);
    if (toStart.length > 0 && !required && !(await runUsesPeers(project))) {
      for (const name of toStart) unavailable[name] = 'not needed by the selected test files';
      toStart = [];
    }

    const results = await Promise.allSettled(
      toStart.map((name) => acquire(name, (port) => owned.push({ name, port }))),
    );
    const failures: string[] = [];
    results.forEach((result, i) => {
      const name = toStart[i]!;
      if (result.status === 'fulfilled') {
        running[name] = result.value.peer;
      } else {
        const message = result.reason instanceof Error ? result.reason.message : String(result.reason);
        failures.push(message);
        unavailable[name] = 'failed to start';
        if (!required) say(`SKIPPING every test on ${message}`);
      }
    });
    if (failures.length > 0 && required) throw new Error(failures.join('\n'));
  } catch (error) {
    await teardown();
    // The run fails before any test: let the count reporter know (it runs in this process).
    const g = globalThis as { [SETUP_FAILURES]?: string[] };
    const failures = g[SETUP_FAILURES] ?? [];
    failures.push(error instanceof Error ? error.message : String(error));
    g[SETUP_FAILURES] = failures;
    throw error;
  }

  const value: ProvidedPeers = { selected, running, unavailable };
  project.provide('peers', value);
  return teardown;
}
