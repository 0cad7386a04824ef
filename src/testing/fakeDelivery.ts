import type { Delivery, ModifyOptions, RejectError, SettlementState } from '../delivery/Delivery.js';
import type { AmqpMessage, MessageFields } from '../delivery/message.js';
import { DeliveryAlreadySettledError } from '../errors/errors.js';

/** A {@link rhea-rx!Delivery | Delivery} for tests, with no broker behind it: it records how it was settled. */
export interface FakeDelivery<T = unknown> extends Delivery<T> {
  /** The arguments of the settlement (`reject`'s error, `modify`'s options), once settled. */
  readonly settledWith: RejectError | Error | string | ModifyOptions | undefined;
  /** How many settlement calls were made, including refused second ones. */
  readonly settleCalls: number;
}

/** Options of {@link fakeDelivery}. */
export interface FakeDeliveryOptions extends MessageFields {
  /** The header's delivery-count. @default 0 */
  deliveryCount?: number;
  /** The address it claims to come from. @default 'fake' */
  address?: string;
}

/**
 * Makes a delivery for marble and unit tests of pipelines: no broker, no link. It behaves like a
 * real one — settle once, a second settlement throws `DeliveryAlreadySettledError` — and records
 * the settlement in `settledAs` and `settledWith`, so a test can assert what a pipeline did.
 *
 * @example
 * const a = fakeDelivery({ id: 1 });
 * of(a).pipe(accept()).subscribe();
 * expect(a.settledAs).toBe('accepted');
 */
export function fakeDelivery<T>(body: T, options: FakeDeliveryOptions = {}): FakeDelivery<T> {
  const { deliveryCount = 0, address = 'fake', ...fields } = options;
  let settledAs: SettlementState | undefined;
  let settledWith: FakeDelivery<T>['settledWith'];
  let settleCalls = 0;
  const message: AmqpMessage<T> = {
    body,
    header: { ...fields.header, deliveryCount },
    properties: { ...fields.properties },
    applicationProperties: { ...fields.applicationProperties },
    messageAnnotations: { ...fields.messageAnnotations },
    deliveryAnnotations: { ...fields.deliveryAnnotations },
    footer: { ...fields.footer },
  };
  const settle = (state: SettlementState, args: FakeDelivery<T>['settledWith']) => {
    settleCalls++;
    if (settledAs !== undefined) {
      throw new DeliveryAlreadySettledError(`Cannot settle a delivery from '${address}' as ${state}: it was already settled as ${settledAs}`, 'settled');
    }
    settledAs = state;
    settledWith = args;
  };
  return {
    body,
    message,
    deliveryCount,
    address,
    get settled() {
      return settledAs !== undefined;
    },
    get settledAs() {
      return settledAs;
    },
    get settledWith() {
      return settledWith;
    },
    get settleCalls() {
      return settleCalls;
    },
    accept: () => settle('accepted', undefined),
    reject: (error?: RejectError | Error | string) => settle('rejected', error),
    release: () => settle('released', undefined),
    modify: (modify: ModifyOptions = {}) => settle('modified', modify),
  };
}
