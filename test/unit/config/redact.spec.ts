import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, redact, redactOptions, redactUrl } from '../../../src/config/redact.js';

const base64Secret = fc.base64String({ minLength: 16, maxLength: 88 });
// A secret that cannot occur by chance in the surrounding text of the templates below.
const markedSecret = fc.string({ unit: 'binary', maxLength: 30 }).map((text) => `Zq9${text}Zq9`);

describe('redact', () => {
  it.each<[string, string, string]>([
    ['a URL password', 'amqp://user:SECRET@host', 'amqp://user:***@host'],
    ['a URL in a sentence', 'connecting to amqps://user:SECRET@host:5671/q now', 'connecting to amqps://user:***@host:5671/q now'],
    ['a percent-encoded key', 'amqps://Root:abc%2B%2Fdef%3D@ns.servicebus.windows.net/q', 'amqps://Root:***@ns.servicebus.windows.net/q'],
    ['a raw base64 key with / and +', 'amqps://Root:ab/c+d=@ns/q', 'amqps://Root:***@ns/q'],
    ['a raw @ in the password', 'amqp://u:p@ss@h', 'amqp://u:***@h'],
    ['an empty password', 'amqp://u:@h', 'amqp://u:***@h'],
    ['an IPv6 host', 'amqp://u:pw@[::1]:5672', 'amqp://u:***@[::1]:5672'],
    ['a quoted URL', '{"url":"amqp://u:pw@h","x":"a@b"}', '{"url":"amqp://u:***@h","x":"a@b"}'],
    ['a URL in angle brackets', '<amqp://u:pw@h>', '<amqp://u:***@h>'],
    ['two URLs', 'amqp://a:one@h1 amqps://b:two@h2', 'amqp://a:***@h1 amqps://b:***@h2'],
    ['an upper-case scheme', 'AMQPS://u:pw@h', 'AMQPS://u:***@h'],
    ['other schemes too', 'https://u:pw@example.com/x', 'https://u:***@example.com/x'],
    [
      'a Service Bus connection string',
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abc+/def=;EntityPath=q',
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=***;EntityPath=q',
    ],
    ['SharedAccessKey at the end', 'SharedAccessKeyName=root;SharedAccessKey=k3y=', 'SharedAccessKeyName=root;SharedAccessKey=***'],
    ['SharedAccessKey in any case', 'sharedaccesskey = k3y', 'sharedaccesskey = ***'],
    [
      'a SAS token',
      'SharedAccessSignature sr=https%3A%2F%2Fns.servicebus.windows.net%2Fq&sig=AbC%2Bd%2F%3D&se=1700000000&skn=root',
      'SharedAccessSignature sr=https%3A%2F%2Fns.servicebus.windows.net%2Fq&sig=***&se=1700000000&skn=root',
    ],
    ['a SAS token with sig first', 'SharedAccessSignature sig=AbC%3D&se=1&skn=root&sr=x', 'SharedAccessSignature sig=***&se=1&skn=root&sr=x'],
    [
      'a SAS token in a connection string',
      'Endpoint=sb://ns/;SharedAccessSignature=SharedAccessSignature sr=x&sig=AbC&se=1&skn=k',
      'Endpoint=sb://ns/;SharedAccessSignature=SharedAccessSignature sr=x&sig=***&se=1&skn=k',
    ],
    ['a sig query parameter', 'amqps://ns/q?sig=AbC&se=1', 'amqps://ns/q?sig=***&se=1'],
    ['password=', 'user=alice;password=hunter2;host=h', 'user=alice;password=***;host=h'],
    ['a token= parameter', 'access_token=abc.def&x=1', 'access_token=***&x=1'],
    ['a JSON password', '{"user": "alice", "password": "hunter2"}', '{"user": "alice", "password": "***"}'],
    ['a JSON password with escapes', '{"password":"a\\"b\\\\c","x":1}', '{"password":"***","x":1}'],
    ['a JSON password in any case', '{"Password" : "x"}', '{"Password" : "***"}'],
    ['a JSON password that is a number', '{"password": 12345}', '{"password": ***}'],
    ['a JSON sharedAccessKey', '{"sharedAccessKey":"k3y="}', '{"sharedAccessKey":"***"}'],
    ['a JSON private key', '{"key": "-----BEGIN PRIVATE KEY-----\\nMII\\n"}', '{"key": "***"}'],
    ['a JSON passphrase', "{ passphrase: 'pp' }", "{ passphrase: '***' }"],
    ['a JS object token', "{ host: 'h', token: 'tok', sasToken: `a'b\"c` }", "{ host: 'h', token: '***', sasToken: `***` }"],
    ['a clientSecret field', '"clientSecret": "s"', '"clientSecret": "***"'],
    ['a key name stays', 'SharedAccessKeyName=RootManageSharedAccessKey;skn=root', 'SharedAccessKeyName=RootManageSharedAccessKey;skn=root'],
    ['plain text stays', 'connection to amqp://host:5672 failed: ECONNREFUSED', 'connection to amqp://host:5672 failed: ECONNREFUSED'],
    ['an e-mail stays', 'mail alice@example.com', 'mail alice@example.com'],
    ['a URL without password stays', 'amqp://user@host/q', 'amqp://user@host/q'],
    ['a user name that looks like a field', 'amqps://RootManageSharedAccessKey:k@ns/q', 'amqps://RootManageSharedAccessKey:***@ns/q'],
    ['a user named token', 'amqp://token:k@h', 'amqp://token:***@h'],
    ['a signal field stays', '{"signal": "SIGTERM", "tokens": 3}', '{"signal": "SIGTERM", "tokens": 3}'],
    ['an empty string', '', ''],
  ])('hides %s', (_name, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('is idempotent', () => {
    const text = 'amqp://u:p@h SharedAccessKey=k sig=s {"password":"x"}';
    expect(redact(redact(text))).toBe(redact(text));
  });

  it('takes linear time on hostile input', () => {
    const hostile = [
      'a-'.repeat(50_000),
      'a://'.repeat(25_000),
      `amqp://u:${'x'.repeat(100_000)}`,
      `"password": "${'x'.repeat(100_000)}`,
      '-password'.repeat(10_000),
      '"'.repeat(100_000),
    ];
    const start = performance.now();
    for (const text of hostile) redact(text);
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  describe('never lets a generated secret through', () => {
    it('in URL passwords, percent-encoded', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', minLength: 1 }), (password) => {
          const text = `connecting to amqps://user:${encodeURIComponent(password)}@host/q now`;
          expect(redact(text)).toBe('connecting to amqps://user:***@host/q now');
        }),
        { numRuns: 500 },
      );
    });

    it('in URL passwords, raw base64', () => {
      fc.assert(
        fc.property(base64Secret, (key) => {
          const out = redact(`url=amqps://RootManageSharedAccessKey:${key}@ns.servicebus.windows.net/q;`);
          expect(out).toBe('url=amqps://RootManageSharedAccessKey:***@ns.servicebus.windows.net/q;');
          expect(out).not.toContain(key);
        }),
        { numRuns: 300 },
      );
    });

    it('in connection strings', () => {
      fc.assert(
        fc.property(base64Secret, fc.boolean(), (key, last) => {
          const text = `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=${key}${last ? '' : ';EntityPath=q'}`;
          const out = redact(text);
          expect(out).not.toContain(key);
          expect(out).toBe(text.replace(key, REDACTED));
        }),
        { numRuns: 300 },
      );
    });

    it('in SAS tokens', () => {
      fc.assert(
        fc.property(base64Secret, fc.nat(3), (signature, position) => {
          const fields = ['sr=https%3A%2F%2Fns.servicebus.windows.net%2Fq', 'se=1700000000', 'skn=RootManageSharedAccessKey'];
          fields.splice(position, 0, `sig=${encodeURIComponent(signature)}`);
          const token = `SharedAccessSignature ${fields.join('&')}`;
          const out = redact(`Authorization: ${token}`);
          expect(out).not.toContain(encodeURIComponent(signature));
          expect(out).toContain('sig=***');
          expect(out).toContain('skn=RootManageSharedAccessKey');
        }),
        { numRuns: 300 },
      );
    });

    it('in JSON fields, whatever the characters', () => {
      fc.assert(
        fc.property(
          markedSecret,
          fc.constantFrom('password', 'sharedAccessKey', 'token', 'passphrase', 'key', 'userPassword'),
          fc.constantFrom(0, 2),
          (secret, field, indent) => {
            const json = JSON.stringify({ host: 'h', [field]: secret, port: 5672 }, null, indent);
            const out = redact(json);
            expect(out).not.toContain('Zq9');
            expect(JSON.parse(out)).toStrictEqual({ host: 'h', [field]: REDACTED, port: 5672 });
          },
        ),
        { numRuns: 500 },
      );
    });

    it('in objects printed by util.inspect', () => {
      fc.assert(
        fc.property(
          markedSecret.filter((secret) => !/[\r\n]/.test(secret)),
          (secret) => {
            const out = redact(inspect({ host: 'h', password: secret, sasl: { token: secret } }));
            expect(out).not.toContain('Zq9');
          },
        ),
        { numRuns: 500 },
      );
    });

    it('in any of many templates', () => {
      const templates = [
        (s: string) => `amqp://u:${encodeURIComponent(s)}@h`,
        (s: string) => `error: amqps://name:${s}@ns/q failed`,
        (s: string) => `Endpoint=sb://ns/;SharedAccessKeyName=n;SharedAccessKey=${s}`,
        (s: string) => `SharedAccessSignature sr=x&sig=${s}&se=1&skn=n`,
        (s: string) => `{"password":"${s}"}`,
        (s: string) => `{ token: '${s}' }`,
        (s: string) => `password=${s}&user=u`,
      ];
      fc.assert(
        fc.property(base64Secret, fc.nat(templates.length - 1), (secret, which) => {
          expect(redact(templates[which]!(secret))).not.toContain(secret);
        }),
        { numRuns: 1000 },
      );
    });
  });
});

