/**
 * Interoperability with Qpid Proton Python (the client of the AMQ Python guide) through RabbitMQ 3.10:
 * Proton sends and rhea-rx receives, and the reverse, for every AMQP type of the type table
 * (test/interop/typeTable.ts, rendered into docs/types.md), the message header and properties,
 * application properties and annotations, and the JMS message type annotation. Both sides report exact
 * AMQP types: Proton by the class it decoded each value into, rhea-rx by its typed decode.
 *
 * Needs RabbitMQ (PEERS including rabbitmq) and Debian's python3 with the proton module; skipped with
 * the reason otherwise, and failed under REQUIRE_BROKERS=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqp, type Client, createClient, type Delivery, message, NotSupportedError } from '../../src/index.js';
import { brokersRequired, forEachPeer, type Peer } from '../support/peers.js';
import { interopQueue, protonUrl, python, receiveN, sendAll, whyNoProton } from './helpers.js';
import { normalize, t, type Tagged, toTagged } from './tagged.js';
import {
  defaultDecode,
  encode,
  ID_SAMPLES,
  JMS_TYPES,
  jmsMessage,
  PLAIN_VALUES,
  PROTON_CLASSES,
  RABBITMQ_REFUSES,
  type Sample,
  TYPE_ROWS,
} from './typeTable.js';

/** A message as test/interop/python/amqp_json.py reads and writes it. */
interface ProtonMessage {
  body?: Tagged;
  section?: 'value' | 'data' | 'sequence';
  durable?: boolean;
  priority?: number;
  ttl?: number;
  subject?: string | null;
  content_type?: string | null;
  content_type_class?: string;
  reply_to?: string | null;
  group_id?: string | null;
  id?: Tagged | null;
  correlation_id?: Tagged | null;
  properties?: [string, Tagged][] | null;
  annotations?: [Tagged, Tagged][] | null;
}

const protonProblem = whyNoProton();
const UUID = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

interface Case {
  readonly name: string;
  readonly sample: Sample;
}

const cases: Case[] = TYPE_ROWS.flatMap((row) => row.samples.map((sample, i) => ({ name: `${row.type} ${sample.label ?? i + 1}`, sample })));
const onRabbit = cases.filter((c) => c.sample.notOnRabbitMq === undefined);
const notOnRabbit = cases.filter((c) => c.sample.notOnRabbitMq !== undefined);

