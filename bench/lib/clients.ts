// The clients under test, each as one run: connect, move `count` messages, report wall time and
// process CPU. The clock starts before the client connects and stops when the last message is in
// the application's hands (receive) or the last outcome is known (send); closing is not timed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { EventContext } from 'rhea';
import { Connection as PromiseConnection, type AwaitableSender } from 'rhea-promise';
import { count as countAll, lastValueFrom, map, range } from 'rxjs';
import { createClient } from 'rhea-rx';
import { asPlainRhea, asRheaRx } from './isolation.js';
import { rheaClose, rheaConnect } from './rheaUtil.js';

export interface RunSpec {
  /** For the Node clients. */
  url: string;
  /** For Qpid Proton. */
  protonUrl: string;
  address: string;
  count: number;
  body: string;
  /** Receive credit (rhea's credit_window, Proton's prefetch). */
  credit: number;
  /** Concurrent sends for the windowed rhea-promise client. */
  window: number;
}

export interface RunResult {
  /** Wall time from connect to the last message or outcome. */
  ms: number;
  /** Process CPU (user + system) over the same interval, in microseconds. */
  cpuUs: number;
}

interface Mark {
  t: number;
  cpu: NodeJS.CpuUsage;
}

const mark = (): Mark => ({ t: performance.now(), cpu: process.cpuUsage() });
const since = (m: Mark): RunResult => {
  const cpu = process.cpuUsage(m.cpu);
  return { ms: performance.now() - m.t, cpuUs: cpu.user + cpu.system };
};

/** Keeps the body reads from being optimised away. */
export let bodySink = 0;

// ---------------------------------------------------------------------------------------------
// Receive