describe('redactUrl', () => {
  it.each<[string, string]>([
    ['amqps://name:key@ns/q', 'amqps://name:***@ns/q'],
    ['amqps://name:a b"c<d>@ns/q', 'amqps://name:***@ns/q'],
    ['amqps://name:a\nb@ns/q', 'amqps://name:***@ns/q'],
    [' amqp://u:sec ret@h ', ' amqp://u:***@h '],
    ['u:secret@host', 'u:***@host'],
    ['amqp:u:secret@host', 'amqp:***@host'],
    ['//u:secret@host', '//u:***@host'],
    ['amqp://u:pa/ss@h/q', 'amqp://u:***@h/q'],
    ['amqp://host:5672/q', 'amqp://host:5672/q'],
    ['amqp://user@host', 'amqp://user@host'],
    // No scheme, and a password that starts with '//' (a base64 key may): not 'u' as a scheme.
    ['u://AAAAAAAAAAAA=@h', 'u:***@h'],
    ['http://user:pw@h', 'http:***@h'],
    ['amqps://ns/q?sig=abc&se=1', 'amqps://ns/q?sig=***&se=1'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('hides any password, however malformed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (password) => {
        expect(redactUrl(`amqps://user:${password}@host/q`)).toBe('amqps://user:***@host/q');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('redactOptions', () => {
  it('replaces secret options at any depth and keeps the rest', () => {
    const key = Buffer.from('-----BEGIN PRIVATE KEY-----');
    const ca = Buffer.from('ca');
    const options = {
      url: 'amqps://u:pw@h/q',
      host: 'h',
      port: 5671,
      password: 'pw',
      sharedAccessKey: 'k3y=',
      connectionString: 'Endpoint=sb://ns/;SharedAccessKeyName=n;SharedAccessKey=k3y=',
      sasl: { mechanisms: ['PLAIN'], token: 'tok' },
      tls: { key, passphrase: 'pp', ca, cert: 'cert.pem', pfx: Buffer.from('pfx') },
      urls: ['amqp://a:one@h1', 'amqp://h2'],
      reconnect: true,
      onEvent: () => undefined,
    };
    expect(redactOptions(options)).toStrictEqual({
      url: 'amqps://u:***@h/q',
      host: 'h',
      port: 5671,
      password: '***',
      sharedAccessKey: '***',
      connectionString: 'Endpoint=sb://ns/;SharedAccessKeyName=n;SharedAccessKey=***',
      sasl: { mechanisms: ['PLAIN'], token: '***' },
      tls: { key: '***', passphrase: '***', ca, cert: 'cert.pem', pfx: '***' },
      urls: ['amqp://a:***@h1', 'amqp://h2'],
      reconnect: true,
      onEvent: options.onEvent,
    });
  });

  it('does not modify its input', () => {
    const options = { password: 'pw', nested: { token: 'tok', list: [{ key: 'k' }] } };
    const before = structuredClone(options);
    const copy = redactOptions(options) as typeof options;
    expect(options).toStrictEqual(before);
    expect(copy.nested).not.toBe(options.nested);
    expect(copy.nested.list[0]).toStrictEqual({ key: '***' });
  });

  it.each<[string, unknown, unknown]>([
    ['snake case', { shared_access_key: 'k' }, { shared_access_key: '***' }],
    ['upper case', { PASSWORD: 'p', Token: 't' }, { PASSWORD: '***', Token: '***' }],
    ['kebab case', { 'shared-access-key': 'k' }, { 'shared-access-key': '***' }],
    ['a private field', { _key: 'k' }, { _key: '***' }],
    ['a function token', { token: () => 'tok' }, { token: '***' }],
    ['a number password', { password: 1234 }, { password: '***' }],
    ['an absent password', { password: undefined, token: null }, { password: undefined, token: null }],
    ['an array at the top', [{ password: 'p' }, 'amqp://u:p@h'], [{ password: '***' }, 'amqp://u:***@h']],
    ['a string at the top', 'amqp://u:p@h', 'amqp://u:***@h'],
    ['a number', 5, 5],
    ['null', null, null],
    ['a key name', { sharedAccessKeyName: 'root', keyName: 'k' }, { sharedAccessKeyName: 'root', keyName: 'k' }],
  ])('handles %s', (_name, input, expected) => {
    expect(redactOptions(input)).toStrictEqual(expected);
  });

  it('copies class instances as plain objects, so their secrets are hidden too', () => {
    class NamedKeyCredential {
      constructor(
        readonly name: string,
        readonly key: string,
      ) {}
    }
    expect(redactOptions({ credential: new NamedKeyCredential('root', 'k3y') })).toStrictEqual({
      credential: { name: 'root', key: '***' },
    });
  });

  it('keeps a __proto__ field from JSON as a plain field', () => {
    const input = JSON.parse('{"__proto__": {"password": "p", "polluted": true}}') as object;
    const copy = redactOptions(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy.polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toStrictEqual({ password: '***', polluted: true });
  });

  it('preserves cycles', () => {
    const options: Record<string, unknown> = { password: 'p' };
    options.self = options;
    const copy = redactOptions(options) as Record<string, unknown>;
    expect(copy.password).toBe('***');
    expect(copy.self).toBe(copy);
  });

  it('never lets a generated secret through', () => {
    fc.assert(
      fc.property(markedSecret, (secret) => {
        const options = {
          password: secret,
          sharedAccessKey: secret,
          token: secret,
          passphrase: secret,
          tls: { key: secret, nested: [{ key: Buffer.from(secret) }] },
          url: `amqps://u:${encodeURIComponent(secret)}@h`,
        };
        const printed = `${JSON.stringify(redactOptions(options))} ${inspect(redactOptions(options), { depth: 10 })}`;
        expect(printed).not.toContain('Zq9');
        expect(printed).not.toContain(encodeURIComponent('Zq9'));
      }),
      { numRuns: 500 },
    );
  });
});
