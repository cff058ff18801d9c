/**
 * Window and session stores: the contracts (Kafka Streams' WindowStore and
 * SessionStore), typed on top and bytes below, like the key-value stores.
 *
 * A window store keeps values per (key, window start). It answers both
 * "this key over a time range" and "these keys in this window" with one
 * ordered scan per segment (window-key-schema.ts), and drops whole segments
 * once they fall out of retention (window-segmented-store.ts).
 */
import type { StateStore, StoreBuilder } from './state-store.ts';

/** A time window, [startMs, endMs) for time windows, [startMs, endMs] for sessions and sliding windows. */
export interface TimeWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** A key with the window it belongs to: the key of windowed aggregations' results. */
export interface Windowed<K> {
  readonly key: K;
  readonly window: TimeWindow;
}

/**
 * The byte-level face of a segmented window or session store. Entries are
 * addressed by store keys (`key | time | suffix`, window-key-schema.ts); the
 * typed layer above builds them.
 */
export interface WindowBytesStore extends StateStore {
  /** Retention in ms: entries whose time is older than `observedStreamTime - retention` are dropped. */
  readonly retentionMs: number;
  /** The largest entry time written or restored, -1 before the first. */
  readonly observedStreamTimeMs: number;
  /** `null` deletes. A write older than retention is dropped (counted in `expiredWrites`). */
  putAll(entries: ReadonlyArray<readonly [storeKey: Buffer, value: Buffer | null]>): Promise<void>;
  /** One result per store key, undefined when absent. */
  getMany(storeKeys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Entries of one key with time in [fromMs, toMs], in time (then suffix) order. */
  fetchKey(
    key: Buffer,
    fromMs: number,
    toMs: number,
  ): AsyncIterable<readonly [storeKey: Buffer, value: Buffer]>;
  /**
   * Entries with time in [fromMs, toMs] and key in [keyFrom, keyTo] (undefined = open), in time then key order.
   */
  fetchTimeRange(
    fromMs: number,
    toMs: number,
    keyFrom: Buffer | undefined,
    keyTo: Buffer | undefined,
  ): AsyncIterable<readonly [storeKey: Buffer, value: Buffer]>;
  /** Writes dropped because they were older than retention, since init. */
  readonly expiredWrites: number;
  /** An estimate of the number of entries. */
  approximateNumEntries(): Promise<number>;
}

/** The typed window store processors and interactive queries use. */
export interface WindowStore<K, V> extends StateStore {
  readonly retentionMs: number;
  /** The size of the windows it holds (end = start + size); 0 for the join stores (points in time). */
  readonly windowSizeMs: number;
  /** True when every put adds an entry (stream-stream join buffers); false when a put replaces. */
  readonly retainDuplicates: boolean;
  /** `null` deletes (not with retainDuplicates). */
  put(key: K, value: V | null, windowStartMs: number): Promise<void>;
  /** Applies the entries in order; one write for the batch. */
  putAll(entries: ReadonlyArray<readonly [K, V | null, number]>): Promise<void>;
  /** The value of one window, or undefined. */
  fetch(key: K, windowStartMs: number): Promise<V | undefined>;
  /** One result per (key, window start), in order; undefined when absent. */
  fetchMany(windows: ReadonlyArray<readonly [K, number]>): Promise<(V | undefined)[]>;
  /** The windows of one key whose start is in [fromMs, toMs], by start (duplicates in insertion order). */
  fetchRange(key: K, fromMs: number, toMs: number): AsyncIterable<readonly [windowStartMs: number, value: V]>;
  /** Windows with start in [fromMs, toMs] and key in [keyFrom, keyTo] (serialized byte order; undefined = open). */
  fetchKeyRange(
    keyFrom: K | undefined,
    keyTo: K | undefined,
    fromMs: number,
    toMs: number,
  ): AsyncIterable<readonly [Windowed<K>, V]>;
  /** Every window with start in [fromMs, toMs]. */
  fetchAll(fromMs: number, toMs: number): AsyncIterable<readonly [Windowed<K>, V]>;
  /** Every window still retained. */
  all(): AsyncIterable<readonly [Windowed<K>, V]>;
  /** The largest window start written, -1 before the first. */
  readonly observedStreamTimeMs: number;
}

/** The typed session store (Kafka Streams' SessionStore): sessions are [start, end] windows per key. */
export interface SessionStore<K, V> extends StateStore {
  readonly retentionMs: number;
  /**
   * Sessions of `key` that end at or after `earliestEndMs` and start at or before `latestStartMs`
   * (the sessions a record at t merges with: earliestEnd = t - gap, latestStart = t + gap), by end.
   */
  findSessions(
    key: K,
    earliestEndMs: number,
    latestStartMs: number,
  ): Promise<Array<readonly [Windowed<K>, V]>>;
  /** The aggregate of exactly this session, or undefined. */
  fetchSession(key: K, startMs: number, endMs: number): Promise<V | undefined>;
  /** Every retained session of a key, by end. */
  fetch(key: K): AsyncIterable<readonly [Windowed<K>, V]>;
  /** `null` removes the session. */
  put(session: Windowed<K>, value: V | null): Promise<void>;
  putAll(entries: ReadonlyArray<readonly [Windowed<K>, V | null]>): Promise<void>;
  remove(session: Windowed<K>): Promise<void>;
  /** Every retained session. */
  all(): AsyncIterable<readonly [Windowed<K>, V]>;
}

/** A builder of window stores: what the DSL and Topology.addStateStore take. */
export interface WindowStoreBuilderLike<K, V> extends StoreBuilder<WindowStore<K, V>> {
  readonly retentionMs: number;
}
