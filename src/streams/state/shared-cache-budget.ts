/**
 * One memory budget shared by every caching layer of an app instance
 * (Kafka Streams' `statestore.cache.max.bytes`, its ThreadCache).
 *
 * Every cached entry of every store of every task sits in ONE
 * least-recently-used list here. When the bytes of all entries exceed
 * `maxBytes`, the least recently used entries are evicted, whichever store
 * they belong to: a busy store takes memory from an idle one. Evicting a
 * dirty entry writes it down its own store's stack (change-logging, then
 * the persistent layer), as Kafka Streams forwards evicted dirty entries.
 *
 * Eviction is synchronous up to the write-down calls (so no other write can
 * slip between "removed from the cache" and "handed to the store below");
 * `evict()` returns the promise of those writes.
 */
import { counter, gauge } from '../../telemetry/instruments.ts';
import { METRICS } from '../../telemetry/metric-names.ts';

/** Bytes charged per cached entry on top of key and value: the node, map slot and array slots. */
export const CACHE_ENTRY_OVERHEAD_BYTES = 96;

/** A cached entry; owned by one caching store, linked into the shared LRU list. */
export interface CacheEntry {
  readonly owner: CacheOwner;
  readonly key: Buffer;
  /** `null`: a cached delete (dirty until flushed) */
  value: Buffer | null;
  dirty: boolean;
  /** bytes charged to the budget */
  size: number;
  prev: CacheEntry | undefined;
  next: CacheEntry | undefined;
}

/** What the budget needs from a caching store. */
export interface CacheOwner {
  /** The store's name, for metrics. */
  readonly storeName: string;
  /**
   * Called synchronously with the owner's entries the budget has just unlinked,
   * least recently used first. The owner drops them from its map and writes the
   * dirty ones down; the returned promise settles when those writes are done.
   */
  evicted(entries: CacheEntry[]): Promise<void>;
}

/** Sizes of the shared cache, for metrics and tests. */
export interface CacheBudgetStats {
  maxBytes: number;
  usedBytes: number;
  entries: number;
  evictions: number;
  dirtyEvictions: number;
}

const evictionCounter = counter(METRICS.storeCacheEvictions);
const bytesGauge = gauge(METRICS.storeCacheBytes);
/** The bytes gauge is recorded at most this often (ms): evict() runs on every cached write. */
const GAUGE_INTERVAL_MS = 1000;

export class SharedCacheBudget {
  private head: CacheEntry | undefined; // least recently used
  private tail: CacheEntry | undefined; // most recently used
  private used = 0;
  private count = 0;
  private evictions = 0;
  private dirtyEvictions = 0;
  private gaugeRecordedAt = 0;

  /** @param maxBytes bound, in bytes, on all cached entries of the app instance; 0 makes every cache write-through. */
  constructor(readonly maxBytes: number) {
    if (!Number.isFinite(maxBytes) || maxBytes < 0) {
      throw new RangeError(`statestore.cache.max.bytes must be a number >= 0, got ${maxBytes}`);
    }
  }

  /** Bytes currently charged. */
  get usedBytes(): number {
    return this.used;
  }

  stats(): CacheBudgetStats {
    return {
      maxBytes: this.maxBytes,
      usedBytes: this.used,
      entries: this.count,
      evictions: this.evictions,
      dirtyEvictions: this.dirtyEvictions,
    };
  }

  /** The size charged for an entry. */
  static entrySize(key: Buffer, value: Buffer | null): number {
    return key.length + (value?.length ?? 0) + CACHE_ENTRY_OVERHEAD_BYTES;
  }

  /** Links a new entry as most recently used and charges its size. */
  add(entry: CacheEntry): void {
    entry.prev = this.tail;
    entry.next = undefined;
    if (this.tail !== undefined) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    this.used += entry.size;
    this.count++;
  }

  /** Marks an entry most recently used. */
  touch(entry: CacheEntry): void {
    if (this.tail === entry) return;
    this.unlink(entry);
    this.add(entry);
  }

  /** Re-charges an entry whose value changed. */
  resize(entry: CacheEntry, size: number): void {
    this.used += size - entry.size;
    entry.size = size;
  }

  /** Unlinks an entry and releases its bytes (the owner dropped it itself). */
  remove(entry: CacheEntry): void {
    this.unlink(entry);
  }

  private unlink(entry: CacheEntry): void {
    if (entry.prev !== undefined) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next !== undefined) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
    this.used -= entry.size;
    this.count--;
  }

  /**
   * Evicts least recently used entries until the used bytes fit the budget.
   * @returns the promise of the write-downs of evicted dirty entries (their owners' stores).
   */
  evict(): Promise<void> {
    const now = Date.now();
    if (now - this.gaugeRecordedAt >= GAUGE_INTERVAL_MS) {
      this.gaugeRecordedAt = now;
      bytesGauge.record(this.used);
    }
    if (this.used <= this.maxBytes) return Promise.resolve();
    const byOwner = new Map<CacheOwner, CacheEntry[]>();
    while (this.used > this.maxBytes && this.head !== undefined) {
      const entry = this.head;
      this.unlink(entry);
      this.evictions++;
      if (entry.dirty) this.dirtyEvictions++;
      let list = byOwner.get(entry.owner);
      if (list === undefined) byOwner.set(entry.owner, (list = []));
      list.push(entry);
    }
    const writes: Promise<void>[] = [];
    for (const [owner, entries] of byOwner) {
      evictionCounter.add(entries.length, { store: owner.storeName });
      writes.push(owner.evicted(entries));
    }
    return writes.length === 1 ? writes[0]! : Promise.all(writes).then(() => undefined);
  }
}
