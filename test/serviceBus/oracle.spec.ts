/**
 * The oracle: azure-servicebus 7.8.2 (the seed's own Python client, Debian's python3-azure on
 * python3-uamqp) runs the seed's workflows against the EmbeddedBroker's Service Bus mode. Each
 * sample must pass, the broker's state must show the workflow's effect, and the frames the Python
 * client sent are written (normalized) to .brokers/servicebus/captures/python-<sample>.json for
 * comparison with other clients.
 *
 * Skipped, with the reason printed, when /usr/bin/python3 cannot import azure.servicebus and
 * uamqp; failing instead under REQUIRE_BROKERS=1.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import rhea from 'rhea';
import { type CapturedFrame, type EmbeddedBroker, generateSasToken, parseSasToken, validateSasToken } from 'rhea-rx/testing';
import { brokersRequired } from '../support/peers.js';
import { KEY, KEY_NAME, runPython, runSample, type SampleRun, startServiceBusBroker, whyOracleUnavailable, writeCapture } from './python/oracle.js';

const unavailable = await whyOracleUnavailable();
const required = brokersRequired();
if (unavailable) process.stderr.write(`[oracle] ${required ? 'REQUIRED but unavailable' : 'skipped'}: ${unavailable}\n`);

const brokers: EmbeddedBroker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
});

async function broker(options: Parameters<typeof startServiceBusBroker>[0] = {}): Promise<EmbeddedBroker> {
  const b = await startServiceBusBroker(options);
  brokers.push(b);
  return b;
}

/** Runs a sample and fails with its output unless it exited 0 and reported no error. */
async function sample(name: string, b: EmbeddedBroker, options: Parameters<typeof runSample>[2] = {}): Promise<SampleRun> {
  const run = await runSample(name, b, options);
  const failure = run.results.find((r) => r.error);
  if (run.code !== 0 || failure || run.results.length === 0) {
    throw new Error(`${name}.py failed (exit ${String(run.code)}): ${JSON.stringify(failure ?? {})}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr.slice(-4000)}`);
  }
  writeCapture(name, b);
  return run;
}

const last = (run: SampleRun): Record<string, unknown> => run.results.at(-1) ?? {};
const bodiesOf = (b: EmbeddedBroker, entity: string): unknown[] =>
  b.serviceBus.messages(entity).map((m) => {
    const body = m.message.body as unknown;
    const content = (body as { content?: unknown } | undefined)?.content;
    return Buffer.isBuffer(content) ? content.toString('utf8') : body;
  });

/** The put-token requests in a capture. */
const putTokens = (frames: CapturedFrame[]): CapturedFrame[] =>
  frames.filter((f) => f.performative === 'transfer' && f.link?.address === '$cbs' && f.message);

/** The management requests in a capture, by operation. */
const managementOps = (frames: CapturedFrame[]): string[] =>
  frames
    .filter((f) => f.performative === 'transfer' && f.link?.address?.endsWith('/$management') && f.message)
    .map((f) => (f.message?.applicationProperties?.['string:operation'] as { string: string }).string);

