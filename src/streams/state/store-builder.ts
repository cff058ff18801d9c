/**
 * KeyValueStoreBuilder: stacks the store layers for one store, per its flags
 * (Kafka Streams' KeyValueStoreBuilder and its maybeWrap steps):
 *
 *   metered (serdes, metrics)
 *     -> caching        (when caching is enabled)
 *       -> change-logging (when logging is enabled, the default)
 *         -> the supplier's byte store (LevelDB or in-memory)
 *
 * Caching sits above change-logging so that only what the cache writes down
 * (coalesced at flush, or evicted) reaches the changelog.
 */
import type { Serde } from '../serde/serde.ts';
import type { BytesStore } from './bytes-store.ts';
import { CachingKeyValueStore } from './caching-store.ts';
import { ChangeLoggingKeyValueStore } from './change-logging-store.ts';
import { MeteredKeyValueStore } from './metered-store.ts';
import type { KeyValueStore, StoreBuilder } from './state-store.ts';

/** Makes the innermost byte store of one store, fresh for each task. */
export interface KeyValueBytesStoreSupplier {
  readonly name: string;
  /** True when the stores it makes survive a restart. */
  readonly persistent: boolean;
  /** A new, un-initialised byte store. */
  get(): BytesStore;
}

export class KeyValueStoreBuilder<K, V> implements StoreBuilder<KeyValueStore<K, V>> {
  private caching = false;
  private logging = true;
  private topicConfig: Record<string, string> = {};

  constructor(
    private readonly supplier: KeyValueBytesStoreSupplier,
    readonly keySerde: Serde<K>,
    readonly valueSerde: Serde<V>,
  ) {}

  get name(): string {
    return this.supplier.name;
  }

  get loggingEnabled(): boolean {
    return this.logging;
  }

  get cachingEnabled(): boolean {
    return this.caching;
  }

  get persistent(): boolean {
    return this.supplier.persistent;
  }

  /** Extra changelog topic configs; cleanup.policy=compact is implied. */
  get logConfig(): Record<string, string> {
    return { ...this.topicConfig };
  }

  /** Puts a write-back cache in front of the store (bounded by the instance's statestore.cache.max.bytes). */
  withCachingEnabled(): this {
    this.caching = true;
    return this;
  }

  withCachingDisabled(): this {
    this.caching = false;
    return this;
  }

  /** Logs every write to `<application.id>-<name>-changelog` (the default), with these extra topic configs. */
  withLoggingEnabled(topicConfig: Record<string, string> = {}): this {
    this.logging = true;
    this.topicConfig = { ...topicConfig };
    return this;
  }

  /** No changelog: the store cannot be restored on another machine (an in-memory store then starts empty). */
  withLoggingDisabled(): this {
    this.logging = false;
    this.topicConfig = {};
    return this;
  }

  build(): MeteredKeyValueStore<K, V> {
    let store: BytesStore = this.supplier.get();
    if (this.logging) store = new ChangeLoggingKeyValueStore(store);
    if (this.caching) store = new CachingKeyValueStore(store);
    return new MeteredKeyValueStore(store, this.keySerde, this.valueSerde);
  }
}
