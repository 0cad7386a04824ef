import { createRequire } from 'node:module';
import rhea from 'rhea';
import type { Session } from 'rhea';

// rhea writes dispositions in ranges, but its range builder merges the second settlement into the
// first's range whatever its outcome (two deliveries settled in one tick as modified, then
// rejected, both go out as modified). So receivers write their own disposition frames here.
const frames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  disposition(fields: Record<string, unknown>): unknown;
};

/**
 * A run of settlements to put on the wire as one frame: consecutive delivery ids with the same
 * field-less outcome (`batch`), or a single settlement whose outcome carries fields.
 */
interface Range {
  readonly first: number;
  last: number;
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
  /** Ranges collected since the last flush, in the order they were opened. */
  #ranges: Range[] = [];
  /** The most recent range, which the next settlement extends when it follows on. */
  #open: Range | undefined;
  #scheduled = false;

  constructor(session: Session) {
    this.#session = session;
  }

  add(id: number, state: unknown, batch: Range['batch']): void {
    // Settling in delivery order (the common case) extends the open range: no allocation per
    // settlement, one frame per run.
    const open = this.#open;
    if (open !== undefined && batch !== undefined && batch === open.batch && id === open.last + 1) {
      open.last = id;
    } else {
      const range: Range = { first: id, last: id, state, batch };
      this.#ranges.push(range);
      this.#open = range;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Writes everything pending now; called before a detach so dispositions precede it. */
  flush(): void {
    this.#scheduled = false;
    const ranges = this.#ranges;
    if (ranges.length === 0) return;
    this.#ranges = [];
    this.#open = undefined;
    if (this.#session.is_closed()) return;
    if (ranges.length > 1) ranges.sort((a, b) => a.first - b.first);
    let current = ranges[0]!;
    for (let i = 1; i < ranges.length; i++) {
      const next = ranges[i]!;
      if (next.batch !== undefined && next.batch === current.batch && next.first === current.last + 1) {
        current.last = next.last;
        continue;
      }
      this.#write(current);
      current = next;
    }
    this.#write(current);
  }

  #write(range: Range): void {
    (this.#session as unknown as { output(frame: unknown): void }).output(
      frames.disposition({
        role: true,
        first: range.first,
        ...(range.last === range.first ? {} : { last: range.last }),
        settled: true,
        state: range.state,
      }),
    );
  }
}
