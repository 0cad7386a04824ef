import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors/errors.js';
import { DEFAULT_PORTS, hostProblem, type UrlScheme } from './parseUrl.js';
import { redact } from './redact.js';

/** Connection settings read from a `connect.json` file, normalized and with defaults filled in. */
export interface ConnectConfig {
  /** `amqp` (plain TCP) or `amqps` (TLS). @default 'amqps' */
  scheme: UrlScheme;
  /** Host name or IP address (IPv6 without brackets). @default 'localhost' */
  host: string;
  /** TCP port. @default 5672 for `amqp`, 5671 for `amqps` */
  port: number;
  /** The user name for authentication. */
  user?: string;
  /** The password for authentication. */
  password?: string;
  /** SASL settings, from the file's `sasl` object. */
  sasl: {
    /** Mechanisms to allow, upper-cased, e.g. `['SCRAM-SHA-256', 'PLAIN']`; absent for the defaults. */
    mechanisms?: string[];
    /** Whether mechanisms that send the password in clear text are allowed (`sasl.allow_insecure`). */
    allowInsecure?: boolean;
  };
  /** TLS settings, from the file's `tls` object. Paths are as written, relative to the working directory. */
  tls: {
    /** Path of the client certificate. */
    cert?: string;
    /** Path of the client certificate's private key. */
    key?: string;
    /** Path of the CA certificate. */
    ca?: string;
    /** Require a valid server certificate whose name matches the host. @default true */
    verify: boolean;
  };
  /** The absolute path of the file these settings came from. */
  source: string;
}

/** The environment variable that names the `connect.json` file to use, overriding the search. */
export const CONNECT_FILE_ENV = 'MESSAGING_CONNECT_FILE';

const ROOT_KEYS = ['scheme', 'host', 'port', 'user', 'password', 'sasl', 'tls'] as const;
const SASL_KEYS = ['mechanisms', 'allow_insecure'] as const;
const TLS_KEYS = ['cert', 'key', 'ca', 'verify'] as const;

/**
 * Lists where {@link findConnectJson} looks for `connect.json`, in order.
 *
 * When `$MESSAGING_CONNECT_FILE` is set and not empty, the list is that one path (resolved
 * against `cwd`). Otherwise it is `<cwd>/connect.json`, `<home>/.config/messaging/connect.json`
 * and `/etc/messaging/connect.json`, the order Qpid Proton clients use.
 *
 * @param env - The environment to read `MESSAGING_CONNECT_FILE` from. @default process.env
 * @param cwd - The directory searched first. @default process.cwd()
 * @param home - The user's home directory; skipped when empty. @default os.homedir()
 * @returns Absolute paths, most specific first.
 * @throws Never.
 */
export function connectJsonSearchPath(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
  home: string = homedir(),
): string[] {
  const named = env[CONNECT_FILE_ENV];
  if (named !== undefined && named !== '') return [resolve(cwd, named)];
  const paths = [resolve(cwd, 'connect.json')];
  if (home !== '') paths.push(resolve(home, '.config', 'messaging', 'connect.json'));
  paths.push(join('/etc', 'messaging', 'connect.json'));
  return paths;
}

/**
 * Finds the `connect.json` file to configure a connection from, as Qpid Proton clients do.
 *
 * If `$MESSAGING_CONNECT_FILE` is set (and not empty), it names the file, which must exist.
 * Otherwise the first regular file among `./connect.json`, `~/.config/messaging/connect.json`
 * and `/etc/messaging/connect.json` wins; directories and unreadable entries are skipped.
 *
 * @param env - The environment to read `MESSAGING_CONNECT_FILE` from. @default process.env
 * @param cwd - The directory searched first, and the base of a relative `MESSAGING_CONNECT_FILE`. @default process.cwd()
 * @param home - The user's home directory. @default os.homedir()
 * @returns The absolute path of the file, or `undefined` when there is none.
 * @throws {@link ConfigError} (option `MESSAGING_CONNECT_FILE`) when that variable names a path
 *   that does not exist or is not a regular file.
 * @see {@link loadConnectJson} to read the file found.
 * @example
 * const path = findConnectJson();
 * const config = path === undefined ? undefined : loadConnectJson(path);
 */
