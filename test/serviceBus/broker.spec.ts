/**
 * The EmbeddedBroker's Service Bus mode, driven with raw rhea: authentication (SASL PLAIN with a
 * key, `$cbs` put-token with SAS tokens), authorization of links, peek-lock with lock tokens and
 * lock expiry, settlement outcomes, sessions, `$management`, and the frame capture.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import rhea from 'rhea';
import type { Connection, ConnectionOptions, Delivery, EventContext, Receiver, ReceiverOptions, Sender, SenderOptions } from 'rhea';
import { createSelfSignedCertificate, EmbeddedBroker, type EmbeddedBrokerOptions, generateSasToken } from 'rhea-rx/testing';
import { type AmqpValue, amqp, guidFromBytes } from '../../src/testing/serviceBus/codec.js';
import { encodeMessage, SECTION } from '../../src/testing/serviceBus/message.js';
import { encode } from '../../src/testing/serviceBus/codec.js';

const KEY_NAME = 'RootManageSharedAccessKey';
const KEY = 'a2V5LWZvci10ZXN0cw==';
const tls = createSelfSignedCertificate();
const brokers: EmbeddedBroker[] = [];
const connections: Connection[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) c.close();
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

async function start(serviceBus: Partial<NonNullable<EmbeddedBrokerOptions['serviceBus']>> = {}): Promise<EmbeddedBroker> {
  const broker = await EmbeddedBroker.start({
    tls,
    captureFrames: true,
    serviceBus: { keys: { [KEY_NAME]: KEY }, entities: { queues: ['orders'], sessionQueues: ['chats'], topics: { events: ['audit'] } }, ...serviceBus },
  });
  brokers.push(broker);
  return broker;
}

function once<T>(emitter: { once(event: string, handler: (context: EventContext) => void): unknown }, ok: string, fail: string, pick: (c: EventContext) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    emitter.once(ok, (context) => resolve(pick(context)));
    emitter.once(fail, (context) => {
      const error = (context.sender ?? context.receiver ?? context.connection)?.error as { condition?: string; description?: string } | undefined;
      reject(Object.assign(new Error(`${fail}: ${error?.condition ?? '?'} ${error?.description ?? ''}`), { condition: error?.condition }));
    });
  });
}

async function connect(broker: EmbeddedBroker, auth: { username?: string; password?: string } = {}): Promise<Connection> {
  const container = rhea.create_container({ id: `test-${randomUUID()}` });
  const options: ConnectionOptions = {
    host: 'localhost',
    port: broker.port,
    transport: 'tls',
    ca: [tls.cert],
    servername: 'localhost',
    reconnect: false,
    ...(auth.username ? { username: auth.username, password: auth.password ?? '' } : {}),
  } as ConnectionOptions;
  const connection = container.connect(options);
  connections.push(connection);
  connection.on('error', () => undefined);
  connection.on('disconnected', () => undefined);
  await once(connection, 'connection_open', 'connection_error', () => undefined);
  return connection;
}

const openSender = (c: Connection, options: SenderOptions): Promise<Sender> => {
  const sender = c.open_sender(options);
  sender.on('sender_error', () => undefined);
  return once(sender, 'sendable', 'sender_close', () => sender);
};

/** Opens a receiver; a refusal (an attach answered, then a detach with an error) rejects. */
const openReceiver = async (c: Connection, options: ReceiverOptions): Promise<Receiver> => {
  const receiver = c.open_receiver(options);
  receiver.on('receiver_error', () => undefined);
  const closed = once(receiver, 'receiver_close', 'never', () => receiver.error as { condition?: string; description?: string } | undefined);
  await once(receiver, 'receiver_open', 'receiver_close', () => receiver);
  const refusal = await Promise.race([closed, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 50))]);
  if (refusal !== 'open') {
    throw Object.assign(new Error(`receiver refused: ${refusal?.condition ?? '?'} ${refusal?.description ?? ''}`), { condition: refusal?.condition });
  }
  return receiver;
};

