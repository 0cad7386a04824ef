import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnectJson } from '../../../src/config/connectJson.js';
import { isConnectionString, parseConnectionString, type ServiceBusConnectionString } from '../../../src/config/connectionString.js';
import { parseUrl } from '../../../src/config/parseUrl.js';
import { ConfigError } from '../../../src/errors/errors.js';

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** Runs `run`; anything thrown must be a ConfigError, and is returned. */
function onlyConfigError(run: () => unknown): ConfigError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw new Error(`expected only ConfigError, got ${inspect(error)}`, { cause: error });
    }
    return error;
  }
}

/** Every way an error could show a secret: message, JSON, and what Node prints for it. */
function shown(error: ConfigError): string {
  return `${error.message}\n${JSON.stringify(error)}\n${inspect(error, { depth: 5 })}`;
}

/** Fails when `text` holds `secret` or any 10-character piece of it. */
function expectNoPieceOf(secret: string, text: string): void {
  expect(text).not.toContain(secret);
  for (let i = 0; i + 10 <= secret.length; i += 1) {
    const piece = secret.slice(i, i + 10);
    if (text.includes(piece)) throw new Error(`a piece of the secret ('${piece}') is shown in:\n${text}`);
  }
}

// A realistic SAS key: 32 random bytes in base64 (44 characters, '=' at the end).
const KEY = 'kQ9v1Zr7YHbW3xT2pL8mN5cD4eF6gA0sJ+/uVwXy1z0=';
const ENDPOINT = 'Endpoint=sb://contoso.servicebus.windows.net/';
const NAME = 'SharedAccessKeyName=RootManageSharedAccessKey';
const sasKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('base64'));

describe('isConnectionString', () => {
  it.each<[string, boolean]>([
    [`${ENDPOINT};${NAME};SharedAccessKey=${KEY}`, true],
    [`endpoint=sb://x/`, true],
    [`  ENDPOINT =sb://x/`, true],
    ['amqps://user:pass@host', false],
    ['sb://contoso.servicebus.windows.net/', false],
    ['SharedAccessKeyName=a;Endpoint=sb://x/', false],
    ['', false],
  ])('%j → %s', (text, expected) => {
    expect(isConnectionString(text)).toBe(expected);
  });
});

