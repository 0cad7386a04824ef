import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ParsedUrl, parseUrl } from '../../../src/config/parseUrl.js';
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

function isControl(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

// Python's urllib.parse.quote_plus(text, safe=''): like encodeURIComponent, but also encodes
// !'()* and writes a space as '+'.
function quotePlus(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

describe('parseUrl', () => {
  describe('accepts', () => {
    it.each<[string, ParsedUrl]>([
      ['amqp://example.com', { scheme: 'amqp', host: 'example.com', port: 5672 }],
      ['amqps://example.com', { scheme: 'amqps', host: 'example.com', port: 5671 }],
      ['amqps://example.net:56720', { scheme: 'amqps', host: 'example.net', port: 56720 }],
      ['amqp://127.0.0.1', { scheme: 'amqp', host: '127.0.0.1', port: 5672 }],
      ['amqp://[::1]:2000', { scheme: 'amqp', host: '::1', port: 2000 }],
      ['amqps://[2001:db8::1]', { scheme: 'amqps', host: '2001:db8::1', port: 5671 }],
      ['amqp://[::ffff:192.0.2.1]:5673/q', { scheme: 'amqp', host: '::ffff:192.0.2.1', port: 5673, path: 'q' }],
      ['AMQPS://Example.COM', { scheme: 'amqps', host: 'Example.COM', port: 5671 }],
      ['Amqp://localhost', { scheme: 'amqp', host: 'localhost', port: 5672 }],
      ['amqp://my-broker_1.internal:1', { scheme: 'amqp', host: 'my-broker_1.internal', port: 1 }],
      ['amqp://example.com.:65535', { scheme: 'amqp', host: 'example.com.', port: 65535 }],
      ['amqp://h:00080', { scheme: 'amqp', host: 'h', port: 80 }],
      ['amqp://guest:guest@localhost:5672', { scheme: 'amqp', host: 'localhost', port: 5672, username: 'guest', password: 'guest' }],
      ['amqp://user@host', { scheme: 'amqp', host: 'host', port: 5672, username: 'user' }],
      ['amqp://user:@host', { scheme: 'amqp', host: 'host', port: 5672, username: 'user', password: '' }],
      [
        'amqps://RootManageSharedAccessKey:abc%2B%2Fdef%3D@ns.servicebus.windows.net/orders',
        {
          scheme: 'amqps',
          host: 'ns.servicebus.windows.net',
          port: 5671,
          username: 'RootManageSharedAccessKey',
          password: 'abc+/def=',
          path: 'orders',
        },
      ],
      // A raw '+' is a literal '+', not a space: base64 keys pasted unencoded keep their value.
      ['amqp://u:a+b@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: 'a+b' }],
      ['amqp://u:abc+def=@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: 'abc+def=' }],
      ['amqp://u:a%2Bb@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: 'a+b' }],
      ['amqp://u:a%20b@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: 'a b' }],
      ['amqp://u:p%40ss@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: 'p@ss' }],
      ['amqp://u:a:b:c@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: 'a:b:c' }],
      ['amqp://u:%25%2F%3F%23@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: '%/?#' }],
      ['amqp://u:%C3%A9t%C3%A9@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'u', password: 'été' }],
      ['amqp://dom%5Cuser%3Ax:p@h', { scheme: 'amqp', host: 'h', port: 5672, username: 'dom\\user:x', password: 'p' }],
      ["amqp://a!$&'()*,;=~._-z:p@h", { scheme: 'amqp', host: 'h', port: 5672, username: "a!$&'()*,;=~._-z", password: 'p' }],
      ['amqp://h/queue1', { scheme: 'amqp', host: 'h', port: 5672, path: 'queue1' }],
      ['amqp://h/', { scheme: 'amqp', host: 'h', port: 5672 }],
      ['amqp://h:5672/', { scheme: 'amqp', host: 'h', port: 5672 }],
      ['amqp://h/topic/sub', { scheme: 'amqp', host: 'h', port: 5672, path: 'topic/sub' }],
      ['amqp://h/topic%2Fsub', { scheme: 'amqp', host: 'h', port: 5672, path: 'topic/sub' }],
      ['amqp://h/q%40x', { scheme: 'amqp', host: 'h', port: 5672, path: 'q@x' }],
      ['amqp://h/%E2%9C%93%20ok', { scheme: 'amqp', host: 'h', port: 5672, path: '✓ ok' }],
      ['amqp://h/orders:high', { scheme: 'amqp', host: 'h', port: 5672, path: 'orders:high' }],
      ['amqp://h//dup', { scheme: 'amqp', host: 'h', port: 5672, path: '/dup' }],
    ])('%s', (url, expected) => {
      expect(parseUrl(url)).toStrictEqual(expected);
    });
  });

  describe('rejects', () => {
    it.each<[string, unknown, string, RegExp]>([
      ['an empty string', '', 'url', /empty string/],
      ['a number', 42, 'url', /expected a URL string.*given a number/],
      ['null', null, 'url', /given null/],
      ['leading whitespace', ' amqp://h', 'url', /leading or trailing whitespace/],
      ['a trailing newline', 'amqp://h\n', 'url', /leading or trailing whitespace.*\\u000a/],
      ['a trailing tab', 'amqp://h\t', 'url', /whitespace/],
      ['no scheme', 'example.com', 'url.scheme', /start with 'amqp:\/\/' or 'amqps:\/\/'/],
      ['a scheme-relative URL', '//example.com', 'url.scheme', /start with/],
      ['host:port without scheme', 'localhost:5672', 'url.scheme', /given 'localhost'/],
      ['http', 'http://h', 'url.scheme', /expected 'amqp' or 'amqps'.*given 'http'/],
      ['amqp+ssl', 'amqp+ssl://h', 'url.scheme', /given 'amqp\+ssl'/],
      ['amqpx', 'amqpx://h', 'url.scheme', /given 'amqpx'/],
      ['sb', 'sb://ns.servicebus.windows.net/', 'url.scheme', /given 'sb'/],
      ["'amqp:' without '//'", 'amqp:h', 'url', /expected '\/\/' after 'amqp:'/],
      ["'amqps:/'", 'amqps:/h', 'url', /expected '\/\/' after 'amqps:'/],
      ['no host', 'amqp://', 'url.host', /given nothing/],
      ['a port but no host', 'amqp://:5672', 'url.host', /given nothing/],
      ['credentials but no host', 'amqp://u:p@', 'url.host', /given nothing/],
      ['an empty port', 'amqp://h:', 'url.port', /after ':', given nothing/],
      ['port 0', 'amqp://h:0', 'url.port', /from 1 to 65535, given '0'/],
      ['port 65536', 'amqp://h:65536', 'url.port', /given '65536'/],
      ['a huge port', 'amqp://h:99999999999999999999', 'url.port', /given '99999999999999999999'/],
      ['a negative port', 'amqp://h:-1', 'url.port', /given '-1'/],
      ['a signed port', 'amqp://h:+5', 'url.port', /given '\+5'/],
      ['a port with letters', 'amqp://h:5672x', 'url.port', /given '5672x'/],
      ['an exponent port', 'amqp://h:1e3', 'url.port', /given '1e3'/],
      ['a hex port', 'amqp://h:0x10', 'url.port', /given '0x10'/],
      ['a port with a space', 'amqp://h: 80', 'url.port', /given ' 80'/],
      ['a service name port', 'amqp://h:amqps', 'url.port', /given 'amqps'/],
      ['IPv6 without brackets', 'amqp://::1', 'url.host', /enclosed in brackets/],
      ['IPv6 with port, no brackets', 'amqp://2001:db8::1:5672', 'url.host', /enclosed in brackets/],
      ['an unclosed bracket', 'amqp://[::1', 'url.host', /expected '\]'/],
      ['a non-IPv6 in brackets', 'amqp://[example.com]:5672', 'url.host', /IPv6 address.*given 'example\.com'/],
      ['an IPv4 in brackets', 'amqp://[127.0.0.1]', 'url.host', /IPv6/],
      ['text after the bracket', 'amqp://[::1]x', 'url.host', /after '\]', given 'x'/],
      ['an IPv6 zone', 'amqp://[fe80::1%25eth0]', 'url.host', /without a zone/],
      ['a space in the host', 'amqp://exa mple.com', 'url.host', /whitespace/],
      ['an empty label', 'amqp://a..b', 'url.host', /empty label/],
      ['a leading dot', 'amqp://.a', 'url.host', /empty label/],
      ['a leading hyphen', 'amqp://-bad.com', 'url.host', /start or end with '-'/],
      ['a label of 64 characters', `amqp://${'a'.repeat(64)}.com`, 'url.host', /at most 63/],
      ['a host of 254 characters', `amqp://${'abcdefghi.'.repeat(25)}abcd`, 'url.host', /at most 253/],
      ['an IPv4 octet over 255', 'amqp://256.0.0.1', 'url.host', /valid IPv4/],
      ['a three-part IPv4', 'amqp://1.2.3', 'url.host', /valid IPv4/],
      ['an all-numeric host', 'amqp://12345', 'url.host', /valid IPv4/],
      ['a non-ASCII host', 'amqp://bücher.de', 'url.host', /xn--/],
      ['a percent in the host', 'amqp://ex%61mple.com', 'url.host', /the character '%'/],
      ['a backslash in the host', 'amqp://h\\x', 'url.host', /the character '\\\\'/],
      ['a NUL in the host', 'amqp://h\u0000x', 'url.host', /control character U\+0000/],
      ['a query string', 'amqp://h?x=1', 'url.query', /no query string/],
      ['a query after the path', 'amqp://h/q?durable=true', 'url.query', /no query string/],
      ['an empty query', 'amqp://h?', 'url.query', /no query string/],
      ['a fragment', 'amqp://h#frag', 'url.fragment', /no fragment/],
      ['a fragment after the path', 'amqp://h/q#f', 'url.fragment', /no fragment/],
      ['an empty user information', 'amqp://@h', 'url.username', /before '@', given nothing/],
      ['a password without user', 'amqp://:pw@h', 'url.username', /before ':', given nothing/],
      ['a raw @ in the password', 'amqp://u:p@ss@h', 'url.password', /must be encoded/],
      ['a raw / in the password', 'amqp://u:pa/ss@h', 'url', /percent-encoded.*quote_plus/],
      ['a raw ? in the password', 'amqp://u:pa?ss@h', 'url', /'@' follows a '\/', '\?' or '#'/],
      ['a raw # in the password', 'amqp://u:pa#ss@h', 'url', /'@' follows/],
      ['a raw @ in the path', 'amqp://h/a@b', 'url', /'@' in the address to be written %40/],
      ['a bad escape in the password', 'amqp://u:%ZZ@h', 'url.password', /two hex digits/],
      ['a trailing % in the password', 'amqp://u:a%@h', 'url.password', /two hex digits/],
      ['invalid UTF-8 in the password', 'amqp://u:%C3@h', 'url.password', /valid UTF-8/],
      ['a space in the password', 'amqp://u:a b@h', 'url.password', /must be encoded/],
      ['a quote in the password', 'amqp://u:a"b@h', 'url.password', /must be encoded/],
      ['non-ASCII in the password', 'amqp://u:pässword@h', 'url.password', /must be encoded/],
      ['a space in the user name', 'amqp://u ser:p@h', 'url.username', /whitespace in 'u ser'/],
      ['a bracket in the user name', 'amqp://u[1]:p@h', 'url.username', /the character '\['/],
      ['a bad escape in the user name', 'amqp://%G1:p@h', 'url.username', /two hex digits.*given '%G1'/],
      ['a bad escape in the path', 'amqp://h/%ZZ', 'url.path', /two hex digits.*given '%ZZ'/],
      ['invalid UTF-8 in the path', 'amqp://h/%FF', 'url.path', /valid UTF-8/],
      ['a space in the path', 'amqp://h/a b', 'url.path', /whitespace/],
      ['an encoded NUL in the path', 'amqp://h/a%00b', 'url.path', /control characters, given the control character U\+0000/],
      ['a backslash in the path', 'amqp://h/a\\b', 'url.path', /the character '\\\\'/],
    ])('%s', (_name, url, option, message) => {
      const error = configError(() => parseUrl(url as string));
      expect(error.option).toBe(option);
      expect(error.message).toMatch(message);
      expect(error.message.startsWith(`${option}: `)).toBe(true);
      expect(error.retryable).toBe(false);
    });

    it('names the given option and its parts', () => {
      expect(configError(() => parseUrl('amqp://h:0', 'urls[1]')).option).toBe('urls[1].port');
      expect(configError(() => parseUrl('http://h', 'urls[1]')).message).toMatch(/^urls\[1\]\.scheme: /);
      expect(configError(() => parseUrl('', 'urls[0]')).option).toBe('urls[0]');
    });

    it('shows long given values shortened', () => {
      const error = configError(() => parseUrl(`amqp://h:${'9'.repeat(500)}`));
      expect(error.message.length).toBeLessThan(400);
    });
  });

  describe('never shows the password', () => {
    const secret = 'S3CR3Tpw';
    it.each([
      `amqp://u:${secret}@h:0`,
      `amqp://u:${secret}@h:`,
      `amqp://u:${secret}@h?x=1`,
      `amqp://u:${secret}@h/q?sig=abc`,
      `amqp://u:${secret}@h#f`,
      `amqp://u:${secret}@bad host`,
      `amqp://u:${secret}@`,
      `amqp://u:${secret}@[::1`,
      `amqp://u:${secret}@::1`,
      `amqp://u:${secret}@h/%ZZ`,
      `amqp://u:${secret}@h/a b`,
      ` amqp://u:${secret}@h`,
      `amqp://u:${secret}@h\n`,
      `amqp://u:${secret} x@h`,
      `amqp://u:x ${secret}@h`,
      `amqp://u:${secret}/x@h`,
      `amqp://u:${secret}?x@h`,
      `amqp://u:${secret}#x@h`,
      `amqp://u:${secret}@x@h`,
      `amqp://u:${secret}%ZZ@h`,
      `amqp://u:${secret}%C3@h`,
      `amqp://u:${secret}"@h`,
      `amqp://u:${secret}\u0000@h`,
      `amqp://u:${secret}é@h`,
      `http://u:${secret}@h`,
      `amqp+ssl://u:${secret}@h`,
      `u:${secret}@h`,
      `amqp:u:${secret}@h`,
      `amqp:/u:${secret}@h`,
      `amqp:///u:${secret}@h`,
      `//u:${secret}@h`,
    ])('%j', (url) => {
      const error = configError(() => parseUrl(url));
      expect(error.message).not.toContain(secret);
      expect(error.message).not.toContain('S3CR');
      expect(error.message).not.toContain('3Tpw');
    });

    it('shows the URL with *** in place of the password', () => {
      expect(configError(() => parseUrl(`amqps://name:${secret}@ns.example.com:0/q`)).message).toContain(
        "'amqps://name:***@ns.example.com:0/q'",
      );
    });

    it('holds for generated passwords in malformed URLs', () => {
      const templates = [
        (pw: string) => `amqp://u:${pw}@h:0`,
        (pw: string) => `amqp://u:${pw}@h?x=1`,
        (pw: string) => `amqp://u:${pw}@bad host`,
        (pw: string) => `amqps://u:${pw}@h:70000/q`,
        (pw: string) => `http://u:${pw}@h`,
        (pw: string) => `u:${pw}@h`,
        (pw: string) => `amqp:u:${pw}@h`,
        (pw: string) => ` amqp://u:${pw}@h`,
      ];
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(templates.length - 1), (raw, which) => {
          // The markers make any leak of the password's start or end visible.
          const password = `Zq9${raw}Zq9`;
          const error = configError(() => parseUrl(templates[which]!(password)));
          expect(error.message).not.toContain('Zq9');
          if (raw.length >= 12) expect(error.message).not.toContain(raw);
        }),
        { numRuns: 1000 },
      );
    });
  });

  describe('decodes passwords exactly', () => {
    it('round-trips any password encoded with encodeURIComponent', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary' }), (password) => {
          const parsed = parseUrl(`amqps://user:${encodeURIComponent(password)}@host/q`);
          expect(parsed.password).toBe(password);
          expect(parsed.path).toBe('q');
        }),
        { numRuns: 500 },
      );
    });

    it("round-trips any base64 key encoded with Python's quote_plus", () => {
      fc.assert(
        fc.property(fc.base64String({ minLength: 4 }), (key) => {
          const parsed = parseUrl(`amqps://RootManageSharedAccessKey:${quotePlus(key)}@ns.servicebus.windows.net/`);
          expect(parsed.password).toBe(key);
          expect(parsed.path).toBeUndefined();
        }),
        { numRuns: 500 },
      );
    });

    it("round-trips any password without spaces encoded with Python's quote_plus", () => {
      fc.assert(
        fc.property(
          fc.string({ unit: 'binary' }).filter((text) => !text.includes(' ')),
          (password) => {
            expect(parseUrl(`amqp://u:${quotePlus(password)}@h`).password).toBe(password);
          },
        ),
        { numRuns: 300 },
      );
    });

    it("keeps quote_plus's '+' for a space as '+' (encode spaces as %20)", () => {
      expect(quotePlus('a b')).toBe('a+b');
      expect(parseUrl(`amqp://u:${quotePlus('a b')}@h`).password).toBe('a+b');
      expect(parseUrl(`amqp://u:${encodeURIComponent('a b')}@h`).password).toBe('a b');
    });

    it('keeps a raw base64 key without "/" as given', () => {
      fc.assert(
        fc.property(
          fc.base64String({ minLength: 4 }).filter((key) => !key.includes('/')),
          (key) => {
            expect(parseUrl(`amqps://name:${key}@ns.example.com`).password).toBe(key);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('round-trips any address encoded with encodeURIComponent', () => {
      fc.assert(
        fc.property(
          fc.string({ unit: 'binary', minLength: 1 }).filter((text) => ![...text].some(isControl)),
          (address) => {
            expect(parseUrl(`amqp://h/${encodeURIComponent(address)}`).path).toBe(address);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('accepts every valid port and no other', () => {
      fc.assert(
        fc.property(fc.integer({ min: -100, max: 70000 }), (port) => {
          if (port >= 1 && port <= 65535) expect(parseUrl(`amqp://h:${port}`).port).toBe(port);
          else expect(configError(() => parseUrl(`amqp://h:${port}`)).option).toBe('url.port');
        }),
        { numRuns: 500 },
      );
    });
  });
});
