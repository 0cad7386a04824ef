import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors/errors.js';
import { redactUrl } from './redact.js';

/** `amqp` for plain TCP, `amqps` for TLS. */
export type UrlScheme = 'amqp' | 'amqps';

/** The parts of an AMQP connection URL, decoded. */
export interface ParsedUrl {
  /** `amqp` (plain TCP) or `amqps` (TLS), lower-cased. */
  scheme: UrlScheme;
  /** Host name, IPv4 address, or IPv6 address without its brackets (`::1`). */
  host: string;
  /** TCP port, 1 to 65535. @default 5672 for `amqp`, 5671 for `amqps` */
  port: number;
  /** The user name, percent-decoded; absent when the URL has no `user@`. */
  username?: string;
  /** The password, percent-decoded exactly; absent when the URL has no `:password`. */
  password?: string;
  /** The default address (queue, topic) from the URL's path, percent-decoded, without the leading `/`. */
  path?: string;
}

/** The port used when a URL or `connect.json` gives none. */
export const DEFAULT_PORTS: Readonly<Record<UrlScheme, number>> = { amqp: 5672, amqps: 5671 };

// RFC 3986 unreserved and sub-delims characters, plus '%' for percent-encoded bytes.
const USER_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=%]$/;
// The password may also hold a raw ':' (only the first ':' separates the user name).
const PASSWORD_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=%:]$/;
// Path characters: pchar and '/'.
const PATH_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=%:@/]$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/**
 * Parses an AMQP connection URL, `scheme://[user[:password]@]host[:port][/address]`.
 *
 * - `scheme` is `amqp` or `amqps` (any case); nothing else, and `//` must follow the `:`.
 * - `host` is a host name, an IPv4 address, or an IPv6 address in brackets (`amqp://[::1]:2000`
 *   gives host `::1`).
 * - `port` is an integer from 1 to 65535, by default 5672 for `amqp` and 5671 for `amqps`.
 * - The user name and password are percent-decoded as RFC 3986 says, so a key encoded with
 *   `encodeURIComponent` or Python's `quote_plus` comes back exactly (`abc%2B%2Fdef%3D` →
 *   `abc+/def=`). A raw `+` stays `+`: it is not read as a space, because a base64 key pasted
 *   without encoding holds literal `+` signs. To put a space in a password, encode it as `%20`.
 *   A raw `/`, `?`, `#`, `@`, whitespace or non-ASCII character in the user name or password is
 *   an error: percent-encode it.
 * - The path, without its leading `/`, is the default address, percent-decoded; `/` or no path
 *   gives none. Write an `@` in the address as `%40`.
 * - A query string (`?…`) or a fragment (`#…`) is an error, as is leading or trailing whitespace.
 *
 * No message ever contains the password: the URL is shown only through {@link redactUrl}.
 *
 * @param url - The connection URL, e.g. `amqps://name:key@ns.servicebus.windows.net/orders`.
 * @param option - The option name to report in errors, e.g. `urls[1]`. @default 'url'
 * @returns The decoded parts, with the default port filled in.
 * @throws {@link ConfigError} when the URL is malformed. Its `option` names the part: `url`,
 *   `url.scheme`, `url.username`, `url.password`, `url.host`, `url.port`, `url.path`, `url.query`
 *   or `url.fragment`; its message says what was expected and what was given.
 * @example
 * parseUrl('amqps://RootManageSharedAccessKey:abc%2B%2Fdef%3D@ns.servicebus.windows.net/orders')
 * // { scheme: 'amqps', host: 'ns.servicebus.windows.net', port: 5671,
 * //   username: 'RootManageSharedAccessKey', password: 'abc+/def=', path: 'orders' }
 */
