/** What a {@link HeldList} needs on its items: the list's links live on the item itself. */
export interface HeldNode<N> {
  heldPrev: N | undefined;
  heldNext: N | undefined;
  /** The list the item is in, if any. */
  heldIn: object | undefined;
}

/**
 * The deliveries a receiver has emitted and not yet settled, with a Set's `add`, `delete`, `size`,
 * `clear` and insertion-order iteration, as an intrusive doubly-linked list: adding and deleting
 * allocate nothing. (A Set whose entries come and go once per message rehashes its table every
 * few messages, which at full speed is a measurable share of the garbage a receiver makes.)
 */
export class HeldList<N extends HeldNode<N>> implements Iterable<N> {
  #head: N | undefined;
  #tail: N | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(item: N): void {
    if (item.heldIn === this) return;
    item.heldIn = this;
    item.heldPrev = this.#tail;
    item.heldNext = undefined;
    if (this.#tail === undefined) this.#head = item;
    else this.#tail.heldNext = item;
    this.#tail = item;
    this.#size++;
  }

  delete(item: N): boolean {
    if (item.heldIn !== this) return false;
    const { heldPrev: prev, heldNext: next } = item;
    if (prev === undefined) this.#head = next;
    else prev.heldNext = next;
    if (next === undefined) this.#tail = prev;
    else next.heldPrev = prev;
    item.heldPrev = item.heldNext = item.heldIn = undefined;
    this.#size--;
    return true;
  }

  clear(): void {
    let item = this.#head;
    while (item !== undefined) {
      const next = item.heldNext;
      item.heldPrev = item.heldNext = item.heldIn = undefined;
      item = next;
    }
    this.#head = this.#tail = undefined;
    this.#size = 0;
  }

  /** In the order added; an item deleted during the iteration is skipped if not reached yet. */
  *[Symbol.iterator](): Iterator<N> {
    let item = this.#head;
    while (item !== undefined) {
      const next = item.heldNext;
      yield item;
      item = next;
    }
  }
}