export function findConnectJson(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
  home: string = homedir(),
): string | undefined {
  const paths = connectJsonSearchPath(env, cwd, home);
  const named = env[CONNECT_FILE_ENV];
  if (named !== undefined && named !== '') {
    const path = paths[0] ?? resolve(cwd, named);
    const kind = fileKind(path);
    if (kind !== 'file') {
      throw new ConfigError(
        CONNECT_FILE_ENV,
        `${CONNECT_FILE_ENV}: expected the path of an existing connect.json file, given '${path}', which ${kind}`,
      );
    }
    return path;
  }
  return paths.find((path) => fileKind(path) === 'file');
}

/**
 * Reads and checks a `connect.json` file: JSON with `//` and `/* *\/` comments.
 *
 * Keys, all optional: `scheme` (`"amqp"` or `"amqps"`, default `"amqps"`), `host` (default
 * `"localhost"`), `port` (a number, a string of digits, or `"amqp"`/`"amqps"`; default 5672 for
 * amqp, 5671 for amqps), `user`, `password`, `sasl.mechanisms` (a list of names or one string of
 * space-separated names), `sasl.allow_insecure` (boolean), `tls.cert`, `tls.key`, `tls.ca`
 * (paths) and `tls.verify` (boolean, default `true`). `sasl` and `tls` are nested objects.
 *
 * @param path - The file to read, e.g. from {@link findConnectJson}.
 * @returns The settings, normalized to camelCase with defaults filled in and `source` set to the
 *   file's absolute path.
 * @throws {@link ConfigError} when the file cannot be read or is not valid JSON with comments
 *   (option `connect.json`), or when a key is unknown or has the wrong type (option = the key's
 *   path, e.g. `sasl.allow_insecure`). The message names the file, what was expected and what
 *   was given, and never contains the password.
 * @example
 * // connect.json: { "host": "example.com", "user": "alice", "password": "secret" }
 * loadConnectJson('connect.json')
 * // { scheme: 'amqps', host: 'example.com', port: 5671, user: 'alice', password: 'secret',
 * //   sasl: {}, tls: { verify: true }, source: '/home/alice/app/connect.json' }
 */
export function loadConnectJson(path: string): ConnectConfig {
  if (typeof path !== 'string' || path === '') {
    throw new ConfigError('connect.json', `connect.json: expected a file path, given ${describe(path, false)}`);
  }
  const source = resolve(path);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'an error';
    throw new ConfigError('connect.json', `${source}: expected a readable connect.json file, but reading it failed with ${code}`, {
      cause: error,
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const json = stripJsonComments(text, source);
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch (error) {
    // V8's message may quote the text around the error, password included: report the position only.
    const reason = error instanceof Error ? error.message : '';
    const position = /at position (\d+)/.exec(reason);
    const where =
      position !== null
        ? `at ${lineAndColumn(text, Number(position[1]))}`
        : /end of JSON input/.test(reason)
          ? 'it ends before the JSON is complete'
          : 'it has an unexpected token';
    throw new ConfigError('connect.json', `${source}: expected JSON (comments allowed), given text that is not valid JSON: ${where}`);
  }
  return normalize(document, source);
}

/**
 * Removes `//` line comments and `/* *\/` block comments from JSON text, leaving strings alone.
 *
 * Each comment character becomes a space (line breaks inside block comments are kept), so
 * positions in the result are positions in the input, and a JSON parse error points at the
 * right line and column. A `//` or `/*` inside a string is not a comment.
 *
 * @param text - JSON with JavaScript comments.
 * @param source - The file name to use in errors. @default 'connect.json'
 * @returns The same text with comments blanked out.
 * @throws {@link ConfigError} (option `connect.json`) when a block comment is not closed.
 * @example
 * stripJsonComments('{ "url": "amqp://h//x" } // note') // '{ "url": "amqp://h//x" }        '
 */
export function stripJsonComments(text: string, source = 'connect.json'): string {
  const parts: string[] = [];
  let copiedUpTo = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      i = skipString(text, i);
    } else if (ch === '/' && text[i + 1] === '/') {
      const newline = text.slice(i).search(/[\r\n]/);
      const end = newline < 0 ? text.length : i + newline;
      parts.push(text.slice(copiedUpTo, i), ' '.repeat(end - i));
      copiedUpTo = i = end;
    } else if (ch === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) {
        throw new ConfigError('connect.json', `${source}: expected '*/' to close the comment that starts at ${lineAndColumn(text, i)}`);
      }
      const end = close + 2;
      parts.push(text.slice(copiedUpTo, i), text.slice(i, end).replace(/[^\r\n]/g, ' '));
      copiedUpTo = i = end;
    } else {
      i += 1;
    }
  }
  parts.push(text.slice(copiedUpTo));
  return parts.join('');
}

