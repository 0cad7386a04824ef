import { firstValueFrom, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Delivery, LinkStats } from 'rhea-rx';
import { useBroker, waitFor } from '../support/embedded.js';

describe('client.stats()', () => {
  const env = useBroker();

  it('reports held deliveries, credit, messages in flight and reconnects', async () => {
    const broker = await env.start();
    broker.enqueue('in', ...Array.from({ length: 5 }, (_, i) => ({ body: i })));
    broker.pauseOutcomes('out');
    const client = env.client({ reconnect: { initialDelay: 10 } });
    const held: Delivery[] = [];
    const sub = client.receive('in', { credit: 3 }).subscribe((d) => held.push(d));
    const input = new Subject<number>();
    const sending = input.pipe(client.send('out')).subscribe();
    for (let i = 0; i < 4; i++) input.next(i);
    await waitFor(() => held.length === 3 && broker.stats('out').received === 4, '3 held and 4 in flight');

    const byKind = (kind: LinkStats['kind']) => client.stats().links.filter((l) => l.kind === kind);
    expect(byKind('receiver')).toEqual([{ kind: 'receiver', address: 'in', credit: 3, held: 3, linkCredit: 0, attached: true }]);
    expect(byKind('sender')).toEqual([{ kind: 'sender', address: 'out', inFlight: 4, buffered: 0, attached: true }]);
    expect(client.stats()).toMatchObject({ status: 'open', reconnects: 0 });

    held[0]!.accept();
    await waitFor(() => held.length === 4, 'one more delivery');
    expect(byKind('receiver')[0]).toMatchObject({ held: 3 });

    broker.dropConnections();
    await waitFor(() => client.stats().reconnects === 1 && client.stats().status === 'open', 'a reconnect');
    const watched = await firstValueFrom(client.watchStats(5));
    expect(watched.reconnects).toBe(1);

    sub.unsubscribe();
    sending.unsubscribe();
    await waitFor(() => client.stats().links.length === 0, 'links to unregister');
  });
});