/** One request/response over a node (`$cbs` or `<entity>/$management`). */
async function requester(c: Connection, node: string): Promise<(message: rhea.Message, typedBody?: AmqpValue) => Promise<rhea.Message>> {
  const replyTo = `${node}-reply-${randomUUID()}`;
  const receiver = await openReceiver(c, { source: { address: node }, target: { address: replyTo }, credit_window: 10, autoaccept: true });
  const sender = await openSender(c, { target: { address: node } });
  const pending = new Map<string, (m: rhea.Message) => void>();
  receiver.on('message', (context) => {
    const id = String(context.message?.correlation_id);
    pending.get(id)?.(context.message as rhea.Message);
  });
  return (message, typedBody) =>
    new Promise((resolve) => {
      const id = randomUUID();
      pending.set(id, resolve);
      if (!typedBody) {
        sender.send({ ...message, message_id: id, reply_to: replyTo });
        return;
      }
      // A body with exact AMQP types (arrays of uuid, long), which rhea cannot write.
      const operation = String(message.application_properties?.operation);
      const bytes = encodeMessage({
        properties: amqp.list([amqp.string(id), amqp.null(), amqp.null(), amqp.null(), amqp.string(replyTo)]),
        applicationProperties: amqp.stringMap({ operation: amqp.string(operation), 'associated-link-name': amqp.string('r1') }),
        body: encode(amqp.described(amqp.ulong(SECTION.amqpValue), typedBody)),
      });
      sender.send(bytes as unknown as rhea.Message, undefined, 0);
    });
}

async function putToken(c: Connection, audience: string, token: string): Promise<{ status: unknown; description: unknown }> {
  const request = await requester(c, '$cbs');
  const response = await request({
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
    body: token,
  });
  return { status: response.application_properties?.['status-code'], description: response.application_properties?.['status-description'] };
}

const expiry = (seconds: number): number => Math.floor(Date.now() / 1000) + seconds;

function nextMessage(receiver: Receiver): Promise<{ message: rhea.Message; delivery: Delivery }> {
  return new Promise((resolve) => receiver.once('message', (context) => resolve({ message: context.message as rhea.Message, delivery: context.delivery as Delivery })));
}

function settledBy(delivery: Delivery): Promise<unknown> {
  return new Promise((resolve) => {
    const link = delivery.link as Receiver;
    const check = (context: EventContext): void => {
      if (context.delivery === delivery) resolve((delivery as unknown as { remote_state?: unknown }).remote_state);
    };
    link.on('settled', check);
  });
}

