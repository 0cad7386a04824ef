import { createRequire } from 'node:module';
import rhea from 'rhea';
import type { Session } from 'rhea';

// rhea writes dispositions in ranges, but its range builder merges the second settlement into the
// first's range whatever its outcome (two deliveries settled in one tick as modified, then
// rejected, both go out as modified). So receivers write their own disposition frames here.
const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  disposition(fields: Record<string, unknown>): unknown;
};

/** A settlement to put on the wire; `batch` names outcomes that carry no fields and may share a range. */
interface Pending {
  readonly id: number;
  readonly state: unknown;
  readonly batch: 'accepted' | 'released' | undefined;
}

/** rhea's outcome constructors, which its typings leave out. */
const outcomes = rhea.message as unknown as Record<
  'accepted' | 'released' | 'rejected' | 'modified',
  (fields?: Record<string, unknown>) => { described(): unknown }
>;
const accepted = outcomes.accepted().described();
const released = outcomes.released().described();

/** The wire state for each outcome, as rhea's codec needs it. */
export const wireState = {
  accepted: () => accepted,
  released: () => released,
  rejected: (error: Record<string, unknown> | undefined) => outcomes.rejected(error === undefined ? {} : { error }).described(),
  modified: (fields: Record<string, unknown>) => outcomes.modified(fields).described(),
};

/**
 * Collects the settlements a receiver makes in one turn of the event loop and writes them as
 * disposition frames, one frame per run of consecutive delivery ids with the same field-less
 * outcome (AMQP 1.0 section 2.7.6 allows ranges). Settled by the receiver (`settled: true`).
 */
export class DispositionWriter {
  readonly #session: Session;
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(session: Session) {
    this.#session = session;
  }

  add(id: number, state: unknown, batch: Pending['batch']): void {
    this.#pending.push({ id, state, batch });
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Writes everything pending now; called before a detach so dispositions precede it. */
  flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    if (this.#session.is_closed()) return;
    if (pending.length > 1) pending.sort((a, b) => a.id - b.id);
    let first = pending[0]!;
    let last = first;
    for (let i = 1; i < pending.length; i++) {
      const next = pending[i]!;
      if (next.batch !== undefined && next.batch === first.batch && next.id === last.id + 1) {
        last = next;
        continue;
      }
      this.#write(first, last);
      first = next;
      last = next;
    }
    this.#write(first, last);
  }

  #write(first: Pending, last: Pending): void {
    (this.#session as unknown as { output(frame: unknown): void }).output(
      frames.disposition({
        role: true,
        first: first.id,
        ...(last.id === first.id ? {} : { last: last.id }),
        settled: true,
        state: first.state,
      }),
    );
  }
}