// Returns the index just past the string that starts at `start` (a '"'). A JSON string cannot span
// lines, so an unterminated one stops at the line break and JSON.parse reports it.
function skipString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') i += 2;
    else if (ch === '"') return i + 1;
    else if (ch === '\n' || ch === '\r') return i;
    else i += 1;
  }
  return i;
}

type JsonObject = Record<string, unknown>;

function normalize(document: unknown, source: string): ConnectConfig {
  if (!isObject(document)) {
    throw new ConfigError('connect.json', `${source}: expected a JSON object at the top level, given ${describe(document, false)}`);
  }
  checkKeys(document, ROOT_KEYS, '', source);

  const scheme = readScheme(document.scheme, source);
  const config: ConnectConfig = {
    scheme,
    host: readHost(document.host, source),
    port: readPort(document.port, scheme, source),
    sasl: {},
    tls: { verify: true },
    source,
  };
  if (document.user !== undefined) config.user = readString(document.user, 'user', source, { nonEmpty: true });
  if (document.password !== undefined) config.password = readString(document.password, 'password', source, { secret: true });

  if (document.sasl !== undefined) {
    const sasl = readObject(document.sasl, 'sasl', source);
    checkKeys(sasl, SASL_KEYS, 'sasl.', source);
    if (sasl.mechanisms !== undefined) config.sasl.mechanisms = readMechanisms(sasl.mechanisms, source);
    if (sasl.allow_insecure !== undefined) config.sasl.allowInsecure = readBoolean(sasl.allow_insecure, 'sasl.allow_insecure', source);
  }
  if (document.tls !== undefined) {
    const tls = readObject(document.tls, 'tls', source);
    checkKeys(tls, TLS_KEYS, 'tls.', source);
    for (const name of ['cert', 'key', 'ca'] as const) {
      if (tls[name] !== undefined) config.tls[name] = readString(tls[name], `tls.${name}`, source, { nonEmpty: true, what: 'a file path' });
    }
    if (tls.verify !== undefined) config.tls.verify = readBoolean(tls.verify, 'tls.verify', source);
  }
  return config;
}

function checkKeys(object: JsonObject, allowed: readonly string[], prefix: string, source: string): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue;
    const keyPath = `${prefix}${key}`;
    const dotted = prefix === '' ? nestingHint(key) : undefined;
    const near = dotted === undefined ? closest(key, allowed) : undefined;
    const hint = dotted ?? (near === undefined ? '' : `; did you mean '${prefix}${near}'?`);
    throw new ConfigError(
      keyPath,
      `${source}: unknown key ${quoteKey(keyPath)}; expected ${prefix === '' ? 'top-level keys' : `keys in '${prefix.slice(0, -1)}'`} ` +
        `among ${allowed.join(', ')}${hint}`,
    );
  }
}

// The Proton documentation writes nested keys as `sasl.mechanisms`; in the file they are nested objects.
function nestingHint(key: string): string | undefined {
  const [group, name] = key.split('.', 2);
  if (name === undefined || (group !== 'sasl' && group !== 'tls')) return undefined;
  return `; write it nested, as { "${group}": { "${name}": … } }`;
}

function readScheme(value: unknown, source: string): UrlScheme {
  if (value === undefined) return 'amqps';
  if (value === 'amqp' || value === 'amqps') return value;
  throw new ConfigError('scheme', `${source}: 'scheme': expected "amqp" or "amqps", given ${describe(value, false)}`);
}

function readHost(value: unknown, source: string): string {
  if (value === undefined) return 'localhost';
  const text = readString(value, 'host', source, { what: 'a host name or IP address' });
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const problem = hostProblem(host);
  if (problem !== undefined) throw new ConfigError('host', `${source}: 'host': ${redact(problem)}`);
  return host;
}

