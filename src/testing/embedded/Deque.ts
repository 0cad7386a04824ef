/**
 * A double-ended queue on a growable ring buffer: O(1) at both ends, so a queue of
 * 100,000 messages with redeliveries at the head stays cheap.
 *
 * @internal
 */
export class Deque<T> {
  private slots: Array<T | undefined> = new Array<T | undefined>(16);
  private head = 0;
  private size = 0;

  /** Number of items held. */
  get length(): number {
    return this.size;
  }

  /** Appends at the tail. */
  pushBack(item: T): void {
    this.growIfFull();
    this.slots[(this.head + this.size) % this.slots.length] = item;
    this.size += 1;
  }

  /** Inserts at the head. */
  pushFront(item: T): void {
    this.growIfFull();
    this.head = (this.head - 1 + this.slots.length) % this.slots.length;
    this.slots[this.head] = item;
    this.size += 1;
  }

  /** The item at `index` from the head, or `undefined` when out of range. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.size) return undefined;
    return this.slots[(this.head + index) % this.slots.length];
  }

  /** Removes and returns the item at `index` from the head (O(1) at the head, O(n) elsewhere). */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.size) return undefined;
    const capacity = this.slots.length;
    const item = this.slots[(this.head + index) % capacity];
    if (index === 0) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % capacity;
    } else {
      // Shift the items after `index` one slot towards the head.
      for (let i = index; i < this.size - 1; i++) {
        this.slots[(this.head + i) % capacity] = this.slots[(this.head + i + 1) % capacity];
      }
      this.slots[(this.head + this.size - 1) % capacity] = undefined;
    }
    this.size -= 1;
    return item;
  }

  /** Removes every item. */
  clear(): void {
    this.slots = new Array<T | undefined>(16);
    this.head = 0;
    this.size = 0;
  }

  /** A copy of the items, head first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.slots[(this.head + i) % this.slots.length] as T);
    return out;
  }

  private growIfFull(): void {
    if (this.size < this.slots.length) return;
    const bigger = new Array<T | undefined>(this.slots.length * 2);
    for (let i = 0; i < this.size; i++) bigger[i] = this.slots[(this.head + i) % this.slots.length];
    this.slots = bigger;
    this.head = 0;
  }
}
