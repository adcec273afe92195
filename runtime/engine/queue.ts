/** The FIFO of a local run's runnable items (the in-memory loop in core.ts, the durable loop in workflow/bind.ts). */
import type { EngineItem } from './types.js';

/**
 * The runnable items of a local run (the in-memory loop, the durable loop), first in first out. Taking an item is
 * O(1); the taken slots are dropped once they are half the array, so a long run holds only what is still queued.
 */
export class ItemQueue {
  private items: (EngineItem | undefined)[] = [];
  private head = 0;

  /** Nothing left to run. */
  get empty(): boolean {
    return this.head >= this.items.length;
  }

  push(item: EngineItem): void {
    this.items.push(item);
  }

  /** The next item; the queue must not be {@link empty}. */
  shift(): EngineItem {
    const items = this.items;
    const item = items[this.head]!;
    items[this.head++] = undefined;
    if (this.head >= 4096 && this.head * 2 >= items.length) {
      items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  /** The items still queued, in order. */
  rest(): EngineItem[] {
    return this.items.slice(this.head) as EngineItem[];
  }
}
