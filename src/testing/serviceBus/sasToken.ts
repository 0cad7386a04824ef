/**
 * Shared Access Signature tokens as Azure Service Bus issues and checks them:
 * `SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64 HMAC-SHA256>&se=<expiry>&skn=<key name>`,
 * where the signature is over `<url-encoded resource> + "\n" + <expiry>` with the key's UTF-8 bytes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Creates a SAS token for `resource` (e.g. `sb://localhost/orders`) signed with the key `keyName`.
 *
 * @param expiry - When the token expires: seconds since the Unix epoch, or a Date.
 */
export function generateSasToken(resource: string, keyName: string, key: string, expiry: number | Date): string {
  const se = typeof expiry === 'number' ? Math.floor(expiry) : Math.floor(expiry.getTime() / 1000);
  if (!Number.isFinite(se)) throw new TypeError(`generateSasToken: expiry must be a number of seconds or a Date, got ${String(expiry)}`);
  const sr = encodeURIComponent(resource);
  const sig = sign(key, `${sr}\n${se}`);
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${encodeURIComponent(keyName)}`;
}

/** The fields of a SAS token, URL-decoded, plus the resource exactly as encoded in the token (what was signed). */
export interface ParsedSasToken {
  /** The resource the token grants access to (`sr`), URL-decoded, e.g. `sb://localhost/orders`. */
  resource: string;
  /** The `sr` field exactly as it appears in the token: the text the signature covers. */
  encodedResource: string;
  /** The base64 HMAC-SHA256 signature (`sig`), URL-decoded. */
  signature: string;
  /** When the token expires (`se`), in seconds since the Unix epoch. */
  expiry: number;
  /** The name of the shared access key that signed it (`skn`), URL-decoded. */
  keyName: string;
}

/** Parses a SAS token; undefined when it is not one. */
export function parseSasToken(token: string): ParsedSasToken | undefined {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return undefined;
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).trim().split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (sr === undefined || sig === undefined || se === undefined || skn === undefined || !/^\d+$/.test(se)) return undefined;
  try {
    return {
      resource: decodeURIComponent(sr.replace(/\+/g, ' ')),
      encodedResource: sr,
      signature: decodeURIComponent(sig),
      expiry: Number(se),
      keyName: decodeURIComponent(skn),
    };
  } catch {
    return undefined;
  }
}

/** Why a token was refused, with the status code and description the service answers a put-token with. */
export interface SasTokenRejection {
  /** Always `false`: the token was refused. */
  ok: false;
  /** The status code the service answers a put-token with: 401 for every refusal here. */
  status: number;
  /** Why it was refused, as the service words it, e.g. `ExpiredToken: …` or `InvalidSignature: …`. */
  description: string;
}

/** A token that passed: what it said, parsed. */
export interface SasTokenAcceptance {
  /** Always `true`: the token is valid. */
  ok: true;
  /** The token's fields, parsed. */
  token: ParsedSasToken;
}

/**
 * Checks a token against the namespace's keys: known key name, signature, not expired.
 *
 * @param nowMs - The current time (ms); tokens whose `se` is not after it are expired.
 */
export function validateSasToken(
  token: string,
  keys: Readonly<Record<string, string>>,
  nowMs: number = Date.now(),
): SasTokenAcceptance | SasTokenRejection {
  const parsed = parseSasToken(token);
  if (!parsed) {
    return { ok: false, status: 401, description: 'MalformedToken: The token is not a SharedAccessSignature with sr, sig, se and skn.' };
  }
  if (!Object.hasOwn(keys, parsed.keyName)) {
    return { ok: false, status: 401, description: `InvalidIssuer: Token issuer is invalid. The key '${parsed.keyName}' is not a shared access policy of the namespace.` };
  }
  const expected = Buffer.from(sign(keys[parsed.keyName] as string, `${parsed.encodedResource}\n${parsed.expiry}`), 'base64');
  const given = Buffer.from(parsed.signature, 'base64');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, status: 401, description: 'InvalidSignature: The token has an invalid signature.' };
  }
  if (parsed.expiry * 1000 <= nowMs) {
    return {
      ok: false,
      status: 401,
      description: `ExpiredToken: The token is expired. Expiration time: '${new Date(parsed.expiry * 1000).toISOString()}'`,
    };
  }
  return { ok: true, token: parsed };
}

function sign(key: string, text: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(text, 'utf8').digest('base64');
}