describe.skipIf(unavailable !== undefined && !required)('azure-servicebus (the seed client) against the Service Bus mode', () => {
  beforeAll(() => {
    if (unavailable) throw new Error(`REQUIRE_BROKERS is set but the oracle is unavailable: ${unavailable}`);
  });

  it('sends a single message and a list (a batch) to a queue', async () => {
    const b = await broker();
    const run = await sample('send', b);
    expect(last(run)).toEqual({ sent: 3 });
    const stored = b.serviceBus.messages('queue');
    expect(bodiesOf(b, 'queue')).toEqual(['Single message', 'First message', 'Second message']);
    expect(stored.map((m) => m.sequenceNumber)).toEqual([1, 2, 3]);
    expect(stored[0]?.message.application_properties).toEqual({ kind: 'single', n: 1 });

    const frames = b.capturedFrames();
    const [put] = putTokens(frames);
    expect(put?.message?.applicationProperties).toEqual({
      'string:name': { string: 'sb://localhost/queue' },
      'string:operation': { string: 'put-token' },
      'string:type': { string: 'servicebus.windows.net:sastoken' },
    });
    expect(put?.message?.body).toEqual([
      { value: { string: `SharedAccessSignature sr=sb%3A%2F%2Flocalhost%2Fqueue&sig=<signature>&se=<expiry>&skn=${KEY_NAME}` } },
    ]);
    const batch = frames.find((f) => f.performative === 'transfer' && f.message?.format === 0x80013700);
    expect(batch?.message?.batch?.map((m) => m.body)).toEqual([
      [{ data: Buffer.from('First message').toString('hex') }],
      [{ data: Buffer.from('Second message').toString('hex') }],
    ]);
  });

  it('receives by iterating with max_wait_time, with lock tokens, locked-until and sequence numbers, and completes', async () => {
    const b = await broker({ lockDuration: 20_000 });
    await sample('send', b);
    const started = Date.now();
    const run = await sample('receive_iter', b);
    const received = run.results.filter((r) => 'body' in r);
    expect(received.map((r) => r.body)).toEqual(['Single message', 'First message', 'Second message']);
    expect(received.map((r) => r.sequence_number)).toEqual([1, 2, 3]);
    expect(received.map((r) => r.delivery_count)).toEqual([0, 0, 0]);
    expect(new Set(received.map((r) => r.lock_token)).size).toBe(3);
    for (const r of received) {
      expect(r.lock_token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const lockedUntil = Date.parse(String(r.locked_until));
      expect(lockedUntil).toBeGreaterThan(started + 15_000);
      expect(lockedUntil).toBeLessThan(Date.now() + 21_000);
    }
    expect(received[0]?.application_properties).toEqual({ kind: 'single', n: 1 });
    expect(b.serviceBus.messages('queue')).toEqual([]);
    // Settled on the receiving link with `accepted`.
    const outcomes = b.capturedFrames().filter((f) => f.performative === 'disposition' && f.fields.role?.toString() !== undefined);
    expect(outcomes.filter((f) => JSON.stringify(f.fields.state) === '{"accepted":{}}').length).toBeGreaterThanOrEqual(3);
  });

  it('receives a single message and a batch with receive_messages(max_message_count, max_wait_time)', async () => {
    const b = await broker();
    b.serviceBus.send('queue', ...['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].map((text) => ({ body: rhea.message.data_section(Buffer.from(text)) })));
    const run = await sample('receive_batch', b);
    const result = last(run) as { first: string[]; batch: string[]; empty: number };
    expect(result.first).toEqual(['m0']);
    expect(result.batch.length).toBeGreaterThanOrEqual(1);
    expect(result.batch).toEqual(['m1', 'm2', 'm3', 'm4', 'm5'].slice(0, result.batch.length));
    expect(bodiesOf(b, 'queue')).toEqual(['m1', 'm2', 'm3', 'm4', 'm5'].slice(result.batch.length));
  });

  it('receives in RECEIVE_AND_DELETE mode: presettled deliveries, no lock tokens, nothing left', async () => {
    const b = await broker();
    const run = await sample('receive_and_delete', b);
    expect(last(run)).toEqual({ received: ['rd-1', 'rd-2'], lock_tokens: [null, null] });
    expect(b.serviceBus.messages('queue')).toEqual([]);
    const attach = b.capturedFrames().find((f) => f.performative === 'attach' && f.link?.role === 'receiver' && f.link.address?.endsWith('/queue'));
    expect(attach?.fields['snd-settle-mode']).toEqual({ ubyte: 1 });
  });

  it('uses sessions: a given session, the next available one, session state and session lock renewal', async () => {
    const b = await broker();
    const run = await sample('sessions', b);
    const result = last(run);
    expect(result).toMatchObject({
      s1: ['Session Enabled Message'],
      s1_session_ids: ['s1'],
      state: 'checkpoint-1',
      next_session: 's2',
      next_bodies: ['other-1', 'other-2'],
    });
    expect(Date.parse(String(result.renewed))).toBeGreaterThan(Date.now());
    expect(b.serviceBus.sessionState('session-queue', 's1')?.toString()).toBe('checkpoint-1');
    expect(b.serviceBus.messages('session-queue')).toEqual([]);
    const filters = b
      .capturedFrames()
      .filter((f) => f.performative === 'attach' && f.link?.address?.endsWith('/session-queue') && f.link.role === 'receiver')
      .map((f) => (f.fields.source as { source: { filter?: unknown } }).source.filter);
    expect(filters).toEqual([{ map: { 'symbol:com.microsoft:session-filter': { string: 's1' } } }, { map: { 'symbol:com.microsoft:session-filter': null } }]);
    expect(managementOps(b.capturedFrames())).toEqual([
      'com.microsoft:set-session-state',
      'com.microsoft:get-session-state',
      'com.microsoft:renew-session-lock',
    ]);
  });

  it('sends to a topic and receives from its subscription', async () => {
    const b = await broker();
    const run = await sample('topics', b);
    expect(last(run)).toEqual({ received: ['Data'] });
    expect(b.serviceBus.messages('topic/Subscriptions/sub')).toEqual([]);
  });

  it('completes, abandons, dead-letters (reason and description) and defers, then receives the deferred message', async () => {
    const b = await broker();
    const run = await sample('settle', b);
    const result = last(run) as Record<string, unknown>;
    expect(result.abandoned_redelivered_count).toBe(1);
    expect(result.deferred_bodies).toEqual(['defer-me']);
    expect(result.dead_lettered).toEqual([{ body: 'dead-letter-me', reason: 'poison', description: 'cannot parse' }]);
    expect(b.serviceBus.messages('queue')).toEqual([]);
    expect(b.serviceBus.messages('queue/$DeadLetterQueue')).toEqual([]);
    const states = b
      .capturedFrames()
      .filter((f) => f.performative === 'disposition')
      .map((f) => f.fields.state);
    expect(states).toContainEqual({ modified: { 'delivery-failed': { boolean: true }, 'undeliverable-here': { boolean: false } } });
    expect(states).toContainEqual({ modified: { 'delivery-failed': { boolean: true }, 'undeliverable-here': { boolean: true } } });
    expect(states).toContainEqual({
      rejected: {
        error: {
          error: {
            condition: { symbol: 'com.microsoft:dead-letter' },
            description: { string: 'cannot parse' },
            info: { map: { 'string:DeadLetterReason': { string: 'poison' }, 'string:DeadLetterErrorDescription': { string: 'cannot parse' } } },
          },
        },
      },
    });
    expect(managementOps(b.capturedFrames())).toEqual(['com.microsoft:receive-by-sequence-number', 'com.microsoft:update-disposition']);
  });

  it('schedules messages (operation and annotation), cancels one, peeks them as scheduled and receives them when due', async () => {
    const b = await broker();
    const run = await sample('schedule', b);
    const result = last(run) as { kept: number[]; cancelled: number[]; early: number; peeked: Array<{ body: string; state: number }>; delivered: string[] };
    expect(result.kept).toHaveLength(1);
    expect(result.cancelled).toHaveLength(1);
    expect(result.early).toBe(0);
    expect(result.peeked.map((p) => [p.body, p.state])).toEqual([
      ['scheduled-kept', 2],
      ['scheduled-by-annotation', 2],
    ]);
    expect(result.delivered).toEqual(['scheduled-by-annotation', 'scheduled-kept']);
    expect(managementOps(b.capturedFrames())).toEqual([
      'com.microsoft:schedule-message',
      'com.microsoft:schedule-message',
      'com.microsoft:cancel-scheduled-message',
      'com.microsoft:peek-message',
    ]);
  });

  it('peeks without locking: from a sequence number, no lock tokens, not settleable', async () => {
    const b = await broker();
    const run = await sample('peek', b);
    expect(last(run)).toEqual({
      bodies: ['peek-0', 'peek-1', 'peek-2'],
      sequence_numbers: [1, 2, 3],
      from_second: [2, 3],
      lock_tokens: [null, null, null],
      settle_error: 'ValueError',
    });
    expect(b.serviceBus.counts('queue')).toEqual({ active: 3, deferred: 0, scheduled: 0, locked: 0 });
  });

  it('keeps message and session locks with AutoLockRenewer past the lock duration; an expired lock cannot be renewed', async () => {
    const b = await broker({ lockDuration: 3000 });
    const run = await sample('lock_renewal', b, { env: { SB_LOCK_SECONDS: '3' } });
    expect(last(run)).toEqual({ renewed: 'renewed', expired_renew: 'MessageLockLostError', session_renewed: 'session-renewed' });
    expect(managementOps(b.capturedFrames())).toContain('com.microsoft:renew-lock');
    expect(managementOps(b.capturedFrames())).toContain('com.microsoft:renew-session-lock');
    // The message whose lock expired went back to the queue with one more delivery attempt.
    expect(bodiesOf(b, 'queue')).toEqual(['not-renewed']);
    expect(b.serviceBus.messages('queue')[0]?.deliveryCount).toBeGreaterThanOrEqual(1);
  });

  it('refuses a token signed with the wrong key: the client raises an authentication error', async () => {
    const b = await broker();
    const run = await runSample('auth_failure', b);
    expect(run.code, run.stderr).toBe(0);
    expect(last(run).error).toBe('ServiceBusAuthenticationError');
    expect(b.serviceBus.messages('queue')).toEqual([]);
  });

  it("generates the same SAS token as azure-servicebus's credential for the same key, resource and expiry, and the broker accepts both", async () => {
    const now = Math.floor(Date.now() / 1000);
    const resource = 'sb://localhost:5671/queue';
    const run = await runPython('sas_token', [resource, KEY_NAME, KEY, String(now)]);
    expect(run.code, run.stderr).toBe(0);
    const python = String(last(run).token);
    const ours = generateSasToken(resource, KEY_NAME, KEY, now + 3600);
    expect(last(run).expires_on).toBe(now + 3600);
    expect(parseSasToken(ours)).toEqual(parseSasToken(python));
    // uamqp percent-encodes the signature with lower-case hex; the decoded tokens are identical.
    expect(decodeURIComponent(ours)).toBe(decodeURIComponent(python));
    const keys = { [KEY_NAME]: KEY };
    expect(validateSasToken(python, keys, now * 1000).ok).toBe(true);
    expect(validateSasToken(ours, keys, now * 1000).ok).toBe(true);
    expect(validateSasToken(python, { [KEY_NAME]: 'another-key' }, now * 1000)).toMatchObject({ ok: false, status: 401, description: expect.stringMatching(/^InvalidSignature/) });
    expect(validateSasToken(python, keys, (now + 3600) * 1000)).toMatchObject({ ok: false, status: 401, description: expect.stringMatching(/^ExpiredToken/) });
  });
});