function readPort(value: unknown, scheme: UrlScheme, source: string): number {
  if (value === undefined) return DEFAULT_PORTS[scheme];
  if (value === 'amqp' || value === 'amqps') return DEFAULT_PORTS[value];
  const port = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(port) && port >= 1 && port <= 65535) return port;
  throw new ConfigError(
    'port',
    `${source}: 'port': expected an integer from 1 to 65535 (a number or a string of digits) or "amqp" or "amqps", given ${describe(value, false)}`,
  );
}

function readMechanisms(value: unknown, source: string): string[] {
  const key = 'sasl.mechanisms';
  let names: string[];
  if (typeof value === 'string') {
    names = value.split(/\s+/).filter((name) => name !== '');
  } else if (Array.isArray(value)) {
    names = value.map((item: unknown, index) => {
      if (typeof item !== 'string' || !/^\S+$/.test(item)) {
        throw new ConfigError(
          `${key}[${index}]`,
          `${source}: '${key}[${index}]': expected one mechanism name such as "PLAIN", given ${describe(item, false)}`,
        );
      }
      return item;
    });
  } else {
    throw new ConfigError(
      key,
      `${source}: '${key}': expected a list of mechanism names or a string of space-separated names, given ${describe(value, false)}`,
    );
  }
  if (names.length === 0) {
    throw new ConfigError(key, `${source}: '${key}': expected at least one mechanism name (leave the key out for the defaults), given none`);
  }
  const mechanisms: string[] = [];
  for (const name of names) {
    if (!/^[A-Za-z0-9_-]{1,20}$/.test(name)) {
      throw new ConfigError(
        key,
        `${source}: '${key}': expected SASL mechanism names of 1 to 20 letters, digits, '-' or '_' (such as "SCRAM-SHA-256"), given ${describe(name, false)}`,
      );
    }
    const upper = name.toUpperCase();
    if (!mechanisms.includes(upper)) mechanisms.push(upper);
  }
  return mechanisms;
}

function readString(
  value: unknown,
  key: string,
  source: string,
  { nonEmpty = false, secret = false, what = 'a string' }: { nonEmpty?: boolean; secret?: boolean; what?: string } = {},
): string {
  if (typeof value === 'string' && (!nonEmpty || value !== '')) return value;
  throw new ConfigError(key, `${source}: '${key}': expected ${nonEmpty ? `${what}, not empty` : what}, given ${describe(value, secret)}`);
}

function readBoolean(value: unknown, key: string, source: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new ConfigError(key, `${source}: '${key}': expected true or false, given ${describe(value, false)}`);
}

function readObject(value: unknown, key: string, source: string): JsonObject {
  if (isObject(value)) return value;
  throw new ConfigError(key, `${source}: '${key}': expected an object such as { … }, given ${describe(value, false)}`);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Describes a value from the file for a message; a secret's value is never shown.
function describe(value: unknown, secret: boolean): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return secret ? 'a list (not shown)' : `a list of ${value.length}`;
  switch (typeof value) {
    case 'string': {
      if (secret) return value === '' ? 'an empty string' : 'a string (not shown)';
      const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
      return `the string ${redact(JSON.stringify(shown))}`;
    }
    case 'number':
      return secret ? 'a number (not shown)' : `the number ${value}`;
    case 'boolean':
      return secret ? 'a boolean (not shown)' : String(value);
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

function quoteKey(keyPath: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(keyPath) ? `'${keyPath}'` : JSON.stringify(keyPath.length > 64 ? `${keyPath.slice(0, 61)}...` : keyPath);
}

// A key differing only in case or separators (`allowInsecure`, `allow-insecure`), or by up to two edits.
function closest(key: string, allowed: readonly string[]): string | undefined {
  const loose = (text: string) => text.toLowerCase().replace(/[-_]/g, '');
  const exact = allowed.find((name) => loose(name) === loose(key));
  if (exact !== undefined) return exact;
  if (key.length > 40) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const name of allowed) {
    const distance = editDistance(key.toLowerCase(), name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function lineAndColumn(text: string, index: number): string {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  const column = index - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

function fileKind(path: string): 'file' | 'does not exist' | 'is a directory' | 'is not a regular file' | 'cannot be read' {
  try {
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return 'does not exist';
    if (stats.isFile()) return 'file';
    return stats.isDirectory() ? 'is a directory' : 'is not a regular file';
  } catch {
    return 'cannot be read';
  }
}
