/**
 * The owner's side of one model version's item-part table: which item key
 * sits in which slot, which slots are in use, and which to evict.
 *
 * Lives on one thread (the pool's, or an in-thread Scorer's). Scoring
 * threads only read and write slot memory through an ItemPartView, at the
 * slots this owner planned for their request, so all bookkeeping is
 * single-threaded and needs no locks.
 *
 * Lifecycle of a slot: FREE -> PENDING (reserved for a request that computes
 * the key's parts and writes them) -> READY (the request came back ok: from
 * now on requests read the slot instead of computing) -> evicted (FREE again,
 * or directly reassigned). A PENDING slot whose request failed goes back to
 * FREE. Happens-before: a slot becomes READY only when the writer's reply has
 * reached the owner (postMessage orders the writer's stores before the
 * owner's next post to any thread); the stamps (ItemPartView) verify it.
 *
 * Memory: the table grows chunk by chunk up to `maxBytes`, then evicts with
 * CLOCK (second chance: a slot read since the hand last passed survives one
 * more round). A slot pinned by an in-flight request is never evicted. When
 * every slot is pinned or pending, a row is computed for its request only
 * (`uncached`): the bound holds under any load. The whole table is dropped
 * when its model version is retired.
 */
import { allocateChunk, ItemPartView, type ItemPartChunk } from './item-part-view.ts';

/** Bounds of a table. */
export interface ItemPartTableOptions {
  /** Most bytes of slot memory (parts + stamps). Default 256 MiB. */
  maxBytes: number;
  /** Slots per chunk (the growth step). Default: ~4 MiB of parts per chunk, 64 .. 65536 slots. */
  chunkSlots: number;
}

/** How the rows of one request map onto the table. */
export interface SlotPlan {
  /** Per row: the slot to read (or to write, for rows in `compute`); -1 = compute for this request only. */
  slots: Int32Array;
  /** Per row: the stamp the slot must hold (read), or the stamp to publish it under (write). */
  stamps: Int32Array;
  /** Rows whose parts must be computed (from the request's item side), ascending. */
  compute: Int32Array;
}

/** Counters of a table since it was created. */
export interface ItemPartTableStats {
  /** Keys held (READY or PENDING). */
  entries: number;
  /** Slots allocated so far, and the most there can be. */
  slots: number;
  capacity: number;
  /** Bytes of slot memory allocated. */
  bytes: number;
  /** Rows read from the table. */
  hits: number;
  /** Rows computed and stored. */
  misses: number;
  /** Rows computed for their request only (key being written by another in-flight request, or table full of pinned slots). */
  uncached: number;
  /** Keys evicted to make room. */
  evictions: number;
}

const FREE = 0;
const PENDING = 1;
const READY = 2;

/** Default slots per chunk for a part size: about 4 MiB of floats, a power of two in [64, 65536]. */
export function defaultChunkSlots(partSize: number): number {
  let s = 64;
  while (s < 65536 && s * 2 * partSize * 4 <= 4 << 20) s *= 2;
  return s;
}

export class ItemPartTable {
  readonly version: string;
  readonly partSize: number;
  readonly chunkSlots: number;
  readonly capacity: number;
  /** This thread's view of the slot memory (the in-thread scorer reads and writes through it). */
  readonly view: ItemPartView;
  private readonly chunkList: ItemPartChunk[] = [];
  private readonly index = new Map<string, number>();
  private keys: (string | undefined)[] = [];
  private state = new Uint8Array(0);
  private pins = new Int32Array(0);
  private ref = new Uint8Array(0);
  /** Which reservation a PENDING slot belongs to (requests of the same batch may read it after it is written). */
  private owner = new Int32Array(0);
  /** The stamp each slot's current parts are published under. */
  private stamp = new Int32Array(0);
  private readonly free: number[] = [];
  private allocated = 0;
  private hand = 0;
  private nextStamp = 1;
  private nextBatch = 1;
  private readonly counts = { hits: 0, misses: 0, uncached: 0, evictions: 0 };

  /** @throws RangeError for a part size < 1 or bounds that hold not even one chunk. */
  constructor(version: string, partSize: number, options: Partial<ItemPartTableOptions> = {}) {
    if (!(partSize >= 1)) throw new RangeError(`item-part table: part size must be >= 1, got ${partSize}`);
    this.version = version;
    this.partSize = partSize;
    this.chunkSlots = options.chunkSlots ?? defaultChunkSlots(partSize);
    const maxBytes = options.maxBytes ?? 256 << 20;
    const chunks = Math.floor(maxBytes / (this.chunkSlots * (partSize + 1) * 4));
    if (!(this.chunkSlots >= 1) || chunks < 1)
      throw new RangeError(
        `item-part table of version ${version}: maxBytes ${maxBytes} holds no chunk of ${this.chunkSlots} slots x ${partSize} floats`,
      );
    this.capacity = chunks * this.chunkSlots;
    this.view = new ItemPartView(version, partSize, this.chunkSlots);
  }

  /** Chunks allocated so far, in slot order (a thread's view needs `chunks.slice(view.chunks)`). */
  get chunks(): readonly ItemPartChunk[] {
    return this.chunkList;
  }

