/**
 * The memory of an item-part table and the way threads read and write it.
 *
 * Item parts (the item half of the head's first layer and FM term, see
 * README "compute graph") depend only on the item and the model version, so
 * they are computed once and shared by every scoring thread instead of being
 * copied into each request. A table is a list of chunks, each two
 * SharedArrayBuffers: `parts` (slots x partSize float32) and `stamps`
 * (slots x int32). Slot s lives in chunk `s / chunkSlots`.
 *
 * Publication (no torn reads): the writer stores stamp 0 ("being written"),
 * writes the floats, then stores the slot's new stamp, both with Atomics
 * (sequentially consistent: a reader that loads the new stamp also sees
 * every float written before it). A reader loads the stamp, copies the
 * floats, loads the stamp again, and accepts the copy only if both equal the
 * stamp its request names: a concurrent rewrite (which the owner's pinning
 * rules out; this check turns a bug into a loud error, never a wrong score)
 * is detected as in a seqlock.
 *
 * This file is the thread-neutral view (what a worker holds); the owner's
 * bookkeeping (keys, eviction, pinning) is ItemPartTable.
 */
import { MlError } from './errors.ts';

/** One chunk of a table: `slots` consecutive slots. */
export interface ItemPartChunk {
  /** slots x partSize float32. */
  parts: SharedArrayBuffer;
  /** slots x int32: 0 = empty or being written, else the stamp of the parts in the slot. */
  stamps: SharedArrayBuffer;
}

/** Allocates one chunk of `slots` slots of `partSize` floats (zeroed: every stamp 0). */
export function allocateChunk(slots: number, partSize: number): ItemPartChunk {
  return {
    parts: new SharedArrayBuffer(slots * partSize * 4),
    stamps: new SharedArrayBuffer(slots * 4),
  };
}

/** A thread's view of one version's item-part table: reads and writes slots. */
export class ItemPartView {
  readonly version: string;
  readonly partSize: number;
  readonly chunkSlots: number;
  private readonly parts: Float32Array[] = [];
  private readonly stamps: Int32Array[] = [];

  constructor(version: string, partSize: number, chunkSlots: number) {
    this.version = version;
    this.partSize = partSize;
    this.chunkSlots = chunkSlots;
  }

  /** Chunks this view holds (the owner sends the missing ones before a request that needs them). */
  get chunks(): number {
    return this.parts.length;
  }

  /** Adds chunks (in slot order, after the ones already held). */
  addChunks(chunks: readonly ItemPartChunk[]): void {
    for (const c of chunks) {
      this.parts.push(new Float32Array(c.parts));
      this.stamps.push(new Int32Array(c.stamps));
    }
  }

  private locate(slot: number): [Float32Array, Int32Array, number] {
    const c = Math.floor(slot / this.chunkSlots);
    const parts = this.parts[c];
    const stamps = this.stamps[c];
    if (!parts || !stamps)
      throw new MlError(
        'CTR_ML_WORKER',
        `item-part table of version ${this.version}: slot ${slot} is in chunk ${c}, but this thread holds ${this.parts.length} chunks`,
        { version: this.version },
      );
    return [parts, stamps, slot - c * this.chunkSlots];
  }

  /**
   * Copies slot `slot` into `out[outOffset ..]` if it holds stamp `stamp`.
   * @throws MlError CTR_ML_WORKER when the slot holds another stamp (evicted or rewritten: a protocol bug).
   */
  read(slot: number, stamp: number, out: Float32Array, outOffset: number): void {
    const [parts, stamps, i] = this.locate(slot);
    const P = this.partSize;
    const before = Atomics.load(stamps, i);
    out.set(parts.subarray(i * P, i * P + P), outOffset);
    const after = Atomics.load(stamps, i);
    if (before !== stamp || after !== stamp)
      throw new MlError(
        'CTR_ML_WORKER',
        `item-part table of version ${this.version}: slot ${slot} holds stamp ${before}/${after}, the request expects ${stamp}`,
        { version: this.version },
      );
  }

  /** Writes `src[srcOffset .. +partSize)` into slot `slot` and publishes it under `stamp` (> 0). */
  write(slot: number, stamp: number, src: Float32Array, srcOffset: number): void {
    const [parts, stamps, i] = this.locate(slot);
    const P = this.partSize;
    Atomics.store(stamps, i, 0);
    parts.set(src.subarray(srcOffset, srcOffset + P), i * P);
    Atomics.store(stamps, i, stamp);
  }

  /** The stamp slot `slot` holds now (0 = empty or being written). */
  stampOf(slot: number): number {
    const [, stamps, i] = this.locate(slot);
    return Atomics.load(stamps, i);
  }
}
