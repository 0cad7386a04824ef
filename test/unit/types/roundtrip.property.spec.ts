/**
 * Property tests of the codec, with no peer: every value rhea-rx can send comes back from the typed
 * decode as `expectedTyped` says (exactly, type included), and what the typed decode gives is sent
 * again as the same types.
 */
import fc from 'fast-check';
import rhea from 'rhea';
import { describe, expect, it } from 'vitest';
import { message } from '../../../src/index.js';
import { decodeTypedMessage, toRheaMessage } from '../../../src/links/codec.js';
import { amqpValue, expectedTyped } from '../../interop/arbitraries.js';

const encode = (input: unknown): Buffer => rhea.message.encode(toRheaMessage(input)) as Buffer;
const RUNS = Number(process.env.FC_RUNS ?? 3000);

describe('typed round trip (codec only)', () => {
  it(`a body comes back exactly (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(amqpValue(), (value) => {
        expect(decodeTypedMessage(encode(value)).body).toEqual(expectedTyped(value));
      }),
      { numRuns: RUNS },
    );
  });

  it('application properties, annotations and footer come back exactly', () => {
    const section = fc.dictionary(fc.string({ maxLength: 8 }), amqpValue({ depth: 2 }), { maxKeys: 4 });
    fc.assert(
      fc.property(section, section, section, (applicationProperties, messageAnnotations, footer) => {
        const back = decodeTypedMessage(encode(message(null, { applicationProperties, messageAnnotations, footer })));
        expect(back.applicationProperties).toEqual(expectedTyped(applicationProperties));
        expect(back.messageAnnotations).toEqual(expectedTyped(messageAnnotations));
        expect(back.footer).toEqual(expectedTyped(footer));
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('what the typed decode gives is sent again as the same types', () => {
    fc.assert(
      fc.property(amqpValue(), (value) => {
        const once = decodeTypedMessage(encode(value)).body;
        expect(decodeTypedMessage(encode(once)).body).toEqual(once);
      }),
      { numRuns: RUNS },
    );
  });
});
