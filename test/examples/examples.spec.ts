// Every program in examples/ runs, on its own EmbeddedBroker, and exits 0: examples cannot drift
// from the library. (They are type-checked with the rest of the repository by `npm run typecheck`.)
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { forEachPeer, usePeer } from '../support/peers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = readdirSync(`${root}examples`).filter((f) => f.endsWith('.ts')).sort();

/** What each example must print, beyond exiting 0. */
const expected: Record<string, RegExp[]> = {
  'demo.ts': [/sent\s+accepted 10000/, /every order processed, none lost/],
  'settlementStrategies.ts': [/accepted 49/, /dead-lettered: .*"id":13/],
  'reconnectFailover.ts': [/outcomes\s+200 \(accepted 200/, /reconnecting/],
  'streamsPipeline.ts': [/invoices 1000 queued/],
  'forAwait.ts': [/handled 6, then break/, /AbortError \(reason: TimeoutError\)/],
  'amqplibTour.ts': [/basic_get returned "first"; accepting it/, /left on \S+: \["second","third"\]/, /processed \["m0","m1","m2","-1"\], then cancelled/, /still queued: \["m4","m5"\]/],
  'connectUrl.ts': [/received: \{"id":1,"item":"book"\} from orders/, /failover: received 'via failover' after 2 attempts/, /refused \(sasl\.allowInsecure\)/],
  'connectJson.ts': [/"password": "\*\*\*"/, /received: 'configured by connect\.json'/, /did you mean 'sasl\.allow_insecure'\?/],
  'tls.ts': [/received 'over TLS'/, /SELF_SIGNED_CERT_IN_CHAIN/, /received 'as order-service'/],
  'serviceBusConnectionString.ts': [/default address \(EntityPath\) = orders/, /EmbeddedBroker: received 'hello from the SAS key' as RootManageSharedAccessKey/],
  'helloWorld.ts': [/^Hello World!$/m],
  'send.ts': [
    /^SEND: Opened sender for target address 'queue1'$/m,
    /^SEND: Sent message 'hello'$/m,
    /holds 1 message on 'queue1'/,
  ],
  'receive.ts': [
    /^RECEIVE: Created receiver for source address 'queue1'$/m,
    /^RECEIVE: Received message 'hello'\nRECEIVE: Received message 'bonjour'\nRECEIVE: Received message 'hallo'\n/m,
  ],
  'topics.ts': [
    /billing {2}received 'order 1 placed', 'order 2 placed', 'order 3 placed'$/m,
    /shipping received 'order 1 placed', 'order 2 placed', 'order 3 placed'$/m,
    /audit {4}received 'order 4 placed'$/m,
    /archive {2}received 'order 7 placed', then detached/,
    /archive {2}attached again and received 'order 8 placed', 'order 9 placed'$/m,
  ],
  'requestResponse.ts': [
    /^the first request => THE FIRST REQUEST$/m,
    /^über straße => ÜBER STRASSE$/m,
    /server: 4 requests answered from 'requests'; replies went to 'dynamic\/[0-9a-f-]+'/,
    /broker: 0 requests left on 'requests', 0 unsettled/,
    /server: responses through the anonymous relay/,
  ],
  'serviceBusSend.ts': [/streamed: order-1 accepted, order-2 accepted, order-3 accepted/, /the queue holds 6 messages/],
  'serviceBusReceive.ts': [/the stream ended after 3 messages/, /batch of 5: /],
  'serviceBusSettle.ts': [/dead-letter me → rejected/, /deferred, received by sequence number \d+: defer me/, /dead-lettered: dead-letter me/],
  'serviceBusSessions.ts': [/session customer-1 state: processed 2 messages/, /next available session customer-2/, /NoActiveSessionError/],
  'serviceBusSchedule.ts': [/cancelled — the queue: \{"active":0,"deferred":0,"scheduled":0/, /received: here now; arrives a second later/],
  'serviceBusTopics.ts': [/subscription audit received: Data/],
  'serviceBusSaslPlain.ts': [/received with SASL PLAIN: Hello World!/],
  'serviceBusLockRenewal.ts': [/long job 2: .* completed/, /session long-running: 'session job' completed/],
};

describe('examples', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(2);
  });

  it('says what every example must print', () => {
    expect(examples.filter((file) => (expected[file] ?? []).length === 0)).toEqual([]);
  });

  it.each(examples)('%s runs and exits 0', async (file) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${file}`], {
      cwd: root,
      timeout: 90_000,
      env: { ...process.env, DEBUG: '' },
    });
    expect(stdout.trim().length).toBeGreaterThan(0);
    for (const pattern of expected[file] ?? []) expect(stdout).toMatch(pattern);
  }, 120_000);
});

/** Runs `examples/FILE ARGS…` and resolves with what it printed; rejects when it exits other than 0. */
async function example(file: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${file}`, ...args], {
    cwd: root,
    timeout: 60_000,
    env: { ...process.env, DEBUG: '' },
  });
  return stdout;
}

