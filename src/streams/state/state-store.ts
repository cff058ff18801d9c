/**
 * The state store contract: what every store layer implements and what the
 * task, the runtime and processors code against.
 *
 * A store is a stack of layers (Kafka Streams' KeyValueStoreBuilder):
 * metered (serdes, metrics) -> caching (write-back) -> change-logging
 * (changelog records) -> persistent (LevelDB) or in-memory. Inner layers see
 * bytes (`KeyValueStore<Buffer, Buffer>`); only the metered layer is typed.
 *
 * Commit protocol (at-least-once), run by the task in this order:
 *  1. `flush()` every store of the task: caches write dirty entries down,
 *     change-logging hands them to the collector;
 *  2. the collector sends changelog records and outputs and awaits acks;
 *  3. `commit(nextOffset)`: the persistent layer writes its uncommitted writes
 *     and the changelog position in ONE LevelDB batch, so the two never disagree;
 *  4. consumer offsets are committed.
 */
import type { SharedCacheBudget } from './shared-cache-budget.ts';

export type { SharedCacheBudget } from './shared-cache-budget.ts';

/** Where change-logging sends records. Implemented by the task's RecordCollector. */
export interface ChangelogCollector {
  /** `value === null` is a tombstone (the key was deleted). `timestamp` in ms since the epoch. */
  send(topic: string, partition: number, key: Buffer, value: Buffer | null, timestamp: number): void;
}

/** What a store gets from its task at `init`. */
export interface StateStoreContext {
  applicationId: string;
  /** `"<subtopologyId>_<partition>"`, e.g. `"0_3"`. */
  taskId: string;
  /** The task's input partition; also the changelog partition the store logs to. */
  partition: number;
  /** `<state.dir>/<application.id>/<taskId>`; a persistent store lives in `taskDir/<store name>`. */
  taskDir: string;
  /** Where change-logging sends records. */
  collector: ChangelogCollector;
  /** ONE per app instance: bounds the memory of every cache of every store of every task. */
  cacheBudget: SharedCacheBudget;
  /**
   * Optional record timestamp source for changelog records (ms since the epoch):
   * the task sets it to the timestamp of the record being processed. Defaults to `Date.now()`.
   */
  currentTimestamp?: () => number;
}

/** The lifecycle face of every store layer. */
export interface StateStore {
  readonly name: string;
  /** True when the data survives a restart (LevelDB), false for in-memory stores. */
  readonly persistent: boolean;
  /** `${applicationId}-${name}-changelog` when logging is on (known after `init`), else undefined. */
  readonly changelogTopic: string | undefined;
  /**
   * Opens the store for one task.
   * @throws StoreCorruptedError when the persistent data cannot be opened or read (the runtime wipes and restores).
   * @throws StoreLockedError when another process holds the store (retriable).
   */
  init(context: StateStoreContext): Promise<void>;
  /** Cache -> changelog collector -> persistent layer's uncommitted buffer. */
  flush(): Promise<void>;
  /**
   * Makes the buffered writes durable together with the changelog position, in ONE LevelDB batch.
   * @param changelogNextOffset the changelog offset after the last acked record of this store's partition;
   *   `undefined` keeps the stored position (nothing was logged since the last commit, or logging is off).
   */
  commit(changelogNextOffset: string | undefined): Promise<void>;
  /**
   * The changelog offset to restore from; `undefined` = no position stored: wipe and restore fully.
   * @throws StoreCorruptedError when a stored position is unreadable.
   */
  committedPosition(): Promise<string | undefined>;
  /** Applies one fetched batch of changelog records and the position after it, atomically. */
  restoreBatch(
    records: ReadonlyArray<{ key: Buffer; value: Buffer | null }>,
    nextOffset: string,
  ): Promise<void>;
  /** Deletes all data and the position; the store stays open (empty) for a full restore. */
  wipe(): Promise<void>;
  close(): Promise<void>;
  /**
   * Bytes held in the persistent layer's uncommitted write buffer (0 for stores without one). The runtime
   * may commit early when it grows large (KIP-892's statestore.uncommitted.max.bytes).
   */
  uncommittedBytes?(): number;
}

/** The typed (metered) face processors see; the byte layers implement `KeyValueStore<Buffer, Buffer>`. */
export interface KeyValueStore<K, V> extends StateStore {
  /** @returns the value, or undefined when the key is absent. */
  get(key: K): Promise<V | undefined>;
  /** One result per key, in the same order; undefined for absent keys. */
  getMany(keys: readonly K[]): Promise<(V | undefined)[]>;
  /** `null` deletes the key. */
  put(key: K, value: V | null): Promise<void>;
  /** Applies the entries in order (a later entry for a key wins); `null` deletes. */
  putAll(entries: ReadonlyArray<readonly [K, V | null]>): Promise<void>;
  /** @returns the previous value, or undefined when there was none. */
  delete(key: K): Promise<V | undefined>;
  /** Entries with from <= key <= to (either bound undefined = open), in key byte order, including uncommitted writes. */
  range(from: K | undefined, to: K | undefined): AsyncIterable<readonly [K, V]>;
  /** Entries whose serialized key starts with the serialized prefix, in key byte order. */
  prefixScan(prefix: K): AsyncIterable<readonly [K, V]>;
  /** Every entry in key byte order. */
  all(): AsyncIterable<readonly [K, V]>;
  /** An estimate of the number of entries (exact for in-memory stores). */
  approximateNumEntries(): Promise<number>;
}

/** The byte-level store every inner layer implements. */
export type BytesKeyValueStore = KeyValueStore<Buffer, Buffer>;

/** Describes how to build one store; the topology builds one fresh store per task. */
export interface StoreBuilder<S extends StateStore> {
  readonly name: string;
  readonly loggingEnabled: boolean;
  /** Topic configs for the changelog topic (e.g. `{ 'min.compaction.lag.ms': '0' }`); cleanup.policy=compact is implied. */
  readonly logConfig: Record<string, string>;
  /** One fresh, un-initialised store. */
  build(): S;
}
