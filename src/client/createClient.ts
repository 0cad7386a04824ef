import { hostname as machineName } from 'node:os';
import type { ClientState } from './ConnectionManager.js';
import { ConnectionManager, type ConnectTarget, type ReconnectPolicy } from './ConnectionManager.js';
import { type BackoffOptions, delayFor, resolveBackoff } from '../policy/backoff.js';
import { Client } from './Client.js';
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
} from '../config/validate.js';
import { ConfigError } from '../errors/errors.js';

/** TLS settings for `amqps` connections. */
export interface TlsOptions {
  /** Trusted CA certificates (PEM), replacing Node's default list. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The client certificate (PEM), for mutual TLS. */
  cert?: string | Buffer;
  /** The client private key (PEM). */
  key?: string | Buffer;
  /** The passphrase of `key`. */
  passphrase?: string;
  /** The server name for SNI and certificate checks. @default the host */
  servername?: string;
  /** Verify the server's certificate. Turning it off is logged as a warning. @default true */
  verify?: boolean;
}

/** Options of {@link createClient}. Give `url`, or `host` (with `port`, `scheme`, `username`, `password`). */
export interface ClientOptions {
  /** `amqp[s]://[user[:password]@]host[:port][/address]`; the path is the default address. */
  url?: string;
  /**
   * Peers to fail over between (C1): tried in order, round robin, moving to the next on every
   * failed attempt. User and password may be in each URL or in `username`/`password`.
   */
  urls?: string[];
  /**
   * Reconnect after a lost connection or a failed attempt, with exponential backoff: 100 ms
   * doubling to a 10 s cap, optional jitter and attempt limit (C1). Receivers re-attach and get
   * their credit back (R4); unsettled sends are resent (S3). Authentication and authorization
   * failures are never retried (C2). `false` turns it off.
   * @default true
   */
  reconnect?: boolean | BackoffOptions;
  host?: string;
  /** @default 5672 for amqp, 5671 for amqps */
  port?: number;
  /** @default 'amqp' */
  scheme?: 'amqp' | 'amqps';
  username?: string;
  password?: string;
  /** The hostname in the open frame (a virtual host, e.g. `vhost:name` on RabbitMQ). @default the host */
  hostname?: string;
  /** The AMQP container id. @default a generated unique id */
  containerId?: string;
  /** How long connecting may take, in milliseconds. @default 30000 */
  connectTimeout?: number;
  /** How long `close()` waits for outcomes and the peer's close, in milliseconds. @default 30000 */
  closeTimeout?: number;
  /** Idle timeout announced to the peer, in milliseconds (heartbeats at half of it). @default none */
  idleTimeout?: number;
  /** TLS settings for amqps. */
  tls?: TlsOptions;
  /** Properties sent in the open frame. @default `{ product: 'rhea-rx' }` and the platform */
  properties?: Record<string, unknown>;
}

const clientKeys = [
  'url',
  'urls',
  'reconnect',
  'host',
  'port',
  'scheme',
  'username',
  'password',
  'hostname',
  'containerId',
  'connectTimeout',
  'closeTimeout',
  'idleTimeout',
  'tls',
  'properties',
];
const tlsKeys = ['ca', 'cert', 'key', 'passphrase', 'servername', 'verify'];

function pem(value: unknown, path: string): void {
  if (value === undefined) return;
  const ok = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v);
  if (!(ok(value) || (Array.isArray(value) && path.endsWith('.ca') && value.every(ok)))) {
    invalid(path, 'a PEM string or Buffer', value);
  }
}

function resolveTls(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) invalid('tls', 'an options object', value);
  onlyKnownKeys(value, tlsKeys, 'tls');
  pem(value.ca, 'tls.ca');
  pem(value.cert, 'tls.cert');
  pem(value.key, 'tls.key');
  const passphrase = optionalString(value.passphrase, 'tls.passphrase');
  const servername = optionalString(value.servername, 'tls.servername');
  const verify = optionalBoolean(value.verify, 'tls.verify') ?? true;
  return {
    ...(value.ca === undefined ? {} : { ca: value.ca }),
    ...(value.cert === undefined ? {} : { cert: value.cert }),
    ...(value.key === undefined ? {} : { key: value.key }),
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(servername === undefined ? {} : { servername }),
    rejectUnauthorized: verify,
  };
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
  if (options.url !== undefined || options.urls !== undefined) {
    if (options.port !== undefined || options.scheme !== undefined) {
      throw new ConfigError(options.port !== undefined ? 'port' : 'scheme', "'port' and 'scheme' go with 'host'; with a URL, put them in the URL");
    }
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

function display(scheme: string, host: string, port: number, username: string | undefined): string {
  const user = username === undefined ? '' : `${encodeURIComponent(username)}:***@`;
  const h = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${user}${h}:${port}`;
}

/**
 * Makes a client for one AMQP 1.0 peer. Nothing is connected until the first link is used.
 *
 * @param urlOrOptions - A URL (`amqps://user:pass@host:5671/queue`) or {@link ClientOptions}.
 * @returns A {@link Client}; all its links share one connection.
 * @throws {@link ConfigError} at once for a malformed URL or an unknown or invalid option; the
 *   message names the part and never contains the password.
 * @example
 * const client = createClient('amqp://localhost:5672');
 * client.receive('orders').subscribe((d) => d.accept());
 */
export function createClient(urlOrOptions: string | ClientOptions): Client {
  const options: Record<string, unknown> =
    typeof urlOrOptions === 'string'
      ? { url: urlOrOptions }
      : isPlainObject(urlOrOptions)
        ? urlOrOptions
        : invalid('options', 'a URL string or an options object', urlOrOptions);
  onlyKnownKeys(options, clientKeys, '');
  const username = optionalString(options.username, 'username');
  const password =
    options.password === undefined ? undefined : typeof options.password === 'string' ? options.password : invalid('password', 'a string', typeof options.password);
  const tls = resolveTls(options.tls);
  const hostname = optionalString(options.hostname, 'hostname');
  const endpoints = resolveEndpoints(options);
  const targets = endpoints.map((endpoint, i): ConnectTarget => {
    const user = endpoint.username ?? username;
    const pass = endpoint.password ?? password;
    if (endpoint.username !== undefined && username !== undefined) {
      throw new ConfigError('username', `The user name is given both in '${endpoint.option}' and in 'username'`);
    }
    if (endpoint.password !== undefined && password !== undefined) {
      throw new ConfigError('password', `The password is given both in '${endpoint.option}' and in 'password'`);
    }
    if (pass !== undefined && user === undefined) {
      throw new ConfigError(i === 0 ? 'password' : `${endpoint.option}.password`, 'A password was given without a user name');
    }
    if (options.tls !== undefined && endpoint.scheme !== 'amqps') {
      throw new ConfigError('tls', `TLS options were given but '${endpoint.option}' is amqp; use amqps:// or scheme: 'amqps'`);
    }
    return {
      scheme: endpoint.scheme,
      host: endpoint.host,
      port: endpoint.port,
      username: user,
      password: pass,
      hostname,
      tls: endpoint.scheme === 'amqps' ? { servername: endpoint.host, ...tls } : undefined,
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
    idleTimeout: optionalInteger(options.idleTimeout, 'idleTimeout', 0, 2_147_483_647),
    properties,
    reconnect: resolveReconnect(options.reconnect),
  });
  const path = endpoints[0]!.path;
  const closeTimeout = integer(options.closeTimeout, 'closeTimeout', 0, 2_147_483_647, 30_000);
  return new Client(manager, closeTimeout, path);
}

export type { ClientState };
