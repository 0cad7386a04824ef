import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Connection, Message } from 'rhea';
import { AuthenticationError, createSasToken, sasTokenProvider, type TokenProvider } from 'rhea-rx';
import type { ConnectionManager, ConnectionWatcher } from '../../../src/client/ConnectionManager.js';
import { CbsAuthorizer } from '../../../src/serviceBus/cbs.js';
import { autoAnswering, type FakeConnection, type SentRequest } from './fakeConnection.js';

/** A connection manager that opens fake connections, running the before-open hooks as the real one does. */
class FakeManager {
  readonly hooks = new Set<(c: Connection) => Promise<void>>();
  readonly watchers = new Set<ConnectionWatcher>();
  current: FakeConnection | undefined;
  opened = 0;

  constructor(private readonly make: () => FakeConnection) {}

  beforeOpen(hook: (c: Connection) => Promise<void>): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  watch(watcher: ConnectionWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  async acquire(): Promise<Connection> {
    if (this.current === undefined) {
      const connection = this.make();
      for (const hook of this.hooks) await hook(connection.asRhea());
      this.current = connection;
      this.opened++;
    }
    return this.current.asRhea();
  }

  /** The connection is lost: the next acquire opens a new one. */
  lose(): void {
    this.current?.emit('disconnected', {});
    this.current = undefined;
    for (const w of this.watchers) w.lost(undefined as never);
  }

  asManager(): ConnectionManager {
    return this as unknown as ConnectionManager;
  }
}

const NOW = Date.parse('2030-01-01T00:00:00Z');

function setup(provider: TokenProvider, answer: (r: SentRequest) => Partial<Message> | undefined = () => ({ application_properties: { 'status-code': 202 } })) {
  const requests: SentRequest[] = [];
  const manager = new FakeManager(() =>
    autoAnswering((r) => {
      requests.push(r);
      return answer(r) as Message | undefined;
    }),
  );
  const cbs = new CbsAuthorizer(manager.asManager(), provider, { timeout: 5_000 });
  return { manager, cbs, requests };
}

describe('CbsAuthorizer (claims-based authorization on $cbs)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('puts a token with operation put-token, the token type and the audience as name, as uAMQP does', async () => {
    vi.useFakeTimers({ now: NOW });
    const { cbs, requests, manager } = setup(sasTokenProvider('RootManageSharedAccessKey', 'k3y'));
    await cbs.authorize('sb://ns.servicebus.windows.net/orders');
    expect(requests).toHaveLength(1);
    const { message, link } = requests[0]!;
    expect(link.name).toBe('$cbs-sender');
    expect(link.options).toMatchObject({ target: { address: '$cbs' }, source: { address: '$cbs' } });
    expect(message.application_properties).toEqual({
      operation: 'put-token',
      type: 'servicebus.windows.net:sastoken',
      name: 'sb://ns.servicebus.windows.net/orders',
    });
    expect(message.body).toBe(createSasToken('sb://ns.servicebus.windows.net/orders', 'RootManageSharedAccessKey', 'k3y', NOW / 1000 + 3600));
    expect(message.message_id).toBe(0);
    expect(message).not.toHaveProperty('reply_to');
    expect(manager.current!.link('$cbs-receiver').options).toMatchObject({ source: { address: '$cbs' }, target: { address: '$cbs' } });
    cbs.close();
  });

  it('puts a token once per audience and connection, and one per new audience', async () => {
    const { cbs, requests } = setup(sasTokenProvider('n', 'k'));
    await cbs.authorize('sb://ns/a');
    await cbs.authorize('sb://ns/a');
    await Promise.all([cbs.authorize('sb://ns/b'), cbs.authorize('sb://ns/b')]);
    expect(requests.map((r) => r.message.application_properties?.name)).toEqual(['sb://ns/a', 'sb://ns/b']);
    cbs.close();
  });

  it('puts the token of every known audience on a new connection before any link may use it (the before-open hook)', async () => {
    const { cbs, requests, manager } = setup(sasTokenProvider('n', 'k'));
    await cbs.authorize('sb://ns/a');
    await cbs.authorize('sb://ns/b');
    manager.lose();
    await manager.acquire(); // a reconnect: the hooks run before the connection is handed out
    expect(manager.opened).toBe(2);
    expect(requests.map((r) => r.message.application_properties?.name)).toEqual(['sb://ns/a', 'sb://ns/b', 'sb://ns/a', 'sb://ns/b']);
    await cbs.authorize('sb://ns/a'); // fresh on this connection: nothing more to put
    expect(requests).toHaveLength(4);
    cbs.close();
  });

  it('refreshes a token before it expires: five minutes early for an hour-long token', async () => {
    vi.useFakeTimers({ now: NOW });
    const { cbs, requests } = setup(sasTokenProvider('n', 'k'));
    await cbs.authorize('sb://ns/a');
    await vi.advanceTimersByTimeAsync(55 * 60_000 - 1_000);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.message.body).toBe(createSasToken('sb://ns/a', 'n', 'k', NOW / 1000 + 55 * 60 + 3600));
    await vi.advanceTimersByTimeAsync(55 * 60_000);
    expect(requests).toHaveLength(3);
    cbs.close();
    await vi.advanceTimersByTimeAsync(3 * 3_600_000);
    expect(requests).toHaveLength(3);
  });

  it('refreshes a short token at three quarters of its life', async () => {
    vi.useFakeTimers({ now: NOW });
    const { cbs, requests } = setup(sasTokenProvider('n', 'k', { lifetime: 8_000 }));
    await cbs.authorize('sb://ns/a');
    await vi.advanceTimersByTimeAsync(5_900);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(requests).toHaveLength(2);
    cbs.close();
  });

  it('uses a user token provider, with its token type (jwt by default)', async () => {
    const provider: TokenProvider = { getToken: vi.fn(async () => ({ token: 'eyJ.a.b', expiresOnTimestamp: Date.now() + 3_600_000 })) };
    const { cbs, requests } = setup(provider);
    await cbs.authorize('sb://ns/q');
    expect(provider.getToken).toHaveBeenCalledWith('sb://ns/q');
    expect(requests[0]!.message.application_properties?.type).toBe('jwt');
    expect(requests[0]!.message.body).toBe('eyJ.a.b');
    cbs.close();
  });

  it('fails with AuthenticationError (not retryable, C2) when the service refuses the token, never showing it', async () => {
    const { cbs } = setup(sasTokenProvider('n', 'secret-key'), () => ({ application_properties: { 'status-code': 401, 'status-description': 'InvalidSignature' } }));
    const error = await cbs.authorize('sb://ns/q').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ retryable: false });
    expect(String((error as Error).message)).toContain('InvalidSignature');
    expect(String((error as Error).message)).not.toMatch(/SharedAccessSignature|secret-key/);
    cbs.close();
  });

  it('fails when the token provider gives no token', async () => {
    const { cbs } = setup({ getToken: async () => undefined as never });
    await expect(cbs.authorize('sb://ns/q')).rejects.toBeInstanceOf(AuthenticationError);
    cbs.close();
  });
});
