/**
 * The rhea 3.x internals the Service Bus mode needs, in one place: the raw bytes of each incoming
 * delivery (rhea keeps only its own lossy decoding), deferring and refusing attaches, and
 * outgoing dispositions that are never merged across different outcomes.
 *
 * @internal
 */
import rhea from 'rhea';
import type { link, Receiver, Session } from 'rhea';

interface TransferFrame {
  performative: { more?: boolean; aborted?: boolean };
  payload?: Buffer;
}

interface IncomingInternals {
  on_transfer: (frame: TransferFrame, receiver: Receiver) => void;
}

interface OutgoingInternals {
  pending_dispositions: Array<{ state?: unknown; settled?: boolean }>;
  process: () => void;
}

interface LinkInternals {
  state: { local_open: boolean; open_requests: number };
  local: { attach: { source?: unknown; target?: unknown; max_message_size?: number; properties?: unknown } };
  connection: { _register?: () => void };
}

const TAPPED = Symbol('rhea-rx.serviceBus.tapped');
const partial = new WeakMap<Receiver, Buffer[]>();
const complete = new WeakMap<Receiver, Buffer>();

/**
 * Keeps the encoded bytes of every delivery that arrives on `session`, for {@link takeRawPayload}
 * in the `message` handler, and splits outgoing disposition batches whose outcomes differ.
 */
export function tapSession(session: Session): void {
  const internals = session as unknown as { incoming?: IncomingInternals; outgoing?: OutgoingInternals; [TAPPED]?: boolean };
  if (internals[TAPPED]) return;
  internals[TAPPED] = true;
  const incoming = internals.incoming;
  if (incoming && typeof incoming.on_transfer === 'function') {
    const original = incoming.on_transfer;
    incoming.on_transfer = function tapped(this: IncomingInternals, frame: TransferFrame, receiver: Receiver): void {
      const parts = partial.get(receiver) ?? [];
      if (frame.payload) parts.push(frame.payload);
      if (frame.performative.aborted) {
        partial.delete(receiver);
      } else if (frame.performative.more) {
        partial.set(receiver, parts);
      } else {
        partial.delete(receiver);
        complete.set(receiver, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
      }
      original.call(this, frame, receiver);
    };
  }
  const outgoing = internals.outgoing;
  if (outgoing && typeof outgoing.process === 'function') {
    const original = outgoing.process;
    // why: rhea folds the second disposition of a batch into the first's range without comparing
    // outcomes, so an `accepted` and a lock-lost `rejected` answered in one tick would both read rejected.
    outgoing.process = function separated(this: OutgoingInternals): void {
      const pending = this.pending_dispositions;
      if (pending.length > 1 && !pending.every((d) => rhea.message.is_accepted(d.state as object) && d.settled === pending[0]?.settled)) {
        const all = [...pending];
        for (const delivery of all) {
          this.pending_dispositions = [delivery];
          original.call(this);
        }
        return;
      }
      original.call(this);
    };
  }
}

/** The encoded message of the delivery being dispatched on `receiver` (once). */
export function takeRawPayload(receiver: Receiver): Buffer | undefined {
  const raw = complete.get(receiver);
  complete.delete(receiver);
  return raw;
}

/** Holds back the attach rhea is about to write in answer to a peer's attach; {@link releaseAttach} sends it. */
export function holdAttach(l: link): void {
  const s = (l as unknown as LinkInternals).state;
  s.local_open = false;
  s.open_requests = 0;
}

/** Sends an attach held by {@link holdAttach}. */
export function releaseAttach(l: link): void {
  l.open();
}

/** Sets a raw (already described) terminus in this end's attach; null leaves it out, as a refusal does. */
export function setLocalTerminus(l: link, which: 'source' | 'target', terminus: unknown): void {
  (l as unknown as LinkInternals).local.attach[which] = terminus;
}

/** Sets `max-message-size` and `properties` of this end's attach. */
export function setLocalAttachExtras(l: link, extras: { maxMessageSize?: number; properties?: unknown }): void {
  const attach = (l as unknown as LinkInternals).local.attach;
  if (extras.maxMessageSize !== undefined) attach.max_message_size = extras.maxMessageSize;
  if (extras.properties !== undefined) attach.properties = extras.properties;
}

/** Whether the link's attach has been written (or is about to be). */
export function isLocallyOpen(l: link): boolean {
  return (l as unknown as LinkInternals).state.local_open;
}
