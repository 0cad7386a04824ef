// Sending to and draining a quorum queue of the cluster, keeping the books: every outcome, every
// resend, every copy received.
import { type Client, type ClientState, createClient, message, type OutgoingMessage, type Outcome } from 'rhea-rx';
import { settleWith } from 'rhea-rx/operators';
import { VHOST } from './cluster.js';

/** Fast reconnect, so a failover takes a fraction of a second plus the broker's own time. */
const RECONNECT = { initialDelay: 50, maxDelay: 500 };

/** A client for the cluster: the nodes in failover order, the quorum vhost in the open frame. */
export function clusterClient(urls: readonly string[]): Client {
  return createClient({ urls: [...urls], hostname: `vhost:${VHOST}`, reconnect: RECONNECT });
}

export interface SendBooks {
  /** The outcome of each message, by id. */
  readonly outcomes: Map<number, Outcome<number>>;
  /** Ids sent again after their outcome was lost with a connection (`resent: true`). */
  readonly resent: Set<number>;
  /** Connections lost (`reconnecting` states). */
  reconnects: number;
  /** URL of each connection opened, in order. */
  readonly opened: string[];
  /** Outcomes counted when the first connection was lost. */
  outcomesAtFirstLoss: number | undefined;
  ms: number;
}

const idOf = (o: Outcome<number>): number => (typeof o.message === 'number' ? o.message : (o.message as OutgoingMessage<number>).body);

/**
 * Sends ids 0…count-1 (persistent messages) through `sendFrom` and resolves with the books when
 * every message has an outcome. `pause(i)`, when it returns a promise, holds the source before
 * message i until it settles (to make sure a disruption lands mid-stream). `onOutcome` sees each
 * outcome as it comes; `onState` each connection state.
 */
export async function sendAll(
  client: Client,
  address: string,
  count: number,
  hooks: {
    pause?: (i: number) => Promise<void> | undefined;
    onOutcome?: (books: SendBooks) => void;
    onState?: (state: ClientState) => void;
    maxInFlight?: number;
  } = {},
): Promise<SendBooks> {
  const t0 = Date.now();
  const books: SendBooks = { outcomes: new Map(), resent: new Set(), reconnects: 0, opened: [], outcomesAtFirstLoss: undefined, ms: 0 };
  const states = client.state$.subscribe((s) => {
    if (s.status === 'open') books.opened.push(s.url);
    if (s.status === 'reconnecting') {
      books.reconnects++;
      books.outcomesAtFirstLoss ??= books.outcomes.size;
    }
    hooks.onState?.(s);
  });
  async function* source() {
    for (let i = 0; i < count; i++) {
      const wait = hooks.pause?.(i);
      if (wait !== undefined) await wait;
      yield message(i, { header: { durable: true } });
    }
  }
  try {
    await new Promise<void>((resolve, reject) => {
      client.sendFrom<number>(source(), address, { durable: true, maxInFlight: hooks.maxInFlight ?? 500 }).subscribe({
        next: (o) => {
          const id = idOf(o);
          books.outcomes.set(id, o);
          if (o.resent) books.resent.add(id);
          hooks.onOutcome?.(books);
        },
        error: reject,
        complete: resolve,
      });
    });
  } finally {
    states.unsubscribe();
    books.ms = Date.now() - t0;
  }
  return books;
}

export interface ReceiveBooks {
  /** Copies received of each id. */
  readonly seen: Map<number, number>;
  /** Ids that came with `first-acquirer` false or a delivery-count: redeliveries. */
  readonly redelivered: Map<number, number>;
  received: number;
  ms: number;
}

/**
 * Consumes `address` with settleWith (accepting each) until every id in `expected` has arrived and
 * nothing more came for `idleMs`; fails after `timeout` ms.
 */
export async function drain(client: Client, address: string, expected: Iterable<number>, options: { idleMs?: number; timeout?: number } = {}): Promise<ReceiveBooks> {
  const { idleMs = 1000, timeout = 60_000 } = options;
  const t0 = Date.now();
  const books: ReceiveBooks = { seen: new Map(), redelivered: new Map(), received: 0, ms: 0 };
  const missing = new Set(expected);
  let last = Date.now();
  let failure: unknown;
  const subscription = client
    .receive<number>(address, { credit: 500, durable: true })
    .pipe(
      settleWith(
        (d) => {
          const id = d.body;
          if (d.deliveryCount > 0 || d.message.header.firstAcquirer === false) books.redelivered.set(id, (books.redelivered.get(id) ?? 0) + 1);
          books.seen.set(id, (books.seen.get(id) ?? 0) + 1);
          books.received++;
          missing.delete(id);
          last = Date.now();
        },
        { concurrency: 100 },
      ),
    )
    .subscribe({ error: (e: unknown) => (failure = e) });
  try {
    while (failure === undefined && !(missing.size === 0 && Date.now() - last >= idleMs)) {
      if (Date.now() - t0 > timeout) throw new Error(`draining ${address}: ${missing.size} message(s) still missing after ${timeout} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (failure !== undefined) throw failure;
  } finally {
    subscription.unsubscribe();
    books.ms = Date.now() - t0;
  }
  return books;
}

export interface Tally {
  sent: number;
  accepted: number;
  resent: number;
  received: number;
  unique: number;
  duplicates: number;
  /** Copies beyond the first of a message that was neither resent nor redelivered: must be 0. */
  unexplainedDuplicates: number;
  /** Accepted messages never received: must be 0. */
  lost: number;
  reconnects: number;
}

/** The books checked against each other. */
export function tally(sent: SendBooks, received: ReceiveBooks): Tally {
  const accepted = [...sent.outcomes.entries()].filter(([, o]) => o.state === 'accepted').map(([id]) => id);
  let unexplainedDuplicates = 0;
  for (const [id, copies] of received.seen) {
    if (copies > 1 && !sent.resent.has(id)) unexplainedDuplicates += Math.max(0, copies - 1 - (received.redelivered.get(id) ?? 0));
  }
  return {
    sent: sent.outcomes.size,
    accepted: accepted.length,
    resent: sent.resent.size,
    received: received.received,
    unique: received.seen.size,
    duplicates: received.received - received.seen.size,
    unexplainedDuplicates,
    lost: accepted.filter((id) => !received.seen.has(id)).length,
    reconnects: sent.reconnects,
  };
}