/** The lines of `stdout` that start with `prefix`. */
const lines = (stdout: string, prefix: string) => stdout.split('\n').filter((line) => line.startsWith(prefix));

// The command-line examples against a real broker, with a URL as their users run them.
forEachPeer(
  'examples against a broker URL',
  (peer) => {
    const broker = usePeer(peer);

    it('send.ts puts a message on a queue and receive.ts with a count prints it, then stops', async () => {
      const queue = peer.queue('examples');
      const bodies = ['first message', `second, with spaces and 'quotes'`, 'third'];
      for (const body of bodies) {
        const sent = await example('send.ts', broker.url, queue, body);
        expect(lines(sent, 'SEND:')).toEqual([`SEND: Opened sender for target address '${queue}'`, `SEND: Sent message '${body}'`]);
      }
      // A count of 2: two messages, then the receiver stops (and exits) with the third still queued.
      const two = await example('receive.ts', broker.url, queue, '2');
      expect(lines(two, 'RECEIVE:')).toEqual([
        `RECEIVE: Created receiver for source address '${queue}'`,
        `RECEIVE: Received message '${bodies[0]}'`,
        `RECEIVE: Received message '${bodies[1]}'`,
      ]);
      const rest = await example('receive.ts', broker.url, queue, '1');
      expect(lines(rest, 'RECEIVE: Received')).toEqual([`RECEIVE: Received message '${bodies[2]}'`]);
    }, 120_000);

    it('send.ts and receive.ts print their usage and exit 1 when arguments are missing', async () => {
      await expect(example('send.ts', broker.url, 'queue1')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('Usage: send.ts <connection-url> <address> <message-body>') });
      await expect(example('receive.ts', broker.url)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('Usage: receive.ts <connection-url> <address> [<message-count>]') });
    }, 60_000);

    it('helloWorld.ts receives what it sent', async () => {
      expect(await example('helloWorld.ts', broker.url, peer.queue('examples'))).toMatch(/^Hello World!$/m);
    }, 60_000);

    it('topics.ts: every subscriber gets a copy, and routing-key patterns pick what they match', async () => {
      const stdout = await example('topics.ts', broker.url);
      expect(stdout).toMatch(/billing {2}received 'order 1 placed', 'order 2 placed', 'order 3 placed'$/m);
      expect(stdout).toMatch(/shipping received 'order 1 placed', 'order 2 placed', 'order 3 placed'$/m);
      expect(stdout).toMatch(/audit {4}received 'order 4 placed'$/m);
      expect(stdout).toMatch(/\.\*\.eu +received 'order 5 placed in the EU', 'order 5 shipped in the EU'$/m);
      expect(stdout).toMatch(/\.placed\.# +received 'order 5 placed in the EU', 'order 6 placed in the US'$/m);
    }, 60_000);

    it('requestResponse.ts: every request gets its own response through a named reply queue', async () => {
      const stdout = await example('requestResponse.ts', broker.url, peer.queue('requests'));
      expect(stdout).toMatch(/^the first request => THE FIRST REQUEST$/m);
      expect(stdout).toMatch(/^Another one, with punctuation! => ANOTHER ONE, WITH PUNCTUATION!$/m);
      expect(stdout).toMatch(/^über straße => ÜBER STRASSE$/m);
      expect(stdout).toMatch(/server: 4 requests answered/);
    }, 60_000);
  },
  { only: ['rabbitmq'] },
);
