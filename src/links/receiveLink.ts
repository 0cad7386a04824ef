import type { Connection, EventContext, Receiver, Session } from 'rhea';
import { Observable } from 'rxjs';
import rhea from 'rhea';
import type { ConnectionManager } from '../client/ConnectionManager.js';
import type { RemoteAttach, ResolvedReceiveOptions } from '../config/options.js';
import type { Delivery } from '../delivery/Delivery.js';
import type { AmqpError } from '../errors/AmqpError.js';
import { LinkDetachedError, MessageTooLargeError, OperationTimeoutError } from '../errors/errors.js';
import { abandonUnanswered } from './abandon.js';
import { translate } from '../errors/translate.js';
import { log } from '../log.js';
import { CreditWindow } from './creditWindow.js';
import { type PayloadTap, tapPayloads } from './codec.js';
import { DeliveryImpl, type DeliveryOwner } from './DeliveryImpl.js';
import { DispositionWriter } from './dispositions.js';
import { HeldList } from './heldList.js';
import { plainRecord, remoteAttachFrame, remoteTerminus } from './remoteAttach.js';
import { on } from './rheaEvents.js';
import { receiveChannel } from '../tracing/channels.js';
import { traceDelivery } from '../tracing/hooks.js';

/**
 * Whether the peer takes the modified outcome. RabbitMQ before 4.0 answers one by ending the
 * session (`amqp:invalid-field`), which would kill every link on it.
 */
export function supportsModified(product: string | undefined, version: string | undefined): boolean {
  if (product !== 'RabbitMQ') return true;
  const major = Number.parseInt(version ?? '', 10);
  return Number.isNaN(major) || major >= 4;
}

/** What the peer's attach frame says about a receiver link, for the `onAttach` option. */
function remoteAttachOf(link: Receiver): RemoteAttach {
  const attach = remoteAttachFrame(link);
  const source = remoteTerminus(attach?.source);
  return {
    name: link.name,
    address: typeof source?.address === 'string' ? source.address : undefined,
    filter: plainRecord(source?.filter),
    properties: plainRecord(attach?.properties),
    hasSource: source !== undefined,
  };
}

/**
 * How long a link may sit with no credit while settled deliveries wait to be granted back in a
 * batch. Past this the remainder is granted anyway, so an application that holds many deliveries
 * at once (a batch operator, a long handler) never starves the link.
 */
const IDLE_REFILL_MS = 10;

let nextLinkId = 1;

/** What a dynamic link is called until the peer has named its node. */
const DYNAMIC_LABEL = '(dynamic)';

/**
 * A rhea receiver as a cold Observable of deliveries: each subscription attaches one link on its
 * own session, and unsubscribing detaches it.
 *
 * The link owns every delivery it emits until the application settles it. Credit is
 * `credit − held`, granted back in batches as deliveries are settled (R1, R2). When the
 * subscription ends for any reason, held deliveries are released and the link detached (R3).
 */
