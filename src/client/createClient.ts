import { hostname as machineName } from 'node:os';
import type { ClientState } from './ConnectionManager.js';
import { ConnectionManager, type ConnectTarget } from './ConnectionManager.js';
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
  let scheme: 'amqp' | 'amqps';
  let host: string;
  let port: number;
  let username = optionalString(options.username, 'username');
  let password = options.password === undefined ? undefined : typeof options.password === 'string' ? options.password : invalid('password', 'a string', typeof options.password);
  let path: string | undefined;
  if (options.url !== undefined) {
    if (options.host !== undefined || options.port !== undefined || options.scheme !== undefined) {
      throw new ConfigError('url', "Give either 'url' or 'host'/'port'/'scheme', not both");
    }
    const parsed = parseUrl(options.url as string, 'url');
    ({ scheme, host, port } = parsed);
    path = parsed.path;
    if (parsed.username !== undefined) {
      if (username !== undefined) throw new ConfigError('username', "The user name is given both in 'url' and in 'username'");
      username = parsed.username;
    }
    if (parsed.password !== undefined) {
      if (password !== undefined) throw new ConfigError('password', "The password is given both in 'url' and in 'password'");
      password = parsed.password;
    }
  } else {
    host = optionalString(options.host, 'host') ?? invalid('url', "a URL, or a 'host'", undefined);
    scheme = oneOf(options.scheme, 'scheme', ['amqp', 'amqps'], 'amqp');
    port = integer(options.port, 'port', 1, 65535, scheme === 'amqps' ? 5671 : 5672);
  }
  if (password !== undefined && username === undefined) {
    throw new ConfigError('password', 'A password was given without a user name');
  }
  const tls = resolveTls(options.tls);
  if (options.tls !== undefined && scheme !== 'amqps') {
    throw new ConfigError('tls', "TLS options were given but the scheme is 'amqp'; use an amqps:// URL or scheme: 'amqps'");
  }
  const hostname = optionalString(options.hostname, 'hostname');
  const target: ConnectTarget = {
    scheme,
    host,
    port,
    username,
    password,
    hostname,
    tls: scheme === 'amqps' ? { servername: host, ...tls } : undefined,
    display: display(scheme, host, port, username),
  };
  const properties = optionalRecord(options.properties, 'properties') ?? {
    product: 'rhea-rx',
    platform: `Node.js ${process.version}`,
    host: machineName(),
  };
  const manager = new ConnectionManager({
    target,
    containerId: optionalString(options.containerId, 'containerId'),
    connectTimeout: integer(options.connectTimeout, 'connectTimeout', 1, 2_147_483_647, 30_000),
    idleTimeout: optionalInteger(options.idleTimeout, 'idleTimeout', 0, 2_147_483_647),
    properties,
  });
  const closeTimeout = integer(options.closeTimeout, 'closeTimeout', 0, 2_147_483_647, 30_000);
  return new Client(manager, closeTimeout, path);
}

export type { ClientState };
