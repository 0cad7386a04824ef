import { describe, expect, it } from 'vitest';
import { ConfigError, createServiceBusClient, sasTokenProvider } from 'rhea-rx';
import { entityPathOf } from '../../../src/serviceBus/ServiceBusClient.js';

const CS = 'Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=c2VjcmV0a2V5';

describe('createServiceBusClient (no connection until first use)', () => {
  it('takes a connection string, and connects nowhere yet', async () => {
    const sb = createServiceBusClient(CS);
    expect(sb.fullyQualifiedNamespace).toBe('contoso.servicebus.windows.net');
    expect(sb.client.peer).toBeUndefined();
    await sb.close();
  });

  it("keeps an endpoint's port in the namespace, as azure-servicebus does (emulators, test brokers)", async () => {
    const sb = createServiceBusClient('Endpoint=sb://localhost:45671/;SharedAccessKeyName=n;SharedAccessKey=k');
    expect(sb.fullyQualifiedNamespace).toBe('localhost:45671');
    await sb.close();
  });

  it('takes a namespace and a token provider', async () => {
    const sb = createServiceBusClient({ fullyQualifiedNamespace: 'sb://ns.servicebus.windows.net/', tokenProvider: sasTokenProvider('n', 'k') });
    expect(sb.fullyQualifiedNamespace).toBe('ns.servicebus.windows.net');
    await sb.close();
  });

  it.each([
    ['no connection string and no namespace', {}],
    ['a namespace without a token provider', { fullyQualifiedNamespace: 'ns' }],
    ['an unknown option', { connectionString: CS, prefetch: 1 }],
    ['an unknown auth', { connectionString: CS, auth: 'oauth' }],
    ['sasl-plain without a key', { fullyQualifiedNamespace: 'ns', tokenProvider: sasTokenProvider('n', 'k'), auth: 'sasl-plain' }],
    ['a malformed custom endpoint', { connectionString: CS, customEndpointAddress: 'http://x' }],
    ['both a connection string and a namespace', { connectionString: CS, fullyQualifiedNamespace: 'ns' }],
  ])('refuses %s with a ConfigError', (_what, options) => {
    expect(() => createServiceBusClient(options as never)).toThrow(ConfigError);
  });

  it('never shows the key in an error (C3)', () => {
    const key = 'sup3r+s3cret/key=';
    try {
      createServiceBusClient(`Endpoint=ftp://x;SharedAccessKeyName=n;SharedAccessKey=${key}`);
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(key);
    }
  });

  it('refuses an entity other than the connection string EntityPath', async () => {
    const sb = createServiceBusClient(`${CS};EntityPath=orders`);
    expect(() => sb.createSender('invoices')).toThrow(ConfigError);
    expect(sb.createSender('orders').entityPath).toBe('orders');
    await sb.close();
  });

  it('checks receiver options at once', async () => {
    const sb = createServiceBusClient(CS);
    expect(() => sb.createReceiver('q', { receiveMode: 'peek' as never })).toThrow(ConfigError);
    expect(() => sb.createReceiver('q', { credit: 0 })).toThrow(ConfigError);
    expect(() => sb.createReceiver('q', { subQueue: 'dlq' as never })).toThrow(ConfigError);
    expect(() => sb.createReceiver('q', { maxWaitTime: -1 })).toThrow(ConfigError);
    expect(() => sb.createReceiver('q', { unknown: 1 } as never)).toThrow(ConfigError);
    expect(sb.createReceiver('t', 's', { subQueue: 'deadLetter' }).entityPath).toBe('t/Subscriptions/s/$DeadLetterQueue');
    await sb.close();
    expect(() => sb.createReceiver('q')).toThrow(/closed/);
  });
});

describe('entityPathOf', () => {
  it.each([
    ['orders', undefined, undefined, 'orders'],
    ['orders', undefined, 'deadLetter', 'orders/$DeadLetterQueue'],
    ['orders', undefined, 'transferDeadLetter', 'orders/$Transfer/$DeadLetterQueue'],
    ['events', 'audit', undefined, 'events/Subscriptions/audit'],
    ['events', 'audit', 'deadLetter', 'events/Subscriptions/audit/$DeadLetterQueue'],
  ] as const)('%s / %s / %s → %s', (entity, subscription, subQueue, path) => {
    expect(entityPathOf(entity, subscription, subQueue)).toBe(path);
  });
});
