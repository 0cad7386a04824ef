// Raw rhea helpers shared by the benchmarks: connect, close, fill a queue, drain a queue.
import rhea from 'rhea';
import type { Connection, ConnectionOptions, EventContext } from 'rhea';

/** Opens a rhea connection to `url` (no reconnect); user and password in the URL mean SASL PLAIN. */
export function rheaConnect(url: string, extra: Partial<ConnectionOptions> = {}): Promise<Connection> {
  const u = new URL(url);
  const container = rhea.create_container();
  // rhea re-emits link and protocol errors nobody handled on its container, and an unheard
  // 'error' would end the process: report them instead.
  container.on('error', (error: unknown) => console.error(`rhea (${url}): ${String(error)}`));
  return new Promise((resolve, reject) => {
    const c = container.connect({
      host: u.hostname,
      port: Number(u.port),
      reconnect: false,
      ...(u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : {}),
      ...extra,
    } as ConnectionOptions);
    c.once('connection_open', () => resolve(c));
    c.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error(`could not connect to ${url}`)));
  });
}

export function rheaClose(c: Connection): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    timer.unref();
    c.once('connection_close', () => resolve());
    c.once('disconnected', () => resolve());
    c.close();
  });
}

/** The peer's product and version from its open frame. */
export function peerProduct(c: Connection): string {
  const props = (c as unknown as { remote?: { open?: { properties?: Record<string, unknown> } } }).remote?.open?.properties ?? {};
  return [props.product, props.version].filter((x) => typeof x === 'string').join(' ');
}

/** Puts `count` messages with `body` on `address`, waiting for every outcome. */
export async function fillWithRhea(url: string, address: string, count: number, body: string): Promise<void> {
  const c = await rheaConnect(url);
  await new Promise<void>((resolve, reject) => {
    const sender = c.open_sender(address);
    let sent = 0;
    let settled = 0;
    let inFlight = 0;
    const pump = () => {
      // Keep at most 2,000 unsettled so the session buffer never overflows with large bodies.
      while (sent < count && inFlight < 2000 && sender.sendable()) {
        sender.send({ body });
        sent++;
        inFlight++;
      }
    };
    sender.on('sendable', pump);
    sender.on('accepted', () => {
      inFlight--;
      if (++settled === count) resolve();
      else pump();
    });
    for (const bad of ['rejected', 'released', 'modified']) {
      sender.on(bad, () => reject(new Error(`fill of ${address}: the peer answered ${bad}`)));
    }
    sender.on('sender_error', () => reject(new Error(`fill of ${address}: ${String(sender.error)}`)));
  });
  await rheaClose(c);
}

/**
 * Takes `count` messages off `address` with a pre-settled receiver (cleanup between runs), or
 * whatever is there when nothing arrives for `idleMs`.
 */
export async function drainWithRhea(url: string, address: string, count: number, idleMs = 1500): Promise<number> {
  const c = await rheaConnect(url);
  const received = await new Promise<number>((resolve) => {
    let n = 0;
    let last = Date.now() + idleMs; // a grace period for the attach
    const check = setInterval(() => {
      if (Date.now() - last > idleMs) finish();
    }, idleMs / 4);
    const finish = () => {
      clearInterval(check);
      resolve(n);
    };
    const receiver = c.open_receiver({ source: address, credit_window: 2000, autoaccept: true, snd_settle_mode: 1 } as never);
    receiver.on('message', () => {
      last = Date.now();
      if (++n === count) finish();
    });
  });
  await rheaClose(c);
  return received;
}