describe('parseConnectionString', () => {
  const base: ServiceBusConnectionString = {
    host: 'contoso.servicebus.windows.net',
    sharedAccessKeyName: 'RootManageSharedAccessKey',
    sharedAccessKey: KEY,
  };

  it.each<[string, string, ServiceBusConnectionString]>([
    ['the portal form', `${ENDPOINT};${NAME};SharedAccessKey=${KEY}`, base],
    ['a trailing ;', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};`, base],
    ['empty pairs', `;;${ENDPOINT};;${NAME};SharedAccessKey=${KEY};;`, base],
    ['EntityPath as the default address', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};EntityPath=orders`, { ...base, entityPath: 'orders' }],
    ['a subscription path', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};EntityPath=t/Subscriptions/s`, { ...base, entityPath: 't/Subscriptions/s' }],
    ['an empty EntityPath as none', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};EntityPath=`, base],
    ['pairs in any order', `SharedAccessKey=${KEY};EntityPath=q;${NAME};${ENDPOINT}`, { ...base, entityPath: 'q' }],
    [
      'keys in any case',
      `endpoint=sb://contoso.servicebus.windows.net/;SHAREDACCESSKEYNAME=RootManageSharedAccessKey;sharedaccesskey=${KEY};entitypath=q`,
      { ...base, entityPath: 'q' },
    ],
    ['spaces around names and values', ` Endpoint = sb://contoso.servicebus.windows.net/ ; ${NAME} ;SharedAccessKey= ${KEY} `, base],
    ['a key ending in ==', `${ENDPOINT};${NAME};SharedAccessKey=abc+/def==`, { ...base, sharedAccessKey: 'abc+/def==' }],
    ['a key holding = inside', `${ENDPOINT};${NAME};SharedAccessKey=a=b=c=`, { ...base, sharedAccessKey: 'a=b=c=' }],
    ['an Endpoint without the trailing /', `Endpoint=sb://contoso.servicebus.windows.net;${NAME};SharedAccessKey=${KEY}`, base],
    ['an amqps Endpoint', `Endpoint=amqps://contoso.servicebus.windows.net/;${NAME};SharedAccessKey=${KEY}`, base],
    ['an https Endpoint with a port', `Endpoint=https://contoso.servicebus.windows.net:443/;${NAME};SharedAccessKey=${KEY}`, base],
    ['an Endpoint scheme in capitals', `Endpoint=SB://contoso.servicebus.windows.net/;${NAME};SharedAccessKey=${KEY}`, base],
  ])('reads %s', (_name, text, expected) => {
    expect(parseConnectionString(text)).toStrictEqual(expected);
  });

  it.each<[string, string, string, RegExp]>([
    ['no Endpoint', `${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /'Endpoint' is missing or empty/],
    ['an empty Endpoint', `Endpoint=;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /'Endpoint' is missing or empty/],
    ['no SharedAccessKeyName', `${ENDPOINT};SharedAccessKey=${KEY}`, 'connectionString.SharedAccessKeyName', /'SharedAccessKeyName' is missing/],
    ['no SharedAccessKey', `${ENDPOINT};${NAME}`, 'connectionString.SharedAccessKey', /'SharedAccessKey' is missing or empty/],
    ['an empty SharedAccessKey', `${ENDPOINT};${NAME};SharedAccessKey=`, 'connectionString.SharedAccessKey', /missing or empty/],
    ['an empty text', '', 'connectionString.Endpoint', /'Endpoint' is missing/],
    ['only separators', ' ; ;', 'connectionString.Endpoint', /'Endpoint' is missing/],
    ['a duplicate Endpoint', `${ENDPOINT};${ENDPOINT};${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /'Endpoint' is given twice/],
    ['a duplicate key in another case', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};sharedaccesskey=${KEY}`, 'connectionString.SharedAccessKey', /'SharedAccessKey' is given twice/],
    ['a duplicate EntityPath', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};EntityPath=a;EntityPath=b`, 'connectionString.EntityPath', /given twice/],
    ['an unknown name', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};TransportType=Amqp`, 'connectionString', /part 4 \('TransportType'\) has an unknown name; expected Endpoint, SharedAccessKeyName, SharedAccessKey and optionally EntityPath/],
    ['a misspelled name', `${ENDPOINT};${NAME};SharedAccesKey=${KEY}`, 'connectionString', /part 3 \('SharedAccesKey'\) has an unknown name/],
    ['a SAS token string', `${ENDPOINT};SharedAccessSignature=SharedAccessSignature sr=x&sig=${KEY}`, 'connectionString', /part 2 .*unknown name/],
    ['a pair without =', `${ENDPOINT};${NAME};SharedAccessKey`, 'connectionString', /part 3 \('SharedAccessKey'\) is not a Name=Value pair/],
    ['a pair without a name', `${ENDPOINT};${NAME};=${KEY}`, 'connectionString', /part 3 \(not shown: it may hold the key\) is not a Name=Value pair/],
    ['pairs on separate lines', `${ENDPOINT}\n${NAME}\nSharedAccessKey=${KEY}`, 'connectionString.Endpoint', /'Endpoint' holds whitespace \(not shown\); pairs are separated by ';'/],
    ['pairs separated by commas', `${ENDPOINT},${NAME},SharedAccessKey=${KEY}`, 'connectionString.SharedAccessKeyName', /missing/],
    ['a key holding a space', `${ENDPOINT};${NAME};SharedAccessKey=abc def=`, 'connectionString.SharedAccessKey', /holds whitespace/],
    ['an Endpoint that is a host only', `Endpoint=contoso.servicebus.windows.net;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /must look like 'sb:\/\/NAMESPACE\.servicebus\.windows\.net\/', got a value that is not shown \(it is not a URL\)$/],
    ['an http Endpoint', `Endpoint=http://contoso.servicebus.windows.net/;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /got 'http:\/\/contoso\.servicebus\.windows\.net' followed by more/],
    ['an Endpoint with a path', `Endpoint=sb://contoso.servicebus.windows.net/orders;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /got 'sb:\/\/contoso\.servicebus\.windows\.net' followed by more \(not shown\)$/],
    ['an Endpoint with a query', `Endpoint=sb://contoso.servicebus.windows.net/?a=b;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /followed by more/],
    ['an Endpoint without a host', `Endpoint=sb:///;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /got 'sb:\/\/' followed by more/],
    ['an Endpoint with a bad port', `Endpoint=sb://contoso.servicebus.windows.net:x/;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /must look like/],
    ['an Endpoint with user info', `Endpoint=sb://u:p@contoso.servicebus.windows.net/;${NAME};SharedAccessKey=${KEY}`, 'connectionString.Endpoint', /got 'sb:\/\/u' followed by more/],
  ])('rejects %s', (_name, text, option, message) => {
    const error = configError(() => parseConnectionString(text));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
    expect(error.retryable).toBe(false);
    expectNoPieceOf(KEY, shown(error));
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { Endpoint: 'sb://x/' }],
  ])('rejects %s given in place of the text', (_name, value) => {
    expect(configError(() => parseConnectionString(value as string)).option).toBe('connectionString');
  });

  // Each is a way the key can end up where a name or a separator is expected.
  it.each<[string, string]>([
    ['the key without its name', `${ENDPOINT};${NAME};${KEY}`],
    ['the key without its name and padding', `${ENDPOINT};${NAME};${KEY.slice(0, -1)}`],
    ['a space for the =', `${ENDPOINT};${NAME};SharedAccessKey ${KEY}`],
    ['a : for the =', `${ENDPOINT};${NAME};SharedAccessKey:${KEY}`],
    ['the key split by a ;', `${ENDPOINT};${NAME};SharedAccessKey=${KEY.slice(0, 20)};${KEY.slice(20)}`],
    ['a line break for the ; before the key', `${ENDPOINT};${NAME}\nSharedAccessKey=${KEY}`],
    ['a line break after the key', `${ENDPOINT};${NAME};SharedAccessKey=${KEY}\nEntityPath=q`],
    ['the key in the Endpoint query', `Endpoint=sb://contoso.servicebus.windows.net/?key=${KEY};${NAME};SharedAccessKey=${KEY}`],
    ['the key as the Endpoint', `Endpoint=${KEY};${NAME};SharedAccessKey=${KEY}`],
    ['the key twice', `${ENDPOINT};${NAME};SharedAccessKey=${KEY};SharedAccessKey=${KEY}`],
  ])('never shows the key: %s', (_name, text) => {
    expectNoPieceOf(KEY, shown(configError(() => parseConnectionString(text))));
  });
});

