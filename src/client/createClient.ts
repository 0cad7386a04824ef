import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname as machineName } from 'node:os';
import { findConnectJson, loadConnectJson } from '../config/connectJson.js';
import { isConnectionString, parseConnectionString } from '../config/connectionString.js';
import { parseUrl } from '../config/parseUrl.js';
import {
  integer,
  invalid,
  isPlainObject,
  oneOf,
  onlyKnownKeys,
  optionalBoolean,
  optionalInteger,
  optionalRecord,
  optionalString,
  optionalStrings,
} from '../config/validate.js';
import { ConfigError } from '../errors/errors.js';
import { log } from '../log.js';
import { type BackoffOptions, delayFor, resolveBackoff } from '../policy/backoff.js';
import { Client } from './Client.js';
import type { ClientState } from './ConnectionManager.js';
import { ConnectionManager, type ConnectTarget, type ReconnectPolicy, type SaslMechanism } from './ConnectionManager.js';
import { MIN_MAX_FRAME_SIZE } from './frameGuard.js';

/** The default max-frame-size: large frames are efficient, and a larger frame is refused rather than buffered. */
const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;

/** TLS settings for `amqps` connections. Certificates and keys are PEM text, Buffers, or paths to PEM files. */
export interface TlsOptions {
  /** Trusted CA certificates, replacing Node's default list. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The client certificate, for mutual TLS and SASL EXTERNAL. */
  cert?: string | Buffer;
  /** The client private key. */
  key?: string | Buffer;
  /** The passphrase of `key`. */
  passphrase?: string;
  /** The server name for SNI and the certificate check. @default the host */
  servername?: string;
  /** Verify the server's certificate. Turning it off emits a process warning. @default true */
  verify?: boolean;
}

/** SASL settings. */
export interface SaslOptions {
  /**
   * The mechanisms that may be negotiated, e.g. `['PLAIN']` (Qpid Proton's `allowed_mechs`):
   * `PLAIN` (user and password), `ANONYMOUS`, `EXTERNAL` (the TLS client certificate).
   * @default PLAIN with a user and password, ANONYMOUS with only a user, EXTERNAL with a client certificate
   */
  mechanisms?: Array<'PLAIN' | 'ANONYMOUS' | 'EXTERNAL'>;
  /**
   * Allow PLAIN over an unencrypted connection to a host that is not loopback. Off, so a password
   * never crosses a network in clear text by accident.
   * @default false
   */
  allowInsecure?: boolean;
}

/** Options of {@link createClient}. Give `url`, `urls`, or `host` (with `port`, `scheme`, `username`, `password`). */
export interface ClientOptions {
  /** `amqp[s]://[user[:password]@]host[:port][/address]`; the path is the default address. */
  url?: string;
  /**
   * Peers to fail over between (C1): tried in order, round robin, moving to the next on every
   * failed attempt. User and password may be in each URL or in `username`/`password`.
   */
  urls?: string[];
  /** The peer's host name or address, instead of a URL. */
  host?: string;
  /** The peer's TCP port, used with `host`. @default 5672 for amqp, 5671 for amqps */
  port?: number;
  /** `amqps` for TLS, `amqp` for plain TCP; used with `host`. @default 'amqp' */
  scheme?: 'amqp' | 'amqps';
  /** The SASL user name (PLAIN) for the URLs; a URL that names a user too is a `ConfigError`. */
  username?: string;
  /** The SASL password (PLAIN), with `username`. Never appears in errors, logs or `state$` (C3). */
  password?: string;
  /** The default address for `receive`, `send` and `sendFrom` (a URL's path sets it too). */
  address?: string;
  /** The hostname in the open frame (a virtual host, e.g. `vhost:name` on RabbitMQ). @default the host */
  hostname?: string;
  /** The AMQP container id. @default a generated UUID */
  containerId?: string;
  /** How long one connection attempt may take, in milliseconds. @default 30000 */
  connectTimeout?: number;
  /** How long `close()` waits for outcomes and the peer's close, in milliseconds. @default 30000 */
  closeTimeout?: number;
  /** Idle timeout announced to the peer, in milliseconds (heartbeats at half of it). @default none */
  idleTimeout?: number;
  /**
   * The largest frame the peer may send, in bytes (AMQP's max-frame-size, at least 512): announced
   * in the open frame, and a larger frame from the peer ends the connection with a
   * `ConnectionLostError` (`amqp:connection:framing-error`) instead of being buffered. Messages
   * larger than this still arrive, split over several frames.
   * @default 1048576 (1 MiB)
   */
  maxFrameSize?: number;
  /**
   * Reconnect after a lost connection or a failed attempt, with exponential backoff: 100 ms
   * doubling to a 10 s cap, optional jitter and attempt limit (C1). Receivers re-attach and get
   * their credit back (R4); unsettled sends are resent (S3). Authentication and authorization
   * failures are never retried (C2). `false` turns it off.
   *
   * The backoff starts over once a connection has stayed open for 5 s. A connection lost sooner
   * continues it (and counts towards `maxAttempts`): a peer that accepts every connection and then
   * drops it is retried at growing intervals, not at a steady `initialDelay`.
   * @default true
   */
  reconnect?: boolean | BackoffOptions;
  /** TLS settings for amqps. */
  tls?: TlsOptions;
  /** SASL settings. */
  sasl?: SaslOptions;
  /** Properties sent in the open frame. @default `{ product: 'rhea-rx', platform, host }` */
  properties?: Record<string, unknown>;
}

