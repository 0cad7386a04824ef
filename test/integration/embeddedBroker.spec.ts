/**
 * EmbeddedBroker against raw rhea clients: every semantic other tests rely on, checked on the wire.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import type { Connection, ConnectionOptions, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EMBEDDED_BROKER_PRODUCT,
  EMBEDDED_BROKER_VERSION,
  EmbeddedBroker,
  type EmbeddedBrokerOptions,
} from '../../src/testing/index.js';

// ---------------------------------------------------------------------------------------------
// helpers

let broker: EmbeddedBroker | undefined;
const clients: Connection[] = [];

async function startBroker(options?: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  broker = await EmbeddedBroker.start(options);
  return broker;
}

afterEach(async () => {
  for (const connection of clients.splice(0)) {
    try {
      if (!connection.is_closed()) connection.close();
    } catch {
      // already gone
    }
  }
  await broker?.stop();
  broker = undefined;
});

interface EventSource {
  once(event: string, listener: (context: EventContext) => void): unknown;
  off(event: string, listener: (context: EventContext) => void): unknown;
}

/** Resolves with the next `event` of `source`, or rejects after `timeoutMs`. */
function next(source: EventSource, event: string, timeoutMs = 2000): Promise<EventContext> {
  return new Promise((resolve, reject) => {
    const listener = (context: EventContext): void => {
      clearTimeout(timer);
      resolve(context);
    };
    const timer = setTimeout(() => {
      source.off(event, listener);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    source.once(event, listener);
  });
}

/** Lets rhea write what is pending (it writes frames on the next tick). */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** A raw rhea client connection (own container, no reconnect, nothing printed). */
function connect(b: EmbeddedBroker, options: Record<string, unknown> = {}): Connection {
  const container = rhea.create_container();
  for (const event of ['error', 'disconnected', 'protocol_error', 'connection_error', 'session_error']) {
    container.on(event, () => {});
  }
  const connection = container.connect({ host: '127.0.0.1', port: b.port, reconnect: false, ...options } as ConnectionOptions);
  clients.push(connection);
  return connection;
}

async function connected(b: EmbeddedBroker, options: Record<string, unknown> = {}): Promise<Connection> {
  const connection = connect(b, options);
  await next(connection, 'connection_open');
  return connection;
}

interface Inbox {
  receiver: Receiver;
  got: Array<{ message: Message; delivery: Delivery }>;
  bodies(): unknown[];
}

/** A receiver with manual credit and manual settlement that records what arrives. */
function receiver(connection: Connection, source: unknown, credit: number, options: Record<string, unknown> = {}): Inbox {
  const link = connection.open_receiver({ source, credit_window: 0, autoaccept: false, ...options } as never);
  const got: Inbox['got'] = [];
  link.on('message', (context: EventContext) => {
    if (context.message && context.delivery) got.push({ message: context.message, delivery: context.delivery });
  });
  link.on('receiver_error', () => {});
  if (credit > 0) link.add_credit(credit);
  return { receiver: link, got, bodies: () => got.map((g) => g.message.body) };
}

interface Outbox {
  sender: Sender;
  outcomes: Array<{ kind: string; delivery: Delivery }>;
  flows: number[];
}

/** A sender that records outcomes and the credit of every flow frame it receives. */
function sender(connection: Connection, target: unknown, options: Record<string, unknown> = {}): Outbox {
  const link = connection.open_sender({ target, treat_modified_as_released: false, ...options } as never);
  const outcomes: Outbox['outcomes'] = [];
  const flows: number[] = [];
  for (const kind of ['accepted', 'rejected', 'released', 'modified']) {
    link.on(kind, (context: EventContext) => {
      if (context.delivery) outcomes.push({ kind, delivery: context.delivery });
    });
  }
  link.on('sender_flow', (context: EventContext) => {
    flows.push((context.sender as unknown as { credit: number }).credit);
  });
  link.on('sender_error', () => {});
  return { sender: link, outcomes, flows };
}

function body(n: number): { body: string } {
  return { body: `m${n}` };
}

function openSslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

describe('EmbeddedBroker', () => {
  describe('lifecycle', () => {
    it('listens on an ephemeral port and announces itself in the open frame', async () => {
      const b = await startBroker({ containerId: 'broker-under-test' });
      expect(b.port).toBeGreaterThan(0);
      expect(b.url).toBe(`amqp://127.0.0.1:${b.port}`);
      const connection = await connected(b);
      expect(connection.properties).toMatchObject({ product: EMBEDDED_BROKER_PRODUCT, version: EMBEDDED_BROKER_VERSION });
      expect(connection.container_id).toBe('broker-under-test');
      await waitFor(() => b.connectionCount() === 1, 'connection count 1');
      connection.close();
      await waitFor(() => b.connectionCount() === 0, 'connection count 0');
    });

    it('stop() is idempotent, closes clients with amqp:connection:forced and stops listening', async () => {
      const b = await startBroker();
      const connection = await connected(b);
      const closed = next(connection, 'connection_error');
      const first = b.stop();
      const second = b.stop();
      expect(second).toBe(first);
      await Promise.all([first, second]);
      expect((await closed).error).toMatchObject({ condition: 'amqp:connection:forced' });
      expect(b.connectionCount()).toBe(0);
      await b.stop();
      await expect(
        new Promise((resolve, reject) => {
          const socket = connectTcp(b.port, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.once('error', reject);
        }),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('leaves no open handle after stop(), also after dropConnections() (the process exits by itself)', () => {
      // Clients ask for heartbeats (idle-time-out), so a leaked timer or socket keeps the child alive.
      const script = `
        import rhea from 'rhea';
        import { EmbeddedBroker } from './src/testing/index.ts';
        const quiet = (c) => { for (const e of ['error', 'disconnected', 'connection_error']) c.on(e, () => {}); return c; };
        const holdOne = (b) => new Promise((resolve) => {
          const connection = quiet(rhea.create_container()).connect({ host: '127.0.0.1', port: b.port, reconnect: false, idle_time_out: 500 });
          const receiver = connection.open_receiver({ source: 'q', credit_window: 0, autoaccept: false });
          receiver.on('message', () => resolve(connection));
          receiver.add_credit(1);
        });
        const dropped = await EmbeddedBroker.start();
        dropped.enqueue('q', { body: 1 });
        await holdOne(dropped);
        dropped.dropConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
        await dropped.stop();
        const stopped = await EmbeddedBroker.start();
        stopped.enqueue('q', { body: 1 });
        await holdOne(stopped);
        await stopped.stop();
        process.stdout.write('stopped');
      `;
      const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        timeout: 5000,
        encoding: 'utf8',
      });
      expect(output).toBe('stopped');
    });

    it('rejects invalid options at once', async () => {
      await expect(EmbeddedBroker.start({ senderCreditWindow: 0 })).rejects.toMatchObject({ option: 'senderCreditWindow' });
      await expect(EmbeddedBroker.start({ port: -1 })).rejects.toMatchObject({ option: 'port' });
    });

    it('rejects with the listen error when the port is taken', async () => {
      const b = await startBroker();
      await expect(EmbeddedBroker.start({ port: b.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    });

    it('refuses to enqueue a message it cannot encode', async () => {
      const b = await startBroker();
      expect(() => b.enqueue('q', body(1), { body: 1e20 })).toThrow(TypeError);
      expect(b.queueDepth('q')).toBe(0);
    });
  });

  describe('queues and credit', () => {
    it('sends only as many messages as the receiver gave credit for', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2), body(3), body(4), body(5));
      const inbox = receiver(await connected(b), 'q', 3);
      await waitFor(() => inbox.got.length === 3, '3 messages');
      await delay(50);
      expect(inbox.bodies()).toEqual(['m1', 'm2', 'm3']);
      expect(b.queueDepth('q')).toBe(2);
      expect(b.unsettledCount('q')).toBe(3);
      expect(b.linkCount('q')).toEqual({ senders: 1, receivers: 0 });
      inbox.receiver.add_credit(1);
      await waitFor(() => inbox.got.length === 4, '4th message');
      expect(b.queueDepth('q')).toBe(1);
    });

    it('round-robins between consumers', async () => {
      const b = await startBroker();
      const connection = await connected(b);
      const a = receiver(connection, 'q', 10);
      const c = receiver(connection, 'q', 10);
      await waitFor(() => b.stats('q').flowFrames === 2, 'both receivers flowed');
      b.enqueue('q', body(1), body(2), body(3), body(4));
      await waitFor(() => a.got.length + c.got.length === 4, '4 messages');
      expect(a.bodies()).toEqual(['m1', 'm3']);
      expect(c.bodies()).toEqual(['m2', 'm4']);
    });

    it('accepted removes the message', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const inbox = receiver(await connected(b), 'q', 5);
      await waitFor(() => inbox.got.length === 2, '2 messages');
      for (const { delivery } of inbox.got) delivery.accept();
      await waitFor(() => b.stats('q').accepted === 2, '2 accepted');
      expect(b.queueDepth('q')).toBe(0);
      expect(b.unsettledCount('q')).toBe(0);
      await delay(30);
      expect(inbox.got).toHaveLength(2);
    });

    it('released requeues at the head without counting a delivery attempt', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const inbox = receiver(await connected(b), 'q', 1);
      await waitFor(() => inbox.got.length === 1, 'first message');
      expect(inbox.got[0]?.message.first_acquirer).toBe(true);
      inbox.got[0]?.delivery.release();
      await waitFor(() => b.stats('q').released === 1, 'released');
      expect(b.messages('q').map((m) => [m.message.body, m.deliveryCount, m.firstAcquirer])).toEqual([
        ['m1', 0, false],
        ['m2', 0, true],
      ]);
      inbox.receiver.add_credit(2);
      await waitFor(() => inbox.got.length === 3, 'redelivery');
      expect(inbox.bodies()).toEqual(['m1', 'm1', 'm2']);
      expect(inbox.got[1]?.message.delivery_count ?? 0).toBe(0);
      expect(inbox.got[1]?.message.first_acquirer).toBe(false);
    });

    it('modified(delivery-failed) requeues with delivery-count + 1 and merged annotations', async () => {
      const b = await startBroker();
      b.enqueue('q', { body: 'poison', message_annotations: { 'x-keep': 'yes' } });
      const inbox = receiver(await connected(b), 'q', 1);
      await waitFor(() => inbox.got.length === 1, 'message');
      inbox.got[0]?.delivery.modified({ delivery_failed: true, message_annotations: { 'x-note': 'retry' } });
      await waitFor(() => b.stats('q').modified === 1, 'modified');
      expect(b.messages('q')[0]?.deliveryCount).toBe(1);
      inbox.receiver.add_credit(1);
      await waitFor(() => inbox.got.length === 2, 'redelivery');
      const again = inbox.got[1]?.message;
      expect(again?.delivery_count).toBe(1);
      expect(again?.message_annotations).toEqual({ 'x-keep': 'yes', 'x-note': 'retry' });
    });

    it('modified without delivery-failed leaves the delivery-count alone', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1));
      const inbox = receiver(await connected(b), 'q', 1);
      await waitFor(() => inbox.got.length === 1, 'message');
      inbox.got[0]?.delivery.modified({ delivery_failed: false });
      await waitFor(() => b.queueDepth('q') === 1, 'requeued');
      expect(b.messages('q')[0]?.deliveryCount).toBe(0);
    });

    it('modified(undeliverable-here) never goes back to the same link', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const connection = await connected(b);
      const a = receiver(connection, 'q', 1);
      await waitFor(() => a.got.length === 1, 'first delivery');
      const other = receiver(connection, 'q', 0);
      await waitFor(() => b.linkCount('q').senders === 2, 'second receiver attached');
      a.got[0]?.delivery.modified({ undeliverable_here: true });
      await waitFor(() => b.stats('q').modified === 1, 'modified');
      expect(b.messages('q').map((m) => m.message.body)).toEqual(['m1', 'm2']);
      // m1 stays at the head, but this link is offered m2.
      a.receiver.add_credit(5);
      await waitFor(() => a.got.length === 2, 'next delivery to the first link');
      await delay(50);
      expect(a.bodies()).toEqual(['m1', 'm2']);
      expect(b.messages('q').map((m) => m.message.body)).toEqual(['m1']);
      other.receiver.add_credit(1);
      await waitFor(() => other.got.length === 1, 'delivery to the other link');
      expect(other.bodies()).toEqual(['m1']);
    });

    it('rejected goes to the dead-letter queue with the reason in its annotations', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const connection = await connected(b);
      const inbox = receiver(connection, 'q', 1);
      await waitFor(() => inbox.got.length === 1, 'message');
      inbox.got[0]?.delivery.reject({ condition: 'app:invalid-order', description: 'no such product' });
      await waitFor(() => b.stats('q').rejected === 1, 'rejected');
      expect(b.stats('q').deadLettered).toBe(1);
      expect(b.queueDepth('q/$DeadLetterQueue')).toBe(1);
      const dead = receiver(connection, 'q/$DeadLetterQueue', 1);
      await waitFor(() => dead.got.length === 1, 'dead letter');
      expect(dead.got[0]?.message.body).toBe('m1');
      expect(dead.got[0]?.message.message_annotations).toMatchObject({
        'x-opt-deadletter-reason': 'app:invalid-order',
        'x-opt-deadletter-description': 'no such product',
      });
      expect(b.messages('q').map((m) => m.message.body)).toEqual(['m2']);
    });

    it('uses the deadLetter option to name the dead-letter address', async () => {
      const b = await startBroker({ deadLetter: (address) => `dlq.${address}` });
      b.enqueue('q', body(1));
      const inbox = receiver(await connected(b), 'q', 1);
      await waitFor(() => inbox.got.length === 1, 'message');
      inbox.got[0]?.delivery.reject();
      await waitFor(() => b.queueDepth('dlq.q') === 1, 'dead-lettered');
      expect(b.queueDepth('q/$DeadLetterQueue')).toBe(0);
    });

    it('dead-letters a message whose delivery-count reaches maxDeliveryCount', async () => {
      const b = await startBroker({ maxDeliveryCount: 2 });
      b.enqueue('q', body(1));
      const inbox = receiver(await connected(b), 'q', 5);
      await waitFor(() => inbox.got.length === 1, 'first delivery');
      inbox.got[0]?.delivery.modified({ delivery_failed: true });
      await waitFor(() => inbox.got.length === 2, 'second delivery');
      inbox.got[1]?.delivery.modified({ delivery_failed: true });
      await waitFor(() => b.stats('q').deadLettered === 1, 'dead-lettered');
      await delay(30);
      expect(inbox.got).toHaveLength(2);
      expect(b.queueDepth('q')).toBe(0);
      const [dead] = b.messages('q/$DeadLetterQueue');
      expect(dead?.deliveryCount).toBe(2);
      expect(dead?.message.message_annotations).toMatchObject({ 'x-opt-deadletter-reason': 'MaxDeliveryCountExceeded' });
    });

    it('requeues deliveries unsettled at detach, in order, with delivery-count + 1', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2), body(3));
      const inbox = receiver(await connected(b), 'q', 2);
      await waitFor(() => inbox.got.length === 2, '2 messages');
      inbox.receiver.close();
      await waitFor(() => b.linkCount('q').senders === 0, 'link detached');
      expect(b.unsettledCount('q')).toBe(0);
      expect(b.messages('q').map((m) => [m.message.body, m.deliveryCount, m.firstAcquirer])).toEqual([
        ['m1', 1, false],
        ['m2', 1, false],
        ['m3', 0, true],
      ]);
      expect(b.stats('q').requeuedOnDetach).toBe(2);
    });

    it('requeues deliveries unsettled when the client connection drops', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const connection = await connected(b);
      const inbox = receiver(connection, 'q', 2);
      await waitFor(() => inbox.got.length === 2, '2 messages');
      (connection as unknown as { socket: { destroy(): void } }).socket.destroy();
      await waitFor(() => b.queueDepth('q') === 2, 'requeued');
      expect(b.messages('q').map((m) => [m.message.body, m.deliveryCount])).toEqual([
        ['m1', 1],
        ['m2', 1],
      ]);
      expect(b.stats('q').requeuedOnDetach).toBe(2);
      expect(b.connectionCount()).toBe(0);
      expect(b.linkCount('q').senders).toBe(0);
    });

    it('delivers pre-settled to an at-most-once receiver and forgets the message', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const inbox = receiver(await connected(b), 'q', 5, { snd_settle_mode: 1 });
      await waitFor(() => inbox.got.length === 2, '2 messages');
      expect(inbox.got.every((g) => g.delivery.remote_settled)).toBe(true);
      expect(b.queueDepth('q')).toBe(0);
      expect(b.unsettledCount('q')).toBe(0);
      expect(b.stats('q').delivered).toBe(2);
      inbox.receiver.close();
      await waitFor(() => b.linkCount('q').senders === 0, 'detached');
      expect(b.queueDepth('q')).toBe(0);
    });
  });

  describe('drain', () => {
    it('sends what it has, then reports drained with the rest of the credit used up', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const inbox = receiver(await connected(b), 'q', 0);
      const drained = next(inbox.receiver, 'receiver_drained');
      inbox.receiver.drain = true;
      inbox.receiver.add_credit(5);
      await drained;
      expect(inbox.got).toHaveLength(2);
      expect((inbox.receiver as unknown as { credit: number }).credit).toBe(0);
      expect(b.stats('q').creditGranted).toBe(5);
    });

    it('reports drained at once on an empty queue', async () => {
      const b = await startBroker();
      const inbox = receiver(await connected(b), 'empty', 0);
      const drained = next(inbox.receiver, 'receiver_drained');
      inbox.receiver.drain = true;
      inbox.receiver.add_credit(3);
      await drained;
      expect(inbox.got).toHaveLength(0);
      // The drain consumed the credit: a message enqueued now is not sent.
      inbox.receiver.drain = false;
      b.enqueue('empty', body(1));
      await delay(50);
      expect(inbox.got).toHaveLength(0);
      expect(b.queueDepth('empty')).toBe(1);
    });

    it('reports drained when the transfers used up the credit exactly', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2));
      const inbox = receiver(await connected(b), 'q', 0);
      const drained = next(inbox.receiver, 'receiver_drained');
      inbox.receiver.drain = true;
      inbox.receiver.add_credit(2);
      await drained;
      expect(inbox.got).toHaveLength(2);
    });
  });

  describe('client senders', () => {
    it('tops credit up to senderCreditWindow at half a window and accepts and stores each transfer', async () => {
      const b = await startBroker({ senderCreditWindow: 5 });
      const out = sender(await connected(b), 'in');
      for (let i = 1; i <= 12; i++) out.sender.send(body(i));
      await waitFor(() => out.outcomes.length === 12, '12 outcomes');
      expect(out.outcomes.every((o) => o.kind === 'accepted')).toBe(true);
      // The first flow grants the window; each later one tops it up once 3 of 5 are used (the
      // credit the sender sees then is 5), never more than the window, never one per transfer.
      expect(out.flows[0]).toBe(5);
      expect(out.flows.every((credit) => credit >= 1 && credit <= 5)).toBe(true);
      expect(out.flows.length).toBeGreaterThanOrEqual(4);
      expect(out.flows.length).toBeLessThan(12);
      expect(b.queueDepth('in')).toBe(12);
      expect(b.messages('in').map((m) => m.message.body)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i + 1}`));
      expect(b.stats('in').received).toBe(12);
      expect(b.linkCount('in')).toEqual({ senders: 0, receivers: 1 });
    });

    it('stores pre-settled transfers', async () => {
      const b = await startBroker();
      const out = sender(await connected(b), 'in', { snd_settle_mode: 1 });
      await next(out.sender, 'sendable');
      out.sender.send(body(1));
      out.sender.send(body(2));
      await waitFor(() => b.queueDepth('in') === 2, 'stored');
      expect(b.stats('in').received).toBe(2);
    });

    it('pauseCredit stops granting credit until resumeCredit', async () => {
      const b = await startBroker({ senderCreditWindow: 5 });
      b.pauseCredit('in');
      const out = sender(await connected(b), 'in');
      await waitFor(() => b.linkCount('in').receivers === 1, 'attached');
      await delay(50);
      expect(out.flows).toEqual([]);
      expect(out.sender.sendable()).toBe(false);
      b.resumeCredit('in');
      await waitFor(() => out.flows.length === 1, 'flow');
      expect(out.flows).toEqual([5]);
    });

    it('pauseCredit leaves current credit but grants no more', async () => {
      const b = await startBroker({ senderCreditWindow: 2 });
      const out = sender(await connected(b), 'in');
      await next(out.sender, 'sendable');
      b.pauseCredit('in');
      for (let i = 1; i <= 3; i++) out.sender.send(body(i));
      await waitFor(() => out.outcomes.length === 2, '2 outcomes');
      await delay(50);
      expect(b.stats('in').received).toBe(2);
      b.resumeCredit('in');
      await waitFor(() => out.outcomes.length === 3, '3rd outcome');
    });

    it('pauseOutcomes stores transfers but withholds their outcomes until resumeOutcomes', async () => {
      const b = await startBroker();
      b.pauseOutcomes('in');
      const out = sender(await connected(b), 'in');
      for (let i = 1; i <= 3; i++) out.sender.send(body(i));
      await waitFor(() => b.stats('in').received === 3, '3 received');
      await delay(50);
      expect(out.outcomes).toHaveLength(0);
      expect(b.queueDepth('in')).toBe(3);
      expect(b.stats('in').maxOutstandingUnsettled).toBe(3);
      b.resumeOutcomes('in');
      await waitFor(() => out.outcomes.length === 3, '3 outcomes');
      expect(out.outcomes.map((o) => o.kind)).toEqual(['accepted', 'accepted', 'accepted']);
      out.sender.send(body(4));
      await waitFor(() => out.outcomes.length === 4, 'immediate outcome after resume');
      expect(b.stats('in').maxOutstandingUnsettled).toBe(3);
    });

    it('rejectNext rejects the next transfers with the given error and does not store them', async () => {
      const b = await startBroker();
      b.rejectNext('in', 2, { condition: 'amqp:precondition-failed', description: 'queue full' });
      const out = sender(await connected(b), 'in');
      for (let i = 1; i <= 3; i++) out.sender.send(body(i));
      await waitFor(() => out.outcomes.length === 3, '3 outcomes');
      expect(out.outcomes.map((o) => o.kind)).toEqual(['rejected', 'rejected', 'accepted']);
      expect(out.outcomes[0]?.delivery.remote_state?.error).toMatchObject({
        condition: 'amqp:precondition-failed',
        description: 'queue full',
      });
      expect(b.messages('in').map((m) => m.message.body)).toEqual(['m3']);
      expect(b.stats('in').received).toBe(3);
    });

    it('releaseNext and modifyNext give those outcomes', async () => {
      const b = await startBroker();
      b.releaseNext('in', 1);
      b.modifyNext('in', 1, { deliveryFailed: true, undeliverableHere: true });
      const out = sender(await connected(b), 'in');
      for (let i = 1; i <= 3; i++) out.sender.send(body(i));
      await waitFor(() => out.outcomes.length === 3, '3 outcomes');
      expect(out.outcomes.map((o) => o.kind)).toEqual(['released', 'modified', 'accepted']);
      expect(out.outcomes[1]?.delivery.remote_state).toMatchObject({ delivery_failed: true, undeliverable_here: true });
      expect(b.queueDepth('in')).toBe(1);
    });

    it('detaches a sender whose message exceeds maxMessageSize', async () => {
      const b = await startBroker({ maxMessageSize: 1024 });
      const out = sender(await connected(b), 'in');
      const detached = next(out.sender, 'sender_close');
      out.sender.send({ body: 'x'.repeat(100) });
      out.sender.send({ body: 'x'.repeat(5000) });
      const context = await detached;
      expect(context.sender?.error).toMatchObject({ condition: 'amqp:link:message-size-exceeded' });
      expect(b.queueDepth('in')).toBe(1);
      expect(b.linkCount('in').receivers).toBe(0);
    });

    it('routes by "to" on an anonymous relay link', async () => {
      const b = await startBroker();
      const out = sender(await connected(b), {});
      out.sender.send({ to: 'a', body: 'for a' });
      out.sender.send({ to: 'b', body: 'for b' });
      await waitFor(() => out.outcomes.length === 2, '2 outcomes');
      expect(b.messages('a').map((m) => m.message.body)).toEqual(['for a']);
      expect(b.messages('b').map((m) => m.message.body)).toEqual(['for b']);
    });
  });

  describe('topics', () => {
    it('copies each message to every receiver attached to a topic, for the life of its link', async () => {
      const b = await startBroker({ topics: ['news'] });
      const connection = await connected(b);
      const a = receiver(connection, 'news', 10);
      const c = receiver(connection, 'news', 10);
      await waitFor(() => b.stats('news').flowFrames === 2, 'receivers ready');
      const out = sender(connection, 'news');
      out.sender.send(body(1));
      out.sender.send(body(2));
      await waitFor(() => a.got.length === 2 && c.got.length === 2, 'fan-out');
      expect(a.bodies()).toEqual(['m1', 'm2']);
      expect(c.bodies()).toEqual(['m1', 'm2']);
      c.receiver.close();
      await waitFor(() => b.linkCount('news').senders === 1, 'one subscription left');
      out.sender.send(body(3));
      await waitFor(() => a.got.length === 3, 'third message');
      await delay(30);
      expect(c.got).toHaveLength(2);
      expect(b.queueDepth('news')).toBe(0);
    });

    it('treats topic:// addresses as topics', async () => {
      const b = await startBroker();
      const connection = await connected(b);
      const a = receiver(connection, 'topic://t', 10);
      const c = receiver(connection, 'topic://t', 10);
      await waitFor(() => b.linkCount('topic://t').senders === 2, 'receivers attached');
      b.enqueue('topic://t', body(1));
      await waitFor(() => a.got.length === 1 && c.got.length === 1, 'fan-out');
    });

    it('keeps a named subscription receiving while its receiver is detached', async () => {
      const b = await startBroker({ topics: ['news'] });
      const connection = await connected(b);
      const first = receiver(connection, 'news/Subscriptions/audit', 0);
      await waitFor(() => b.linkCount('news/Subscriptions/audit').senders === 1, 'subscribed');
      first.receiver.close();
      await waitFor(() => b.linkCount('news/Subscriptions/audit').senders === 0, 'detached');
      const out = sender(connection, 'news');
      out.sender.send(body(1));
      out.sender.send(body(2));
      await waitFor(() => out.outcomes.length === 2, 'sent');
      expect(b.queueDepth('news/Subscriptions/audit')).toBe(2);
      const again = receiver(connection, 'news/Subscriptions/audit', 10);
      await waitFor(() => again.got.length === 2, 'backlog delivered');
      expect(again.bodies()).toEqual(['m1', 'm2']);
    });
  });

  describe('addresses', () => {
    it('refuses attaches to unknown addresses with amqp:not-found when autoCreate is false', async () => {
      const b = await startBroker({ autoCreate: false, queues: ['known'] });
      const connection = await connected(b);
      const inbox = receiver(connection, 'missing', 1);
      const refused = await next(inbox.receiver, 'receiver_close');
      expect(refused.receiver?.error).toMatchObject({ condition: 'amqp:not-found' });
      const out = sender(connection, 'missing');
      const refusedSender = await next(out.sender, 'sender_close');
      expect(refusedSender.sender?.error).toMatchObject({ condition: 'amqp:not-found' });
      b.enqueue('known', body(1));
      const ok = receiver(connection, 'known', 1);
      await waitFor(() => ok.got.length === 1, 'message from a declared queue');
      expect(b.linkCount('missing')).toEqual({ senders: 0, receivers: 0 });
    });

    it('creates a link-scoped queue for a dynamic source', async () => {
      const b = await startBroker();
      const connection = await connected(b);
      const link = connection.open_receiver({ source: { dynamic: true }, credit_window: 10 } as never);
      const opened = await next(link, 'receiver_open');
      const address = (opened.receiver?.source as { address?: string } | undefined)?.address;
      expect(address).toMatch(/^dynamic\//);
      const got: unknown[] = [];
      link.on('message', (context: EventContext) => got.push(context.message?.body));
      b.enqueue(address as string, body(1));
      await waitFor(() => got.length === 1, 'reply');
    });
  });

  describe('authentication', () => {
    it('accepts SASL PLAIN with a known user and password', async () => {
      const b = await startBroker({ users: { alice: 's3cret' } });
      await connected(b, { username: 'alice', password: 's3cret' });
      expect(b.connectionCount()).toBe(1);
    });

    it('fails SASL with amqp:unauthorized-access on a wrong password', async () => {
      const b = await startBroker({ users: { alice: 's3cret' } });
      const connection = connect(b, { username: 'alice', password: 'wrong' });
      const failed = await next(connection, 'connection_error');
      expect(failed.error).toMatchObject({ condition: 'amqp:unauthorized-access' });
      expect(b.connectionCount()).toBe(0);
    });

    it('refuses ANONYMOUS and clients without SASL when users are set', async () => {
      const b = await startBroker({ users: { alice: 's3cret' } });
      const anonymous = connect(b, { username: 'anonymous' });
      const failed = await next(anonymous, 'connection_error');
      expect(failed.error).toMatchObject({ condition: 'amqp:unauthorized-access' });
      const noSasl = connect(b);
      let opened = false;
      noSasl.on('connection_open', () => {
        opened = true;
      });
      await next(noSasl, 'disconnected');
      expect(opened).toBe(false);
      expect(b.connectionCount()).toBe(0);
    });

    it('accepts ANONYMOUS next to users when allowAnonymous is set', async () => {
      const b = await startBroker({ users: { alice: 's3cret' }, allowAnonymous: true });
      await connected(b, { username: 'anonymous' });
      await connected(b);
    });

    it.skipIf(!openSslAvailable())('listens with TLS (skipped when openssl is not installed)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'embedded-broker-tls-'));
      try {
        execFileSync(
          'openssl',
          [
            'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
            '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
          ],
          { stdio: 'ignore' },
        );
        const key = readFileSync(join(dir, 'key.pem'));
        const cert = readFileSync(join(dir, 'cert.pem'));
        const b = await startBroker({ tls: { key, cert } });
        expect(b.url).toBe(`amqps://localhost:${b.port}`);
        const connection = await connected(b, { transport: 'tls', host: 'localhost', servername: 'localhost', ca: [cert] });
        b.enqueue('q', body(1));
        const inbox = receiver(connection, 'q', 1);
        await waitFor(() => inbox.got.length === 1, 'message over TLS');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('connections', () => {
    it('dropConnections destroys sockets without a close frame and requeues what clients held', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1));
      const connection = await connected(b);
      const inbox = receiver(connection, 'q', 1);
      await waitFor(() => inbox.got.length === 1, 'message');
      let closeFrame = false;
      connection.on('connection_close', () => {
        closeFrame = true;
      });
      const disconnected = next(connection, 'disconnected');
      b.dropConnections();
      await disconnected;
      expect(closeFrame).toBe(false);
      await waitFor(() => b.connectionCount() === 0, 'connection gone');
      expect(b.queueDepth('q')).toBe(1);
      expect(b.messages('q')[0]?.deliveryCount).toBe(1);
      // The broker keeps accepting new connections.
      await connected(b);
    });

    it('closeConnections sends a close frame with the given error', async () => {
      const b = await startBroker();
      const connection = await connected(b);
      const failed = next(connection, 'connection_error');
      b.closeConnections({ condition: 'amqp:connection:forced', description: 'maintenance' });
      expect((await failed).error).toMatchObject({ condition: 'amqp:connection:forced', description: 'maintenance' });
      await waitFor(() => b.connectionCount() === 0, 'connection gone');
    });
  });

  describe('stats', () => {
    it('counts flow frames, granted credit, deliveries and outcomes per address', async () => {
      const b = await startBroker();
      b.enqueue('q', body(1), body(2), body(3), body(4));
      const inbox = receiver(await connected(b), 'q', 2);
      await waitFor(() => inbox.got.length === 2, '2 messages');
      inbox.receiver.add_credit(3);
      await waitFor(() => inbox.got.length === 4, '4 messages');
      // One settlement per tick: rhea 3.0.5 folds the second of several different outcomes settled
      // in the same tick into the first one's disposition range.
      inbox.got[0]?.delivery.accept();
      await tick();
      inbox.got[1]?.delivery.release();
      await tick();
      inbox.got[2]?.delivery.modified({ delivery_failed: true });
      await tick();
      inbox.got[3]?.delivery.reject();
      await waitFor(() => b.stats('q').rejected === 1, 'outcomes');
      await waitFor(() => inbox.got.length === 5, 'redelivery');
      expect(b.stats('q')).toEqual({
        received: 0,
        delivered: 5,
        accepted: 1,
        released: 1,
        modified: 1,
        rejected: 1,
        deadLettered: 1,
        requeuedOnDetach: 0,
        flowFrames: 2,
        creditGranted: 5,
        maxOutstandingUnsettled: 0,
      });
      expect(b.stats('unknown').delivered).toBe(0);
    });
  });
});
