/**
 * First in, first out, with O(1) `shift()`: an array and the index of its head, compacted as the head advances, so
 * the array holds at most about twice the values still in it (plus 1,024 slots) however many have passed through.
 * A queue that is rarely empty would otherwise keep one slot per value ever pushed.
 * @internal
 */
export class Fifo<T> {
  #slots: (T | undefined)[] = [];
  #head = 0;

  /** How many values are in the queue. */
  get length(): number {
    return this.#slots.length - this.#head;
  }

  /** How many array slots the queue holds, taken values included: what it costs in memory. */
  get slots(): number {
    return this.#slots.length;
  }

  push(value: T): void {
    this.#slots.push(value);
  }

  /** Takes the oldest value out; the queue must not be empty. */
  shift(): T {
    const value = this.#slots[this.#head] as T;
    this.#slots[this.#head++] = undefined;
    if (this.#head === this.#slots.length) {
      this.#slots = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#slots.length) {
      this.#slots = this.#slots.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  /** Keeps only the values `keep` accepts, in order. */
  retain(keep: (value: T) => boolean): void {
    this.#slots = this.#slots.slice(this.#head).filter((v) => keep(v as T));
    this.#head = 0;
  }

  /** Drops every value. */
  clear(): void {
    this.#slots = [];
    this.#head = 0;
  }

  /** Takes every value out, oldest first. */
  drain(): T[] {
    const values = this.#slots.slice(this.#head) as T[];
    this.#slots = [];
    this.#head = 0;
    return values;
  }
}