describe('EmbeddedBroker Service Bus mode (raw rhea)', () => {
  it('needs tls and at least one key', async () => {
    await expect(EmbeddedBroker.start({ serviceBus: { keys: { a: 'b' } } })).rejects.toThrow(/tls/);
    await expect(EmbeddedBroker.start({ tls, serviceBus: { keys: {} } })).rejects.toThrow(/keys/);
  });

  it('authenticates SASL PLAIN with a key name and key (seed 000) and authorizes every entity', async () => {
    const broker = await start();
    const c = await connect(broker, { username: KEY_NAME, password: KEY });
    const sender = await openSender(c, { target: { address: 'orders' } });
    sender.send({ body: 'hello', group_id: undefined });
    await expect.poll(() => broker.serviceBus.counts('orders').active).toBe(1);
    await expect(connect(broker, { username: KEY_NAME, password: 'wrong' })).rejects.toThrow();
  });

  it('answers put-token with 202 for a valid token and 401 for an expired, forged or unknown-key one', async () => {
    const broker = await start();
    const c = await connect(broker);
    const audience = 'sb://localhost/orders';
    expect(await putToken(c, audience, generateSasToken(audience, KEY_NAME, KEY, expiry(60)))).toEqual({ status: 202, description: 'Accepted' });
    const expired = await putToken(c, audience, generateSasToken(audience, KEY_NAME, KEY, expiry(-5)));
    expect(expired.status).toBe(401);
    expect(String(expired.description)).toMatch(/^ExpiredToken/);
    const forged = await putToken(c, audience, generateSasToken(audience, KEY_NAME, 'not-the-key', expiry(60)));
    expect(forged).toMatchObject({ status: 401, description: expect.stringMatching(/^InvalidSignature/) });
    const unknown = await putToken(c, audience, generateSasToken(audience, 'nobody', KEY, expiry(60)));
    expect(unknown).toMatchObject({ status: 401, description: expect.stringMatching(/^InvalidIssuer/) });
    const otherEntity = await putToken(c, audience, generateSasToken('sb://localhost/chats', KEY_NAME, KEY, expiry(60)));
    expect(otherEntity).toMatchObject({ status: 401, description: expect.stringMatching(/^InvalidAudience/) });
  });

  it('refuses links without a token for their entity (amqp:unauthorized-access), and to unknown entities (amqp:not-found)', async () => {
    const broker = await start();
    const c = await connect(broker);
    await expect(openSender(c, { target: { address: 'orders' } })).rejects.toMatchObject({ condition: 'amqp:unauthorized-access' });
    await putToken(c, 'sb://localhost/orders', generateSasToken('sb://localhost/orders', KEY_NAME, KEY, expiry(60)));
    await expect(openSender(c, { target: { address: 'amqps://localhost/orders' } })).resolves.toBeDefined();
    await expect(openReceiver(c, { source: { address: 'chats' } })).rejects.toMatchObject({ condition: 'amqp:unauthorized-access' });
    await putToken(c, 'sb://localhost/', generateSasToken('sb://localhost/', KEY_NAME, KEY, expiry(60)));
    await expect(openReceiver(c, { source: { address: 'nowhere' } })).rejects.toMatchObject({ condition: 'amqp:not-found' });
  });

  it('detaches links whose token expires without being renewed', async () => {
    const broker = await start();
    const c = await connect(broker);
    // Two seconds, not one: a token of whole seconds made late in a second could expire before it is put.
    await putToken(c, 'sb://localhost/orders', generateSasToken('sb://localhost/orders', KEY_NAME, KEY, expiry(2)));
    const sender = await openSender(c, { target: { address: 'orders' } });
    const closed = once(sender, 'sender_close', 'never', () => sender.error as { condition?: string } | undefined);
    expect((await closed)?.condition).toBe('amqp:unauthorized-access');
  });

  it('peek-lock: a lock token as delivery tag, locked-until and sequence number annotations; an expired lock redelivers with delivery-count + 1 and settling it answers message-lock-lost', async () => {
    const broker = await start({ lockDuration: 300 });
    broker.serviceBus.send('orders', { body: 'one' });
    const c = await connect(broker, { username: KEY_NAME, password: KEY });
    const receiver = await openReceiver(c, { source: { address: 'orders' }, credit_window: 0, autoaccept: false, rcv_settle_mode: 1 });
    receiver.add_credit(1);
    const first = await nextMessage(receiver);
    const token = guidFromBytes(Buffer.from(first.delivery.tag));
    expect(first.message.message_annotations?.['x-opt-sequence-number']).toBe(1);
    expect(first.message.message_annotations?.['x-opt-locked-until']).toBeInstanceOf(Date);
    expect(first.message.delivery_count ?? 0).toBe(0);
    expect(broker.serviceBus.counts('orders')).toMatchObject({ locked: 1, active: 0 });
    receiver.add_credit(1);
    const second = await nextMessage(receiver); // after the lock expired
    expect(guidFromBytes(Buffer.from(second.delivery.tag))).not.toBe(token);
    expect(second.message.delivery_count).toBe(1);
    const lost = settledBy(first.delivery);
    first.delivery.accept();
    expect(await lost).toMatchObject({ error: { condition: 'com.microsoft:message-lock-lost' } });
    const done = settledBy(second.delivery);
    second.delivery.accept();
    expect(await done).toBeDefined();
    await expect.poll(() => broker.serviceBus.messages('orders')).toEqual([]);
  });

  it('dead-letters on rejected with the reason and description in application properties; dead-letters after maxDeliveryCount abandons', async () => {
    const broker = await start({ maxDeliveryCount: 2 });
    broker.serviceBus.send('orders', { body: 'poison' }, { body: 'flaky' });
    const c = await connect(broker, { username: KEY_NAME, password: KEY });
    const receiver = await openReceiver(c, { source: { address: 'orders' }, credit_window: 0, autoaccept: false });
    receiver.add_credit(1);
    const poison = await nextMessage(receiver);
    poison.delivery.reject({
      condition: 'com.microsoft:dead-letter',
      description: 'bad',
      info: { DeadLetterReason: 'poison', DeadLetterErrorDescription: 'bad' },
    } as unknown as rhea.AmqpError);
    for (let i = 0; i < 2; i++) {
      receiver.add_credit(1);
      const flaky = await nextMessage(receiver);
      flaky.delivery.release({ delivery_failed: true, undeliverable_here: false });
    }
    await expect.poll(() => broker.serviceBus.messages('orders/$DeadLetterQueue').length).toBe(2);
    const dead = broker.serviceBus.messages('orders/$DeadLetterQueue').map((m) => m.message.application_properties);
    expect(dead).toEqual([
      { DeadLetterReason: 'poison', DeadLetterErrorDescription: 'bad' },
      { DeadLetterReason: 'MaxDeliveryCountExceeded', DeadLetterErrorDescription: 'Message could not be consumed after 2 delivery attempts.' },
    ]);
  });

  it('sessions: the session filter picks a session (or the next available one), a locked session is refused, state round-trips over $management', async () => {
    const broker = await start();
    broker.serviceBus.send('chats', { body: 'a1', group_id: 'a' }, { body: 'b1', group_id: 'b' });
    const c = await connect(broker, { username: KEY_NAME, password: KEY });
    const next = await openReceiver(c, {
      source: { address: 'chats', filter: { 'com.microsoft:session-filter': null } } as unknown as rhea.Source,
      credit_window: 0,
      autoaccept: false,
    });
    const granted = (next.source as { filter?: Record<string, unknown> }).filter?.['com.microsoft:session-filter'];
    expect(granted).toBe('a');
    const lockedUntil = (next as unknown as { properties?: Record<string, unknown> }).properties?.['com.microsoft:locked-until-utc'];
    expect(lockedUntil).toBeDefined();
    await expect(
      openReceiver(c, { source: { address: 'chats', filter: { 'com.microsoft:session-filter': 'a' } } as unknown as rhea.Source }),
    ).rejects.toMatchObject({ condition: 'com.microsoft:session-cannot-be-locked' });
    next.add_credit(5);
    const got = await nextMessage(next);
    expect(got.message.body).toBe('a1');
    expect(got.message.group_id).toBe('a');
    const request = await requester(c, 'chats/$management');
    const set = await request({
      application_properties: { operation: 'com.microsoft:set-session-state' },
      body: { 'session-id': 'a', 'session-state': rhea.types.wrap_binary(Buffer.from('cursor')) },
    });
    expect(set.application_properties?.statusCode).toBe(200);
    const get = await request({ application_properties: { operation: 'com.microsoft:get-session-state' }, body: { 'session-id': 'a' } });
    expect(Buffer.from((get.body as Record<string, Buffer>)['session-state'] as Buffer).toString()).toBe('cursor');
    const notMine = await request({ application_properties: { operation: 'com.microsoft:get-session-state' }, body: { 'session-id': 'b' } });
    expect(notMine.application_properties).toMatchObject({ statusCode: 410, errorCondition: 'com.microsoft:session-lock-lost' });
    const renew = await request({ application_properties: { operation: 'com.microsoft:renew-session-lock' }, body: { 'session-id': 'a' } });
    expect((renew.body as Record<string, unknown>).expiration).toBeInstanceOf(Date);
  });

  it('a receiver for the next available session waits for one, and is refused with com.microsoft:timeout when none comes', async () => {
    const broker = await start({ sessionWaitTimeout: 300 });
    const c = await connect(broker, { username: KEY_NAME, password: KEY });
    const filter = { address: 'chats', filter: { 'com.microsoft:session-filter': null } } as unknown as rhea.Source;
    await expect(openReceiver(c, { source: filter })).rejects.toMatchObject({ condition: 'com.microsoft:timeout' });
    const waiting = openReceiver(c, { source: filter });
    setTimeout(() => broker.serviceBus.send('chats', { body: 'late', group_id: 'z' }), 100);
    const receiver = await waiting;
    expect((receiver.source as { filter?: Record<string, unknown> }).filter?.['com.microsoft:session-filter']).toBe('z');
  });

  it('$management: renew-lock, peek, schedule and cancel, defer then receive-by-sequence-number and update-disposition', async () => {
    const broker = await start();
    broker.serviceBus.send('orders', { body: 'm1' }, { body: 'm2' });
    const c = await connect(broker, { username: KEY_NAME, password: KEY });
    const receiver = await openReceiver(c, { name: 'r1', source: { address: 'orders' }, credit_window: 0, autoaccept: false });
    receiver.add_credit(1);
    const got = await nextMessage(receiver);
    const token = guidFromBytes(Buffer.from(got.delivery.tag));
    const request = await requester(c, 'orders/$management');
    const op = (operation: string, body: Record<string, AmqpValue>): Promise<rhea.Message> =>
      request({ application_properties: { operation: `com.microsoft:${operation}` } } as unknown as rhea.Message, amqp.stringMap(body));
    const tokens = (...uuids: string[]): AmqpValue => amqp.array('uuid', uuids.map((u) => amqp.uuid(u)));
    const longs = (...values: number[]): AmqpValue => amqp.array('long', values.map((v) => amqp.long(v)));
    const renewed = await op('renew-lock', { 'lock-tokens': tokens(token) });
    expect(renewed.application_properties?.statusCode).toBe(200);
    expect(((renewed.body as Record<string, unknown[]>).expirations ?? [])[0]).toBeInstanceOf(Date);
    const lost = await op('renew-lock', { 'lock-tokens': tokens(randomUUID()) });
    expect(lost.application_properties).toMatchObject({ statusCode: 410, errorCondition: 'com.microsoft:message-lock-lost' });
    const peeked = await op('peek-message', { 'from-sequence-number': amqp.long(1), 'message-count': amqp.int(10) });
    const peekedBodies = ((peeked.body as Record<string, Array<Record<string, Buffer>>>).messages ?? []).map((m) => rhea.message.decode(m.message as Buffer).body);
    expect(peekedBodies).toEqual(['m1', 'm2']);
    // defer over the link, then take it by sequence number and complete it over management
    got.delivery.modified({ delivery_failed: true, undeliverable_here: true });
    await expect.poll(() => broker.serviceBus.counts('orders').deferred).toBe(1);
    const deferred = await op('receive-by-sequence-number', { 'sequence-numbers': longs(1), 'receiver-settle-mode': amqp.uint(1) });
    const [entry] = (deferred.body as Record<string, Array<Record<string, unknown>>>).messages ?? [];
    expect(rhea.message.decode(entry?.message as Buffer).body).toBe('m1');
    const lockToken = guidFromBytes(Buffer.from(entry?.['lock-token'] as Buffer)).replace(/^(..)(..)(..)(..)-(..)(..)-(..)(..)/, '$4$3$2$1-$6$5-$8$7');
    const done = await op('update-disposition', { 'disposition-status': amqp.string('completed'), 'lock-tokens': tokens(lockToken) });
    expect(done.application_properties?.statusCode).toBe(200);
    expect(broker.serviceBus.messages('orders').map((m) => m.message.body)).toEqual(['m2']);
    // schedule, then cancel
    const scheduled = rhea.message.encode({ body: 'later', message_annotations: { 'x-opt-scheduled-enqueue-time': new Date(Date.now() + 60_000) } });
    const sched = await op('schedule-message', { messages: amqp.list([amqp.stringMap({ 'message-id': amqp.string('x'), message: amqp.binary(scheduled) })]) });
    const [seq] = (sched.body as Record<string, number[]>)['sequence-numbers'] ?? [];
    expect(broker.serviceBus.counts('orders').scheduled).toBe(1);
    const cancel = await op('cancel-scheduled-message', { 'sequence-numbers': longs(seq as number) });
    expect(cancel.application_properties?.statusCode).toBe(200);
    expect(broker.serviceBus.counts('orders').scheduled).toBe(0);
  });

  it('captures frames with secrets and volatile values normalized', async () => {
    const broker = await start();
    const c = await connect(broker);
    await putToken(c, 'sb://localhost/orders', generateSasToken('sb://localhost/orders', KEY_NAME, KEY, expiry(60)));
    const frames = broker.capturedFrames();
    const text = JSON.stringify(frames);
    expect(text).not.toContain(KEY);
    const put = frames.find((f) => f.performative === 'transfer' && f.link?.address === '$cbs');
    expect(put?.message?.body).toEqual([{ value: { string: `SharedAccessSignature sr=sb%3A%2F%2Flocalhost%2Forders&sig=<signature>&se=<expiry>&skn=${KEY_NAME}` } }]);
    expect(put?.message?.properties?.['message-id']).toEqual({ string: expect.stringMatching(/^<uuid-\d+>$/) });
    expect(frames.map((f) => f.performative)).toEqual(expect.arrayContaining(['protocol-header', 'open', 'begin', 'attach', 'flow', 'transfer']));
    const raw = JSON.stringify(broker.capturedFrames({ normalize: false }));
    expect(raw).toContain('&sig=');
    broker.clearCapturedFrames();
    expect(broker.capturedFrames()).toEqual([]);
  });
});
