/**
 * The caching layer (Kafka Streams' CachingKeyValueStore): a write-back cache
 * in front of the store below.
 *
 * Writes stay in the cache, dirty, until `flush()` (at commit) pushes every
 * dirty entry down in ONE putAll: N writes to a key between two commits
 * become one changelog record and one LevelDB write, with the last value.
 * Reads hit the cache first; a read that misses caches what it found.
 *
 * Memory is bounded by the app instance's SharedCacheBudget: all caches of
 * all tasks share one LRU order and one byte limit; evicted dirty entries are
 * written down to their own store immediately (so the changelog sees them
 * before the commit that flushes the rest). Deletes are cached as dirty
 * tombstones and dropped from the cache once flushed.
 */
import { counter } from '../../telemetry/instruments.ts';
import { METRICS } from '../../telemetry/metric-names.ts';
import type { BytesStore } from './bytes-store.ts';
import { StoreClosedError } from './errors.ts';
import { aboveLower, boundsAfter, compareBytes, isEmptyRange, type KeyBounds } from './key-bounds.ts';
import { SharedCacheBudget, type CacheEntry, type CacheOwner } from './shared-cache-budget.ts';
import { SortedBytesMap } from './sorted-bytes-map.ts';
import type { StateStoreContext } from './state-store.ts';
import { WrappedBytesStore } from './wrapped-store.ts';

const lookups = counter(METRICS.storeCacheLookups);

/** Entries fetched from the cache per scan step. */
const SCAN_BATCH = 128;

/** Counters of one caching store. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries currently cached by this store. */
  entries: number;
  /** Dirty entries waiting for the next flush. */
  dirty: number;
}

type Pair = readonly [Buffer, Buffer | null];

export class CachingKeyValueStore extends WrappedBytesStore implements CacheOwner {
  private readonly map = new SortedBytesMap<CacheEntry>();
  /** Dirty entries in the order they became dirty. */
  private readonly dirty = new Set<CacheEntry>();
  private budget: SharedCacheBudget | undefined;
  private hits = 0;
  private misses = 0;
  private hitAttributes = { store: '', result: 'hit' };
  private missAttributes = { store: '', result: 'miss' };
  /** Bumped when dirty entries leave the cache for the store below; open scans then re-seek the store below. */
  private generation = 0;

  get storeName(): string {
    return this.name;
  }

  constructor(inner: BytesStore) {
    super(inner);
  }

  override async init(context: StateStoreContext): Promise<void> {
    this.budget = context.cacheBudget;
    this.hitAttributes = { store: this.name, result: 'hit' };
    this.missAttributes = { store: this.name, result: 'miss' };
    await this.inner.init(context);
  }

  private open(operation: string): SharedCacheBudget {
    if (this.budget === undefined) {
      throw new StoreClosedError(`cannot ${operation} store "${this.name}": it is not open`, {
        store: this.name,
      });
    }
    return this.budget;
  }

  stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.map.size, dirty: this.dirty.size };
  }

  /** Caches a value read from below, unless a write got there first while the read was in flight. */
  private cacheClean(budget: SharedCacheBudget, key: Buffer, value: Buffer): boolean {
    if (this.map.has(key)) return false;
    const entry: CacheEntry = {
      owner: this,
      key,
      value,
      dirty: false,
      size: SharedCacheBudget.entrySize(key, value),
      prev: undefined,
      next: undefined,
    };
    this.map.set(key, entry);
    budget.add(entry);
    return true;
  }

  private cacheWrite(budget: SharedCacheBudget, key: Buffer, value: Buffer | null): void {
    const entry = this.map.get(key);
    if (entry !== undefined) {
      entry.value = value;
      budget.resize(entry, SharedCacheBudget.entrySize(key, value));
      budget.touch(entry);
      if (!entry.dirty) {
        entry.dirty = true;
        this.dirty.add(entry);
      }
      return;
    }
    const created: CacheEntry = {
      owner: this,
      key,
      value,
      dirty: true,
      size: SharedCacheBudget.entrySize(key, value),
      prev: undefined,
      next: undefined,
    };
    this.map.set(key, created);
    this.dirty.add(created);
    budget.add(created);
  }

  override async get(key: Buffer): Promise<Buffer | undefined> {
    const budget = this.open('get from');
    const entry = this.map.get(key);
    if (entry !== undefined) {
      this.hits++;
      lookups.add(1, this.hitAttributes);
      budget.touch(entry);
      return entry.value ?? undefined;
    }
    this.misses++;
    lookups.add(1, this.missAttributes);
    const generation = this.generation;
    const value = await this.inner.get(key);
    const raced = this.map.get(key);
    if (raced !== undefined) return raced.value ?? undefined;
    // cache what was read only if no write went down meanwhile: it could be older than that write
    if (
      value !== undefined &&
      generation === this.generation &&
      this.budget !== undefined &&
      this.cacheClean(budget, key, value)
    )
      await budget.evict();
    return value;
  }

  override async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    const budget = this.open('get from');
    const out: (Buffer | undefined)[] = new Array(keys.length);
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const entry = this.map.get(keys[i]!);
      if (entry !== undefined) {
        budget.touch(entry);
        out[i] = entry.value ?? undefined;
      } else {
        missing.push(i);
      }
    }
    const hits = keys.length - missing.length;
    this.hits += hits;
    this.misses += missing.length;
    if (hits > 0) lookups.add(hits, this.hitAttributes);
    if (missing.length === 0) return out;
    lookups.add(missing.length, this.missAttributes);
    const generation = this.generation;
    const found = await this.inner.getMany(missing.map((i) => keys[i]!));
    const cacheable = generation === this.generation;
    let cached = false;
    for (let j = 0; j < missing.length; j++) {
      const i = missing[j]!;
      const raced = this.map.get(keys[i]!);
      if (raced !== undefined) {
        out[i] = raced.value ?? undefined;
        continue;
      }
      const value = found[j];
      out[i] = value;
      if (value !== undefined && cacheable && this.budget !== undefined)
        cached = this.cacheClean(budget, keys[i]!, value) || cached;
    }
    if (cached) await budget.evict();
    return out;
  }

  override async put(key: Buffer, value: Buffer | null): Promise<void> {
    const budget = this.open('put into');
    this.cacheWrite(budget, key, value);
    await budget.evict();
  }

  override async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    const budget = this.open('put into');
    for (const [key, value] of entries) this.cacheWrite(budget, key, value);
    await budget.evict();
  }

  override async delete(key: Buffer): Promise<Buffer | undefined> {
    const previous = await this.get(key);
    await this.put(key, null);
    return previous;
  }

  /** Called by the budget: drop the entries, write the dirty ones down. */
  evicted(entries: CacheEntry[]): Promise<void> {
    const writes: Pair[] = [];
    for (const entry of entries) {
      if (this.map.get(entry.key) === entry) this.map.delete(entry.key);
      if (entry.dirty) {
        entry.dirty = false;
        this.dirty.delete(entry);
        writes.push([entry.key, entry.value]);
      }
    }
    if (writes.length === 0) return Promise.resolve();
    this.generation++;
    return this.inner.putAll(writes);
  }

  /** Writes every dirty entry down in one putAll (first-dirtied first), then flushes the store below. */
  override async flush(): Promise<void> {
    const budget = this.open('flush');
    if (this.dirty.size > 0) {
      const writes: Pair[] = [];
      for (const entry of this.dirty) {
        writes.push([entry.key, entry.value]);
        entry.dirty = false;
        // a flushed delete has nothing left to cache
        if (entry.value === null) {
          this.map.delete(entry.key);
          budget.remove(entry);
        }
      }
      this.dirty.clear();
      this.generation++;
      await this.inner.putAll(writes);
    }
    await this.inner.flush();
  }

  /**
   * Merges the cache over the store below, in key order; a cached delete hides
   * the key. When dirty entries move down during the scan, the store below is
   * re-seeked after the last key returned, so no key is skipped or repeated.
   */
  override async *scan(bounds: KeyBounds): AsyncGenerator<readonly [Buffer, Buffer]> {
    this.open('scan');
    if (isEmptyRange(bounds)) return;
    let last: Buffer | undefined;
    let generation = -1;
    let below: AsyncIterator<readonly [Buffer, Buffer]> | undefined;
    let belowHead: readonly [Buffer, Buffer] | undefined;
    let belowDone = false;
    let cacheBatch: Array<[Buffer, CacheEntry]> = [];
    let cachePos = 0;
    let cacheDone = false;
    let cacheLast: Buffer | undefined;
    try {
      for (;;) {
        this.open('scan');
        if (generation !== this.generation) {
          await below?.return?.();
          generation = this.generation;
          below = this.inner.scan(boundsAfter(bounds, last))[Symbol.asyncIterator]();
          belowHead = undefined;
          belowDone = false;
          cacheBatch = [];
          cachePos = 0;
          cacheDone = false;
          cacheLast = last;
        }
        if (belowHead === undefined && !belowDone) {
          const step = await below!.next();
          if (step.done) belowDone = true;
          else belowHead = step.value;
          if (generation !== this.generation) continue;
        }
        if (cachePos === cacheBatch.length && !cacheDone) {
          cacheBatch = this.map.collect(boundsAfter(bounds, cacheLast), SCAN_BATCH);
          cachePos = 0;
          if (cacheBatch.length < SCAN_BATCH) cacheDone = true;
          if (cacheBatch.length > 0) cacheLast = cacheBatch[cacheBatch.length - 1]![0];
        }
        const cacheHead = cachePos < cacheBatch.length ? cacheBatch[cachePos]! : undefined;
        if (cacheHead === undefined && belowHead === undefined) return;
        let key: Buffer;
        let value: Buffer | null;
        if (
          cacheHead !== undefined &&
          (belowHead === undefined || compareBytes(cacheHead[0], belowHead[0]) <= 0)
        ) {
          // the cache is newer than the store below: on equal keys it wins
          if (belowHead !== undefined && compareBytes(cacheHead[0], belowHead[0]) === 0)
            belowHead = undefined;
          cachePos++;
          key = cacheHead[0];
          value = cacheHead[1].value;
        } else {
          key = belowHead![0];
          value = belowHead![1];
          belowHead = undefined;
        }
        if (last !== undefined && !aboveLower(key, { gt: last })) continue;
        last = key;
        if (value !== null) yield [key, value] as const;
      }
    } finally {
      await below?.return?.();
    }
  }

  /** Drops every cached entry without writing it (wipe, close, restore). */
  private discard(): void {
    const budget = this.budget;
    if (budget !== undefined) for (const [, entry] of this.map.entries()) budget.remove(entry);
    this.map.clear();
    this.dirty.clear();
    this.generation++;
  }

  override async restoreBatch(
    records: ReadonlyArray<{ key: Buffer; value: Buffer | null }>,
    nextOffset: string,
  ): Promise<void> {
    // restored values replace whatever the cache holds for those keys
    if (this.map.size > 0) {
      for (const { key } of records) {
        const entry = this.map.get(key);
        if (entry === undefined) continue;
        this.map.delete(key);
        this.dirty.delete(entry);
        this.budget?.remove(entry);
      }
    }
    await this.inner.restoreBatch(records, nextOffset);
  }

  override async wipe(): Promise<void> {
    this.discard();
    await this.inner.wipe();
  }

  /**
   * Drops the cache without writing it: a clean close commits (flush + commit)
   * before closing, a dirty close must not write what was never committed.
   */
  override async close(): Promise<void> {
    this.discard();
    this.budget = undefined;
    await this.inner.close();
  }
}
