/**
 * Smoke tests of the real peers with raw rhea (no library code): each peer answers an AMQP 1.0 open,
 * a queue round-trips messages, and the facts the capability table relies on hold (open-frame
 * properties, pre-settled deliveries, dead-lettering through a RabbitMQ policy).
 */
import rhea from 'rhea';
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { afterEach, expect, it } from 'vitest';
import { forEachPeer, type Peer, rabbitmqctl } from '../support/peers.js';

const STEP_TIMEOUT_MS = 10_000;

interface Opened {
  readonly container: Container;
  readonly connection: Connection;
  readonly properties: Record<string, unknown>;
}

const openConnections: Opened[] = [];

afterEach(async () => {
  await Promise.all(openConnections.splice(0).map(close));
});

function withTimeout<T>(what: string, promise: Promise<T>, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describeError(context: EventContext): string {
  const e =
    context.receiver?.error ?? context.sender?.error ?? context.session?.error ?? context.connection.error;
  return e ? JSON.stringify(e) : 'no error given';
}

/** Opens a connection without SASL (RabbitMQ maps it to guest; the Proton broker allows it). */
async function open(peer: Peer): Promise<Opened> {
  const url = new URL(peer.url);
  const container = rhea.create_container({ id: `smoke-${peer.name}-${process.pid}` });
  // rhea rethrows unhandled link/session errors on the container: keep them as test failures.
  container.on('error', () => {});
  const connection = container.connect({
    host: url.hostname,
    port: Number(url.port),
    reconnect: false,
  });
  const properties = await withTimeout(
    `open ${peer.url}`,
    new Promise<Record<string, unknown>>((resolve, reject) => {
      connection.once('connection_open', (ctx: EventContext) => resolve(ctx.connection.properties ?? {}));
      connection.once('connection_error', (ctx: EventContext) => reject(new Error(`connection error: ${describeError(ctx)}`)));
      connection.once('disconnected', (ctx: EventContext) =>
        reject(new Error(`disconnected before open: ${String((ctx as { error?: unknown }).error ?? '')}`)),
      );
    }),
  );
  const opened = { container, connection, properties };
  openConnections.push(opened);
  return opened;
}

async function close({ connection }: Opened): Promise<void> {
  if (!connection.is_open()) return;
  await withTimeout(
    'close',
    new Promise<void>((resolve) => {
      connection.once('connection_close', () => resolve());
      connection.once('disconnected', () => resolve());
      connection.close();
    }),
  ).catch(() => connection.socket?.destroy());
}

/** Sends each body as one message on its own sender link; resolves with the outcome of each. */
async function sendAll({ connection }: Opened, address: string, bodies: readonly string[]): Promise<string[]> {
  const sender: Sender = connection.open_sender({ target: { address } });
  const outcomes: string[] = new Array(bodies.length);
  let next = 0;
  let settled = 0;
  try {
    await withTimeout(
      `send ${bodies.length} to ${address}`,
      new Promise<void>((resolve, reject) => {
        const record = (state: string) => (ctx: EventContext) => {
          const index = Number(ctx.delivery?.tag.toString());
          outcomes[index] = state;
          settled += 1;
          if (settled === bodies.length) resolve();
        };
        sender.on('accepted', record('accepted'));
        sender.on('rejected', record('rejected'));
        sender.on('released', record('released'));
        sender.on('modified', record('modified'));
        sender.on('sendable', () => {
          while (next < bodies.length && sender.sendable()) {
            sender.send({ body: bodies[next] } satisfies Message, String(next));
            next += 1;
          }
        });
        sender.once('sender_error', (ctx: EventContext) => reject(new Error(`sender error: ${describeError(ctx)}`)));
        sender.session.once('session_error', (ctx: EventContext) =>
          reject(new Error(`session error: ${describeError(ctx)}`)),
        );
      }),
    );
  } finally {
    sender.close();
  }
  return outcomes;
}

interface Received {
  readonly message: Message;
  readonly delivery: Delivery;
}

/**
 * Receives `count` messages from `address` with manual settlement; `settle` decides what to do with
 * each (default: accept unless the peer pre-settled it).
 */
async function receive(
  { connection }: Opened,
  address: string,
  count: number,
  settle: (r: Received) => void = ({ delivery }) => {
    if (!delivery.remote_settled) delivery.accept();
  },
): Promise<Received[]> {
  const receiver: Receiver = connection.open_receiver({ source: { address }, autoaccept: false, credit_window: 0 });
  const got: Received[] = [];
  try {
    await withTimeout(
      `receive ${count} from ${address}`,
      new Promise<void>((resolve, reject) => {
        receiver.on('message', (ctx: EventContext) => {
          const r = { message: ctx.message!, delivery: ctx.delivery! };
          got.push(r);
          settle(r);
          if (got.length === count) resolve();
        });
        receiver.once('receiver_error', (ctx: EventContext) =>
          reject(new Error(`receiver error: ${describeError(ctx)}`)),
        );
        receiver.session.once('session_error', (ctx: EventContext) =>
          reject(new Error(`session error: ${describeError(ctx)}`)),
        );
        receiver.once('receiver_open', () => receiver.add_credit(count));
      }),
    );
  } finally {
    receiver.close();
  }
  return got;
}

/** Attaches a receiver (declaring the queue on RabbitMQ) and waits for the attach to complete. */
async function attachReceiver({ connection }: Opened, address: string): Promise<Receiver> {
  const receiver: Receiver = connection.open_receiver({ source: { address }, autoaccept: false, credit_window: 0 });
  await withTimeout(
    `attach ${address}`,
    new Promise<void>((resolve, reject) => {
      receiver.once('receiver_open', () => resolve());
      receiver.once('receiver_error', (ctx: EventContext) => reject(new Error(`receiver error: ${describeError(ctx)}`)));
    }),
  );
  return receiver;
}

forEachPeer(
  'real peer smoke',
  (peer) => {
    it('answers an AMQP 1.0 open and names itself where it does', async () => {
      const { properties, connection } = await open(peer);
      expect(connection.is_open()).toBe(true);
      if (peer.name === 'rabbitmq') {
        expect(properties.product).toBe('RabbitMQ');
        // The capability table describes 3.10.
        expect(String(properties.version)).toMatch(/^3\.10\./);
      }
      if (peer.caps.openProperties) {
        expect(typeof properties.product).toBe('string');
        expect(typeof properties.version).toBe('string');
      } else {
        expect(properties.product).toBeUndefined();
      }
    });

    it('round-trips 10 messages through a queue, in order', async () => {
      const opened = await open(peer);
      const address = peer.queue('smoke');
      const bodies = Array.from({ length: 10 }, (_, i) => `message ${i}`);

      const outcomes = await sendAll(opened, address, bodies);
      expect(outcomes).toEqual(bodies.map(() => 'accepted'));

      const got = await receive(opened, address, bodies.length);
      expect(got.map((r) => r.message.body)).toEqual(bodies);
      // Peers without receiver outcomes pre-settle what they send (the table says so).
      expect(got.map((r) => r.delivery.remote_settled)).toEqual(bodies.map(() => !peer.caps.outcomes));
    });
  },
  { only: ['rabbitmq', 'proton-c'] },
);

forEachPeer(
  'dead-lettering through a policy',
  (peer) => {
    it('moves a message rejected on a ^dlx- queue to the dead-letter queue', async () => {
      const opened = await open(peer);
      const source = peer.queue('dlx-smoke').replace('/queue/', '');
      const dead = `dead-${source}`;
      const policy = `DLX-${source}`;
      // A `^dlx-` policy, narrowed to this queue so that runs sharing a node cannot clash.
      await rabbitmqctl(
        'set_policy',
        policy,
        `^${source}$`,
        JSON.stringify({ 'dead-letter-exchange': '', 'dead-letter-routing-key': dead }),
        '--apply-to',
        'queues',
      );
      try {
        // Declare the dead-letter queue first: dead-lettering to a missing queue drops the message.
        const deadReceiver = await attachReceiver(opened, `/queue/${dead}`);
        deadReceiver.close();

        expect(await sendAll(opened, `/queue/${source}`, ['poison'])).toEqual(['accepted']);
        const [rejected] = await receive(opened, `/queue/${source}`, 1, ({ delivery }) =>
          delivery.reject({ condition: 'amqp:internal-error', description: 'smoke test' }),
        );
        expect(rejected?.message.body).toBe('poison');

        const [deadLettered] = await receive(opened, `/queue/${dead}`, 1);
        expect(deadLettered?.message.body).toBe('poison');

        // Nothing left behind: both queues empty once the broker has processed the settlements.
        const counts = async () => {
          const listed = await rabbitmqctl('list_queues', 'name', 'messages', '--quiet', '--no-table-headers');
          const byName = new Map(
            listed
              .trim()
              .split('\n')
              .map((line) => line.trim().split(/\s+/))
              .map(([name, n]) => [name, Number(n)] as const),
          );
          return [byName.get(source), byName.get(dead)];
        };
        let seen = await counts();
        for (let i = 0; i < 20 && (seen[0] !== 0 || seen[1] !== 0); i++) {
          await new Promise((r) => setTimeout(r, 250));
          seen = await counts();
        }
        expect(seen).toEqual([0, 0]);
      } finally {
        await rabbitmqctl('clear_policy', policy);
      }
    });
  },
  { only: ['rabbitmq'] },
);

/** Resolves with the error condition with which the peer ends `session`. */
function sessionEnded(session: Receiver['session']): Promise<string | undefined> {
  return withTimeout(
    'the session to end',
    new Promise<string | undefined>((resolve) => {
      const done = (ctx: EventContext) => resolve((ctx.session?.error as { condition?: string } | undefined)?.condition);
      session.once('session_error', done);
      session.once('session_close', done);
    }),
  );
}

forEachPeer(
  'RabbitMQ 3.10 quirks in the capability table',
  (peer) => {
    it('modified (any flags) ends the whole session with amqp:invalid-field, and the message is requeued', async () => {
      const opened = await open(peer);
      const address = peer.queue('quirk-modified');
      expect(await sendAll(opened, address, ['m'])).toEqual(['accepted']);
      const receiver = opened.connection.open_receiver({ source: { address }, autoaccept: false, credit_window: 0 });
      const ended = sessionEnded(receiver.session);
      receiver.once('receiver_open', () => receiver.add_credit(1));
      receiver.once('message', (ctx: EventContext) => ctx.delivery!.modified({ delivery_failed: false, undeliverable_here: false }));
      expect(await ended).toBe('amqp:invalid-field');
      const [again] = await receive(opened, address, 1);
      expect(again?.message.body).toBe('m');
    });

    it('a drain with credit left over ends the session with amqp:internal-error (classic queue)', async () => {
      const opened = await open(peer);
      const receiver = await attachReceiver(opened, peer.queue('quirk-drain'));
      const ended = sessionEnded(receiver.session);
      receiver.add_credit(5);
      receiver.drain_credit();
      expect(await ended).toBe('amqp:internal-error');
    });

    it('an attach to a missing /amq/queue ends the session (not just the link) with amqp:not-found', async () => {
      const { connection } = await open(peer);
      const receiver = connection.open_receiver({ source: { address: `/amq/queue/nope-${process.pid}-${Date.now()}` } });
      expect(await sessionEnded(receiver.session)).toBe('amqp:not-found');
      expect(connection.is_open()).toBe(true);
    });
  },
  { only: ['rabbitmq'] },
);