describe('property: the parsers throw only ConfigError and never show the secret', () => {
  it('parseConnectionString, on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        onlyConfigError(() => parseConnectionString(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('parseConnectionString, on generated connection strings with a SAS key', () => {
    const endpoints = [
      'Endpoint=sb://contoso.servicebus.windows.net/',
      'endpoint=amqps://x.servicebus.windows.net',
      'Endpoint=http://x/',
      'Endpoint=sb://x.servicebus.windows.net/queue',
      'Endpoint=',
      'Endpoint',
      'Endpoint=sb://x:99999/',
    ];
    // How the key appears: as a pair, under a wrong name or separator, bare, or in a bad place.
    const placements = [
      (key: string) => `SharedAccessKey=${key}`,
      (key: string) => `sharedaccesskey = ${key} `,
      (key: string) => `SharedAccesKey=${key}`,
      (key: string) => `SharedAccessKey ${key}`,
      (key: string) => `SharedAccessKey:${key}`,
      (key: string) => key,
      (key: string) => `=${key}`,
      (key: string) => `SharedAccessKey=${key}\nEntityPath=q`,
      (key: string) => `Endpoint=sb://x.servicebus.windows.net/?k=${key}`,
      (key: string) => `EntityPath=${key}x`,
    ];
    const others = fc.constantFrom(
      'SharedAccessKeyName=RootManageSharedAccessKey',
      'SHAREDACCESSKEYNAME=listen',
      'EntityPath=orders',
      'EntityPath=',
      'TransportType=Amqp',
      '',
      ' ',
      'x',
      '=',
    );
    const parts = fc.tuple(
      fc.constantFrom(...endpoints),
      fc.array(fc.nat(placements.length - 1), { minLength: 1, maxLength: 2 }),
      fc.array(others, { maxLength: 4 }),
      fc.constantFrom(';', ';', ';', ';;', '; ', ','),
    );
    fc.assert(
      fc.property(sasKey, parts, fc.nat(), (key, [endpoint, which, extra, separator], seed) => {
        const pieces = [endpoint, ...which.map((i) => placements[i]!(key)), ...extra];
        // A deterministic shuffle from the seed keeps the case reproducible.
        const shuffled = pieces.map((p, i) => ({ p, k: (seed * (i + 7)) % 101 })).sort((a, b) => a.k - b.k).map((x) => x.p);
        const error = onlyConfigError(() => parseConnectionString(shuffled.join(separator)));
        if (error !== undefined) expectNoPieceOf(key, shown(error));
      }),
      { numRuns: 1500 },
    );
  });

  it('parseUrl, on any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (text) => {
        onlyConfigError(() => parseUrl(text));
        onlyConfigError(() => parseUrl(`amqp://${text}`));
        onlyConfigError(() => parseUrl(`amqps://u:p@h/${text}`));
      }),
      { numRuns: 2000 },
    );
  });

  it('parseUrl, on values that are not strings', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        fc.pre(typeof value !== 'string');
        expect(onlyConfigError(() => parseUrl(value as string))).toBeInstanceOf(ConfigError);
      }),
      { numRuns: 300 },
    );
  });

  it('parseUrl, on URLs built from good and bad parts with a password', () => {
    const schemes = fc.constantFrom('amqp://', 'amqps://', 'AMQPS://', 'http://', 'amqp:/', 'amqp:', '', ' amqp://');
    const users = fc.constantFrom('u', 'user%40x', '', 'a b', 'RootManageSharedAccessKey');
    const separators = fc.constantFrom(':', '::', ':@');
    const hosts = fc.constantFrom('h', '127.0.0.1', '[::1]', '[::1', '::1', 'bad host', '', 'h..x', 'ns.servicebus.windows.net', 'é.example');
    const ports = fc.constantFrom('', ':5671', ':0', ':x', ':70000', ':');
    const tails = fc.constantFrom('', '/', '/q', '/a%2', '?x=1', '#f', '/q?x', '/%00');
    fc.assert(
      fc.property(
        sasKey,
        fc.constantFrom('raw', 'encoded', 'broken'),
        fc.tuple(schemes, users, separators, hosts, ports, tails),
        (key, form, [scheme, user, separator, host, port, tail]) => {
          const password = form === 'raw' ? key : form === 'encoded' ? encodeURIComponent(key) : `${key}%Z"`;
          const url = `${scheme}${user}${separator}${password}@${host}${port}${tail}`;
          const error = onlyConfigError(() => parseUrl(url));
          if (error !== undefined) {
            expectNoPieceOf(key, shown(error));
            expectNoPieceOf(encodeURIComponent(key), shown(error));
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  describe('loadConnectJson, on generated file contents', () => {
    let dir: string;
    let count = 0;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'rhea-rx-connect-prop-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const load = (text: string) => {
      const file = join(dir, `c${(count += 1)}.json`);
      writeFileSync(file, text);
      return () => loadConnectJson(file);
    };

    it('any text', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
          onlyConfigError(load(text));
        }),
        { numRuns: 400 },
      );
    });

    it('JSON documents with a password, mutated', () => {
      const secret = fc
        .string({ unit: fc.constantFrom(...'abcXYZ019+/=_-!$ '.split('')), minLength: 8, maxLength: 30 })
        .map((s) => `Zq9${s}Zq9`);
      const value = fc.oneof(
        fc.constant('localhost'),
        fc.constant('amqp'),
        fc.integer({ min: -5, max: 70000 }),
        fc.boolean(),
        fc.constant(null),
        fc.constant(['PLAIN']),
        fc.constant({}),
        fc.string({ maxLength: 8 }),
      );
      const key = fc.constantFrom('scheme', 'host', 'port', 'user', 'sasl', 'tls', 'hots', 'reconnect', 'sasl.mechanisms');
      const nested = fc.record({ mechanisms: value, allow_insecure: value, allowInsecure: value }, { requiredKeys: [] });
      const tls = fc.record({ ca: value, cert: value, key: value, verify: value, verfy: value }, { requiredKeys: [] });
      // Where the password goes: its own key, a misspelling, a nested object, a wrong type.
      const where = fc.constantFrom('password', 'pasword', 'Password', 'auth', 'list', 'number-like');
      const mutation = fc.constantFrom('none', 'truncate', 'insert', 'comment', 'unclose', 'duplicate');
      fc.assert(
        fc.property(
          secret,
          fc.dictionary(key, value, { maxKeys: 4 }),
          nested,
          tls,
          where,
          mutation,
          fc.nat(),
          fc.constantFrom('"', '}', ',', '\u0000', '\n', '/*', 'x', '\\'),
          (pw, base, sasl, tlsOptions, place, change, position, inserted) => {
            const doc: Record<string, unknown> = { ...base };
            if (Math.abs(position) % 3 === 0) doc.sasl = sasl;
            if (Math.abs(position) % 5 === 0) doc.tls = tlsOptions;
            if (place === 'auth') doc.auth = { password: pw };
            else if (place === 'list') doc.password = [pw];
            else doc[place === 'number-like' ? 'password' : place] = pw;
            let text = JSON.stringify(doc, null, 1);
            if (place === 'number-like') text = text.replace(JSON.stringify(pw), pw.replace(/\W/g, '7'));
            const at = position % (text.length + 1);
            if (change === 'truncate') text = text.slice(0, at);
            else if (change === 'insert') text = `${text.slice(0, at)}${inserted}${text.slice(at)}`;
            else if (change === 'comment') text = `// ${pw}\n${text.replace(',', ', /* note */')}`;
            else if (change === 'unclose') text = `${text} /* ${pw}`;
            else if (change === 'duplicate') text = text.replace('{', `{"password": ${JSON.stringify(pw)}, `);
            const error = onlyConfigError(load(text));
            if (error === undefined) return;
            const output = shown(error);
            expect(output).not.toContain('Zq9');
            expectNoPieceOf(pw.slice(3, -3), output);
          },
        ),
        { numRuns: 800 },
      );
    });
  });
});