export function parseUrl(url: string, option = 'url'): ParsedUrl {
  if (typeof url !== 'string') {
    throw new ConfigError(option, `${option}: expected a URL string such as 'amqps://host', given ${typeName(url)}`);
  }
  if (url.length === 0) {
    throw new ConfigError(option, `${option}: expected a URL such as 'amqps://host', given an empty string`);
  }
  const shown = quote(redactUrl(url));
  if (url.trim() !== url) {
    throw new ConfigError(option, `${option}: expected no leading or trailing whitespace, given ${shown}; trim the URL`);
  }

  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (schemeMatch === null) {
    throw new ConfigError(
      `${option}.scheme`,
      `${option}.scheme: expected the URL to start with 'amqp://' or 'amqps://', given ${shown}`,
    );
  }
  const schemeText = schemeMatch[1] ?? '';
  const scheme = schemeText.toLowerCase();
  if (scheme !== 'amqp' && scheme !== 'amqps') {
    throw new ConfigError(
      `${option}.scheme`,
      `${option}.scheme: expected 'amqp' or 'amqps' (a URL starts with 'amqp://' or 'amqps://'), given ${quote(schemeText)} in ${shown}`,
    );
  }
  const afterScheme = url.slice(schemeMatch[0].length);
  if (!afterScheme.startsWith('//')) {
    throw new ConfigError(option, `${option}: expected '//' after '${scheme}:' (as in '${scheme}://host'), given ${shown}`);
  }
  const rest = afterScheme.slice(2);

  // The user information ends at the last '@'. If a '/', '?' or '#' comes before it, either the
  // password holds one of them raw or the address holds a raw '@'; refuse to guess.
  const at = rest.lastIndexOf('@');
  let credentials: { username: string; password?: string } | undefined;
  let afterUser = rest;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    if (/[/?#]/.test(userinfo)) {
      throw new ConfigError(
        option,
        `${option}: expected '/', '?', '#' and '@' to be percent-encoded in the user name and password ` +
          `(encodeURIComponent, or Python's urllib.parse.quote_plus) and '@' in the address to be written %40, ` +
          `given ${shown}, where an '@' follows a '/', '?' or '#'`,
      );
    }
    credentials = parseUserinfo(userinfo, option);
    afterUser = rest.slice(at + 1);
  }

  const extra = afterUser.search(/[?#]/);
  if (extra >= 0) {
    const part = afterUser[extra] === '?' ? 'query' : 'fragment';
    const what = part === 'query' ? "no query string ('?…')" : "no fragment ('#…')";
    throw new ConfigError(
      `${option}.${part}`,
      `${option}.${part}: expected ${what}; AMQP URLs take settings as options, not in the URL; given ${shown}`,
    );
  }

  const slash = afterUser.indexOf('/');
  const authority = slash < 0 ? afterUser : afterUser.slice(0, slash);
  const { host, portText } = splitHostPort(authority, option, shown);
  const port = portText === undefined ? DEFAULT_PORTS[scheme] : parsePort(portText, option, shown);
  const path = slash < 0 ? undefined : parsePath(afterUser.slice(slash + 1), option, shown);

  const parsed: ParsedUrl = { scheme, host, port };
  if (credentials !== undefined) {
    parsed.username = credentials.username;
    if (credentials.password !== undefined) parsed.password = credentials.password;
  }
  if (path !== undefined) parsed.path = path;
  return parsed;
}

/**
 * Says what is wrong with a host name or IP address, for {@link parseUrl} and `connect.json`.
 *
 * @internal
 * @param host - A host name, an IPv4 address, or an IPv6 address without brackets.
 * @returns `undefined` when `host` is valid, else a phrase such as `expected …, given …`.
 * @throws Never.
 */
export function hostProblem(host: string): string | undefined {
  const expected = 'expected a host name, an IPv4 address or an IPv6 address';
  if (host.length === 0) return `${expected}, given nothing`;
  if (host.includes(':')) {
    return isIPv6(host) && !host.includes('%')
      ? undefined
      : `expected a valid IPv6 address (without a zone), given ${quote(host)}`;
  }
  if (host.length > 253) return `expected a host name of at most 253 characters, given ${host.length} characters`;
  for (const ch of host) {
    if (!/^[A-Za-z0-9._-]$/.test(ch)) {
      const hint = ch.charCodeAt(0) > 0x7f ? ' (write an internationalized name in its xn-- form)' : '';
      return `${expected}, given ${quote(host)}, which contains ${describeChar(ch)}${hint}`;
    }
  }
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  const last = labels[labels.length - 1] ?? '';
  if (/^[0-9]+$/.test(last)) {
    // Top-level domains are never numeric, so this is meant as an IPv4 address.
    return isIPv4(host) ? undefined : `expected a valid IPv4 address (four numbers from 0 to 255), given ${quote(host)}`;
  }
  for (const label of labels) {
    if (label.length === 0) return `${expected}, given ${quote(host)}, which has an empty label ('..' or a leading '.')`;
    if (label.length > 63) return `expected host name labels of at most 63 characters, given ${quote(host)}`;
    if (label.startsWith('-') || label.endsWith('-')) {
      return `expected host name labels not to start or end with '-', given ${quote(host)}`;
    }
  }
  return undefined;
}

function parseUserinfo(userinfo: string, option: string): { username: string; password?: string } {
  if (userinfo.length === 0) {
    throw new ConfigError(
      `${option}.username`,
      `${option}.username: expected a user name before '@', given nothing; remove the '@' to connect without credentials`,
    );
  }
  const colon = userinfo.indexOf(':');
  const rawUser = colon < 0 ? userinfo : userinfo.slice(0, colon);
  if (rawUser.length === 0) {
    throw new ConfigError(`${option}.username`, `${option}.username: expected a user name before ':', given nothing`);
  }
  const username = decodePart(rawUser, `${option}.username`, USER_CHAR, undefined);
  if (colon < 0) return { username };
  return { username, password: decodePart(userinfo.slice(colon + 1), `${option}.password`, PASSWORD_CHAR, undefined) };
}

function splitHostPort(authority: string, option: string, shown: string): { host: string; portText?: string } {
  const hostOption = `${option}.host`;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) {
      throw new ConfigError(hostOption, `${hostOption}: expected ']' to close the IPv6 address, given ${quote(authority)} in ${shown}`);
    }
    const host = authority.slice(1, close);
    if (!isIPv6(host) || host.includes('%')) {
      throw new ConfigError(
        hostOption,
        `${hostOption}: expected an IPv6 address (without a zone) inside '[ ]', given ${quote(host)} in ${shown}`,
      );
    }
    const after = authority.slice(close + 1);
    if (after.length === 0) return { host };
    if (after.startsWith(':')) return { host, portText: after.slice(1) };
    throw new ConfigError(hostOption, `${hostOption}: expected ':port' or the end after ']', given ${quote(after)} in ${shown}`);
  }
  const colon = authority.indexOf(':');
  const host = colon < 0 ? authority : authority.slice(0, colon);
  const portText = colon < 0 ? undefined : authority.slice(colon + 1);
  if (portText?.includes(':')) {
    throw new ConfigError(
      hostOption,
      `${hostOption}: expected an IPv6 address to be enclosed in brackets, as in 'amqp://[::1]:5672', given ${quote(authority)} in ${shown}`,
    );
  }
  if (host.length === 0) {
    throw new ConfigError(hostOption, `${hostOption}: expected a host name, an IPv4 address or an IPv6 address in brackets, given nothing in ${shown}`);
  }
  const problem = hostProblem(host);
  if (problem !== undefined) throw new ConfigError(hostOption, `${hostOption}: ${problem} in ${shown}`);
  return portText === undefined ? { host } : { host, portText };
}

