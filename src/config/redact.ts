/** What every hidden secret is replaced with. */
export const REDACTED = '***';

// A run of characters that cannot end a URL written inside text: whitespace, quotes and angle brackets.
const URL_TOKEN = /[^\s"'<>`]+/g;
// A scheme followed by '//'; the length bound keeps the scan linear on hostile input.
const SCHEME_SLASHES = /[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\//;

// Names whose `name=value` value is a secret: connection strings (`SharedAccessKey=`), SAS tokens
// (`sig=`), query strings (`password=`). `SharedAccessKeyName=` and `skn=` are not secrets and do not match.
// The look-behind anchors each attempt at the start of a name, so the lazy prefix stays linear. The
// value stops at a backslash so that a match inside a JSON string never splits an escape.
const KEY_VALUE =
  /(?<![\w-])((?:[\w-]*?(?:password|passwd|passphrase|secret|token|sharedaccesskey|accesskey|apikey)|pwd|sig)\s*=\s*)[^&;,\s"'<>\\]+/gi;

// JSON and JavaScript object fields whose value is a secret: `"password": "x"`, `{ sasToken: 'x' }`,
// `"key": "-----BEGIN PRIVATE KEY-----…"`. The value may be a JSON string with escapes, a single-
// or back-quoted string (as util.inspect prints strings holding quotes), or a bare word. A name right
// after '/' is a URL's user name (`amqps://RootManageSharedAccessKey:…@`), not a field.
const FIELD =
  /(?<![\w/-])(["']?)((?:[\w-]*?(?:password|passwd|passphrase|secret|token|sharedaccesskey|accesskey|privatekey|apikey|signature)|pwd|sig|key|pfx))\1(\s*:\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|[^\s,;}\]]+)/gi;

/**
 * Hides the secrets in a piece of text, so that it can go into an error message or a log line.
 *
 * Hidden, wherever they appear in `text`:
 * - URL passwords: `amqp://user:SECRET@host` → `amqp://user:***@host`. Everything between the
 *   user name and the last `@` of the URL is hidden, so a password containing a raw `@` or `/`
 *   is hidden too (at the cost of hiding a little more in rare URLs).
 * - `name=value` secrets: `SharedAccessKey=` in Service Bus connection strings, `sig=` in SAS
 *   tokens (`SharedAccessSignature sr=…&sig=…&se=…&skn=…`), and `password=`, `token=`, `secret=`.
 * - Object fields, in JSON or as Node prints objects: `"password": "x"`, `{ sasToken: 'x' }`,
 *   and fields ending in `password`, `passphrase`, `secret`, `token`, `accessKey`, `privateKey`,
 *   `apiKey`, `signature`, plus `key`, `pfx`, `pwd` and `sig`.
 *
 * Names are matched case-insensitively. User names, hosts, `SharedAccessKeyName` and `skn` stay
 * visible, since they are what one needs to diagnose a failed connection.
 *
 * @param text - Any text: a URL, a connection string, a message, a JSON document.
 * @returns `text` with every secret it recognizes replaced by `***`.
 * @throws Never.
 * @see {@link redactUrl} for a string known to be a single URL.
 * @example
 * redact('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc=')
 * // 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=***'
 */
export function redact(text: string): string {
  return String(text)
    .replace(URL_TOKEN, redactUrlsInToken)
    .replace(KEY_VALUE, `$1${REDACTED}`)
    .replace(FIELD, (_match, quote: string, name: string, colon: string, value: string) => {
      const first = value.charAt(0);
      const valueQuote = first === '"' || first === "'" || first === '`' ? first : '';
      return `${quote}${name}${quote}${colon}${valueQuote}${REDACTED}${valueQuote}`;
    });
}

/**
 * Hides the password of a string that is meant to be one URL, however malformed it is.
 *
 * Unlike {@link redact}, which has to guess where a URL ends inside free text, this treats the
 * whole string as the URL: everything between the first `:` after the scheme's `//` and the last
 * `@` is hidden, even when it contains whitespace, quotes or other characters a URL may not hold.
 * With no `scheme://` prefix, or another scheme than amqp, amqps or sb (the `//` may then begin a
 * password), everything between the first `:` and the last `@` is hidden. The
 * result then goes through {@link redact}, which also hides `sig=`, `password=` and the like.
 *
 * @param url - A URL as the user gave it, possibly malformed.
 * @returns The URL with its password replaced by `***`.
 * @throws Never.
 * @example
 * redactUrl('amqps://name:a b"c@ns.servicebus.windows.net/q') // 'amqps://name:***@ns.servicebus.windows.net/q'
 */
export function redactUrl(url: string): string {
  const text = String(url);
  const prefix = /^\s*([A-Za-z][A-Za-z0-9+.-]{0,31}):\/\//.exec(text);
  // why: with a scheme of its own kind, `user:password@` follows the `//`. Anything else may be a
  // `user:password@host` with no scheme whose password starts with `//` ('/' is a base64 digit):
  // then the first ':' starts the password.
  const start = prefix !== null && URL_SCHEMES.has((prefix[1] ?? '').toLowerCase()) ? prefix[0].length : 0;
  const at = text.lastIndexOf('@');
  if (at < start) return redact(text);
  const colon = text.indexOf(':', start);
  if (colon < 0 || colon > at) return redact(text);
  return redact(`${text.slice(0, colon + 1)}${REDACTED}${text.slice(at)}`);
}

/** Schemes whose URLs rhea-rx takes (AMQP, and Service Bus endpoints). */
const URL_SCHEMES = new Set(['amqp', 'amqps', 'amqp+ws', 'amqp+wss', 'sb', 'ws', 'wss']);

function redactUrlsInToken(token: string): string {
  const at = token.lastIndexOf('@');
  if (at < 0) return token;
  const scheme = SCHEME_SLASHES.exec(token);
  if (scheme === null) return token;
  const userStart = scheme.index + scheme[0].length;
  const colon = token.indexOf(':', userStart);
  if (colon < 0 || colon > at) return token;
  return `${token.slice(0, colon + 1)}${REDACTED}${token.slice(at)}`;
}

// Option names (compared lower-case, without '-' and '_') whose values are secrets.
const SECRET_OPTIONS = new Set(['password', 'sharedaccesskey', 'token', 'key', 'passphrase', 'pfx', 'secret']);

/**
 * Copies an options object for logging, with every secret replaced by `***`.
 *
 * The values of `password`, `sharedAccessKey`, `token`, `key` (a TLS private key, string or
 * Buffer), `passphrase`, `pfx` and `secret` are replaced at any depth; names are compared without
 * regard to case, `-` or `_` (`shared_access_key`, `_key`). Every other string goes through
 * {@link redact}, so a `url` or `connectionString` option loses its password too. Plain objects,
 * arrays and class instances (as plain objects of their own enumerable fields) are copied; `null`
 * and `undefined` secrets stay as they are, so the log still shows that none was given. Buffers,
 * dates, maps, sets and functions are kept by reference. Cycles are preserved. The input is never
 * modified.
 *
 * @param options - Anything, usually the options passed to the client.
 * @returns A redacted copy, for a logger; do not connect with it.
 * @throws Never.
 * @example
 * redactOptions({ host: 'h', password: 'p', tls: { key: keyBuffer } }) // { host: 'h', password: '***', tls: { key: '***' } }
 */
export function redactOptions(options: unknown): unknown {
  return copyRedacted(options, new WeakMap());
}

function copyRedacted(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    seen.set(value, items);
    for (const item of value) items.push(copyRedacted(item, seen));
    return items;
  }
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof Map ||
    value instanceof Set ||
    value instanceof Promise
  ) {
    return value;
  }
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const [name, field] of Object.entries(value)) {
    const secret = field !== undefined && field !== null && SECRET_OPTIONS.has(name.toLowerCase().replace(/[-_]/g, ''));
    // defineProperty, not assignment: a `__proto__` key from JSON.parse must stay a plain field.
    Object.defineProperty(copy, name, {
      value: secret ? REDACTED : copyRedacted(field, seen),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}