export function receiveLink<T>(manager: ConnectionManager, source: string, options: ResolvedReceiveOptions): Observable<Delivery<T>> {
  return new Observable<Delivery<T>>((subscriber) => {
    // A dynamic link's address is the one the peer gives each attach.
    let address = options.dynamic ? DYNAMIC_LABEL : source;
    const linkId = `${manager.id}/r${nextLinkId++}`;
    const credit = new CreditWindow(options.credit, options.creditBatch);
    const held = new HeldList<DeliveryImpl<T>>(); // emitted and not settled: at most `credit` (R1)
    // Deliveries beyond the credit granted, held back until the application settles some. A peer
    // should never send them, but RabbitMQ 3.10 counts a flow that crosses deliveries in flight as
    // fresh credit and does; they stay locked to this link and are released if it detaches.
    const overflow: DeliveryImpl<T>[] = [];
    const overflowLimit = 10 * options.credit + 1000;
    let emitting = false;
    const removers: Array<() => void> = []; //     client-level listeners, for the subscription's life
    const linkRemovers: Array<() => void> = []; // listeners on the current link and session
    const presettled = options.settleMode === 'at-most-once';
    let receiver: Receiver | undefined;
    let session: Session | undefined;
    let closing = false; // set when *we* start the close: a close from then on is ours
    let idleTimer: NodeJS.Timeout | undefined;
    let relinkTimer: NodeJS.Timeout | undefined; // attaching again after a retryable detach
    let relinkAttempt = 0;
    let attachTimer: NodeJS.Timeout | undefined; // the peer's answer to the attach is due

    let dispositions: DispositionWriter | undefined;
    let payloads: PayloadTap | undefined; // the message bytes, for the typed decode
    const owner: DeliveryOwner = {
      address,
      modifyFallback: undefined,
      peerName: 'the peer',
      settle: (delivery, id, state, batch) => {
        dispositions?.add(id, state, batch);
        if (closing) return; // teardown releases: no credit to give back
        held.delete(delivery as DeliveryImpl<T>);
        credit.settled(1);
        // Not from inside the application's accept(): it would receive the next delivery before
        // its settle call returned.
        if (overflow.length > 0) queueMicrotask(emitOverflow);
        refill();
      },
    };

    /** Emits held-back deliveries while the application has room for them (R1). */
    function emitOverflow(): void {
      if (emitting) return; // a settlement made inside next(): the outer loop goes on
      emitting = true;
      try {
        while (overflow.length > 0 && held.size < options.credit && !closing) {
          const next = overflow.shift()!;
          held.add(next);
          if (receiveChannel.hasSubscribers) traceDelivery(manager, address, next, next.traceFields, () => subscriber.next(next));
          else subscriber.next(next);
        }
      } finally {
        emitting = false;
      }
    }

    function refill(): void {
      if (closing || receiver === undefined) return;
      const grant = credit.take();
      if (grant > 0) {
        clearIdleTimer();
        // The settlements that freed this credit go on the wire before the flow that grants it:
        // rhea writes the flow on process.nextTick, which runs before the microtask in which the
        // DispositionWriter would flush, and a peer that saw the flow first would count more than
        // `credit` deliveries unsettled at this receiver (R1 as the broker sees it).
        dispositions?.flush();
        log.credit('[%s] +%d (held %d)', linkId, grant, credit.held);
        receiver.add_credit(grant);
      } else if (credit.linkCredit === 0 && credit.deficit > 0 && idleTimer === undefined) {
        idleTimer = setTimeout(() => {
          idleTimer = undefined;
          if (closing || receiver === undefined) return;
          const rest = credit.take(true);
          if (rest > 0) {
            dispositions?.flush();
            log.credit('[%s] +%d after idle (held %d)', linkId, rest, credit.held);
            receiver.add_credit(rest);
          }
        }, IDLE_REFILL_MS);
      }
    }

    function clearIdleTimer(): void {
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      idleTimer = undefined;
    }

    function onMessage(context: EventContext): void {
      const raw = context.delivery!;
      // rhea frees a slot of its 2048-entry session buffer only when every older delivery is
      // settled, so one delivery held by the application stalls the whole session (rhea#452).
      // Marking the entry settled lets rhea drop it now; this link writes the disposition itself
      // when the application settles (see DispositionWriter).
      (raw as { settled: boolean }).settled = true;
      credit.delivered();
      if (credit.linkCredit === 0) refill(); // the link is dry: grant now, or start the idle timer
      const delivery = new DeliveryImpl<T>(owner, raw, context.message!, presettled || raw.remote_settled, payloads?.current());
      if (delivery.settled) {
        credit.settled(1);
        refill();
      } else if (held.size >= options.credit || overflow.length > 0) {
        log.credit('[%s] the peer sent beyond the credit granted: holding back delivery %d', linkId, raw.id);
        overflow.push(delivery);
        if (overflow.length > overflowLimit) transferLimitExceeded();
        return;
      } else {
        held.add(delivery);
      }
      if (receiveChannel.hasSubscribers) traceDelivery(manager, address, delivery, delivery.traceFields, () => subscriber.next(delivery));
      else subscriber.next(delivery);
    }

    function fail(error: Error): void {
      if (closing) return;
      subscriber.error(error);
    }

    function attach(connection: Connection): void {
      const peer = manager.peer;
      if (peer !== undefined && !supportsModified(peer.product, peer.version)) {
        owner.modifyFallback = options.onModifyUnsupported;
        owner.peerName = `${peer.product} ${peer.version ?? ''}`.trim();
      }
      session = connection.create_session();
      session.begin();
      dispositions = new DispositionWriter(session);
      if (options.typed) payloads = tapPayloads(session);
      if (options.maxMessageSize !== undefined) limitMessageSize(session, options.maxMessageSize, tooLarge);
      const terminus: Record<string, unknown> = options.dynamic ? { dynamic: true } : { address };
      if (options.filter !== undefined || options.selector !== undefined) {
        terminus.filter = { ...options.filter, ...(options.selector === undefined ? {} : rhea.filter.selector(options.selector)) };
      }
      if (options.durable) {
        terminus.durable = 2;
        terminus.expiry_policy = 'never';
      }
      if (options.capabilities !== undefined) terminus.capabilities = [...options.capabilities];
      receiver = session.open_receiver({
        ...(options.linkName === undefined ? {} : { name: options.linkName }),
        source: terminus,
        credit_window: 0,
        autoaccept: false,
        snd_settle_mode: presettled ? 1 : 0,
        rcv_settle_mode: 0,
        ...(options.properties === undefined ? {} : { properties: options.properties }),
        ...(options.maxMessageSize === undefined ? {} : { max_message_size: options.maxMessageSize }),
      } as Parameters<Session['open_receiver']>[0]);
      const link = receiver;
      attachTimer = setTimeout(attachTimedOut, options.attachTimeout);
      linkRemovers.push(
        on(link, 'message', onMessage),
        on(link, 'receiver_open', () => {
          clearTimeout(attachTimer);
          attachTimer = undefined;
          relinkAttempt = 0;
          if (options.dynamic) {
            // The peer named the node it made for this attach.
            const named = remoteAttachOf(link).address;
            address = typeof named === 'string' && named !== '' ? named : DYNAMIC_LABEL;
            owner.address = address;
          }
          log.receiver('[%s] attached to %s', linkId, address);
          if (options.onAttach === undefined) return;
          try {
            options.onAttach(remoteAttachOf(link));
          } catch (error) {
            fail(error instanceof Error ? error : new Error(String(error)));
          }
        }),
        on(link, 'receiver_error', () => linkFailed(translate(link.error, 'link', address))),
        on(link, 'receiver_close', () =>
          linkFailed(
            link.error === undefined || link.error === null
              ? new LinkDetachedError(`The peer detached the link from '${address}'`, { retryable: true })
              : translate(link.error, 'link', address),
          ),
        ),
        on(session, 'session_error', (context: EventContext) => linkFailed(translate(context.session?.error, 'link', address))),
        on(session, 'session_close', (context: EventContext) =>
          linkFailed(
            context.session?.error
              ? translate(context.session.error, 'link', address)
              : new LinkDetachedError(`The peer ended the session of the link from '${address}'`, { retryable: true }),
          ),
        ),
      );
      refill();
    }

    /**
     * The peer did not answer the attach in time: the link is given up. With reconnect on (and
     * `reattach`), it is attached again after the reconnect policy's delay, as for a retryable
     * detach — a broker busy failing over answers a later attach; otherwise the stream ends.
     */
    function attachTimedOut(): void {
      attachTimer = undefined;
      if (closing || receiver === undefined || session === undefined) return;
      const [oldReceiver, oldSession] = [receiver, session];
      linkFailed(new OperationTimeoutError(`The peer did not answer the attach of the link from '${address}' within ${options.attachTimeout} ms`), false);
      abandonUnanswered(oldSession, oldReceiver);
    }

    /**
     * A message on this link passed `maxMessageSize` (limitMessageSize has stopped reading it): the
     * link is detached with `amqp:link:message-size-exceeded` and the stream ends.
     */
    function tooLarge(size: number): void {
      if (closing) return;
      const description = `a message of more than ${options.maxMessageSize} bytes (${size} bytes so far) exceeds the receiver's maxMessageSize`;
      try {
        if (receiver !== undefined && !receiver.is_closed()) receiver.close({ condition: 'amqp:link:message-size-exceeded', description });
      } catch {
        // the connection under it is gone too: nothing to detach
      }
      fail(new MessageTooLargeError(`Receiving from '${address}': ${description}`, { condition: 'amqp:link:message-size-exceeded', description }));
    }

    /**
     * A peer that keeps sending far beyond the credit granted is broken or hostile: detach with
     * `amqp:link:transfer-limit-exceeded` rather than hold its deliveries without bound. RabbitMQ
     * 3.10's overshoot (a flow crossing deliveries in flight) stays well within the limit.
     */
    function transferLimitExceeded(): void {
      const description = `the peer sent ${overflow.length} deliveries beyond the credit of ${options.credit}`;
      for (const delivery of overflow) delivery.releaseForDetach();
      overflow.length = 0;
      dispositions?.flush();
      try {
        if (receiver !== undefined && !receiver.is_closed()) receiver.close({ condition: 'amqp:link:transfer-limit-exceeded', description });
      } catch {
        // the connection under it is gone too: nothing to detach
      }
      fail(new LinkDetachedError(`Receiving from '${address}': ${description}`, { condition: 'amqp:link:transfer-limit-exceeded', description, retryable: false }));
    }

    /**
     * The peer detached the link or ended its session. A retryable error (a broker shutting down,
     * `amqp:link:detach-forced`, an internal error) is treated like a lost connection when
     * reconnect is on: the link is dropped and attached again after the reconnect policy's delay,
     * on the connection as it is then. Anything else ends the stream.
     */
    function linkFailed(error: AmqpError, endSession = true): void {
      if (closing) return;
      const delay = error.retryable && options.reattach ? manager.reconnectPolicy?.delay(++relinkAttempt) : undefined;
      const old = session;
      dropLink();
      try {
        if (endSession && old !== undefined && !old.is_closed()) old.close();
      } catch {
        // the connection under it is gone too: nothing to end
      }
      if (delay === undefined) {
        fail(error);
        return;
      }
      log.receiver('[%s] link to %s lost (%s); attaching again in %d ms', linkId, address, error.message, delay);
      clearTimeout(relinkTimer);
      relinkTimer = setTimeout(() => {
        relinkTimer = undefined;
        if (closing) return;
        manager.acquire().then(
          (connection) => {
            if (!closing && receiver === undefined) attach(connection);
          },
          (failure: Error) => fail(failure),
        );
      }, delay);
    }

    /** The link went with its connection: what the application holds is stale (R4). */
    function dropLink(): void {
      clearIdleTimer();
      clearTimeout(attachTimer);
      attachTimer = undefined;
      for (const delivery of held) delivery.markStale();
      held.clear();
      overflow.length = 0; // never emitted: the broker redelivers them
      for (const remove of linkRemovers) remove();
      linkRemovers.length = 0;
      dispositions = undefined;
      receiver = undefined;
      session = undefined;
      credit.held = 0; //          stale deliveries cannot be settled, so they hold no credit
      credit.resetLinkCredit(); // rhea zeroes credit on a new link (rhea#326): grant it again
    }

    removers.push(
      manager.watch({
        lost: (error) => {
          log.receiver('[%s] connection lost (%s); re-attaching to %s when it is back', linkId, error.message, address);
          dropLink();
        },
        restored: (connection) => {
          clearTimeout(relinkTimer);
          relinkTimer = undefined;
          if (!closing && receiver === undefined) attach(connection);
        },
        failed: (error) => {
          dropLink();
          fail(error);
        },
      }),
    );

    removers.push(
      manager.report(() => ({
        kind: 'receiver',
        address,
        credit: options.credit,
        held: held.size,
        linkCredit: credit.linkCredit,
        attached: receiver !== undefined,
      })),
      manager.onClose(() => {
        if (!closing) subscriber.complete(); // the client is closing: held deliveries are released below
      }),
    );

    manager.acquire().then(
      (connection) => {
        if (!closing) attach(connection);
      },
      (error: Error) => fail(error),
    );

    return () => {
      closing = true; //                                   1. a close from now on is ours
      clearIdleTimer();
      clearTimeout(relinkTimer);
      clearTimeout(attachTimer);
      if (held.size > 0 && receiver !== undefined && session !== undefined && receiver.is_open()) {
        // Take the link's credit back first (a flow with link-credit 0, written now): with credit
        // left, the peer would send what we release straight back to this link, to be unsettled
        // at the detach — a delivery attempt on peers that count those.
        (receiver as unknown as { credit: number }).credit = 0;
        (session as unknown as { _write_flow(link: Receiver): void })._write_flow(receiver);
      }
      for (const delivery of [...held, ...overflow]) delivery.releaseForDetach(); // 2. nothing stays locked (R3)
      held.clear(); //                                        a later settle() → typed error
      overflow.length = 0;
      dispositions?.flush(); //                               releases go out before the detach
      if (receiver !== undefined && !receiver.is_closed()) receiver.close(); // 3. detach, closed = true
      if (session !== undefined && !session.is_closed()) session.close(); //   and end its session
      for (const remove of [...linkRemovers, ...removers]) remove(); // 4. no listener outlives us
      linkRemovers.length = 0;
      removers.length = 0;
      receiver = undefined;
      session = undefined;
      log.receiver('[%s] detached from %s', linkId, address);
    };
  });
}

