/**
 * An ordered map from byte keys to values, in unsigned byte order (the order
 * LevelDB uses). Backs the in-memory store, the LevelDB store's uncommitted
 * write buffer and the write-back cache.
 *
 * Layout: a list of sorted chunks of at most MAX_CHUNK keys (the idea of
 * Python's sortedcontainers). Lookups are two binary searches; an insert moves
 * at most MAX_CHUNK pointers, so a million keys cost no O(n) memmove per write.
 *
 * Scans (`scan`) are resumable by key rather than by position: each step
 * seeks to the first key after the last one returned, so writes made while a
 * caller awaits between entries never make a scan skip or repeat a key.
 * Keys and values are stored by reference: callers must not mutate them after
 * handing them over.
 */
import { aboveLower, belowUpper, compareBytes, isEmptyRange, type KeyBounds } from './key-bounds.ts';

const MAX_CHUNK = 512;

interface Chunk<V> {
  keys: Buffer[];
  values: V[];
}

/** First index i with keys[i] >= key (or > key when `strict`). */
function lowerBound(keys: readonly Buffer[], key: Buffer, strict: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const cmp = compareBytes(keys[mid]!, key);
    if (cmp < 0 || (strict && cmp === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedBytesMap<V> {
  private chunks: Chunk<V>[] = [];
  private count = 0;

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /** Index of the first chunk whose last key is >= key (> key when strict); chunks.length when none. */
  private chunkFor(key: Buffer, strict: boolean): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const keys = this.chunks[mid]!.keys;
      const cmp = compareBytes(keys[keys.length - 1]!, key);
      if (cmp < 0 || (strict && cmp === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(key: Buffer): boolean {
    const c = this.chunkFor(key, false);
    if (c === this.chunks.length) return false;
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk.keys, key, false);
    return i < chunk.keys.length && compareBytes(chunk.keys[i]!, key) === 0;
  }

  /** The value, or undefined when the key is absent. */
  get(key: Buffer): V | undefined {
    const c = this.chunkFor(key, false);
    if (c === this.chunks.length) return undefined;
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk.keys, key, false);
    if (i < chunk.keys.length && compareBytes(chunk.keys[i]!, key) === 0) return chunk.values[i];
    return undefined;
  }

  /**
   * Inserts or replaces.
   * @returns the previous value, or undefined when the key was new.
   */
  set(key: Buffer, value: V): V | undefined {
    if (this.chunks.length === 0) {
      this.chunks.push({ keys: [key], values: [value] });
      this.count = 1;
      return undefined;
    }
    let c = this.chunkFor(key, false);
    // a key above every key goes at the end of the last chunk
    if (c === this.chunks.length) c--;
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk.keys, key, false);
    if (i < chunk.keys.length && compareBytes(chunk.keys[i]!, key) === 0) {
      const previous = chunk.values[i];
      chunk.values[i] = value;
      return previous;
    }
    chunk.keys.splice(i, 0, key);
    chunk.values.splice(i, 0, value);
    this.count++;
    if (chunk.keys.length > MAX_CHUNK) {
      const half = chunk.keys.length >>> 1;
      this.chunks.splice(c + 1, 0, { keys: chunk.keys.splice(half), values: chunk.values.splice(half) });
    }
    return undefined;
  }

  /** @returns true when the key was present. */
  delete(key: Buffer): boolean {
    const c = this.chunkFor(key, false);
    if (c === this.chunks.length) return false;
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk.keys, key, false);
    if (i === chunk.keys.length || compareBytes(chunk.keys[i]!, key) !== 0) return false;
    chunk.keys.splice(i, 1);
    chunk.values.splice(i, 1);
    this.count--;
    if (chunk.keys.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  clear(): void {
    this.chunks = [];
    this.count = 0;
  }

  /**
   * Up to `limit` entries within `bounds`, in key order. Resume a scan by
   * passing `boundsAfter(bounds, lastKey)`.
   */
  collect(bounds: KeyBounds, limit: number): Array<[Buffer, V]> {
    const out: Array<[Buffer, V]> = [];
    if (this.chunks.length === 0 || limit <= 0 || isEmptyRange(bounds)) return out;
    let c = 0;
    let i = 0;
    const lower = bounds.gt ?? bounds.gte;
    if (lower !== undefined) {
      const strict = bounds.gt !== undefined;
      c = this.chunkFor(lower, strict);
      if (c === this.chunks.length) return out;
      i = lowerBound(this.chunks[c]!.keys, lower, strict);
    }
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c]!;
      for (; i < chunk.keys.length; i++) {
        const key = chunk.keys[i]!;
        if (!belowUpper(key, bounds)) return out;
        out.push([key, chunk.values[i]!]);
        if (out.length === limit) return out;
      }
    }
    return out;
  }

  /**
   * Every entry within `bounds`, in key order, resumable across mutations
   * (see the file comment): fetches `batch` entries at a time.
   */
  *scan(bounds: KeyBounds = {}, batch = 128): Generator<[Buffer, V]> {
    let current = bounds;
    for (;;) {
      const entries = this.collect(current, batch);
      for (const entry of entries) yield entry;
      if (entries.length < batch) return;
      const { gte: _gte, gt: _gt, ...upper } = current;
      current = { ...upper, gt: entries[entries.length - 1]![0] };
    }
  }

  /** Every entry in key order (not safe against mutation during iteration; use `scan` for that). */
  *entries(): Generator<[Buffer, V]> {
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.keys.length; i++) yield [chunk.keys[i]!, chunk.values[i]!];
    }
  }

  /** True when `key` falls inside `bounds` (re-exported convenience for callers merging scans). */
  static inBounds(key: Buffer, bounds: KeyBounds): boolean {
    return aboveLower(key, bounds) && belowUpper(key, bounds);
  }
}
