// startServiceBusBroker (rhea-rx/testing): a Service Bus mode broker in one call, or the namespace
// named by an environment variable.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createServiceBusClient } from 'rhea-rx';
import { startServiceBusBroker, type ServiceBusTestTarget } from 'rhea-rx/testing';

const targets: ServiceBusTestTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.stop()));
  delete process.env.RHEA_RX_TEST_SB_CONNECTION_STRING;
});

describe('startServiceBusBroker', () => {
  it('starts a broker with the entities asked for; its connection string and client options reach it over TLS with CBS', async () => {
    const target = await startServiceBusBroker({ entities: { queues: ['orders'], topics: { events: ['audit'] } }, lockDuration: 5_000, captureFrames: true });
    targets.push(target);
    expect(target.connectionString).toMatch(/^Endpoint=sb:\/\/localhost:\d+\/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=.+$/);
    expect(target.clientOptions.tls?.ca).toMatch(/BEGIN CERTIFICATE/);
    const sb = createServiceBusClient(target.connectionString, target.clientOptions);
    try {
      await sb.createSender('orders').sendMessages({ body: 'hello' });
      const [message] = await sb.createReceiver('orders').receiveMessages({ maxWaitTime: 3_000 });
      expect(String(message)).toBe('hello');
      expect(message!.lockedUntilUtc!.getTime() - Date.now()).toBeLessThanOrEqual(5_000);
      await message!.complete();
      // Entities not asked for do not exist.
      await expect(sb.createSender('other').sendMessages({ body: 'x' })).rejects.toThrow();
    } finally {
      await sb.close();
    }
    expect(target.broker!.serviceBus.messages('orders')).toEqual([]);
    expect(target.broker!.capturedFrames().some((f) => f.link?.address === '$cbs')).toBe(true);
    await target.stop();
    await target.stop(); // idempotent
  });

  it('uses the namespace in the environment variable named, starting nothing, when it is set; a broker when it is not', async () => {
    const namespace = 'Endpoint=sb://ns.example.net/;SharedAccessKeyName=send;SharedAccessKey=not-a-real-key';
    process.env.RHEA_RX_TEST_SB_CONNECTION_STRING = namespace;
    const fromEnvironment = await startServiceBusBroker({ environment: 'RHEA_RX_TEST_SB_CONNECTION_STRING', entities: { queues: ['q'] } });
    expect(fromEnvironment).toMatchObject({ connectionString: namespace, clientOptions: {}, broker: undefined });
    delete process.env.RHEA_RX_TEST_SB_CONNECTION_STRING;
    const local = await startServiceBusBroker({ environment: 'RHEA_RX_TEST_SB_CONNECTION_STRING', keyName: 'listen' });
    targets.push(local);
    expect(local.broker).toBeDefined();
    expect(local.connectionString).toContain('SharedAccessKeyName=listen;');
  });

  it('refuses unknown and mistyped options with a ConfigError naming them', async () => {
    await expect(startServiceBusBroker({ queues: ['q'] } as never)).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringContaining("unknown option 'queues'") });
    await expect(startServiceBusBroker({ environment: 5 } as never)).rejects.toBeInstanceOf(ConfigError);
    await expect(startServiceBusBroker({ keyName: '' })).rejects.toBeInstanceOf(ConfigError);
  });
});
