import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ConnectConfig,
  connectJsonSearchPath,
  findConnectJson,
  loadConnectJson,
  stripJsonComments,
} from '../../../src/config/connectJson.js';
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

let root: string;
let cwd: string;
let home: string;

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'rhea-rx-connect-')));
  cwd = join(root, 'app');
  home = join(root, 'home');
  mkdirSync(cwd);
  mkdirSync(home);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(path: string, text: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const homeFile = () => join(home, '.config', 'messaging', 'connect.json');
const systemFileExists = existsSync('/etc/messaging/connect.json');

describe('connectJsonSearchPath', () => {
  it('lists the working directory, the home directory and /etc, in that order', () => {
    expect(connectJsonSearchPath({}, cwd, home)).toStrictEqual([
      join(cwd, 'connect.json'),
      homeFile(),
      '/etc/messaging/connect.json',
    ]);
  });

  it('skips an empty home directory', () => {
    expect(connectJsonSearchPath({}, cwd, '')).toStrictEqual([join(cwd, 'connect.json'), '/etc/messaging/connect.json']);
  });

  it.each<[string, string]>([
    ['an absolute path', '/opt/app/connect.json'],
    ['a relative path', 'conf/c.json'],
  ])('is only MESSAGING_CONNECT_FILE when it is set to %s', (_name, file) => {
    expect(connectJsonSearchPath({ MESSAGING_CONNECT_FILE: file }, cwd, home)).toStrictEqual([
      file.startsWith('/') ? file : join(cwd, file),
    ]);
  });

  it('ignores an empty MESSAGING_CONNECT_FILE', () => {
    expect(connectJsonSearchPath({ MESSAGING_CONNECT_FILE: '' }, cwd, home)).toHaveLength(3);
  });

  it('uses the process environment by default', () => {
    expect(connectJsonSearchPath()[0]).toBe(process.env.MESSAGING_CONNECT_FILE || join(process.cwd(), 'connect.json'));
  });
});

describe('findConnectJson', () => {
  it.skipIf(systemFileExists)('returns undefined when there is no file', () => {
    expect(findConnectJson({}, cwd, home)).toBeUndefined();
  });

  it('finds ./connect.json', () => {
    const file = write(join(cwd, 'connect.json'), '{}');
    expect(findConnectJson({}, cwd, home)).toBe(file);
  });

  it('finds ~/.config/messaging/connect.json', () => {
    const file = write(homeFile(), '{}');
    expect(findConnectJson({}, cwd, home)).toBe(file);
  });

  it('prefers ./connect.json to the one in the home directory', () => {
    write(homeFile(), '{}');
    const file = write(join(cwd, 'connect.json'), '{}');
    expect(findConnectJson({}, cwd, home)).toBe(file);
  });

  it('skips a directory named connect.json', () => {
    mkdirSync(join(cwd, 'connect.json'));
    const file = write(homeFile(), '{}');
    expect(findConnectJson({}, cwd, home)).toBe(file);
  });

  it('prefers MESSAGING_CONNECT_FILE to the search path', () => {
    write(join(cwd, 'connect.json'), '{}');
    const file = write(join(root, 'other', 'mine.json'), '{}');
    expect(findConnectJson({ MESSAGING_CONNECT_FILE: file }, cwd, home)).toBe(file);
  });

  it('resolves a relative MESSAGING_CONNECT_FILE against the working directory', () => {
    const file = write(join(cwd, 'conf', 'c.json'), '{}');
    expect(findConnectJson({ MESSAGING_CONNECT_FILE: 'conf/c.json' }, cwd, home)).toBe(file);
  });

  it('ignores an empty MESSAGING_CONNECT_FILE', () => {
    const file = write(join(cwd, 'connect.json'), '{}');
    expect(findConnectJson({ MESSAGING_CONNECT_FILE: '' }, cwd, home)).toBe(file);
  });

  it('fails when MESSAGING_CONNECT_FILE names a missing file, even if another exists', () => {
    write(join(cwd, 'connect.json'), '{}');
    const missing = join(root, 'missing.json');
    const error = configError(() => findConnectJson({ MESSAGING_CONNECT_FILE: missing }, cwd, home));
    expect(error.option).toBe('MESSAGING_CONNECT_FILE');
    expect(error.message).toBe(
      `MESSAGING_CONNECT_FILE: expected the path of an existing connect.json file, given '${missing}', which does not exist`,
    );
  });

  it('fails when MESSAGING_CONNECT_FILE names a directory', () => {
    const error = configError(() => findConnectJson({ MESSAGING_CONNECT_FILE: cwd }, cwd, home));
    expect(error.option).toBe('MESSAGING_CONNECT_FILE');
    expect(error.message).toMatch(/which is a directory$/);
  });
});

describe('stripJsonComments', () => {
  it.each<[string, string, string]>([
    ['a line comment', '{"a": 1} // note', '{"a": 1}        '],
    ['a line comment before a line break', '// head\n{"a": 1}', '       \n{"a": 1}'],
    ['a line comment before CRLF', '{"a": 1, // x\r\n"b": 2}', '{"a": 1,     \r\n"b": 2}'],
    ['a block comment', '{/* c */"a": 1}', '{       "a": 1}'],
    ['a block comment over lines', '{/* 1\n2 */"a": 1}', '{    \n    "a": 1}'],
    ['a block comment with stars', '{/*** x **/"a": 1}', '{          "a": 1}'],
    ['comments back to back', '/**///x\n1', '       \n1'],
    ['// inside a string', '{"url": "amqp://h//x"}', '{"url": "amqp://h//x"}'],
    ['/* inside a string', '{"a": "/* not */"}', '{"a": "/* not */"}'],
    ['an escaped quote in a string', '{"a": "x\\"//y"} // c', '{"a": "x\\"//y"}     '],
    ['an escaped backslash before the quote', '{"a": "x\\\\"} // c', '{"a": "x\\\\"}     '],
    ['a lone slash', '{"a": 1 / 2}', '{"a": 1 / 2}'],
    ['no comments', '{"a": [1, 2]}', '{"a": [1, 2]}'],
    ['an empty text', '', ''],
  ])('handles %s', (_name, input, expected) => {
    expect(stripJsonComments(input)).toBe(expected);
    expect(stripJsonComments(input)).toHaveLength(input.length);
  });

  it('fails on a block comment that is not closed, saying where it starts', () => {
    const error = configError(() => stripJsonComments('{\n  "a": 1 /* open', '/x/connect.json'));
    expect(error.option).toBe('connect.json');
    expect(error.message).toBe("/x/connect.json: expected '*/' to close the comment that starts at line 2, column 10");
  });

  it('keeps every JSON document unchanged, and removes comments added between its tokens', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, note) => {
        const json = JSON.stringify(value, null, 1);
        expect(stripJsonComments(json)).toBe(json);
        const blockNote = note.replace(/\*/g, '');
        const lineNote = note.replace(/[\r\n]/g, '');
        // A line break after every token is whitespace JSON allows, so comments can go there.
        const commented = `/*${blockNote}*/${json.split('\n').join(` //${lineNote}\n/*${blockNote}*/`)}`;
        expect(JSON.parse(stripJsonComments(commented))).toStrictEqual(JSON.parse(json));
      }),
      { numRuns: 300 },
    );
  });
});