const clientKeys = [
  'url',
  'urls',
  'host',
  'port',
  'scheme',
  'username',
  'password',
  'address',
  'hostname',
  'containerId',
  'connectTimeout',
  'closeTimeout',
  'idleTimeout',
  'maxFrameSize',
  'reconnect',
  'tls',
  'sasl',
  'properties',
];
const tlsKeys = ['ca', 'cert', 'key', 'passphrase', 'servername', 'verify'];
const saslKeys = ['mechanisms', 'allowInsecure'];
const mechanismNames = ['PLAIN', 'ANONYMOUS', 'EXTERNAL'] as const;

/** A PEM value: text or a Buffer as given, or the content of the file a string names. */
function pem(value: unknown, path: string): string | Buffer | undefined {
  if (value === undefined) return undefined;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value !== 'string' || value.length === 0) invalid(path, 'PEM text, a Buffer, or a path to a PEM file', value);
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value);
  } catch (error) {
    throw new ConfigError(path, `Invalid option '${path}': cannot read the file '${value}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: error,
    });
  }
}

function resolveTls(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined) return { rejectUnauthorized: true };
  if (!isPlainObject(value)) invalid('tls', 'an options object', value);
  onlyKnownKeys(value, tlsKeys, 'tls');
  const ca = Array.isArray(value.ca) ? value.ca.map((c, i) => pem(c, `tls.ca[${i}]`)) : pem(value.ca, 'tls.ca');
  const cert = pem(value.cert, 'tls.cert');
  const key = pem(value.key, 'tls.key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(cert === undefined ? 'tls.cert' : 'tls.key', "A client certificate needs both 'tls.cert' and 'tls.key'");
  }
  const passphrase = optionalString(value.passphrase, 'tls.passphrase');
  const servername = optionalString(value.servername, 'tls.servername');
  const verify = optionalBoolean(value.verify, 'tls.verify') ?? true;
  if (!verify) {
    process.emitWarning(`TLS certificate verification is off for ${where}: the connection can be intercepted`, {
      code: 'RHEA_RX_TLS_VERIFY_OFF',
    });
  }
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert, key }),
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(servername === undefined ? {} : { servername }),
    rejectUnauthorized: verify,
  };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

function display(scheme: string, host: string, port: number, username: string | undefined): string {
  const user = username === undefined ? '' : `${encodeURIComponent(username)}:***@`;
  const h = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${user}${h}:${port}`;
}

interface Endpoint {
  readonly option: string;
  readonly scheme: 'amqp' | 'amqps';
  readonly host: string;
  readonly port: number;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly path?: string | undefined;
}

/** The peers to connect to, in failover order: `url`, `urls`, or `host`/`port`/`scheme`. */
function resolveEndpoints(options: Record<string, unknown>): Endpoint[] {
  const given = ['url', 'urls', 'host'].filter((key) => options[key] !== undefined);
  if (given.length > 1) throw new ConfigError(given[1]!, `Give one of 'url', 'urls' or 'host', not ${given.join(' and ')}`);
  if ((options.url !== undefined || options.urls !== undefined) && (options.port !== undefined || options.scheme !== undefined)) {
    throw new ConfigError(options.port !== undefined ? 'port' : 'scheme', "'port' and 'scheme' go with 'host'; with a URL, put them in the URL");
  }
  if (options.url !== undefined) return [{ option: 'url', ...parseUrl(options.url as string, 'url') }];
  if (options.urls !== undefined) {
    const urls = options.urls;
    if (!Array.isArray(urls) || urls.length === 0) invalid('urls', 'a non-empty array of URLs', urls);
    return urls.map((url, i) => ({ option: `urls[${i}]`, ...parseUrl(url as string, `urls[${i}]`) }));
  }
  const host = optionalString(options.host, 'host') ?? invalid('url', "a URL, 'urls', or a 'host'", undefined);
  const scheme = oneOf(options.scheme, 'scheme', ['amqp', 'amqps'], 'amqp');
  return [{ option: 'host', scheme, host, port: integer(options.port, 'port', 1, 65535, scheme === 'amqps' ? 5671 : 5672) }];
}

/** `reconnect`: on by default (C1), with the shared backoff policy; `false` turns it off. */
function resolveReconnect(value: unknown): ReconnectPolicy | undefined {
  if (value === false) return undefined;
  const policy = resolveBackoff(value === undefined || value === true ? {} : (value as BackoffOptions), 'reconnect');
  return { delay: (attempt) => (attempt > policy.maxAttempts ? undefined : delayFor(policy, attempt)) };
}

/**
 * The SASL mechanisms one peer may negotiate, or undefined for no SASL layer. Refuses PLAIN in
 * clear text to a host that is not loopback unless `allowInsecure` (the password never crosses a
 * network unencrypted by accident).
 */
function resolveSasl(value: unknown, endpoint: Endpoint, user: string | undefined, pass: string | undefined, clientCert: boolean): SaslMechanism[] | undefined {
  let allowInsecure = false;
  let mechanisms: string[] | undefined;
  if (value !== undefined) {
    if (!isPlainObject(value)) invalid('sasl', 'an options object', value);
    onlyKnownKeys(value, saslKeys, 'sasl');
    mechanisms = optionalStrings(value.mechanisms, 'sasl.mechanisms')?.map((m) => m.toUpperCase());
    for (const m of mechanisms ?? []) {
      if (!(mechanismNames as readonly string[]).includes(m)) invalid('sasl.mechanisms', `mechanisms from ${mechanismNames.join(', ')}`, m);
    }
    if (mechanisms?.length === 0) invalid('sasl.mechanisms', 'at least one mechanism (leave it out for the defaults)', []);
    allowInsecure = optionalBoolean(value.allowInsecure, 'sasl.allowInsecure') ?? false;
  }
  const chosen: SaslMechanism[] = [];
  const wanted = mechanisms ?? [
    ...(user !== undefined && pass !== undefined ? ['PLAIN'] : []),
    ...(user !== undefined && pass === undefined ? ['ANONYMOUS'] : []),
    ...(clientCert && endpoint.scheme === 'amqps' ? ['EXTERNAL'] : []),
  ];
  for (const name of wanted) {
    if (name === 'PLAIN') {
      if (user === undefined || pass === undefined) {
        throw new ConfigError('sasl.mechanisms', `SASL PLAIN needs a user name and a password, and '${endpoint.option}' has ${user === undefined ? 'no user' : 'no password'}`);
      }
      if (endpoint.scheme === 'amqp' && !isLoopback(endpoint.host) && !allowInsecure) {
        throw new ConfigError(
          'sasl.allowInsecure',
          `Refusing to send a password in clear text to ${endpoint.host}: use amqps://, or set sasl.allowInsecure: true if the network is trusted`,
        );
      }
      chosen.push({ name, username: user, password: pass });
    } else if (name === 'ANONYMOUS') {
      chosen.push({ name, username: user ?? 'anonymous' });
    } else {
      if (!clientCert || endpoint.scheme !== 'amqps') {
        throw new ConfigError('sasl.mechanisms', 'SASL EXTERNAL needs an amqps connection with a client certificate (tls.cert and tls.key)');
      }
      chosen.push({ name: 'EXTERNAL' });
    }
  }
  return chosen.length === 0 ? undefined : chosen;
}

/** The options an argument-less `createClient()` reads from `connect.json` (Qpid Proton's file configuration). */
function fromConnectJson(): { options: Record<string, unknown>; source: string } {
  const path = findConnectJson();
  if (path === undefined) {
    throw new ConfigError(
      'url',
      'createClient() was given no URL or options, and no connect.json was found ($MESSAGING_CONNECT_FILE, ./connect.json, ~/.config/messaging/connect.json, /etc/messaging/connect.json)',
    );
  }
  const config = loadConnectJson(path);
  log.connection('using %s', config.source);
  const options = {
    scheme: config.scheme,
    host: config.host,
    port: config.port,
    ...(config.user === undefined ? {} : { username: config.user }),
    ...(config.password === undefined ? {} : { password: config.password }),
    ...(config.sasl.mechanisms === undefined && config.sasl.allowInsecure === undefined
      ? {}
      : {
          sasl: {
            ...(config.sasl.mechanisms === undefined ? {} : { mechanisms: config.sasl.mechanisms }),
            ...(config.sasl.allowInsecure === undefined ? {} : { allowInsecure: config.sasl.allowInsecure }),
          },
        }),
    ...(config.scheme === 'amqps'
      ? {
          tls: {
            ...(config.tls.ca === undefined ? {} : { ca: config.tls.ca }),
            ...(config.tls.cert === undefined ? {} : { cert: config.tls.cert }),
            ...(config.tls.key === undefined ? {} : { key: config.tls.key }),
            verify: config.tls.verify,
          },
        }
      : {}),
  };
  return { options, source: config.source };
}

/** The option names of `connect.json` for those of {@link ClientOptions} it is read into. */
const connectJsonNames: ReadonlyArray<readonly [string, string]> = [
  ['sasl.allowInsecure', 'sasl.allow_insecure'],
  ['username', 'user'],
];

/**
 * A problem found in the options read from `connect.json` (a remote host in clear text with a
 * password, a missing CA file): the message names the file and the file's key names.
 */
function inConnectJson(error: unknown, source: string): unknown {
  if (!(error instanceof ConfigError)) return error;
  let option = error.option;
  let message = error.message;
  for (const [name, fileName] of connectJsonNames) {
    if (option === name) option = fileName;
    message = message.split(name).join(fileName);
  }
  return new ConfigError(option, `${source}: ${message}`, { cause: error });
}

/** The options an Azure Service Bus connection string stands for: amqps on 5671, SASL PLAIN (seed 000). */
function fromConnectionString(text: string): Record<string, unknown> {
  const parsed = parseConnectionString(text);
  return {
    scheme: 'amqps',
    host: parsed.host,
    port: 5671,
    username: parsed.sharedAccessKeyName,
    password: parsed.sharedAccessKey,
    sasl: { mechanisms: ['PLAIN'] },
    ...(parsed.entityPath === undefined ? {} : { address: parsed.entityPath }),
  };
}

/**
 * Makes a client for an AMQP 1.0 peer. Nothing is connected until the first link is used.
 *
 * @param urlOrOptions - A URL (`amqps://user:pass@host:5671/queue`), an Azure Service Bus
 *   connection string (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…`),
 *   {@link ClientOptions}, or nothing: then the Qpid Proton `connect.json` file is used.
 * @returns A {@link Client}; all its links share one connection.
 * @throws {@link ConfigError} at once for a malformed URL or an unknown or invalid option; the
 *   message names the part and never contains the password.
 * @example
 * const client = createClient('amqp://localhost:5672');
 * client.receive('orders').subscribe((d) => d.accept());
 */
export function createClient(urlOrOptions?: string | ClientOptions): Client {
  if (urlOrOptions === undefined) {
    const { options, source } = fromConnectJson();
    try {
      return clientFrom(options);
    } catch (error) {
      throw inConnectJson(error, source);
    }
  }
  return clientFrom(
    typeof urlOrOptions === 'string'
      ? isConnectionString(urlOrOptions)
        ? fromConnectionString(urlOrOptions)
        : { url: urlOrOptions }
      : isPlainObject(urlOrOptions)
        ? urlOrOptions
        : invalid('options', 'a URL, a connection string or an options object', urlOrOptions),
  );
}

/** Validates the options and makes the client: every check {@link createClient} documents. */
function clientFrom(options: Record<string, unknown>): Client {
  onlyKnownKeys(options, clientKeys, '');
  const username = optionalString(options.username, 'username');
  const password =
    options.password === undefined ? undefined : typeof options.password === 'string' ? options.password : invalid('password', 'a string', typeof options.password);
  const hostname = optionalString(options.hostname, 'hostname');
  const endpoints = resolveEndpoints(options);
  if (options.tls !== undefined && endpoints.some((e) => e.scheme !== 'amqps')) {
    throw new ConfigError('tls', "TLS options were given but the scheme is amqp; use amqps:// or scheme: 'amqps'");
  }
  const tls = endpoints.some((e) => e.scheme === 'amqps') ? resolveTls(options.tls, endpoints.map((e) => e.host).join(', ')) : undefined;
  const clientCert = tls?.cert !== undefined;
  const targets = endpoints.map((endpoint): ConnectTarget => {
    if (endpoint.username !== undefined && username !== undefined) {
      throw new ConfigError('username', `The user name is given both in '${endpoint.option}' and in 'username'`);
    }
    if (endpoint.password !== undefined && password !== undefined) {
      throw new ConfigError('password', `The password is given both in '${endpoint.option}' and in 'password'`);
    }
    const user = endpoint.username ?? username;
    const pass = endpoint.password ?? password;
    if (pass !== undefined && user === undefined) throw new ConfigError('password', 'A password was given without a user name');
    return {
      scheme: endpoint.scheme,
      host: endpoint.host,
      port: endpoint.port,
      sasl: resolveSasl(options.sasl, endpoint, user, pass, clientCert),
      hostname,
      // SNI carries host names only (RFC 6066): Node warns (DEP0123) when given an IP address as the
      // server name, and rhea fills in the host when none is given. An empty one sends no SNI and
      // has Node check the certificate against the address itself.
      tls: endpoint.scheme === 'amqps' ? { servername: isIP(endpoint.host) === 0 ? endpoint.host : '', ...tls } : undefined,
      display: display(endpoint.scheme, endpoint.host, endpoint.port, user),
    };
  });
  const properties = optionalRecord(options.properties, 'properties') ?? {
    product: 'rhea-rx',
    platform: `Node.js ${process.version}`,
    host: machineName(),
  };
  const manager = new ConnectionManager({
    targets,
    containerId: optionalString(options.containerId, 'containerId'),
    connectTimeout: integer(options.connectTimeout, 'connectTimeout', 1, 2_147_483_647, 30_000),
    maxFrameSize: integer(options.maxFrameSize, 'maxFrameSize', MIN_MAX_FRAME_SIZE, 4_294_967_295, DEFAULT_MAX_FRAME_SIZE),
    idleTimeout: optionalInteger(options.idleTimeout, 'idleTimeout', 0, 2_147_483_647),
    properties,
    reconnect: resolveReconnect(options.reconnect),
  });
  const closeTimeout = integer(options.closeTimeout, 'closeTimeout', 0, 2_147_483_647, 30_000);
  const address = optionalString(options.address, 'address') ?? endpoints[0]!.path;
  return new Client(manager, closeTimeout, address);
}

export type { ClientState };
