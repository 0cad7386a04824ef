/**
 * The credit arithmetic of one receiver link (R1, R2), with no I/O.
 *
 * Invariant: `held + linkCredit <= capacity`, where `held` counts deliveries the application has
 * and has not settled, and `linkCredit` is the credit the peer may still use. Credit comes back
 * on settlement, not on emission, and is granted in batches of at least `batch` so that a fast
 * consumer costs one flow frame per batch, not one per message.
 */
export class CreditWindow {
  /** Deliveries emitted and not yet settled. */
  held = 0;
  /** Credit granted to the peer and not yet used. */
  linkCredit = 0;

  /**
   * @param capacity - The most deliveries the application may hold plus those in flight (the `credit` option).
   * @param batch - The smallest grant worth a flow frame; at least 1 and at most `capacity`.
   */
  constructor(
    readonly capacity: number,
    readonly batch: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(batch) || batch < 1 || batch > capacity) {
      throw new RangeError(`batch must be an integer in 1..${capacity}, got ${batch}`);
    }
  }

  /** Credit that could be granted now: `capacity − held − linkCredit`. */
  get deficit(): number {
    return this.capacity - this.held - this.linkCredit;
  }

  /** A delivery arrived: it used one credit and the application now holds it. */
  delivered(): void {
    if (this.linkCredit > 0) this.linkCredit--;
    this.held++;
  }

  /** The application settled `count` deliveries (or a pre-settled delivery was emitted). */
  settled(count = 1): void {
    this.held = Math.max(0, this.held - count);
  }

  /**
   * The credit to grant now, already counted as granted; 0 when the deficit is below one batch.
   * With `force`, any positive deficit is granted (used when the link would otherwise sit idle).
   */
  take(force = false): number {
    const deficit = this.deficit;
    if (deficit <= 0 || (deficit < this.batch && !force)) return 0;
    this.linkCredit += deficit;
    return deficit;
  }

  /** The peer drained the link, or the link was re-attached: all unused credit is gone. */
  resetLinkCredit(): void {
    this.linkCredit = 0;
  }
}
