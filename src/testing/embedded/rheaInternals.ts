/**
 * The few rhea 3.x internals the broker needs on the server side, typed in one place.
 *
 * rhea's public API is client-shaped: it has no way to set the local settle modes or terminus
 * of a link the peer attached, to answer a drain whose credit was used up by transfers, or to
 * tear down a connection whose socket was destroyed locally (rhea listens for `end` and
 * `error`, not `close`). Every access to a field rhea does not declare goes through here.
 *
 * @internal
 */
import rhea from 'rhea';
import type { Connection, Sender, Session, link } from 'rhea';

interface AttachFrame {
  source?: unknown;
  target?: unknown;
  snd_settle_mode?: number;
  rcv_settle_mode?: number;
  max_message_size?: number;
}

interface LinkInternals {
  local: { attach: AttachFrame };
  credit: number;
  delivery_count: number;
  issue_flow: boolean;
  connection: ConnectionInternals;
}

interface SenderInternals extends LinkInternals {
  _get_drain: () => boolean;
}

interface ConnectionInternals {
  _register?: () => void;
  _disconnected?: (error?: unknown) => void;
}

function internals(l: link): LinkInternals {
  return l as unknown as LinkInternals;
}

/** Sets the settle modes this end declares in its attach frame (written on the next tick). */
export function setLocalSettleModes(l: link, sndSettleMode: 0 | 1 | 2, rcvSettleMode: 0 | 1): void {
  const attach = internals(l).local.attach;
  attach.snd_settle_mode = sndSettleMode;
  attach.rcv_settle_mode = rcvSettleMode;
}

/** Sets `max-message-size` in this end's attach frame. */
export function setLocalMaxMessageSize(l: link, size: number): void {
  internals(l).local.attach.max_message_size = size;
}

/** The link credit rhea currently holds for `l`. */
export function creditOf(l: link): number {
  return internals(l).credit;
}

/**
 * The delivery limit (delivery-count + link-credit) of the peer's last flow frame for a sender.
 * It stays constant under transfers and drain, and moves only when a flow frame arrives.
 */
export function deliveryLimitOf(sender: Sender): number {
  const s = internals(sender);
  return s.delivery_count + s.credit;
}

/**
 * Replaces rhea's drain logic for one sender: when `takeDrainReply()` says so, the next flow
 * frame written for this link consumes the remaining credit and carries `drain = true`, so the
 * peer sees `receiver_drained` even when its credit was used up exactly by transfers (rhea's own
 * `set_drained` answers only when credit is left over).
 */
export function installDrainReply(sender: Sender, takeDrainReply: () => boolean): void {
  const s = sender as unknown as SenderInternals;
  s._get_drain = function drainReply(this: SenderInternals): boolean {
    if (!takeDrainReply()) return false;
    this.delivery_count += this.credit;
    this.credit = 0;
    return true;
  };
}

/** Asks rhea to write a flow frame for `l` on its next processing pass. */
export function requestFlow(l: link): void {
  const s = internals(l);
  s.issue_flow = true;
  s.connection._register?.();
}

/** Runs rhea's disconnect handling (timers, endpoint state, `disconnected` event) for a connection. */
export function markDisconnected(connection: Connection): void {
  const c = connection as unknown as ConnectionInternals;
  c._disconnected?.();
}

interface IncomingInternals {
  updated: Array<{ state?: unknown }>;
  process: (session: unknown) => void;
}

/**
 * Makes a session write one disposition frame per delivery whenever the outcomes it has to send
 * differ. rhea 3.0.5 batches pending dispositions into ranges and folds the second delivery of a
 * batch into the first's range without comparing outcomes, so settling one transfer `rejected` and
 * the next `accepted` in the same tick would tell the peer both were rejected. Batches made only
 * of `accepted` outcomes are left as they are.
 */
export function separateMixedDispositions(session: Session): void {
  const incoming = (session as unknown as { incoming?: IncomingInternals }).incoming;
  if (!incoming || typeof incoming.process !== 'function') return;
  const original = incoming.process;
  incoming.process = function separated(this: IncomingInternals, owner: unknown): void {
    const pending = this.updated;
    if (pending.length > 1 && !pending.every((delivery) => rhea.message.is_accepted(delivery.state as object))) {
      for (const delivery of pending) {
        this.updated = [delivery];
        original.call(this, owner);
      }
      return;
    }
    original.call(this, owner);
  };
}
