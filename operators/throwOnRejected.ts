import { type MonoTypeOperatorFunction, tap } from 'rxjs';
import { OutcomeError } from '../src/errors/OutcomeError.js';
import type { Outcome, OutcomeState } from '../src/index.js';
import { invalid, optionsOf } from './internal/options.js';

/** Options of {@link throwOnRejected}. */
export interface ThrowOnRejectedOptions {
  /**
   * The outcome states that pass through; any other errors the stream. Must include `'accepted'`.
   * `['accepted']` treats a released or modified message (the peer did not take it) as an error too.
   * @default `['accepted', 'released', 'modified']`: only `rejected` is an error
   */
  allow?: readonly OutcomeState[];
}

const states: readonly OutcomeState[] = ['accepted', 'rejected', 'released', 'modified'];

/**
 * Turns the first outcome that is not allowed — by default, the first `rejected` — into an
 * {@link rhea-rx!OutcomeError | OutcomeError} carrying that outcome, for pipelines where one refused message means stop.
 *
 * ```text
 * outcomes    -a--r--a--|     a: accepted · r: rejected
 * output      -a--#           OutcomeError (condition and description from the peer's error)
 * ```
 *
 * The error unsubscribes the sender: messages still in flight then get no outcome here. When every
 * message must be accounted for (S1), inspect outcomes with `filter` or `tap` instead.
 *
 * @param options - See {@link ThrowOnRejectedOptions}.
 * @returns An operator that passes allowed outcomes through unchanged.
 * @throws {@link rhea-rx!ConfigError | ConfigError} at call time when `allow` is not an array of outcome states that
 *   includes `'accepted'`, or an option is unknown.
 * @throws {@link rhea-rx!OutcomeError | OutcomeError}, as an error notification, at the first outcome not allowed.
 * @example
 * import { throwOnRejected } from 'rhea-rx/operators';
 *
 * await lastValueFrom(from(orders).pipe(client.send('orders'), throwOnRejected()));
 */
export function throwOnRejected<T>(options: ThrowOnRejectedOptions = {}): MonoTypeOperatorFunction<Outcome<T>> {
  const o = optionsOf(options, 'throwOnRejected', ['allow']);
  const allow = o.allow ?? ['accepted', 'released', 'modified'];
  if (!Array.isArray(allow) || !allow.includes('accepted') || allow.some((state) => !states.includes(state as OutcomeState))) {
    invalid('throwOnRejected.allow', `an array of outcome states (${states.map((s) => `'${s}'`).join(', ')}) that includes 'accepted'`, allow);
  }
  const allowed = new Set<string>(allow as OutcomeState[]);

  return tap((outcome) => {
    if (!allowed.has(outcome.state)) throw new OutcomeError(describeOutcome(outcome), outcome);
  });
}

function describeOutcome(outcome: Outcome<unknown>): string {
  const error = outcome.error === undefined ? '' : ` (${outcome.error.condition}${outcome.error.description === undefined ? '' : `: ${outcome.error.description}`})`;
  switch (outcome.state) {
    case 'rejected':
      return `The peer rejected a sent message${error}: it will not take this message`;
    case 'released':
      return 'The peer released a sent message: it did not process it; sending it again may succeed';
    case 'modified':
      return outcome.modified?.undeliverableHere === true
        ? 'The peer returned a sent message as modified and undeliverable here: it will not take it on this link'
        : 'The peer returned a sent message as modified: it did not process it; sending it again may succeed';
    default:
      return `The peer settled a sent message as ${outcome.state}`;
  }
}
