import { afterEach, describe, expect, it, vi } from 'vitest';
import { AmqpError, ConnectionLostError, OperationTimeoutError } from 'rhea-rx';
import { RequestResponseLink } from '../../../src/serviceBus/amqp.js';
import { FakeConnection } from './fakeConnection.js';

const NODE = 'orders/$management';

function pair(options: { replyTo: string | undefined } = { replyTo: NODE }) {
  const connection = new FakeConnection();
  const link = new RequestResponseLink(connection.asRhea(), { node: NODE, replyTo: options.replyTo });
  return { connection, link };
}

const request = (what = 'peek', timeout = 5_000) => ({ body: { n: 1 }, applicationProperties: { operation: what }, timeout, what });

describe('RequestResponseLink', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('attaches a sender and a receiver named after the node, source and target the node (as uAMQP)', () => {
    const { connection } = pair();
    const sender = connection.link(`${NODE}-sender`);
    const receiver = connection.link(`${NODE}-receiver`);
    expect(sender.role).toBe('sender');
    expect(receiver.role).toBe('receiver');
    for (const l of [sender, receiver]) {
      expect(l.options).toMatchObject({ source: { address: NODE }, target: { address: NODE }, snd_settle_mode: 0, rcv_settle_mode: 0 });
    }
    expect(connection.sessions).toHaveLength(1);
  });

  it('waits for both attaches and for credit before it sends', async () => {
    const { connection, link } = pair();
    const pending = link.request(request());
    await Promise.resolve();
    expect(connection.requests).toHaveLength(0);
    connection.link(`${NODE}-sender`).open();
    connection.link(`${NODE}-receiver`).open();
    await Promise.resolve();
    expect(connection.requests).toHaveLength(0); // no credit yet
    connection.link(`${NODE}-sender`).grant(1);
    expect(connection.requests).toHaveLength(1);
    connection.respond(NODE, { correlation_id: 0, application_properties: { statusCode: 200 }, body: { ok: true } });
    await expect(pending).resolves.toMatchObject({ status: 200, body: { ok: true } });
  });

  it('numbers requests with a ulong counter, sets reply-to, and matches responses by correlation-id in any order', async () => {
    const { connection, link } = pair();
    connection.openAll();
    const first = link.request(request('first'));
    const second = link.request(request('second'));
    await Promise.resolve();
    await Promise.resolve();
    expect(connection.requests.map((r) => r.message.message_id)).toEqual([0, 1]);
    expect(connection.requests.map((r) => r.message.reply_to)).toEqual([NODE, NODE]);
    expect(connection.requests[0]!.message.application_properties).toEqual({ operation: 'first' });
    expect(connection.requests[0]!.message.body).toEqual({ n: 1 });
    connection.respond(NODE, { correlation_id: 1, application_properties: { statusCode: 204, statusDescription: 'No Content' } });
    connection.respond(NODE, {
      correlation_id: 0,
      application_properties: { statusCode: 404, statusDescription: 'gone', errorCondition: 'com.microsoft:message-not-found' },
    });
    await expect(second).resolves.toEqual({ status: 204, description: 'No Content', condition: undefined, body: undefined });
    await expect(first).resolves.toMatchObject({ status: 404, description: 'gone', condition: 'com.microsoft:message-not-found' });
  });

  it("reads $cbs's status-code and status-description, and sends no reply-to when told (as uAMQP's CBS)", async () => {
    const { connection, link } = pair({ replyTo: undefined });
    connection.openAll();
    const pending = link.request(request('put-token'));
    await Promise.resolve();
    await Promise.resolve();
    expect(connection.requests[0]!.message).not.toHaveProperty('reply_to');
    connection.respond(NODE, { correlation_id: 0, application_properties: { 'status-code': 202, 'status-description': 'Accepted' } });
    await expect(pending).resolves.toMatchObject({ status: 202, description: 'Accepted' });
  });

  it('matches a correlation-id that came back as 8 bytes (a large ulong)', async () => {
    const { connection, link } = pair();
    connection.openAll();
    const pending = link.request(request());
    await Promise.resolve();
    await Promise.resolve();
    connection.respond(NODE, { correlation_id: Buffer.alloc(8), application_properties: { statusCode: 200 } });
    await expect(pending).resolves.toMatchObject({ status: 200 });
  });

  it('ignores a response nobody waits for', async () => {
    const { connection, link } = pair();
    connection.openAll();
    const pending = link.request(request());
    await Promise.resolve();
    await Promise.resolve();
    connection.respond(NODE, { correlation_id: 99, application_properties: { statusCode: 200 } });
    connection.respond(NODE, { application_properties: { statusCode: 200 } });
    connection.respond(NODE, { correlation_id: 0, application_properties: { statusCode: 200 }, body: 'mine' });
    await expect(pending).resolves.toMatchObject({ body: 'mine' });
  });

  it('fails with OperationTimeoutError when no response comes in time, and drops the late one', async () => {
    vi.useFakeTimers();
    const { connection, link } = pair();
    connection.openAll();
    const pending = link.request(request('renew-lock on q', 1_000));
    const failed = expect(pending).rejects.toBeInstanceOf(OperationTimeoutError);
    await vi.advanceTimersByTimeAsync(1_000);
    await failed;
    await expect(pending).rejects.toThrow(/renew-lock on q: no response from 'orders\/\$management' within 1000 ms/);
    connection.respond(NODE, { correlation_id: 0, application_properties: { statusCode: 200 } }); // too late: nothing happens
  });

  it('fails a request the node rejects with the translated error', async () => {
    const { connection, link } = pair();
    connection.openAll();
    const pending = link.request(request());
    await Promise.resolve();
    await Promise.resolve();
    const sent = connection.requests[0]!;
    (sent.delivery as unknown as { remote_state: unknown }).remote_state = { error: { condition: 'amqp:unauthorized-access', description: 'no' } };
    sent.link.emit('rejected', { delivery: sent.delivery });
    await expect(pending).rejects.toMatchObject({ name: 'AuthorizationError', condition: 'amqp:unauthorized-access' });
  });

  it('fails what waits, retryably, when the connection goes, and takes no more requests', async () => {
    const { connection, link } = pair();
    connection.openAll();
    const pending = link.request(request());
    const notOpenYet = new FakeConnection();
    const other = new RequestResponseLink(notOpenYet.asRhea(), { node: NODE, replyTo: NODE });
    const waitingForAttach = other.request(request());
    connection.emit('disconnected', {});
    notOpenYet.emit('disconnected', {});
    await expect(pending).rejects.toBeInstanceOf(ConnectionLostError);
    await expect(waitingForAttach).rejects.toMatchObject({ retryable: true });
    expect(link.isClosed).toBe(true);
    await expect(link.request(request())).rejects.toBeInstanceOf(AmqpError);
  });

  it('closes its links and session, once', () => {
    const { connection, link } = pair();
    connection.openAll();
    link.close();
    link.close();
    expect(connection.links.every((l) => l.closed)).toBe(true);
    expect(connection.sessions[0]!.closed).toBe(true);
  });

  it('fails what waits when the peer detaches a link', async () => {
    const { connection, link } = pair();
    connection.openAll();
    const pending = link.request(request());
    const receiver = connection.link(`${NODE}-receiver`);
    receiver.error = { condition: 'amqp:not-found', description: 'no such node' };
    receiver.emit('receiver_close', {});
    await expect(pending).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});
