// The EmbeddedBroker forwards what a client sent with its bare message byte for byte (AMQP 1.0
// §3.2: properties, application properties and body are immutable for intermediaries), so AMQP
// types survive the trip; the header and the annotations are the broker's own.
import { firstValueFrom, lastValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { amqp, AmqpScalar, type Delivery, message } from 'rhea-rx';
import { useBroker, waitFor } from '../support/embedded.js';

const scalar = (value: unknown) => (value instanceof AmqpScalar ? [value.type, value.value] : value);

describe('EmbeddedBroker forwards messages as sent', () => {
  const env = useBroker();

  it('keeps the AMQP types of the body, properties and application properties', async () => {
    await env.start();
    const client = env.client();
    const sent = message(amqp.symbol('a-symbol'), {
      properties: { messageId: amqp.ulong(2n ** 64n - 1n), subject: 'typed' },
      applicationProperties: { big: amqp.ulong(2n ** 63n + 5n), c: amqp.char('é'), n: amqp.ubyte(7) },
    });
    await lastValueFrom(of(sent).pipe(client.send('typed')));
    const d = await firstValueFrom(client.receive('typed', { typed: true })); // released when the subscription ends
    expect(scalar(d.body)).toEqual(['symbol', 'a-symbol']);
    expect(scalar(d.message.properties.messageId)).toEqual(['ulong', 2n ** 64n - 1n]);
    expect(scalar(d.message.applicationProperties.big)).toEqual(['ulong', 2n ** 63n + 5n]);
    expect(scalar(d.message.applicationProperties.c)).toEqual(['char', 'é']);
    expect(scalar(d.message.applicationProperties.n)).toEqual(['ubyte', 7]);
  });

  it('rewrites the header and, after a modified outcome, the annotations; the body stays as sent', async () => {
    const broker = await env.start();
    const client = env.client();
    await lastValueFrom(of(message(amqp.ulong(2n ** 64n - 2n), { messageAnnotations: { 'x-opt-from': amqp.symbol('sender') } })).pipe(client.send('m')));
    const seen: Delivery[] = [];
    const sub = client.receive('m', { typed: true, credit: 1 }).subscribe((d) => {
      seen.push(d);
      if (seen.length === 1) d.modify({ deliveryFailed: true, annotations: { 'x-opt-tries': 1 } });
      else d.accept();
    });
    await waitFor(() => seen.length === 2, 'the redelivery');
    sub.unsubscribe();
    const [first, second] = seen as [Delivery, Delivery];
    expect(scalar(first.body)).toEqual(['ulong', 2n ** 64n - 2n]);
    expect(scalar(first.message.messageAnnotations['x-opt-from'])).toEqual(['symbol', 'sender']);
    expect(first.message.header.deliveryCount).toBe(0);
    expect(scalar(second.body)).toEqual(['ulong', 2n ** 64n - 2n]);
    expect(second.message.header.deliveryCount).toBe(1);
    expect(second.message.header.firstAcquirer).toBe(false);
    expect((scalar(second.message.messageAnnotations['x-opt-tries']) as unknown[])[1]).toBe(1); // merged from the modified outcome
    expect(second.message.messageAnnotations['x-opt-from']).toBeDefined();
    expect(broker.stats('m').modified).toBe(1);
  });
});