/** rhea-rx: client.receive with `credit`, each delivery accepted as it arrives. */
export async function rheaRxReceive(spec: RunSpec): Promise<RunResult> {
  asRheaRx();
  const start = mark();
  const client = createClient(spec.url);
  let result: RunResult | undefined;
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    const sub = client.receive<string>(spec.address, { credit: spec.credit }).subscribe({
      next: (d) => {
        bodySink += d.body.length;
        d.accept();
        if (++received === spec.count) {
          result = since(start);
          sub.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
  await client.close();
  return result!;
}

/** Raw rhea: credit_window `credit` with autoaccept. */
export async function rawReceive(spec: RunSpec): Promise<RunResult> {
  asPlainRhea();
  const start = mark();
  const c = await rheaConnect(spec.url);
  let result: RunResult | undefined;
  await new Promise<void>((resolve, reject) => {
    const receiver = c.open_receiver({ source: spec.address, credit_window: spec.credit, autoaccept: true });
    let received = 0;
    receiver.on('message', (context: EventContext) => {
      bodySink += (context.message!.body as string).length;
      if (++received === spec.count) {
        result = since(start);
        resolve();
      }
    });
    receiver.on('receiver_error', () => reject(new Error(String(receiver.error))));
  });
  await rheaClose(c);
  return result!;
}

const PYTHON = '/usr/bin/python3';
const PROTON_SCRIPT = fileURLToPath(new URL('../proton_receive.py', import.meta.url));

/** Qpid Proton Python (reactor API, prefetch `credit`, auto-accept) in a child process timing itself. */
export async function protonReceive(spec: RunSpec): Promise<RunResult> {
  const child = spawn(PYTHON, [PROTON_SCRIPT, spec.protonUrl, spec.address, String(spec.count), String(spec.credit)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const [code] = (await once(child, 'exit')) as [number | null];
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`proton_receive.py exited with ${code}: ${err.trim() || out.trim()}`);
  const r = JSON.parse(line) as { seconds: number; cpu_seconds: number; received: number };
  if (r.received !== spec.count) throw new Error(`proton_receive.py received ${r.received} of ${spec.count}`);
  return { ms: r.seconds * 1000, cpuUs: r.cpu_seconds * 1e6 };
}

/** Whether Qpid Proton Python can be run here. */
export async function protonAvailable(): Promise<boolean> {
  const child = spawn(PYTHON, ['-c', 'import proton'], { stdio: 'ignore' });
  child.on('error', () => undefined);
  const [code] = (await once(child, 'exit').catch(() => [1])) as [number | null];
  return code === 0;
}

// ---------------------------------------------------------------------------------------------
// Send

/** rhea-rx: the `send` operator on a synchronous source (all of it buffered at once), one outcome per message. */
export async function rheaRxSend(spec: RunSpec): Promise<RunResult> {
  asRheaRx();
  const start = mark();
  const client = createClient(spec.url);
  let accepted = 0;
  const outcomes = await lastValueFrom(
    range(0, spec.count).pipe(
      map(() => spec.body),
      client.send<string>(spec.address, { bufferSize: spec.count }),
      map((o) => {
        if (o.state === 'accepted') accepted++;
        return o;
      }),
      countAll(),
    ),
  );
  const result = since(start);
  if (outcomes !== spec.count || accepted !== spec.count) throw new Error(`rhea-rx send: ${accepted} accepted of ${outcomes} outcomes, expected ${spec.count}`);
  await client.close();
  return result;
}

/**
 * rhea-rx: sendFrom on a generator, which it reads only as the link has credit (S4); one outcome per
 * message. The idiomatic form for a large synchronous source (the send operator buffers all of it).
 */
export async function rheaRxSendFrom(spec: RunSpec): Promise<RunResult> {
  asRheaRx();
  const start = mark();
  const client = createClient(spec.url);
  function* bodies(): Generator<string> {
    for (let i = 0; i < spec.count; i++) yield spec.body;
  }
  let accepted = 0;
  const outcomes = await lastValueFrom(
    client.sendFrom<string>(bodies(), spec.address).pipe(
      map((o) => {
        if (o.state === 'accepted') accepted++;
        return o;
      }),
      countAll(),
    ),
  );
  const result = since(start);
  if (outcomes !== spec.count || accepted !== spec.count) throw new Error(`rhea-rx sendFrom: ${accepted} accepted of ${outcomes} outcomes, expected ${spec.count}`);
  await client.close();
  return result;
}

/** Raw rhea: sends while `sendable()` on every 'sendable', counts 'accepted'. */
export async function rawSend(spec: RunSpec): Promise<RunResult> {
  asPlainRhea();
  const start = mark();
  const c = await rheaConnect(spec.url);
  await new Promise<void>((resolve, reject) => {
    const sender = c.open_sender(spec.address);
    let sent = 0;
    let accepted = 0;
    const pump = () => {
      while (sent < spec.count && sender.sendable()) {
        sender.send({ body: spec.body });
        sent++;
      }
    };
    sender.on('sendable', pump);
    sender.on('accepted', () => {
      if (++accepted === spec.count) resolve();
    });
    for (const bad of ['rejected', 'released', 'modified']) sender.on(bad, () => reject(new Error(`raw rhea send: ${bad}`)));
  });
  const result = since(start);
  await rheaClose(c);
  return result;
}

async function promiseSender(spec: RunSpec): Promise<{ connection: PromiseConnection; sender: AwaitableSender }> {
  const u = new URL(spec.url);
  const connection = new PromiseConnection({
    host: u.hostname,
    port: Number(u.port),
    reconnect: false,
    ...(u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : {}),
  });
  await connection.open();
  const sender = await connection.createAwaitableSender({ target: { address: spec.address } });
  return { connection, sender };
}

/** Resolves on the sender's next 'sendable': one listener however many sends wait for credit. */
const creditWaits = new WeakMap<AwaitableSender, Promise<void>>();
function nextSendable(sender: AwaitableSender): Promise<void> {
  let wait = creditWaits.get(sender);
  if (wait === undefined) {
    wait = once(sender, 'sendable').then(() => {
      creditWaits.delete(sender);
    });
    creditWaits.set(sender, wait);
  }
  return wait;
}

/** One AwaitableSender.send, waiting for credit when rhea-promise refuses for lack of it. */
async function sendOne(sender: AwaitableSender, body: string): Promise<void> {
  for (;;) {
    if (!sender.sendable()) {
      await nextSendable(sender);
      continue;
    }
    try {
      await sender.send({ body });
      return;
    } catch (error) {
      if ((error as Error).name !== 'InsufficientCreditError') throw error;
    }
  }
}

/** rhea-promise: AwaitableSender, each send awaited before the next. */
export async function promiseAwaited(spec: RunSpec): Promise<RunResult> {
  asPlainRhea();
  const start = mark();
  const { connection, sender } = await promiseSender(spec);
  for (let i = 0; i < spec.count; i++) await sendOne(sender, spec.body);
  const result = since(start);
  await connection.close();
  return result;
}

/** rhea-promise: AwaitableSender with `window` sends awaited concurrently. */
export async function promiseWindow(spec: RunSpec): Promise<RunResult> {
  asPlainRhea();
  const start = mark();
  const { connection, sender } = await promiseSender(spec);
  let next = 0;
  const worker = async () => {
    while (next < spec.count) {
      next++;
      await sendOne(sender, spec.body);
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.window, spec.count) }, worker));
  const result = since(start);
  await connection.close();
  return result;
}
