#!/usr/bin/env node
// Waits until an AMQP 1.0 peer answers a real connection open (not just an open port).
//
//   node scripts/amqp-wait.mjs --port 5679 [--host 127.0.0.1] [--timeout 60000]
//        [--pid PID] [--user guest --password guest]
//
// Tries every 250 ms until the peer's open frame arrives, then prints one JSON line with what the
// peer reported ({"product":…,"version":…,"container_id":…,"ms":…}) and exits 0. Exits 1 when the
// budget runs out or when the process given by --pid dies first.
import { readFileSync } from 'node:fs';
import rhea from 'rhea';

function parseArgs(argv) {
  const out = { host: '127.0.0.1', port: 5672, timeout: 60_000, pid: 0, user: '', password: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    const value = argv[i + 1];
    if (!key || value === undefined || !(key in out)) {
      throw new Error(`usage: amqp-wait.mjs --port N [--host H] [--timeout MS] [--pid PID] [--user U --password P] (bad argument: ${argv[i]})`);
    }
    out[key] = typeof out[key] === 'number' ? Number(value) : value;
  }
  return out;
}

function alive(pid) {
  try {
    // Third field of /proc/PID/stat is the state; a zombie (Z) waits only for its reaping.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function attempt({ host, port, user, password }, budgetMs) {
  return new Promise((resolve) => {
    const container = rhea.create_container({ id: `amqp-wait-${process.pid}` });
    const options = { host, port, reconnect: false, idle_time_out: 0 };
    if (user) Object.assign(options, { username: user, password });
    let done = false;
    const finish = (result, conn) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        conn?.close();
      } catch {
        // already closed: nothing to do
      }
      // Give rhea a moment to write the close frame, then drop the socket regardless.
      setTimeout(() => {
        try {
          conn?.socket?.destroy?.();
        } catch {
          // already destroyed
        }
        resolve(result);
      }, 20);
    };
    const timer = setTimeout(() => finish(null, conn), Math.max(100, Math.min(budgetMs, 5_000)));
    container.on('connection_open', (ctx) => {
      const props = ctx.connection.properties ?? {};
      finish({ product: props.product ?? null, version: props.version ?? null, container_id: ctx.connection.container_id ?? null }, ctx.connection);
    });
    container.on('disconnected', () => finish(null, conn));
    container.on('connection_error', () => finish(null, conn));
    container.on('error', () => finish(null, conn));
    const conn = container.connect(options);
  });
}

const args = parseArgs(process.argv.slice(2));
const started = Date.now();
for (;;) {
  const elapsed = Date.now() - started;
  if (elapsed >= args.timeout) {
    console.error(`amqp-wait: no AMQP open from ${args.host}:${args.port} within ${args.timeout} ms`);
    process.exit(1);
  }
  if (args.pid && !alive(args.pid)) {
    console.error(`amqp-wait: process ${args.pid} exited before ${args.host}:${args.port} answered`);
    process.exit(1);
  }
  const result = await attempt(args, args.timeout - elapsed);
  if (result) {
    console.log(JSON.stringify({ ...result, ms: Date.now() - started }));
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 250));
}
