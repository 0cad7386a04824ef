/**
 * Configuration end to end (issue 5): connect.json, SASL (PLAIN, ANONYMOUS, EXTERNAL, the insecure
 * PLAIN guard), TLS against EmbeddedBroker and RabbitMQ's TLS listener, and a whole session with
 * `rhea*,rhea-rx*` debug logging captured to prove no secret is written anywhere (C3).
 *
 * Certificates are made by openssl in a temp dir (EC P-256, ~0.1 s); the TLS tests are skipped, with
 * the reason in their names, when openssl is missing. RabbitMQ's TLS listener runs on a node of its
 * own, started by this file (scripts/rabbitmq.sh with RABBITMQ_TLS_PORT) and stopped after it.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { format, inspect } from 'node:util';
import createDebug from 'debug';
import { lastValueFrom, of } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import {
  AmqpError,
  AuthenticationError,
  type Client,
  type ClientOptions,
  type ClientState,
  ConfigError,
  ConnectionLostError,
  createClient,
  SendFailedError,
} from 'rhea-rx';
import { EmbeddedBroker, FaultProxy } from 'rhea-rx/testing';
import { sleep, waitFor } from '../support/embedded.js';
import { brokersRequired, ensurePeerAlive, forEachPeer, type Peer, rabbitmqctl } from '../support/peers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Helpers

/** Clients made by a test, closed after it. */
const clients: Client[] = [];
function client(options: string | ClientOptions | undefined): Client {
  const made = options === undefined ? createClient() : createClient(options);
  clients.push(made);
  return made;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close({ timeout: 2000 }).catch(() => undefined)));
});

/** Every state the client goes through, from now on. */
function recordStates(c: Client): ClientState[] {
  const states: ClientState[] = [];
  c.state$.subscribe((s) => states.push(s));
  return states;
}

/** Sends one message to `address` and reads it back: proves the connection works end to end. */
async function roundTrip(c: Client, address: string, body = `hello ${address}`): Promise<void> {
  const outcome = await lastValueFrom(of(body).pipe(c.send(address)));
  expect(outcome.state).toBe('accepted');
  const delivery = await c.receiveOne<string>(address, { timeout: 5000 });
  expect(delivery?.body).toBe(body);
  delivery?.accept();
}

/** Sends one message and returns the error that ended the connection attempt (the send's cause). */
async function connectFailure(c: Client, address = 'q'): Promise<AmqpError> {
  const failure = await lastValueFrom(of('x').pipe(c.send(address))).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(SendFailedError);
  const cause = (failure as SendFailedError).cause;
  expect(cause).toBeInstanceOf(AmqpError);
  return cause as AmqpError;
}

/** Asserts the client made exactly one connection attempt and is not retrying. */
async function expectOneAttempt(states: ClientState[]): Promise<void> {
  // The first retry would come after 100 ms (the default backoff): wait past it.
  await sleep(300);
  expect(states.map((s) => s.status)).toEqual(['idle', 'connecting', 'idle']);
  expect(Math.max(...states.map((s) => s.attempt))).toBe(1);
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

let tempRoot: string;
beforeAll(() => {
  tempRoot = mkdtempSync(join(tmpdir(), 'rhea-rx-config-'));
});
afterAll(() => {
  rmSync(tempRoot, { recursive: true, force: true });
});

/** Writes `text` to a fresh connect.json in the temp dir and points MESSAGING_CONNECT_FILE at it. */
let connectFiles = 0;
function useConnectJson(text: string): string {
  const dir = join(tempRoot, `connect-${(connectFiles += 1)}`);
  mkdirSync(dir);
  const file = join(dir, 'connect.json');
  writeFileSync(file, text);
  vi.stubEnv('MESSAGING_CONNECT_FILE', file);
  return file;
}
afterEach(() => {
  vi.unstubAllEnvs();
});

// ---------------------------------------------------------------------------------------------
// Certificates

const opensslMissing = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'openssl is not installed';
  }
})();

interface Pki {
  readonly dir: string;
  /** Paths. */
  readonly caPath: string;
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
  /** A client certificate from a CA the broker does not trust. */
  readonly rogueCertPath: string;
  readonly rogueKeyPath: string;
  /** Contents. */
  readonly ca: Buffer;
  readonly serverCert: Buffer;
  readonly serverKey: Buffer;
  /** A server certificate for `localhost` only (no IP address), and its key. */
  readonly localhostOnlyCert: Buffer;
  readonly localhostOnlyKey: Buffer;
}