  get stats(): ItemPartTableStats {
    return {
      entries: this.index.size,
      slots: this.allocated,
      capacity: this.capacity,
      bytes: this.chunkList.length * this.chunkSlots * (this.partSize + 1) * 4,
      ...this.counts,
    };
  }

  /**
   * Plans the rows of a batch of requests (one key list per request; equal
   * keys promise equal item rows). Read rows and written rows are pinned
   * until {@link settle}. A key first seen in this batch is computed by its
   * first row, which writes it; later rows of the same batch read it (the
   * scoring thread does every write of a batch before any read).
   */
  reserve(batch: readonly (readonly string[])[]): SlotPlan[] {
    const token = this.nextBatch++;
    if (this.nextBatch > 0x7fffffff) this.nextBatch = 1;
    return batch.map((keys) => {
      const n = keys.length;
      const slots = new Int32Array(n);
      const stamps = new Int32Array(n);
      const compute: number[] = [];
      for (let r = 0; r < n; r++) {
        const key = keys[r] as string;
        let s = this.index.get(key);
        if (s !== undefined) {
          const st = this.state[s];
          if (st === READY || (st === PENDING && this.owner[s] === token)) {
            this.pins[s] = (this.pins[s] as number) + 1;
            this.ref[s] = 1;
            slots[r] = s;
            stamps[r] = this.stampOf(s);
            this.counts.hits++;
            continue;
          }
          // being written by another request in flight: compute it here too, do not wait
          slots[r] = -1;
          compute.push(r);
          this.counts.uncached++;
          continue;
        }
        s = this.allocate();
        if (s < 0) {
          slots[r] = -1;
          compute.push(r);
          this.counts.uncached++;
          continue;
        }
        const stamp = this.nextStamp++;
        if (this.nextStamp > 0x7fffffff) this.nextStamp = 1;
        this.index.set(key, s);
        this.keys[s] = key;
        this.state[s] = PENDING;
        this.owner[s] = token;
        this.pins[s] = 1;
        this.ref[s] = 1;
        this.stamp[s] = stamp;
        slots[r] = s;
        stamps[r] = stamp;
        compute.push(r);
        this.counts.misses++;
      }
      return { slots, stamps, compute: Int32Array.from(compute) };
    });
  }

  private stampOf(s: number): number {
    return this.stamp[s] as number;
  }

  /**
   * Ends the plans of a batch: unpins their slots; the slots they wrote
   * become READY when `ok` (the reply arrived), FREE otherwise (the writer
   * failed or died: its floats are not trusted).
   */
  settle(plans: readonly SlotPlan[], ok: boolean): void {
    // unpin every row of the batch first: a later request of the batch may read what an earlier one wrote
    for (const p of plans)
      for (let r = 0; r < p.slots.length; r++) {
        const s = p.slots[r] as number;
        if (s >= 0) this.pins[s] = (this.pins[s] as number) - 1;
      }
    for (const p of plans)
      for (const r of p.compute) {
        const s = p.slots[r] as number;
        if (s < 0 || this.state[s] !== PENDING) continue;
        if (ok) this.state[s] = READY;
        else this.release(s);
      }
  }

  /** A failed writer's slot: forgotten and back on the free list. */
  private release(s: number): void {
    this.forget(s);
    this.free.push(s);
  }

  /** Unmaps slot `s`'s key and marks it FREE (the caller reuses or frees the slot). */
  private forget(s: number): void {
    const key = this.keys[s];
    if (key !== undefined && this.index.get(key) === s) this.index.delete(key);
    this.keys[s] = undefined;
    this.state[s] = FREE;
    this.owner[s] = 0;
  }

  /** A slot to write a new key to: a free one, a new one (growing), or an evicted one; -1 if all are pinned. */
  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.allocated < this.capacity) {
      if (this.allocated === this.chunkList.length * this.chunkSlots) this.grow();
      return this.allocated++;
    }
    return this.evict();
  }

  private grow(): void {
    const chunk = allocateChunk(this.chunkSlots, this.partSize);
    this.chunkList.push(chunk);
    this.view.addChunks([chunk]);
    const n = this.chunkList.length * this.chunkSlots;
    const widen = <T extends Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.state = widen(this.state, (k) => new Uint8Array(k));
    this.ref = widen(this.ref, (k) => new Uint8Array(k));
    this.pins = widen(this.pins, (k) => new Int32Array(k));
    this.owner = widen(this.owner, (k) => new Int32Array(k));
    this.stamp = widen(this.stamp, (k) => new Int32Array(k));
    this.keys.length = n;
  }

  /** CLOCK: the first READY, unpinned slot not read since the hand last passed it; -1 after two full turns. */
  private evict(): number {
    const n = this.allocated;
    for (let step = 0; step < 2 * n; step++) {
      const s = this.hand;
      this.hand = (this.hand + 1) % n;
      if (this.state[s] !== READY || (this.pins[s] as number) > 0) continue;
      if (this.ref[s] === 1) {
        this.ref[s] = 0;
        continue;
      }
      this.forget(s);
      this.counts.evictions++;
      return s;
    }
    return -1;
  }
}