forEachPeer(
  'interop with Qpid Proton Python',
  (peer: Peer) => {
    if (protonProblem !== undefined) {
      if (brokersRequired()) it('needs Qpid Proton Python (REQUIRE_BROKERS=1)', () => expect.fail(protonProblem));
      else it.skip(`skipped: ${protonProblem}`, () => {});
      return;
    }

    let client: Client;
    beforeAll(() => {
      client = createClient({ url: peer.url, reconnect: false });
    });
    afterAll(async () => {
      await client?.close();
    });

    const pySend = (address: string, messages: ProtonMessage[]) => python<{ sent: number; outcomes: string[] }>('send.py', [protonUrl(peer.url), address], { messages });
    const pyReceive = async (address: string, n: number) => (await python<{ messages: ProtonMessage[] }>('receive.py', [protonUrl(peer.url), address, String(n)])).messages;

    it('reports each type by the Proton class the documentation names', async () => {
      const classes = await python<Record<string, string>>('classes.py', []);
      expect(classes).toEqual(PROTON_CLASSES);
    });

    describe('every type of the table, Proton → rhea-rx', () => {
      let typed: Delivery[] = [];
      let plain: Delivery[] = [];
      beforeAll(async () => {
        const a = interopQueue('types-typed');
        const b = interopQueue('types-default');
        const messages = onRabbit.map((c) => ({ body: c.sample.tagged }));
        const [sentA, sentB] = await Promise.all([pySend(a, messages), pySend(b, messages)]);
        expect(sentA.outcomes.every((o) => o === 'ACCEPTED') && sentB.outcomes.every((o) => o === 'ACCEPTED')).toBe(true);
        [typed, plain] = await Promise.all([receiveN(client, a, messages.length, { typed: true }), receiveN(client, b, messages.length)]);
      });

      it.each(onRabbit.map((c, i) => ({ ...c, i })))('$name: typed decode exact, default decode as documented', ({ sample, i }) => {
        if (sample.tagged.type === 'null') {
          // Proton sends no body section for None, and RabbitMQ then delivers an empty data section.
          for (const d of [typed[i]!, plain[i]!]) expect(d.body).toMatchObject({ typecode: 0x75, content: Buffer.alloc(0) });
          return;
        }
        expect(normalize(toTagged(typed[i]!.body))).toEqual(normalize(sample.tagged));
        expect(typed[i]!.message.properties).toEqual({});
        expect(plain[i]!.body).toEqual(defaultDecode(encode(sample.send())));
      });
    });

    describe('every type of the table, rhea-rx → Proton', () => {
      let received: ProtonMessage[] = [];
      beforeAll(async () => {
        const address = interopQueue('types');
        const outcomes = await sendAll(client, address, onRabbit.map((c) => c.sample.send()));
        expect(outcomes.map((o) => o.state)).toEqual(onRabbit.map(() => 'accepted'));
        received = await pyReceive(address, onRabbit.length);
      });

      it.each(onRabbit.map((c, i) => ({ ...c, i })))('$name: Proton decodes the exact type and value', ({ sample, i }) => {
        expect(received[i]!.section).toBe('value');
        expect(normalize(received[i]!.body!)).toEqual(normalize(sample.tagged));
      });
    });

    describe('values RabbitMQ 3.10 cannot take', () => {
      for (const c of notOnRabbit) it.skip(`${c.name} [skipped on rabbitmq: ${c.sample.notOnRabbitMq}; checked by the codec tests]`, () => {});

      for (const refusal of RABBITMQ_REFUSES) {
        it(`${refusal.what.split(':')[0]}: refused before the wire with NotSupportedError; the connection and the stream go on`, async () => {
          const own = createClient({ url: peer.url, reconnect: false });
          try {
            const address = interopQueue('refused');
            const refused = refusal.send();
            const outcomes = await sendAll(own, address, ['before', refused, 'after']);
            // The refusal is made at once, so it may come before the broker's outcomes.
            const stateOf = (input: unknown) => outcomes.find((o) => o.message === input)?.state;
            expect([stateOf('before'), stateOf(refused), stateOf('after')]).toEqual(['accepted', 'rejected', 'accepted']);
            const error = outcomes.find((o) => o.message === refused)!.error;
            expect(error).toBeInstanceOf(NotSupportedError);
            expect(error).toMatchObject({ condition: 'amqp:not-implemented' });
            expect((error as unknown as Error).message).toMatch(/RabbitMQ 3\.\d+\.\d+ cannot take/);
            expect(own.stats().reconnects).toBe(0);
            const received = await receiveN(own, address, 2);
            expect(received.map((d) => d.body)).toEqual(['before', 'after']);
          } finally {
            await own.close().catch(() => undefined);
          }
        });
      }
    });

    describe('plain JavaScript values, rhea-rx → Proton', () => {
      it('arrive as the AMQP type the table gives', async () => {
        const address = interopQueue('plain');
        await sendAll(client, address, PLAIN_VALUES.map((p) => p.send()));
        const received = await pyReceive(address, PLAIN_VALUES.length);
        expect(received.map((m) => normalize(m.body!))).toEqual(PLAIN_VALUES.map((p) => normalize(p.tagged)));
      });
    });

    describe('message-id and correlation-id', () => {
      it('rhea-rx → Proton: each id arrives as the type the table gives', async () => {
        const address = interopQueue('ids');
        await sendAll(
          client,
          address,
          ID_SAMPLES.map((s, i) => message(i, { properties: { messageId: s.send() as never, correlationId: ID_SAMPLES[(i + 1) % ID_SAMPLES.length]!.send() as never } })),
        );
        const received = await pyReceive(address, ID_SAMPLES.length);
        expect(received.map((m) => m.id)).toEqual(ID_SAMPLES.map((s) => s.tagged));
        expect(received.map((m) => m.correlation_id)).toEqual(ID_SAMPLES.map((_, i) => ID_SAMPLES[(i + 1) % ID_SAMPLES.length]!.tagged));
      });

      it('Proton → rhea-rx: the typed decode gives each id’s type, and it is sent back as that type', async () => {
        const address = interopQueue('ids-back');
        const back = interopQueue('ids-echo');
        await pySend(address, ID_SAMPLES.map((s) => ({ body: t.null(), id: s.tagged, correlation_id: s.tagged })));
        const deliveries = await receiveN(client, address, ID_SAMPLES.length, { typed: true });
        expect(deliveries.map((d) => toTagged(d.message.properties.messageId))).toEqual(ID_SAMPLES.map((s) => s.tagged));
        expect(deliveries.map((d) => toTagged(d.message.properties.correlationId))).toEqual(ID_SAMPLES.map((s) => s.tagged));
        // A reply's correlation-id is the request's message-id: exactly the same type on the way back.
        await sendAll(client, back, deliveries.map((d) => message('reply', { properties: { correlationId: d.message.properties.messageId } })));
        expect((await pyReceive(back, ID_SAMPLES.length)).map((m) => m.correlation_id)).toEqual(ID_SAMPLES.map((s) => s.tagged));
      });
    });

    describe('header, properties, application properties and annotations', () => {
      const applicationProperties = {
        s: 'text',
        u: 5,
        i: amqp.int(-1),
        l: 2n ** 40n,
        ul: amqp.ulong(2n ** 64n - 1n),
        b: true,
        d: 1.5,
        sym: amqp.symbol('v'),
        ts: new Date(1_700_000_000_000),
        bin: Buffer.from([1, 2]),
        n: null,
      };
      const applicationTagged: [string, Tagged][] = [
        ['s', t.string('text')],
        ['u', t.int('uint', 5)],
        ['i', t.int('int', -1)],
        ['l', t.int('long', 2n ** 40n)],
        ['ul', t.int('ulong', 2n ** 64n - 1n)],
        ['b', t.boolean(true)],
        ['d', t.float('double', 1.5)],
        ['sym', t.symbol('v')],
        ['ts', t.int('timestamp', 1_700_000_000_000)],
        ['bin', t.bytes('binary', '0102')],
        ['n', t.null()],
      ];
      const annotationsTagged: [Tagged, Tagged][] = [
        [t.symbol('x-opt-jms-msg-type'), t.int('byte', 5)],
        [t.symbol('x-opt-big'), t.int('ulong', 2n ** 64n - 1n)],
        [t.symbol('x-opt-list'), t.list(t.string('a'), t.int('ubyte', 1))],
      ];
      const header = { durable: true, priority: 7, ttl: 60_000 };
      const properties = { messageId: 'mid-1', subject: 'subj', contentType: 'application/json', replyTo: '/queue/back', groupId: 'g-1' };

      it('rhea-rx → Proton: every field with its type', async () => {
        const address = interopQueue('fields');
        await sendAll(client, address, [
          message('{"a":1}', {
            header,
            properties: { ...properties, correlationId: amqp.uuid(UUID) as never },
            applicationProperties,
            messageAnnotations: { 'x-opt-jms-msg-type': amqp.byte(5), 'x-opt-big': amqp.ulong(2n ** 64n - 1n), 'x-opt-list': ['a', amqp.ubyte(1)] },
          }),
        ]);
        const [m] = await pyReceive(address, 1);
        expect(m).toMatchObject({
          body: t.string('{"a":1}'),
          durable: true,
          priority: 7,
          ttl: 60_000,
          id: t.string('mid-1'),
          correlation_id: t.uuid(UUID),
          subject: 'subj',
          content_type: 'application/json',
          content_type_class: 'symbol',
          reply_to: '/queue/back',
          group_id: 'g-1',
        });
        expect(normalize(t.map(...(m!.properties ?? []).map(([k, v]): [Tagged, Tagged] => [t.string(k), v])))).toEqual(
          normalize(t.map(...applicationTagged.map(([k, v]): [Tagged, Tagged] => [t.string(k), v]))),
        );
        for (const pair of annotationsTagged) expect(m!.annotations).toContainEqual(pair);
      });

      it('Proton → rhea-rx: every field, typed and by default', async () => {
        const a = interopQueue('fields-typed');
        const b = interopQueue('fields-default');
        const sent: ProtonMessage = {
          body: t.string('{"a":1}'),
          durable: true,
          priority: 7,
          ttl: 60_000,
          id: t.string('mid-1'),
          correlation_id: t.uuid(UUID),
          subject: 'subj',
          content_type: 'application/json',
          reply_to: '/queue/back',
          group_id: 'g-1',
          properties: applicationTagged,
          annotations: annotationsTagged,
        };
        await Promise.all([pySend(a, [sent]), pySend(b, [sent])]);
        const [[typed], [plain]] = await Promise.all([receiveN(client, a, 1, { typed: true }), receiveN(client, b, 1)]);
        for (const m of [typed!.message, plain!.message]) {
          expect(m.body).toBe('{"a":1}');
          expect(m.header).toMatchObject(header);
          expect(m.properties).toMatchObject(properties);
        }
        expect(typed!.message.properties.correlationId).toEqual(amqp.uuid(UUID));
        expect(plain!.message.properties.correlationId).toEqual(Buffer.from(UUID.replace(/-/g, ''), 'hex'));
        expect(normalize(toTagged(typed!.message.applicationProperties))).toEqual(
          normalize(t.map(...applicationTagged.map(([k, v]): [Tagged, Tagged] => [t.string(k), v]))),
        );
        expect(typed!.message.messageAnnotations).toMatchObject({
          'x-opt-jms-msg-type': amqp.byte(5),
          'x-opt-big': amqp.ulong(2n ** 64n - 1n),
          'x-opt-list': ['a', amqp.ubyte(1)],
        });
        expect(plain!.message.messageAnnotations).toMatchObject({ 'x-opt-jms-msg-type': 5, 'x-opt-big': Buffer.alloc(8, 0xff), 'x-opt-list': ['a', 1] });
        expect(plain!.message.applicationProperties).toMatchObject({ s: 'text', u: 5, i: -1, l: 2 ** 40, sym: 'v', n: null });
      });
    });

    describe('JMS message types (x-opt-jms-msg-type)', () => {
      const jms = JMS_TYPES.filter((j) => j.notOnRabbitMq === undefined);
      for (const j of JMS_TYPES.filter((x) => x.notOnRabbitMq !== undefined)) it.skip(`${j.jms} [skipped on rabbitmq: ${j.notOnRabbitMq}]`, () => {});

      it('rhea-rx → Proton: the annotation is a byte, the body of the JMS type', async () => {
        const address = interopQueue('jms');
        await sendAll(client, address, jms.map(jmsMessage));
        const received = await pyReceive(address, jms.length);
        received.forEach((m, i) => {
          const j = jms[i]!;
          expect(m.annotations).toContainEqual([t.symbol('x-opt-jms-msg-type'), t.int('byte', j.code)]);
          expect(normalize(m.body!)).toEqual(normalize(j.tagged));
        });
      });

      it('Proton → rhea-rx: the typed decode tells the byte from any other integer', async () => {
        const address = interopQueue('jms-back');
        await pySend(
          address,
          jms.map((j) => ({ body: j.tagged, annotations: [[t.symbol('x-opt-jms-msg-type'), t.int('byte', j.code)]] })),
        );
        const deliveries = await receiveN(client, address, jms.length, { typed: true });
        expect(deliveries.map((d) => d.message.messageAnnotations['x-opt-jms-msg-type'])).toEqual(jms.map((j) => amqp.byte(j.code)));
        expect(deliveries.map((d) => normalize(toTagged(d.body)))).toEqual(jms.map((j) => normalize(j.tagged)));
      });
    });

    describe('data and sequence body sections from Proton', () => {
      it('arrive as rhea’s section objects in both decodes', async () => {
        const a = interopQueue('sections-typed');
        const b = interopQueue('sections-default');
        const sent: ProtonMessage[] = [
          { body: t.bytes('binary', '0102'), section: 'data' },
          { body: t.list(t.int('ubyte', 1), t.string('x')), section: 'sequence' },
        ];
        await Promise.all([pySend(a, sent), pySend(b, sent)]);
        const [typed, plain] = await Promise.all([receiveN(client, a, 2, { typed: true }), receiveN(client, b, 2)]);
        expect(typed[0]!.body).toMatchObject({ typecode: 0x75, content: Buffer.from([1, 2]) });
        expect(plain[0]!.body).toMatchObject({ typecode: 0x75, content: Buffer.from([1, 2]) });
        expect(typed[1]!.body).toMatchObject({ typecode: 0x76, content: [amqp.ubyte(1), 'x'] });
        expect(plain[1]!.body).toMatchObject({ typecode: 0x76, content: [1, 'x'] });
        // Sent on as they came: still a data and a sequence section.
        const echo = interopQueue('sections-echo');
        await sendAll(client, echo, typed.map((d) => d.body));
        expect((await pyReceive(echo, 2)).map((m) => [m.section, m.body])).toEqual([
          ['data', t.bytes('binary', '0102')],
          ['sequence', t.list(t.int('ubyte', 1), t.string('x'))],
        ]);
      });
    });
  },
  { only: ['rabbitmq'] },
);
