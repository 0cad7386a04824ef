import { createHmac } from 'node:crypto';
import { ConfigError } from '../errors/errors.js';
import { tokenTypes } from './constants.js';

/** A token for claims-based authorization, and when it stops being valid. */
export interface AccessToken {
  /** The token as `put-token` sends it: a SAS token (`SharedAccessSignature sr=…`) or a JWT. */
  readonly token: string;
  /** When the token expires, in milliseconds since the Unix epoch. */
  readonly expiresOnTimestamp: number;
}

/**
 * Where the Service Bus client gets the tokens it puts on the `$cbs` node: one per audience
 * (`sb://NAMESPACE/ENTITY`), asked for before the first link to that entity attaches and again
 * before the token expires.
 *
 * @example
 * // A token from anywhere: a vault, Azure AD (`@azure/identity` gives a JWT), a SAS service.
 * const tokenProvider: TokenProvider = {
 *   tokenType: 'jwt',
 *   getToken: async () => {
 *     const t = await credential.getToken('https://servicebus.azure.net//.default');
 *     return { token: t.token, expiresOnTimestamp: t.expiresOnTimestamp };
 *   },
 * };
 */
export interface TokenProvider {
  /**
   * The token type `put-token` announces: `servicebus.windows.net:sastoken` for SAS tokens, `jwt`
   * for Azure AD tokens.
   * @default 'jwt'
   */
  readonly tokenType?: string;
  /** A token for `audience`, the URI of the entity to be authorized (`sb://NAMESPACE/ENTITY`). */
  getToken(audience: string): Promise<AccessToken>;
}

/** Options of {@link sasTokenProvider}. */
export interface SasTokenProviderOptions {
  /** How long each token is valid, in milliseconds (rounded down to whole seconds). @default 3_600_000 (one hour, as azure-servicebus) */
  lifetime?: number;
  /** The clock, in milliseconds since the Unix epoch (for tests). @default Date.now */
  now?: () => number;
}

/** Characters `quote_plus` (Python's `urllib.parse`, `safe=''`) leaves as they are. */
const QUOTE_PLUS_SAFE = /[A-Za-z0-9_.~-]/;

/**
 * Percent-encodes text as a form value, exactly as Python's `urllib.parse.quote_plus(text, safe='')`
 * does (upper-case hex, a space becomes `+`): the encoding azure-servicebus applies to the resource
 * URI and key name of a SAS token.
 */
export function quotePlus(text: string): string {
  let out = '';
  for (const char of text) {
    if (QUOTE_PLUS_SAFE.test(char)) out += char;
    else if (char === ' ') out += '+';
    else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The signature's encoding in uAMQP's token (azure-c-shared-utility `URL_Encode`): lower-case hex. */
function encodeSignature(base64: string): string {
  return base64.replace(/[^A-Za-z0-9!()*._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Makes a Shared Access Signature token for `resource`:
 * `SharedAccessSignature sr=<resource>&sig=<signature>&se=<expiry>&skn=<keyName>`, where the
 * signature is the base64 HMAC-SHA256, keyed with the key's text, of the URL-encoded resource, a
 * line feed and the expiry in Unix seconds.
 *
 * The token is byte for byte the one azure-servicebus 7 (through uAMQP) makes for the same
 * arguments: resource and key name encoded as Python's `quote_plus`, the signature's `+`, `/`
 * and `=` as `%2b`, `%2f` and `%3d`.
 *
 * @param resource - What the token grants access to, e.g. `sb://contoso.servicebus.windows.net/orders`.
 * @param keyName - The shared access policy's name, e.g. `RootManageSharedAccessKey`.
 * @param key - The policy's key, as the connection string gives it (used as text, not decoded).
 * @param expiry - When the token expires: a Date, or Unix time in seconds (the token's `se`).
 * @returns The token; it contains a signature, so treat it as a secret.
 * @throws {@link ConfigError} when an argument is empty or the expiry is not a time.
 * @example
 * createSasToken('sb://ns.servicebus.windows.net/q', 'RootManageSharedAccessKey', key, new Date(Date.now() + 3_600_000));
 */
export function createSasToken(resource: string, keyName: string, key: string, expiry: Date | number): string {
  for (const [name, value] of [
    ['resource', resource],
    ['keyName', keyName],
    ['key', key],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0) throw new ConfigError(name, `createSasToken: '${name}' must be a non-empty string`);
  }
  const seconds = expiry instanceof Date ? Math.floor(expiry.getTime() / 1000) : expiry;
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new ConfigError('expiry', 'createSasToken: the expiry must be a Date or a whole number of seconds since the Unix epoch');
  }
  const encodedResource = quotePlus(resource);
  const signature = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${encodedResource}\n${seconds}`, 'utf8').digest('base64');
  return `SharedAccessSignature sr=${encodedResource}&sig=${encodeSignature(signature)}&se=${seconds}&skn=${quotePlus(keyName)}`;
}

/**
 * A {@link TokenProvider} that signs a fresh SAS token for each audience with a shared access key,
 * as azure-servicebus does with the key of a connection string.
 *
 * @param keyName - The shared access policy's name.
 * @param key - The policy's key.
 * @param options - See {@link SasTokenProviderOptions}.
 * @throws {@link ConfigError} at once for an empty name or key or an invalid lifetime.
 * @example
 * createServiceBusClient({ fullyQualifiedNamespace: 'ns.servicebus.windows.net', tokenProvider: sasTokenProvider(name, key) });
 */
export function sasTokenProvider(keyName: string, key: string, options: SasTokenProviderOptions = {}): TokenProvider {
  if (typeof keyName !== 'string' || keyName.length === 0) throw new ConfigError('keyName', "sasTokenProvider: 'keyName' must be a non-empty string");
  if (typeof key !== 'string' || key.length === 0) throw new ConfigError('key', "sasTokenProvider: 'key' must be a non-empty string");
  const lifetime = options.lifetime ?? 3_600_000;
  if (!Number.isInteger(lifetime) || lifetime < 1000) {
    throw new ConfigError('lifetime', `sasTokenProvider: 'lifetime' must be a whole number of milliseconds of at least 1000, got ${String(lifetime)}`);
  }
  const now = options.now ?? Date.now;
  return {
    tokenType: tokenTypes.sas,
    getToken: (audience: string) => {
      const expiresOn = Math.floor(now() / 1000) + Math.floor(lifetime / 1000);
      return Promise.resolve({ token: createSasToken(audience, keyName, key, expiresOn), expiresOnTimestamp: expiresOn * 1000 });
    },
  };
}
