// Head-of-line blocking (R5): the first delivery is held unsettled and every later one accepted.
// rhea frees a slot of its 2048-entry session buffer only from the oldest delivery, so raw rhea
// stops receiving after 2047 more; rhea-rx lets rhea drop the entry and keeps going. Also runs
// rhea-rx without a held delivery, interleaved, for the cost of holding one.
import { performance } from 'node:perf_hooks';
import type { Delivery as RheaDelivery, EventContext } from 'rhea';
import { createClient, type Delivery } from 'rhea-rx';
import { gc } from '../lib/gc.js';
import type { Peer, PeerId } from '../lib/peers.js';
import { asPlainRhea, asRheaRx } from '../lib/isolation.js';
import { rheaClose, rheaConnect } from '../lib/rheaUtil.js';
import { median } from '../lib/stats.js';

export interface HeadOfLineConfig {
  messages: number;
  rounds: number;
  credit: number;
  /** Raw rhea counts as stalled when nothing arrives for this long. */
  quietMs: number;
  log: (line: string) => void;
}

export interface HeadOfLineRow {
  peer: PeerId;
  peerLabel: string;
  messages: number;
  /** rhea-rx msg/s with nothing held, each round. */
  rheaRxRates: number[];
  /** rhea-rx msg/s with the first delivery held to the end, each round. */
  rheaRxHeldRates: number[];
  /** Deliveries raw rhea received after the held one before it stalled, each round. */
  rawAfterHeld: number[];
  /** Whether raw rhea got all messages (it never should). */
  rawCompleted: boolean[];
  rheaRxMedian: number;
  rheaRxHeldMedian: number;
  rawAfterHeldMedian: number;
}

const BODY = 'x'.repeat(100);
let seq = 0;

async function rheaRx(url: string, address: string, count: number, credit: number, hold: boolean): Promise<number> {
  asRheaRx();
  const client = createClient(url);
  const t0 = performance.now();
  let ms = 0;
  await new Promise<void>((resolve, reject) => {
    let received = 0;
    let held: Delivery<string> | undefined;
    const sub = client.receive<string>(address, { credit }).subscribe({
      next: (d) => {
        if (hold && held === undefined) held = d;
        else d.accept();
        if (++received === count) {
          ms = performance.now() - t0;
          held?.accept();
          sub.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
  });
  await client.close();
  return (count / ms) * 1000;
}

/** Raw rhea, first delivery held: how many more arrive before nothing comes for `quietMs`. */
async function rawHeld(url: string, address: string, count: number, credit: number, quietMs: number): Promise<{ after: number; completed: boolean }> {
  asPlainRhea();
  const c = await rheaConnect(url);
  const result = await new Promise<{ after: number; completed: boolean }>((resolve) => {
    let received = 0;
    let held: RheaDelivery | undefined;
    let last = performance.now() + 2000; // time to attach
    const check = setInterval(() => {
      if (performance.now() - last > quietMs) finish(false);
    }, 100);
    const finish = (completed: boolean) => {
      clearInterval(check);
      // The held delivery stays unsettled: closing the connection gives it back to the broker.
      resolve({ after: received - 1, completed });
    };
    const receiver = c.open_receiver({ source: address, credit_window: credit, autoaccept: false });
    receiver.on('message', (context: EventContext) => {
      last = performance.now();
      if (held === undefined) held = context.delivery;
      else context.delivery!.accept();
      if (++received === count) finish(true);
    });
  });
  await rheaClose(c);
  return result;
}

export async function headOfLine(peer: Peer, config: HeadOfLineConfig): Promise<HeadOfLineRow> {
  const row: HeadOfLineRow = {
    peer: peer.id,
    peerLabel: peer.label,
    messages: config.messages,
    rheaRxRates: [],
    rheaRxHeldRates: [],
    rawAfterHeld: [],
    rawCompleted: [],
    rheaRxMedian: Number.NaN,
    rheaRxHeldMedian: Number.NaN,
    rawAfterHeldMedian: Number.NaN,
  };
  for (let round = 0; round < config.rounds; round++) {
    for (const which of ['rhea-rx', 'rhea-rx held', 'rhea held'] as const) {
      const address = peer.queue(`bench-hol-${which.replace(' ', '-')}-${process.pid}-${seq++}`);
      await peer.fill(address, config.messages, BODY.length);
      gc();
      if (which === 'rhea held') {
        const r = await rawHeld(peer.url, address, config.messages, config.credit, config.quietMs);
        row.rawAfterHeld.push(r.after);
        row.rawCompleted.push(r.completed);
        await peer.drain(address, config.messages);
      } else {
        const rate = await rheaRx(peer.url, address, config.messages, config.credit, which === 'rhea-rx held');
        (which === 'rhea-rx' ? row.rheaRxRates : row.rheaRxHeldRates).push(rate);
      }
    }
    config.log(`  ${peer.label}: round ${round + 1}/${config.rounds}`);
  }
  row.rheaRxMedian = median(row.rheaRxRates);
  row.rheaRxHeldMedian = median(row.rheaRxHeldRates);
  row.rawAfterHeldMedian = median(row.rawAfterHeld);
  return row;
}