/** The fields of an incoming transfer frame the size limit reads. */
interface TransferFrame {
  performative: { handle?: number; more?: boolean; aborted?: boolean };
  payload?: Buffer;
}

/**
 * Stops reading a message on `session` as soon as its bytes pass `max` (receive option
 * `maxMessageSize`), and calls `exceeded`: rhea joins the frames of a multi-frame message with no
 * limit, so a peer that ignores the attach's max-message-size — or a transfer whose `more` flag never
 * clears — would otherwise grow memory without end. From then on the session's transfers are
 * dropped unread; the link is being detached and its session ended. Each receiver link has a
 * session of its own, so only that link is affected.
 */
function limitMessageSize(session: Session, max: number, exceeded: (size: number) => void): void {
  const target = session as unknown as { on_transfer(frame: TransferFrame): void };
  const original = target.on_transfer;
  const sizes = new Map<number, number>(); // bytes so far of the message arriving on each handle
  let over = false;
  target.on_transfer = function (this: unknown, frame: TransferFrame): void {
    if (over) return;
    const handle = frame.performative.handle ?? 0;
    const size = (sizes.get(handle) ?? 0) + (frame.payload?.length ?? 0);
    if (size > max) {
      over = true;
      sizes.clear();
      exceeded(size);
      return;
    }
    if (frame.performative.more === true && frame.performative.aborted !== true) sizes.set(handle, size);
    else sizes.delete(handle);
    original.call(this, frame);
  };
}
