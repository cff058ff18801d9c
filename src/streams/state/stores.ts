/**
 * Stores: the factory for state stores (Kafka Streams' `Stores`).
 *
 * ```ts
 * const builder = Stores.keyValueStoreBuilder(
 *   Stores.persistentKeyValueStore('item-embeddings'),
 *   stringSerde,
 *   embeddingSerde,
 * ).withCachingEnabled();
 * ```
 * The topology calls `builder.build()` once per task; the task `init`s the store.
 */
import { TopologyError } from '../errors.ts';
import type { Serde } from '../serde/serde.ts';
import { InMemoryKeyValueStore } from './in-memory-store.ts';
import { LevelDbKeyValueStore, type LevelDbStoreOptions } from './leveldb-store.ts';
import { KeyValueStoreBuilder, type KeyValueBytesStoreSupplier } from './store-builder.ts';

/** Store names become directory names and part of topic names. */
const STORE_NAME = /^[a-zA-Z0-9._-]{1,200}$/;

function checkName(name: string): void {
  if (!STORE_NAME.test(name) || name === '.' || name === '..') {
    throw new TopologyError(
      `store name "${name}" is not valid: use 1-200 characters of a-z, A-Z, 0-9, '.', '_', '-'`,
      {
        store: name,
      },
    );
  }
}

export const Stores = {
  /**
   * A LevelDB store at `<state.dir>/<application.id>/<task>/<name>`.
   * @throws TopologyError when the name is not a valid store name.
   */
  persistentKeyValueStore(name: string, options: LevelDbStoreOptions = {}): KeyValueBytesStoreSupplier {
    checkName(name);
    return { name, persistent: true, get: () => new LevelDbKeyValueStore(name, options) };
  },

  /**
   * A sorted in-memory store; with logging on it is rebuilt from its changelog at start.
   * @throws TopologyError when the name is not a valid store name.
   */
  inMemoryKeyValueStore(name: string): KeyValueBytesStoreSupplier {
    checkName(name);
    return { name, persistent: false, get: () => new InMemoryKeyValueStore(name) };
  },

  /** A builder stacking metered -> (caching) -> (change-logging) over the supplier's store; logging on, caching off by default. */
  keyValueStoreBuilder<K, V>(
    supplier: KeyValueBytesStoreSupplier,
    keySerde: Serde<K>,
    valueSerde: Serde<V>,
  ): KeyValueStoreBuilder<K, V> {
    return new KeyValueStoreBuilder(supplier, keySerde, valueSerde);
  },
} as const;