describe('loadConnectJson', () => {
  const load = (text: string, name = 'connect.json') => loadConnectJson(write(join(cwd, name), text));
  const fileIn = () => join(cwd, 'connect.json');

  it('fills in the defaults for an empty object', () => {
    expect(load('{}')).toStrictEqual<ConnectConfig>({
      scheme: 'amqps',
      host: 'localhost',
      port: 5671,
      sasl: {},
      tls: { verify: true },
      source: fileIn(),
    });
  });

  it('reads the simple example', () => {
    expect(load('{ "host": "example.com", "user": "alice", "password": "secret" }')).toStrictEqual<ConnectConfig>({
      scheme: 'amqps',
      host: 'example.com',
      port: 5671,
      user: 'alice',
      password: 'secret',
      sasl: {},
      tls: { verify: true },
      source: fileIn(),
    });
  });

  it('reads every key, with comments', () => {
    const text = `// Connection settings for the order service
{
  "scheme": "amqp", /* plain TCP inside the cluster */
  "host": "broker.internal",
  "port": 5673,
  "user": "ortega",
  "password": "se//cr/*et*/", // comment markers inside strings stay
  "sasl": {
    "mechanisms": ["SCRAM-SHA-1", "scram-sha-256"],
    "allow_insecure": false
  },
  "tls": {
    "cert": "/home/ortega/cert.pem",
    "key": "/home/ortega/key.pem",
    "ca": "ca.pem",
    "verify": false
  }
}
/* end */`;
    expect(load(text)).toStrictEqual<ConnectConfig>({
      scheme: 'amqp',
      host: 'broker.internal',
      port: 5673,
      user: 'ortega',
      password: 'se//cr/*et*/',
      sasl: { mechanisms: ['SCRAM-SHA-1', 'SCRAM-SHA-256'], allowInsecure: false },
      tls: { cert: '/home/ortega/cert.pem', key: '/home/ortega/key.pem', ca: 'ca.pem', verify: false },
      source: fileIn(),
    });
  });

  it.each<[string, string, Partial<ConnectConfig>]>([
    ['the amqp default port', '{"scheme": "amqp"}', { scheme: 'amqp', port: 5672 }],
    ['the amqps default port', '{"scheme": "amqps"}', { scheme: 'amqps', port: 5671 }],
    ['a port string', '{"port": "5673"}', { port: 5673 }],
    ['the port literal amqp', '{"scheme": "amqps", "port": "amqp"}', { port: 5672 }],
    ['the port literal amqps', '{"scheme": "amqp", "port": "amqps"}', { port: 5671 }],
    ['port 1', '{"port": 1}', { port: 1 }],
    ['port 65535', '{"port": "65535"}', { port: 65535 }],
    ['an IPv4 host', '{"host": "10.0.0.7"}', { host: '10.0.0.7' }],
    ['an IPv6 host', '{"host": "::1"}', { host: '::1' }],
    ['a bracketed IPv6 host', '{"host": "[2001:db8::7]"}', { host: '2001:db8::7' }],
    ['an empty password', '{"password": ""}', { password: '' }],
    ['one mechanism as a string', '{"sasl": {"mechanisms": "plain"}}', { sasl: { mechanisms: ['PLAIN'] } }],
    [
      'space-separated mechanisms',
      '{"sasl": {"mechanisms": "  SCRAM-SHA-256\\tPLAIN  ANONYMOUS "}}',
      { sasl: { mechanisms: ['SCRAM-SHA-256', 'PLAIN', 'ANONYMOUS'] } },
    ],
    ['repeated mechanisms once', '{"sasl": {"mechanisms": ["PLAIN", "plain"]}}', { sasl: { mechanisms: ['PLAIN'] } }],
    ['allow_insecure', '{"sasl": {"allow_insecure": true}}', { sasl: { allowInsecure: true } }],
    ['an empty sasl object', '{"sasl": {}}', { sasl: {} }],
    ['tls.verify true', '{"tls": {"verify": true}}', { tls: { verify: true } }],
    ['a byte-order mark', '\uFEFF{"host": "h"}', { host: 'h' }],
    ['CRLF line ends', '{\r\n"host": "h" // x\r\n}\r\n', { host: 'h' }],
    ['a duplicate key, the last one', '{"host": "a", "host": "b"}', { host: 'b' }],
  ])('reads %s', (_name, text, expected) => {
    expect(load(text)).toMatchObject(expected);
  });

  it('resolves a relative path against the working directory', () => {
    write(join(cwd, 'connect.json'), '{}');
    expect(loadConnectJson(relative(process.cwd(), fileIn())).source).toBe(fileIn());
  });

  it.each<[string, string, string, RegExp]>([
    ['an unknown key', '{"hots": "h"}', 'hots', /unknown key 'hots'; expected top-level keys among scheme, host, port, user, password, sasl, tls; did you mean 'host'\?/],
    ['an unknown sasl key', '{"sasl": {"allowInsecure": true}}', 'sasl.allowInsecure', /unknown key 'sasl\.allowInsecure'.*keys in 'sasl'.*did you mean 'sasl\.allow_insecure'\?/],
    ['a misspelled tls key', '{"tls": {"verfy": false}}', 'tls.verfy', /did you mean 'tls\.verify'\?/],
    ['a dotted key at the top', '{"sasl.mechanisms": ["PLAIN"]}', 'sasl.mechanisms', /write it nested, as \{ "sasl": \{ "mechanisms": … \} \}/],
    ['an unrelated key', '{"reconnect": false}', 'reconnect', /unknown key 'reconnect'; expected top-level keys among [a-z, ]+$/],
    ['a __proto__ key', '{"__proto__": {"host": "x"}}', '__proto__', /unknown key '__proto__'/],
    ['an odd key', '{"a b\\n": 1}', 'a b\n', /unknown key "a b\\n"/],
    ['scheme in capitals', '{"scheme": "AMQPS"}', 'scheme', /'scheme': expected "amqp" or "amqps", given the string "AMQPS"$/],
    ['scheme http', '{"scheme": "http"}', 'scheme', /given the string "http"/],
    ['scheme as a number', '{"scheme": 1}', 'scheme', /given the number 1/],
    ['host as a number', '{"host": 5}', 'host', /'host': expected a host name or IP address, given the number 5/],
    ['an empty host', '{"host": ""}', 'host', /given nothing/],
    ['a host with a space', '{"host": "exa mple"}', 'host', /whitespace/],
    ['a host that is a URL', '{"host": "amqp://u:S3CR3T@h"}', 'host', /'host': expected a valid IPv6 address/],
    ['port 0', '{"port": 0}', 'port', /'port': expected an integer from 1 to 65535.*given the number 0$/],
    ['port 65536', '{"port": 65536}', 'port', /given the number 65536/],
    ['a fractional port', '{"port": 5672.5}', 'port', /given the number 5672.5/],
    ['a negative port string', '{"port": "-1"}', 'port', /given the string "-1"/],
    ['a port string with letters', '{"port": "56x"}', 'port', /given the string "56x"/],
    ['a port string too large', '{"port": "99999"}', 'port', /given the string "99999"/],
    ['a boolean port', '{"port": true}', 'port', /given true/],
    ['a null port', '{"port": null}', 'port', /given null/],
    ['user as a number', '{"user": 7}', 'user', /'user': expected a string, not empty, given the number 7/],
    ['an empty user', '{"user": ""}', 'user', /given the string ""/],
    ['sasl as a string', '{"sasl": "PLAIN"}', 'sasl', /'sasl': expected an object such as \{ … \}, given the string "PLAIN"/],
    ['sasl as null', '{"sasl": null}', 'sasl', /given null/],
    ['sasl as a list', '{"sasl": ["PLAIN"]}', 'sasl', /given a list of 1/],
    ['mechanisms as a number', '{"sasl": {"mechanisms": 5}}', 'sasl.mechanisms', /expected a list of mechanism names or a string of space-separated names, given the number 5/],
    ['an empty mechanism list', '{"sasl": {"mechanisms": []}}', 'sasl.mechanisms', /at least one mechanism name.*given none/],
    ['an empty mechanism string', '{"sasl": {"mechanisms": " "}}', 'sasl.mechanisms', /at least one/],
    ['a number in the mechanisms', '{"sasl": {"mechanisms": ["PLAIN", 5]}}', 'sasl.mechanisms[1]', /'sasl\.mechanisms\[1\]': expected one mechanism name.*given the number 5/],
    ['two names in one item', '{"sasl": {"mechanisms": ["PLAIN ANONYMOUS"]}}', 'sasl.mechanisms[0]', /given the string "PLAIN ANONYMOUS"/],
    ['a bad mechanism name', '{"sasl": {"mechanisms": "PLAIN PL@IN"}}', 'sasl.mechanisms', /given the string "PL@IN"/],
    ['a mechanism name too long', '{"sasl": {"mechanisms": "ABCDEFGHIJKLMNOPQRSTU"}}', 'sasl.mechanisms', /1 to 20/],
    ['allow_insecure as a string', '{"sasl": {"allow_insecure": "yes"}}', 'sasl.allow_insecure', /'sasl\.allow_insecure': expected true or false, given the string "yes"$/],
    ['allow_insecure as a number', '{"sasl": {"allow_insecure": 1}}', 'sasl.allow_insecure', /given the number 1/],
    ['tls as a boolean', '{"tls": true}', 'tls', /'tls': expected an object/],
    ['tls.cert as a number', '{"tls": {"cert": 1}}', 'tls.cert', /'tls\.cert': expected a file path, not empty, given the number 1/],
    ['an empty tls.key', '{"tls": {"key": ""}}', 'tls.key', /'tls\.key': expected a file path, not empty/],
    ['tls.ca as a list', '{"tls": {"ca": ["a.pem"]}}', 'tls.ca', /given a list of 1/],
    ['tls.verify as a string', '{"tls": {"verify": "false"}}', 'tls.verify', /'tls\.verify': expected true or false, given the string "false"/],
    ['a list at the top', '[]', 'connect.json', /expected a JSON object at the top level, given a list of 0/],
    ['null at the top', 'null', 'connect.json', /given null/],
    ['a string at the top', '"amqp://h"', 'connect.json', /given the string "amqp:\/\/h"/],
    ['an empty file', '', 'connect.json', /not valid JSON: it ends before the JSON is complete/],
    ['a comment-only file', '// nothing\n', 'connect.json', /not valid JSON/],
    ['a trailing comma', '{"host": "h",\n}', 'connect.json', /not valid JSON: at line 2, column 1/],
    ['single quotes', "{'host': 'h'}", 'connect.json', /not valid JSON: at line 1, column 2/],
    ['a bare word', '{"host": localhost}', 'connect.json', /not valid JSON: (at line 1, column 10|it has an unexpected token)$/],
    ['an unclosed block comment', '{"host": "h"} /* x', 'connect.json', /expected '\*\/' to close the comment that starts at line 1, column 15/],
  ])('rejects %s', (_name, text, option, message) => {
    const error = configError(() => load(text));
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${fileIn()}: `)).toBe(true);
  });

  it.each<[string, string]>([
    ['a password of the wrong type', '{"password": 123456789}'],
    ['a password list', '{"password": ["S3CR3T"]}'],
    ['a password in invalid JSON', '{"password": "S3CR3T" "host": "h"}'],
    ['a password as a bare word', '{"password": S3CR3T}'],
    ['a password in an unterminated string', '{"password": "S3CR3T}'],
    ['a password with a bad escape', '{"password": "S3CR3T\\q"}'],
    ['a password with a raw line break', '{"password": "S3C\nR3T"}'],
    ['a password under a misspelled key', '{"pasword": "S3CR3T"}'],
    ['a password in an unknown object', '{"auth": {"password": "S3CR3T"}}'],
    ['a password in a URL host', '{"host": "amqp://u:S3CR3T@h"}'],
    ['a password in a URL mechanism', '{"sasl": {"mechanisms": ["amqp://u:S3CR3T@h"]}}'],
  ])('never shows %s', (_name, text) => {
    const error = configError(() => load(text));
    expect(error.message).not.toMatch(/S3C|R3T|123456789/);
    expect(JSON.stringify(error)).not.toMatch(/S3C|R3T|123456789/);
  });

  it('says what was given for a password of the wrong type, without its value', () => {
    expect(configError(() => load('{"password": 42}')).message).toBe(
      `${fileIn()}: 'password': expected a string, given a number (not shown)`,
    );
  });

  it('fails on a file that does not exist', () => {
    const error = configError(() => loadConnectJson(join(cwd, 'nope.json')));
    expect(error.option).toBe('connect.json');
    expect(error.message).toBe(`${join(cwd, 'nope.json')}: expected a readable connect.json file, but reading it failed with ENOENT`);
  });

  it('fails on a directory', () => {
    expect(configError(() => loadConnectJson(cwd)).message).toMatch(/reading it failed with EISDIR/);
  });

  it.each<[string, unknown]>([
    ['an empty path', ''],
    ['a number', 5],
  ])('fails on %s as the path', (_name, path) => {
    expect(configError(() => loadConnectJson(path as string)).option).toBe('connect.json');
  });

  it('reads what findConnectJson finds', () => {
    write(homeFile(), '{"host": "from-home"}');
    const found = findConnectJson({}, cwd, home);
    expect(found).toBe(homeFile());
    expect(loadConnectJson(found!)).toMatchObject({ host: 'from-home', source: homeFile() });
  });
});
