import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, createSasToken, quotePlus, sasTokenProvider } from 'rhea-rx';

describe('createSasToken', () => {
  const resource = 'sb://contoso.servicebus.windows.net/orders';
  const keyName = 'RootManageSharedAccessKey';
  const key = 'bWFd1mmnwMQ9yau2EohtswwzwInt6eY+/abc=';
  const expiry = 1_900_000_000;

  it('signs the URL-encoded resource, a line feed and the expiry with HMAC-SHA256 keyed by the key text (known answer)', () => {
    // By hand: the resource as Python's quote_plus encodes it, the signature as uAMQP encodes it.
    const encoded = 'sb%3A%2F%2Fcontoso.servicebus.windows.net%2Forders';
    const base64 = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${encoded}\n${expiry}`).digest('base64');
    const sig = base64.replace(/\+/g, '%2b').replace(/\//g, '%2f').replace(/=/g, '%3d');
    expect(createSasToken(resource, keyName, key, expiry)).toBe(`SharedAccessSignature sr=${encoded}&sig=${sig}&se=${expiry}&skn=${keyName}`);
  });

  it("is byte for byte the token azure-servicebus's uAMQP made for the same key, resource and expiry", () => {
    // From /usr/bin/python3: uamqp.c_uamqp.create_sas_token(b64encode(b'my+key/=='), quote_plus(resource), key_name, 4102444800)
    expect(createSasToken('sb://ns.servicebus.windows.net/q', 'RootManageSharedAccessKey', 'my+key/==', 4_102_444_800)).toBe(
      'SharedAccessSignature sr=sb%3A%2F%2Fns.servicebus.windows.net%2Fq&sig=igvFvRXDvDN5jF3Qx8Dxncw36TQBXN38rDb1js4%2bAyU%3d&se=4102444800&skn=RootManageSharedAccessKey',
    );
  });

  it('takes the expiry as a Date (rounded down to the second) or as Unix seconds', () => {
    const at = new Date(expiry * 1000 + 999);
    expect(createSasToken(resource, keyName, key, at)).toBe(createSasToken(resource, keyName, key, expiry));
  });

  it('encodes the key name as quote_plus does', () => {
    expect(createSasToken(resource, 'my policy/1', key, expiry)).toMatch(/&skn=my\+policy%2F1$/);
  });

  it.each([
    ['an empty resource', () => createSasToken('', keyName, key, expiry)],
    ['an empty key name', () => createSasToken(resource, '', key, expiry)],
    ['an empty key', () => createSasToken(resource, keyName, '', expiry)],
    ['a fractional expiry', () => createSasToken(resource, keyName, key, 1.5)],
    ['an invalid Date', () => createSasToken(resource, keyName, key, new Date(Number.NaN))],
  ])('refuses %s with a ConfigError', (_what, make) => {
    expect(make).toThrow(ConfigError);
  });

  it('never puts the key in an error message (C3)', () => {
    try {
      createSasToken(resource, keyName, key, -1);
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(key);
    }
  });
});

describe('quotePlus', () => {
  it.each([
    ['sb://ns.servicebus.windows.net/q', 'sb%3A%2F%2Fns.servicebus.windows.net%2Fq'],
    ['a b', 'a+b'],
    ['AZaz09_.-~', 'AZaz09_.-~'],
    ['topic/Subscriptions/sub/$DeadLetterQueue', 'topic%2FSubscriptions%2Fsub%2F%24DeadLetterQueue'],
    ['é€', '%C3%A9%E2%82%AC'],
    ['+/=&?#', '%2B%2F%3D%26%3F%23'],
  ])('%s → %s (as Python urllib.parse.quote_plus with safe="")', (input, output) => {
    expect(quotePlus(input)).toBe(output);
  });
});

describe('sasTokenProvider', () => {
  it('signs a token per audience valid for the lifetime, and says its type is a SAS token', async () => {
    const now = 1_800_000_000_500;
    const provider = sasTokenProvider('Listen', 'k3y', { lifetime: 60_000, now: () => now });
    expect(provider.tokenType).toBe('servicebus.windows.net:sastoken');
    const token = await provider.getToken('sb://ns/q');
    expect(token.expiresOnTimestamp).toBe(1_800_000_060_000);
    expect(token.token).toBe(createSasToken('sb://ns/q', 'Listen', 'k3y', 1_800_000_060));
  });

  it('defaults to one hour, as azure-servicebus', async () => {
    const provider = sasTokenProvider('n', 'k', { now: () => 0 });
    expect((await provider.getToken('sb://ns/q')).expiresOnTimestamp).toBe(3_600_000);
  });

  it('refuses an empty name or key, and a lifetime under a second', () => {
    expect(() => sasTokenProvider('', 'k')).toThrow(ConfigError);
    expect(() => sasTokenProvider('n', '')).toThrow(ConfigError);
    expect(() => sasTokenProvider('n', 'k', { lifetime: 10 })).toThrow(ConfigError);
  });
});