function parsePort(text: string, option: string, shown: string): number {
  const portOption = `${option}.port`;
  const expected = 'expected an integer from 1 to 65535';
  if (text.length === 0) {
    throw new ConfigError(portOption, `${portOption}: ${expected} after ':', given nothing in ${shown}; leave out the ':' for the default port`);
  }
  if (!/^[0-9]+$/.test(text)) throw new ConfigError(portOption, `${portOption}: ${expected}, given ${quote(text)} in ${shown}`);
  const digits = text.replace(/^0+(?=.)/, '');
  const port = digits.length > 5 ? Number.POSITIVE_INFINITY : Number(digits);
  if (port < 1 || port > 65535) throw new ConfigError(portOption, `${portOption}: ${expected}, given ${quote(text)} in ${shown}`);
  return port;
}

function parsePath(raw: string, option: string, shown: string): string | undefined {
  if (raw.length === 0) return undefined;
  const pathOption = `${option}.path`;
  const path = decodePart(raw, pathOption, PATH_CHAR, shown);
  for (const ch of path) {
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) {
      throw new ConfigError(pathOption, `${pathOption}: expected an address without control characters, given ${describeChar(ch)} in ${shown}`);
    }
  }
  return path;
}

// Percent-decodes one part. The password is secret: no message shows any of it.
function decodePart(raw: string, partOption: string, allowed: RegExp, shown: string | undefined): string {
  const partName = partOption.slice(partOption.lastIndexOf('.') + 1);
  const secret = partName === 'password';
  const where = shown === undefined ? '' : ` in ${shown}`;
  for (const ch of raw) {
    if (!allowed.test(ch)) {
      const given = secret
        ? 'given a password holding a character that must be encoded, such as a space, quote, bracket, raw @, control or non-ASCII character (not shown)'
        : `given ${describeChar(ch)} in ${quote(raw)}${where}`;
      throw new ConfigError(
        partOption,
        `${partOption}: expected only URL characters, with any other character percent-encoded ` +
          `(encodeURIComponent, or Python's urllib.parse.quote_plus), ${given}`,
      );
    }
  }
  if (BAD_PERCENT.test(raw)) {
    const given = secret ? "given a password with a '%' not followed by two hex digits (not shown)" : `given ${quote(raw)}${where}`;
    throw new ConfigError(partOption, `${partOption}: expected '%' to be followed by two hex digits (write a literal '%' as %25), ${given}`);
  }
  try {
    return decodeURIComponent(raw);
  } catch {
    const given = secret ? 'given a password whose bytes are not (not shown)' : `given ${quote(raw)}${where}`;
    throw new ConfigError(partOption, `${partOption}: expected percent-encoded bytes to be valid UTF-8, ${given}`);
  }
}

function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/\s/.test(ch)) return 'whitespace';
  return `the character ${quote(ch)}`;
}

function quote(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  let escaped = '';
  for (const ch of shown) {
    const code = ch.charCodeAt(0);
    if (ch === "'" || ch === '\\') escaped += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) escaped += `\\u${code.toString(16).padStart(4, '0')}`;
    else escaped += ch;
  }
  return `'${escaped}'`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