/** A CA, a server certificate for localhost and 127.0.0.1, a client certificate, and a rogue pair. */
function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const serial = () => `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`;
  const issue = (name: string, subject: string, ca: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', serial(), '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
  };
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=rhea-rx test CA');
  ssl('req', '-x509', ...ec, '-keyout', 'rogue-ca.key', '-out', 'rogue-ca.pem', '-days', '2', '-subj', '/CN=rogue CA');
  issue('server', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('localhost-only', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', '/CN=rhea-rx-client', 'ca', 'extendedKeyUsage=clientAuth\n');
  issue('rogue', '/CN=rhea-rx-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const path = (name: string) => join(dir, name);
  return {
    dir,
    caPath: path('ca.pem'),
    serverCertPath: path('server.pem'),
    serverKeyPath: path('server.key'),
    clientCertPath: path('client.pem'),
    clientKeyPath: path('client.key'),
    rogueCertPath: path('rogue.pem'),
    rogueKeyPath: path('rogue.key'),
    ca: readFileSync(path('ca.pem')),
    serverCert: readFileSync(path('server.pem')),
    serverKey: readFileSync(path('server.key')),
    localhostOnlyCert: readFileSync(path('localhost-only.pem')),
    localhostOnlyKey: readFileSync(path('localhost-only.key')),
  };
}

let pkiCache: Pki | undefined;
/** The certificates, made once per file on first use. */
function pki(): Pki {
  pkiCache ??= makePki(join(tempRoot, 'pki'));
  return pkiCache;
}

/** Resolves with the next process warning with `code`. */
function nextWarning(code: string): Promise<Error & { code?: string }> {
  return new Promise((resolve) => {
    const listener = (warning: Error & { code?: string }) => {
      if (warning.code !== code) return;
      process.off('warning', listener);
      resolve(warning);
    };
    process.on('warning', listener);
  });
}

// ---------------------------------------------------------------------------------------------
// connect.json

describe('connect.json', () => {
  const PASSWORD = 'c0nnect-Json-pw';
  let broker: EmbeddedBroker;
  beforeEach(async () => {
    broker = await EmbeddedBroker.start({ users: { alice: PASSWORD } });
  });
  afterEach(async () => {
    await broker.stop();
  });

  it('createClient() with no argument uses the file MESSAGING_CONNECT_FILE names, comments and all', async () => {
    useConnectJson(`// Written by the configuration test.
{
  "scheme": "amqp", /* plain TCP: the broker is on loopback */
  "host": "127.0.0.1",
  "port": ${broker.port},
  // PLAIN, from a user of the EmbeddedBroker
  "user": "alice",
  "password": "${PASSWORD}",
  "sasl": { "mechanisms": "PLAIN" }
}
`);
    const c = client(undefined);
    await roundTrip(c, 'from-connect-json');
    expect(broker.connectionCount()).toBe(1);
    const states = recordStates(c);
    expect(states[0]).toMatchObject({ status: 'open', url: `amqp://alice:***@127.0.0.1:${broker.port}` });
  });

  it('a port given as a string and sasl.allow_insecure are read too', async () => {
    useConnectJson(
      JSON.stringify({ scheme: 'amqp', host: '127.0.0.1', port: String(broker.port), user: 'alice', password: PASSWORD, sasl: { allow_insecure: false } }),
    );
    await roundTrip(client(undefined), 'port-string');
  });

  it('an unknown key is a ConfigError naming the key and the file, before anything connects', () => {
    const file = useConnectJson(`{ "host": "127.0.0.1", "port": ${broker.port}, "hots": "x", "password": "${PASSWORD}" }`);
    const error = configError(() => createClient());
    expect(error.option).toBe('hots');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/unknown key 'hots'.*did you mean 'host'\?/);
    expect(error.message).not.toContain(PASSWORD);
    expect(broker.connectionCount()).toBe(0);
  });

  it('a key of the wrong type names the key and the file', () => {
    const file = useConnectJson('{ "sasl": { "mechanisms": 5 } }');
    const error = configError(() => createClient());
    expect(error.option).toBe('sasl.mechanisms');
    expect(error.message.startsWith(`${file}: `)).toBe(true);
  });

  it.each<[string, string, string, RegExp]>([
    [
      'a password in clear text to a remote host',
      '{ "scheme": "amqp", "host": "10.20.30.40", "user": "alice", "password": "S3cret-in-file" }',
      'sasl.allow_insecure',
      /Refusing to send a password in clear text to 10\.20\.30\.40: use amqps:\/\/, or set sasl\.allow_insecure: true/,
    ],
    ['a CA file that does not exist', '{ "host": "localhost", "tls": { "ca": "/no/such/ca.pem" } }', 'tls.ca', /cannot read the file '\/no\/such\/ca\.pem' \(ENOENT\)/],
    ['a mechanism rhea-rx cannot do', '{ "scheme": "amqp", "host": "127.0.0.1", "sasl": { "mechanisms": "SCRAM-SHA-256" } }', 'sasl.mechanisms', /expected mechanisms from PLAIN, ANONYMOUS, EXTERNAL/],
    ['a client certificate file that does not exist', '{ "host": "localhost", "tls": { "cert": "/no/such/cert.pem", "key": "/no/such/key.pem" } }', 'tls.cert', /cannot read the file '\/no\/such\/cert\.pem'/],
  ])('%s is a ConfigError naming the file and its key', (_name, text, option, message) => {
    const file = useConnectJson(text);
    const error = configError(() => createClient());
    expect(error.option).toBe(option);
    expect(error.message.startsWith(`${file}: `)).toBe(true);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('S3cret-in-file');
  });

  it('MESSAGING_CONNECT_FILE naming a missing file is a ConfigError, not a fall-back', () => {
    vi.stubEnv('MESSAGING_CONNECT_FILE', join(tempRoot, 'no-such-connect.json'));
    expect(configError(() => createClient()).option).toBe('MESSAGING_CONNECT_FILE');
  });

  it('a wrong password in the file fails as AuthenticationError without showing it', async () => {
    useConnectJson(JSON.stringify({ scheme: 'amqp', host: '127.0.0.1', port: broker.port, user: 'alice', password: 'Wr0ng-json-pw' }));
    const c = client(undefined);
    const error = await connectFailure(c);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(`${error.message}${JSON.stringify(error)}`).not.toContain('Wr0ng-json-pw');
  });
});

// ---------------------------------------------------------------------------------------------
// SASL

/** A PLAIN user on one peer: an EmbeddedBroker user, or a RabbitMQ user made with rabbitmqctl. */
interface PlainPeer {
  url: string;
  user: string;
  password: string;
  queue(base: string): string;
}

function usePlainPeer(peer: Peer): PlainPeer {
  const target: PlainPeer = { url: '', user: '', password: '', queue: (base) => peer.queue(base) };
  let broker: EmbeddedBroker | undefined;
  if (peer.real) {
    beforeAll(async () => {
      // Characters a URL must percent-encode, so the decoding is exercised too.
      target.user = `cfg-${process.pid}-${Date.now().toString(36)}`;
      target.password = `pl@in/pw:${Math.random().toString(36).slice(2, 10)}+=`;
      await rabbitmqctl('add_user', target.user, target.password);
      await rabbitmqctl('set_permissions', '-p', '/', target.user, '.*', '.*', '.*');
    }, 60_000);
    afterAll(async () => {
      if (target.user) await rabbitmqctl('delete_user', target.user).catch(() => undefined);
    }, 60_000);
    beforeEach(async () => {
      await ensurePeerAlive(peer);
      target.url = peer.url;
    });
  } else {
    beforeEach(async () => {
      target.user = 'alice';
      target.password = 'pl@in/pw:embedded+=';
      broker = await EmbeddedBroker.start({ users: { alice: target.password } });
      target.url = broker.url;
    });
    afterEach(async () => {
      await broker?.stop();
      broker = undefined;
    });
  }
  return target;
}

forEachPeer(
  'SASL PLAIN',
  (peer) => {
    const target = usePlainPeer(peer);

    it('connects with a user name and password given as options', async () => {
      const c = client({ url: target.url, username: target.user, password: target.password, sasl: { mechanisms: ['PLAIN'] } });
      await roundTrip(c, target.queue('plain'));
      if (peer.real) expect(c.peer?.product).toBe('RabbitMQ');
    });

    it('connects with the user name and password percent-encoded in the URL', async () => {
      const url = target.url.replace('amqp://', `amqp://${encodeURIComponent(target.user)}:${encodeURIComponent(target.password)}@`);
      await roundTrip(client(url), target.queue('plain-url'));
    });

    it('a wrong password is an AuthenticationError, tried exactly once', async () => {
      // The proxy counts TCP connections: a retry would show as a second one.
      const proxy = await FaultProxy.start({ target: target.url });
      try {
        const c = client({ url: proxy.url, username: target.user, password: 'Wr0ng-Pa55' });
        const states = recordStates(c);
        const error = await connectFailure(c, target.queue('wrong-password'));
        expect(error).toBeInstanceOf(AuthenticationError);
        expect(error.retryable).toBe(false);
        expect(error.condition).toBe('amqp:unauthorized-access');
        expect(error.message).toMatch(/Authentication failed/);
        await expectOneAttempt(states);
        expect(proxy.stats().connections).toBe(1);
        expect(states.at(-1)?.error).toBe(error);
        for (const text of [error.message, JSON.stringify(error), JSON.stringify(states)]) {
          expect(text).not.toContain('Wr0ng-Pa55');
        }
      } finally {
        await proxy.stop();
      }
    }, 20_000);
  },
  { needs: ['saslPlain'] },
);

describe('SASL mechanisms and the insecure-PLAIN guard', () => {
  it("sasl.mechanisms ['ANONYMOUS'] against a peer that demands PLAIN fails clearly, once", async () => {
    const broker = await EmbeddedBroker.start({ users: { alice: 'pw-for-alice' } });
    try {
      const c = client({ url: broker.url, username: 'alice', password: 'pw-for-alice', sasl: { mechanisms: ['ANONYMOUS'] } });
      const states = recordStates(c);
      const error = await connectFailure(c);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/No suitable mechanism; server supports PLAIN/);
      await expectOneAttempt(states);
    } finally {
      await broker.stop();
    }
  });

  it('only the listed mechanisms are offered: PLAIN credentials with mechanisms [ANONYMOUS] are not sent', async () => {
    const broker = await EmbeddedBroker.start();
    try {
      // The broker accepts ANONYMOUS; the password never leaves the client.
      await roundTrip(client({ url: broker.url, username: 'bob', password: 'never-sent', sasl: { mechanisms: ['ANONYMOUS'] } }), 'anon');
    } finally {
      await broker.stop();
    }
  });

  describe('PLAIN in clear text to a host that is not loopback', () => {
    let netConnect: MockInstance;
    let tlsConnect: MockInstance;
    beforeEach(() => {
      // rhea dials through these (looked up at each call), so any connection attempt shows here.
      netConnect = vi.spyOn(net, 'connect');
      tlsConnect = vi.spyOn(tls, 'connect');
    });
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it.each<[string, string | ClientOptions]>([
      ['the URL string', 'amqp://u:p@10.20.30.40'],
      ['options with a short connect timeout', { url: 'amqp://u:S3cret-pw@10.20.30.40', connectTimeout: 50 }],
      ['host options', { host: '10.20.30.40', username: 'u', password: 'S3cret-pw', connectTimeout: 50 }],
      ['a failover list with one remote peer', { urls: ['amqp://u:S3cret-pw@127.0.0.1', 'amqp://u:S3cret-pw@10.20.30.40'], connectTimeout: 50 }],
      ['a host name', 'amqp://u:S3cret-pw@broker.example.com'],
    ])('throws ConfigError sasl.allowInsecure synchronously from createClient for %s, and dials nothing', async (_name, options) => {
      const error = configError(() => createClient(options as ClientOptions));
      expect(error.option).toBe('sasl.allowInsecure');
      expect(error.message).toMatch(/Refusing to send a password in clear text to (10\.20\.30\.40|broker\.example\.com): use amqps:\/\/, or set sasl\.allowInsecure: true/);
      expect(error.message).not.toContain('S3cret-pw');
      expect(error.retryable).toBe(false);
      await sleep(100);
      expect(netConnect).not.toHaveBeenCalled();
      expect(tlsConnect).not.toHaveBeenCalled();
    });

    it('with sasl.allowInsecure: true the client is made, and connects to nothing until used', async () => {
      const c = client({ url: 'amqp://u:p@10.20.30.40', sasl: { allowInsecure: true }, connectTimeout: 50 });
      expect(c).toBeDefined();
      const states = recordStates(c);
      await sleep(100);
      expect(states).toEqual([{ status: 'idle', attempt: 0, url: 'amqp://u:***@10.20.30.40:5672' }]);
      expect(netConnect).not.toHaveBeenCalled();
      await c.close();
      expect(netConnect).not.toHaveBeenCalled();
    });

    it('PLAIN to loopback, ANONYMOUS, and no credentials are allowed in clear text', async () => {
      for (const options of [
        'amqp://u:p@127.0.0.1',
        'amqp://u:p@localhost',
        'amqp://u:p@[::1]',
        'amqp://u@10.20.30.40',
        'amqp://10.20.30.40',
        'amqps://u:p@10.20.30.40',
      ]) {
        expect(() => client(options)).not.toThrow();
      }
      await sleep(50);
      expect(netConnect).not.toHaveBeenCalled();
      expect(tlsConnect).not.toHaveBeenCalled();
    });

    it('(control) a client that is used does dial through net.connect', async () => {
      const broker = await EmbeddedBroker.start();
      try {
        await roundTrip(client(broker.url), 'control');
        expect(netConnect).toHaveBeenCalledTimes(1);
      } finally {
        await broker.stop();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// TLS against EmbeddedBroker

describe.skipIf(opensslMissing !== undefined)(`TLS against EmbeddedBroker${opensslMissing ? ` [skipped: ${opensslMissing}]` : ''}`, () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    const { serverKey, serverCert } = pki();
    broker = await EmbeddedBroker.start({ tls: { key: serverKey, cert: serverCert } });
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('connects with tls.ca as a path', async () => {
    const c = client({ url: broker.url, tls: { ca: pki().caPath } });
    expect(broker.url).toMatch(/^amqps:\/\/localhost:\d+$/);
    await roundTrip(c, 'tls-ca-path');
  });

  it('connects with tls.ca as a Buffer, and as PEM text in a list', async () => {
    await roundTrip(client({ url: broker.url, tls: { ca: pki().ca } }), 'tls-ca-buffer');
    await roundTrip(client({ url: broker.url, tls: { ca: [pki().ca.toString('utf8')] } }), 'tls-ca-text');
  });

  it('connects to 127.0.0.1, checking the certificate against the address, with no warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await roundTrip(client({ url: `amqps://127.0.0.1:${broker.port}`, tls: { ca: pki().caPath } }), 'tls-ip');
      await sleep(10);
      // Node warns (DEP0123) when an IP address is used as the SNI server name.
      expect(warnings.map((w) => w.message)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('without the CA fails with a ConnectionLostError that is not retried', async () => {
    const c = client({ url: broker.url });
    const states = recordStates(c);
    const error = await connectFailure(c);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/certificate/);
    await expectOneAttempt(states);
  });

  it('with the wrong host name (servername) fails with a ConnectionLostError that is not retried', async () => {
    const c = client({ url: broker.url, tls: { ca: pki().caPath, servername: 'wrong.example.com' } });
    const states = recordStates(c);
    const error = await connectFailure(c);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/TLS failed.*wrong\.example\.com.*ERR_TLS_CERT_ALTNAME_INVALID/);
    await expectOneAttempt(states);
  });

  it('an IP address the certificate does not name fails too', async () => {
    const other = await EmbeddedBroker.start({ tls: { key: pki().localhostOnlyKey, cert: pki().localhostOnlyCert } });
    try {
      await roundTrip(client({ url: other.url, tls: { ca: pki().caPath } }), 'localhost-only');
      const error = await connectFailure(client({ url: `amqps://127.0.0.1:${other.port}`, tls: { ca: pki().caPath } }));
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    } finally {
      await other.stop();
    }
  });

  it('verify: false connects without the CA and emits the RHEA_RX_TLS_VERIFY_OFF warning', async () => {
    const warning = nextWarning('RHEA_RX_TLS_VERIFY_OFF');
    const c = client({ url: broker.url, tls: { verify: false } });
    const emitted = await warning;
    expect(emitted.message).toMatch(/TLS certificate verification is off for localhost/);
    await roundTrip(c, 'tls-verify-off');
  });

  it('connect.json with scheme amqps and tls.ca connects', async () => {
    useConnectJson(`{
  // amqps is the default scheme; the CA comes from a file
  "host": "localhost",
  "port": ${broker.port},
  "tls": { "ca": "${pki().caPath}" }
}`);
    await roundTrip(client(undefined), 'tls-connect-json');
  });

  it('connect.json without tls.ca fails on the certificate (verification is on by default)', async () => {
    useConnectJson(`{ "host": "localhost", "port": ${broker.port} }`);
    const error = await connectFailure(client(undefined));
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error.retryable).toBe(false);
  });

  describe('SASL EXTERNAL with a client certificate', () => {
    let external: EmbeddedBroker;
    beforeAll(async () => {
      const { serverKey, serverCert, ca } = pki();
      external = await EmbeddedBroker.start({ tls: { key: serverKey, cert: serverCert, ca }, saslExternal: true, allowAnonymous: false });
    });
    afterAll(async () => {
      await external.stop();
    });

    it("sasl.mechanisms ['EXTERNAL'] with tls.cert and tls.key connects", async () => {
      const { caPath, clientCertPath, clientKeyPath } = pki();
      const c = client({ url: external.url, sasl: { mechanisms: ['EXTERNAL'] }, tls: { ca: caPath, cert: clientCertPath, key: clientKeyPath } });
      await roundTrip(c, 'external');
    });

    it('a client certificate alone selects EXTERNAL by default', async () => {
      const { caPath, clientCertPath, clientKeyPath } = pki();
      await roundTrip(client({ url: external.url, tls: { ca: caPath, cert: readFileSync(clientCertPath), key: readFileSync(clientKeyPath) } }), 'external-default');
    });

    it('a certificate the broker does not trust is refused in SASL: AuthenticationError, once', async () => {
      const { caPath, rogueCertPath, rogueKeyPath } = pki();
      const c = client({ url: external.url, sasl: { mechanisms: ['EXTERNAL'] }, tls: { ca: caPath, cert: rogueCertPath, key: rogueKeyPath } });
      const states = recordStates(c);
      const error = await connectFailure(c);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/No suitable mechanism; server supports PLAIN/);
      await expectOneAttempt(states);
    });

    it('EXTERNAL without a client certificate is a ConfigError at createClient', () => {
      const error = configError(() => createClient({ url: external.url, sasl: { mechanisms: ['EXTERNAL'] }, tls: { ca: pki().caPath } }));
      expect(error.option).toBe('sasl.mechanisms');
      expect(error.message).toMatch(/SASL EXTERNAL needs an amqps connection with a client certificate/);
    });

    it('a client without a certificate is not offered EXTERNAL', async () => {
      const c = client({ url: external.url, username: 'anyone', sasl: { mechanisms: ['ANONYMOUS'] }, tls: { ca: pki().caPath } });
      const error = await connectFailure(c);
      expect(error).toBeInstanceOf(AuthenticationError);
      // With a verified certificate the list would read PLAIN,EXTERNAL.
      expect(error.message).toMatch(/No suitable mechanism; server supports PLAIN\)/);
    });

    it('the broker refuses saslExternal without a CA to check certificates against', async () => {
      await expect(EmbeddedBroker.start({ tls: { key: pki().serverKey, cert: pki().serverCert }, saslExternal: true })).rejects.toMatchObject({
        name: 'ConfigError',
        option: 'saslExternal',
      });
    });
  });
});

// ---------------------------------------------------------------------------------------------
// TLS against RabbitMQ's TLS listener (a node of its own)

interface TlsNode {
  readonly port: number;
  readonly tlsPort: number;
}

const CLAIMS = `${ROOT}.brokers/claims`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Claims `port` for this process in the run-wide claim directory (see globalSetup). */
function claim(port: number): boolean {
  mkdirSync(CLAIMS, { recursive: true });
  const path = `${CLAIMS}/rabbitmq-${port}.pid`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // gone meanwhile: try again
      }
      if (holder > 0 && alive(holder)) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

function release(port: number): void {
  rmSync(`${CLAIMS}/rabbitmq-${port}.pid`, { force: true });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function script(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(`${ROOT}scripts/rabbitmq.sh`, args, { timeout: 90_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/** Starts a RabbitMQ node with a TLS listener, on free ports (5761, 5763, …; TLS on the next port). */
async function startTlsNode(p: Pki): Promise<TlsNode> {
  const env = { RABBITMQ_TLS_CA: p.caPath, RABBITMQ_TLS_CERT: p.serverCertPath, RABBITMQ_TLS_KEY: p.serverKeyPath, BROKER_OWNER_PID: String(process.pid) };
  for (let port = 5761; port < 5800; port += 2) {
    if (!claim(port)) continue;
    const ports = [port, port + 1, port + 10000, port + 20000];
    if (!(await Promise.all(ports.map(portFree))).every(Boolean)) {
      release(port);
      continue;
    }
    const started = await script(['start', String(port)], { ...env, RABBITMQ_TLS_PORT: String(port + 1) });
    if (started.code !== 0) {
      await script(['stop', String(port)]);
      release(port);
      throw new Error(`RabbitMQ with TLS did not start on ${port}:\n${started.output}`);
    }
    return { port, tlsPort: port + 1 };
  }
  throw new Error('no free port pair for a RabbitMQ TLS node in 5761–5800');
}

// Without openssl there are no certificates: skipped with the reason, or a failure under REQUIRE_BROKERS=1.
const skipRabbitTls = opensslMissing !== undefined && !brokersRequired();

forEachPeer(
  `TLS against RabbitMQ's TLS listener${skipRabbitTls ? ` [skipped: ${opensslMissing}]` : ''}`,
  () => {
    if (skipRabbitTls) {
      it.skip(`needs openssl to make certificates (${opensslMissing})`, () => {});
      return;
    }
    let node: TlsNode | undefined;
    let stopOnExit: (() => void) | undefined;
    beforeAll(async () => {
      if (opensslMissing) throw new Error(`cannot make certificates: ${opensslMissing}`);
      const t0 = Date.now();
      node = await startTlsNode(pki());
      const started = node;
      stopOnExit = () => spawnSync(`${ROOT}scripts/rabbitmq.sh`, ['stop', String(started.port)], { stdio: 'ignore' });
      process.once('exit', stopOnExit);
      process.stderr.write(`[config.spec] RabbitMQ with TLS on amqps://localhost:${node.tlsPort} in ${Date.now() - t0} ms\n`);
    }, 90_000);
    afterAll(async () => {
      if (stopOnExit) process.off('exit', stopOnExit);
      if (node) {
        await script(['stop', String(node.port)]);
        release(node.port);
      }
    }, 60_000);
    const url = () => `amqps://localhost:${node!.tlsPort}`;

    it('connects with the CA: the peer is RabbitMQ', async () => {
      const c = client({ url: url(), tls: { ca: pki().caPath } });
      await roundTrip(c, `/queue/tls-${process.pid}`);
      expect(c.peer?.product).toBe('RabbitMQ');
    });

    it('connects to 127.0.0.1 with the CA given as a Buffer', async () => {
      const c = client({ url: `amqps://127.0.0.1:${node!.tlsPort}`, tls: { ca: pki().ca } });
      await roundTrip(c, `/queue/tls-ip-${process.pid}`);
    });

    it('fails without the CA: a TLS error, not retried', async () => {
      const c = client({ url: url() });
      const states = recordStates(c);
      const error = await connectFailure(c, '/queue/tls-no-ca');
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/TLS failed for connection to amqps:\/\/localhost:\d+: self-signed certificate in certificate chain/);
      await expectOneAttempt(states);
    });

    it('fails with the wrong host name: a TLS error, not retried', async () => {
      const c = client({ url: url(), tls: { ca: pki().caPath, servername: 'rabbit.example.com' } });
      const states = recordStates(c);
      const error = await connectFailure(c, '/queue/tls-wrong-host');
      expect(error).toBeInstanceOf(ConnectionLostError);
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
      await expectOneAttempt(states);
    });
  },
  { only: ['rabbitmq'] },
);

// ---------------------------------------------------------------------------------------------
// C3: no secret in debug output, state or errors

describe("C3: rhea's frame logs switched on and off at run time", () => {
  const PASSWORD = 'Run-t1me:secret/C3';
  const rheaLog = createRequire(import.meta.url)('rhea/lib/log.js') as Record<string, ((...args: unknown[]) => void) & { namespace?: string }>;
  let savedNamespaces = '';
  let savedLog: typeof createDebug.log;
  beforeAll(() => {
    savedNamespaces = createDebug.disable();
    savedLog = createDebug.log;
  });
  afterAll(() => {
    createDebug.log = savedLog;
    createDebug.disable();
    if (savedNamespaces) createDebug.enable(savedNamespaces);
  });

  it("while off rhea's loggers do nothing (no argument list per frame); debug.enable puts the guard in; debug.disable takes it out", async () => {
    const broker = await EmbeddedBroker.start({ users: { alice: PASSWORD } });
    try {
      await createClient('amqp://127.0.0.1:9').close({ timeout: 0 }); // a client: the hooks are installed
      const quiet = { frames: rheaLog.frames, raw: rheaLog.raw, events: rheaLog.events };
      for (const logger of Object.values(quiet)) {
        expect(logger?.namespace).toBeUndefined(); // not rhea's debug instance
        expect((logger as unknown as { enabled?: boolean }).enabled).toBeFalsy();
      }

      const captured: string[] = [];
      createDebug.log = (...args: unknown[]) => void captured.push(format(...args));
      createDebug.enable('rhea:frames,rhea:raw');
      expect(rheaLog.frames).not.toBe(quiet.frames); // the guard
      expect(rheaLog.frames?.namespace).toBeUndefined();
      expect(rheaLog.raw).not.toBe(quiet.raw);
      expect(rheaLog.events).toBe(quiet.events); // still off
      const c = createClient({ url: broker.url, username: 'alice', password: PASSWORD, reconnect: false });
      await lastValueFrom(of('x').pipe(c.send('c3-runtime')));
      await c.close();
      const log = captured.join('\n');
      expect(log).toMatch(/rhea:frames .*sasl_init/);
      expect(log).not.toMatch(/rhea:events/);
      for (const form of [PASSWORD, Buffer.from(PASSWORD).toString('hex'), [...Buffer.from(PASSWORD)].join(',')]) expect(log).not.toContain(form);

      createDebug.enable('rhea:events');
      expect(rheaLog.events?.namespace).toBe('rhea:events'); // on, and nothing to hide: rhea's own
      createDebug.disable();
      expect(rheaLog.frames).toBe(quiet.frames);
      expect(rheaLog.raw).toBe(quiet.raw);
      expect(rheaLog.events).toBe(quiet.events);

      // debug's switch on an instance reaches rhea's slot too, both ways.
      (rheaLog.events as unknown as { enabled: boolean }).enabled = true;
      expect(rheaLog.events?.namespace).toBe('rhea:events');
      captured.length = 0;
      rheaLog.events?.('switched on');
      (rheaLog.events as unknown as { enabled: boolean }).enabled = false;
      rheaLog.events?.('switched off');
      expect(captured.join('\n')).toMatch(/switched on/);
      expect(captured.join('\n')).not.toMatch(/switched off/);
    } finally {
      await broker.stop();
    }
  });

  it('in a process that never set DEBUG (debug reports `enabled` as undefined there), the loggers are off too', () => {
    // debug leaves `enabled` undefined until a namespace list is set: checked in a fresh process.
    const env = { ...process.env };
    delete env.DEBUG;
    const code = [
      "import { createRequire } from 'node:module';",
      "import { createClient } from 'rhea-rx';",
      "const log = createRequire(import.meta.url)('rhea/lib/log.js');",
      'const before = Object.fromEntries(Object.keys(log).map((k) => [k, log[k]]));',
      "await createClient('amqp://127.0.0.1:9').close({ timeout: 0 });",
      'console.log(JSON.stringify(Object.keys(log).map((k) => [k, before[k].enabled === undefined, log[k] !== before[k], log[k].namespace === undefined])));',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const rows = JSON.parse(run.stdout) as Array<[string, boolean, boolean, boolean]>;
    expect(rows.map(([name]) => name)).toEqual(expect.arrayContaining(['frames', 'raw', 'events', 'flow', 'io', 'message']));
    for (const [name, undefinedBefore, replaced, notDebug] of rows) expect({ name, undefinedBefore, replaced, notDebug }).toEqual({ name, undefinedBefore: true, replaced: true, notDebug: true });
  });
});

describe('C3: a whole session with DEBUG=rhea*,rhea-rx* writes no secret', () => {
  const PASSWORD = 'Pa55-w0rd:C3/session';
  const WRONG = 'Wr0ng-pa55-C3';
  const SAS_KEY = 'Qm9vbXNoYWthbGFrYS1zYXMta2V5LWZvci10ZXN0cw+/AB=';
  const CONNECTION_STRING = `Endpoint=sb://c3-test.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${SAS_KEY};EntityPath=orders`;

  const captured: string[] = [];
  let savedLog: typeof createDebug.log;
  let savedNamespaces = '';
  beforeAll(() => {
    savedLog = createDebug.log;
    savedNamespaces = createDebug.disable();
    createDebug.enable('rhea*,rhea-rx*');
    createDebug.log = (...args: unknown[]) => {
      captured.push(format(...args));
    };
  });
  afterAll(() => {
    createDebug.log = savedLog;
    createDebug.disable();
    if (savedNamespaces) createDebug.enable(savedNamespaces);
  });

  /** Every form a secret could take in a log: as text, URL-encoded, base64, hex, and as a byte list. */
  function forms(secret: string): string[] {
    const bytes = Buffer.from(secret, 'utf8');
    return [secret, encodeURIComponent(secret), bytes.toString('base64'), bytes.toString('hex'), [...bytes].join(',')];
  }

  it('connect, send, receive, a wrong password, a reconnect, a SAS key, connect.json: no secret in any output', async () => {
    const broker = await EmbeddedBroker.start({ users: { alice: PASSWORD, RootManageSharedAccessKey: SAS_KEY } });
    const consoleLines: string[] = [];
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleLines.push(format(...args));
      });
    }
    const states: ClientState[] = [];
    const errors: unknown[] = [];
    try {
      // 1. A password: connect, send, receive.
      const c1 = client({ url: broker.url, username: 'alice', password: PASSWORD });
      c1.state$.subscribe((s) => states.push(s));
      await roundTrip(c1, 'c3');

      // 2. A wrong password.
      const c2 = client({ url: broker.url, username: 'alice', password: WRONG });
      c2.state$.subscribe((s) => states.push(s));
      errors.push(await connectFailure(c2));

      // 3. A reconnect after the broker drops every connection.
      const received: string[] = [];
      const subscription = c1.receive<string>('c3-live').subscribe((d) => {
        received.push(d.body);
        d.accept();
      });
      await waitFor(() => broker.linkCount('c3-live').senders === 1, 'the receiver to attach');
      broker.dropConnections();
      await waitFor(() => states.some((s) => s.status === 'reconnecting'), 'the client to see the drop');
      await waitFor(() => c1.peer !== undefined && states.at(-1)?.status === 'open', 'the client to reconnect');
      await lastValueFrom(of('after the drop').pipe(c1.send('c3-live')));
      await waitFor(() => received.length === 1, 'the message after the reconnect');
      subscription.unsubscribe();

      // 4. A SAS key as the PLAIN password (the Service Bus way), percent-encoded in the URL.
      const c3 = client(`amqp://RootManageSharedAccessKey:${encodeURIComponent(SAS_KEY)}@127.0.0.1:${broker.port}/c3-sas`);
      c3.state$.subscribe((s) => states.push(s));
      await roundTrip(c3, 'c3-sas');

      // 5. The connection string itself (not dialled: there is no Azure here).
      const c4 = client(CONNECTION_STRING);
      c4.state$.subscribe((s) => states.push(s));
      expect(c4.defaultAddress).toBe('orders');
      expect(states.at(-1)).toEqual({ status: 'idle', attempt: 0, url: 'amqps://RootManageSharedAccessKey:***@c3-test.servicebus.windows.net:5671' });

      // 6. Errors that could carry a secret.
      for (const bad of [
        CONNECTION_STRING.replace('SharedAccessKey=', ''),
        CONNECTION_STRING.replace('SharedAccessKey=', 'SharedAccessKey '),
        `amqp://u:${encodeURIComponent(PASSWORD)}@10.20.30.40`,
        `amqp://u:${PASSWORD}@h:99999`,
        `amqps://u:${encodeURIComponent(PASSWORD)}@h?x=1`,
      ]) {
        try {
          createClient(bad);
          throw new Error(`expected ${bad.slice(0, 20)}… to be refused`);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          errors.push(error);
        }
      }
      try {
        createClient({ url: broker.url, username: 'alice', password: PASSWORD, tls: { ca: 'x' } });
      } catch (error) {
        errors.push(error);
      }

      // 7. connect.json with the password.
      useConnectJson(JSON.stringify({ scheme: 'amqp', host: '127.0.0.1', port: broker.port, user: 'alice', password: PASSWORD }));
      const c5 = client(undefined);
      c5.state$.subscribe((s) => states.push(s));
      await roundTrip(c5, 'c3-json');
      useConnectJson(`{ "user": "alice", "passwort": "${PASSWORD}" }`);
      try {
        createClient();
      } catch (error) {
        errors.push(error);
      }

      await Promise.all(clients.splice(0).map((c) => c.close({ timeout: 2000 })));
    } finally {
      await broker.stop();
      vi.restoreAllMocks();
    }

    const log = captured.join('\n');
    // Logging was on: the SASL exchange, frames and the library's own lines are all there.
    expect(log).toMatch(/rhea:frames .*sasl_init/);
    expect(log).toMatch(/rhea:raw .*SENT/);
    expect(log).toMatch(/rhea-rx:connection .*connecting to amqp:\/\/alice:\*\*\*@127\.0\.0\.1/);
    expect(log).toMatch(/rhea-rx:reconnect /);
    expect(states.length).toBeGreaterThan(10);
    expect(errors.length).toBeGreaterThanOrEqual(8);

    const outputs: Record<string, string> = {
      'the debug log': log,
      'the console': consoleLines.join('\n'),
      'state$ values (JSON)': JSON.stringify(states),
      'state$ values (inspect)': inspect(states, { depth: 8 }),
      'error messages': errors.map((e) => String((e as Error).message)).join('\n'),
      'errors (JSON)': JSON.stringify(errors),
      'errors (inspect)': inspect(errors, { depth: 8 }),
    };
    for (const secret of [PASSWORD, WRONG, SAS_KEY]) {
      for (const form of forms(secret)) {
        for (const [where, text] of Object.entries(outputs)) {
          if (text.includes(form)) throw new Error(`${where} holds a secret (as '${form}')`);
        }
      }
    }
  }, 30_000);
});
