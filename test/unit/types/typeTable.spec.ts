/**
 * docs/types.md is rendered from test/interop/typeTable.ts and the codec: this test fails when the file
 * differs (run with UPDATE_TYPES_DOC=1 to rewrite it), and checks every claim of the table that the
 * codec alone can check. test/interop/proton.spec.ts checks the same list against RabbitMQ and Qpid
 * Proton Python.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MessageEncodeError, message } from '../../../src/index.js';
import { decodeTypedMessage, toRheaMessage } from '../../../src/links/codec.js';
import { normalize, type Tagged, toTagged } from '../../interop/tagged.js';
import {
  defaultDecode,
  encode,
  ID_SAMPLES,
  JMS_TYPES,
  jmsMessage,
  PLAIN_VALUES,
  REJECTED_VALUES,
  renderTypesDoc,
  TYPE_ROWS,
  typedDecode,
} from '../../interop/typeTable.js';

const DOC = fileURLToPath(new URL('../../../docs/types.md', import.meta.url));
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

/**
 * The value as a JavaScript program would hold it without AMQP types: what the default decode gives
 * when it is exact. Arrays and described values have no such form (the default decode loses their
 * element type or descriptor), so they are never "exact".
 */
function natural(d: Tagged): unknown {
  const v = d.value;
  switch (d.type) {
    case 'null':
      return null;
    case 'boolean':
    case 'string':
    case 'symbol':
    case 'char':
    case 'uuid':
      return v;
    case 'binary':
    case 'decimal32':
    case 'decimal64':
    case 'decimal128':
      return Buffer.from(v as string, 'hex');
    case 'float':
    case 'double':
      return typeof v === 'number' ? v : Number(v);
    case 'timestamp': {
      const ms = Number(v);
      return Math.abs(ms) <= 8.64e15 ? new Date(ms) : BigInt(v as string); // beyond a Date: no plain form
    }
    case 'list':
      return (v as Tagged[]).map(natural);
    case 'map': {
      const pairs = v as [Tagged, Tagged][];
      if (pairs.every(([k]) => k.type === 'string')) return Object.fromEntries(pairs.map(([k, x]) => [k.value, natural(x)]));
      return new Map(pairs.map(([k, x]) => [natural(k), natural(x)]));
    }
    case 'array':
    case 'described':
      return Symbol('no plain form');
    default: {
      const n = BigInt(v as string);
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
  }
}

function same(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}

describe('docs/types.md', () => {
  it('is what typeTable.ts and the codec render', () => {
    const rendered = renderTypesDoc();
    if (/^(1|true)$/.test(process.env.UPDATE_TYPES_DOC ?? '')) writeFileSync(DOC, rendered);
    expect(readFileSync(DOC, 'utf8'), 'docs/types.md is stale: run UPDATE_TYPES_DOC=1 npx vitest run test/unit/types').toBe(rendered);
  });

  it('is in the README too, between its type-table markers', () => {
    const rendered = renderTypesDoc();
    const from = rendered.indexOf('## The type table');
    const to = rendered.indexOf('\n## ', from + 1);
    const table = rendered.slice(from, to).replace('## The type table', '### AMQP type mapping').trim();
    const start = '<!-- type-table:start (generated from docs/types.md by test/unit/types/typeTable.spec.ts) -->';
    const end = '<!-- type-table:end -->';
    let readme = readFileSync(README, 'utf8');
    if (/^(1|true)$/.test(process.env.UPDATE_TYPES_DOC ?? '')) {
      readme = readme.replace(new RegExp(`${escape(start)}[\\s\\S]*${escape(end)}`), `${start}\n${table}\n${end}`);
      writeFileSync(README, readme);
    }
    expect(readme, 'README type table is stale: run UPDATE_TYPES_DOC=1 npx vitest run test/unit/types').toContain(`${start}\n${table}\n${end}`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('the type table', () => {
  const samples = TYPE_ROWS.flatMap((row) => row.samples.map((sample, i) => ({ row, sample, name: `${row.type} ${sample.label ?? i + 1}` })));

  it.each(samples)('$name: the typed decode gives the exact type and value', ({ sample }) => {
    expect(normalize(toTagged(typedDecode(encode(sample.send()))))).toEqual(normalize(sample.tagged));
  });

  it.each(samples)('$name: the default decode is exact unless the table says how it is not', ({ sample }) => {
    const exact = same(defaultDecode(encode(sample.send())), natural(sample.tagged));
    expect(exact, sample.lossy ?? 'declared exact').toBe(sample.lossy === undefined);
  });

  it('names each row’s type in its samples', () => {
    for (const row of TYPE_ROWS) for (const sample of row.samples) expect(sample.tagged.type).toBe(row.type);
  });

  it.each(PLAIN_VALUES)('$js is sent as $tagged.type', ({ send, tagged }) => {
    expect(normalize(toTagged(typedDecode(encode(send()))))).toEqual(normalize(tagged));
  });

  it.each(REJECTED_VALUES)('$js is refused', ({ send }) => {
    expect(() => toRheaMessage(send())).toThrow(MessageEncodeError);
  });

  it.each(ID_SAMPLES)('an id from $js is sent as $tagged.type', ({ send, tagged }) => {
    const back = decodeTypedMessage(encode(message('b', { properties: { messageId: send() as never, correlationId: send() as never } })));
    expect(toTagged(back.properties.messageId)).toEqual(tagged);
    expect(toTagged(back.properties.correlationId)).toEqual(tagged);
  });

  it.each(JMS_TYPES)('$jms: the annotation is a byte', (j) => {
    const back = decodeTypedMessage(encode(jmsMessage(j)));
    expect(toTagged(back.messageAnnotations['x-opt-jms-msg-type'])).toEqual({ type: 'byte', value: String(j.code) });
    expect(normalize(toTagged(back.body))).toEqual(normalize(j.tagged));
  });
});
