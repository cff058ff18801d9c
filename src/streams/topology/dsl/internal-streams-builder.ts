/**
 * The state shared by one StreamsBuilder and every KStream/KTable made from
 * it: the Topology being built and the counter behind generated names
 * (`KSTREAM-FILTER-0000000003`, as Kafka Streams' InternalStreamsBuilder).
 */
import { TopologyError } from '../../errors.ts';
import type { Serde } from '../../serde/serde.ts';
import { Stores } from '../../state/stores.ts';
import type { KeyValueStore, StoreBuilder } from '../../state/state-store.ts';
import { Topology } from '../topology.ts';
import type { Materialized } from './materialized.ts';

export class InternalStreamsBuilder {
  readonly topology = new Topology();
  private index = 0;

  /** `<prefix><10-digit index>`, e.g. `KSTREAM-FILTER-0000000003`. */
  newName(prefix: string): string {
    return prefix + String(this.index++).padStart(10, '0');
  }

  /** `<prefix>STATE-STORE-<10-digit index>`, e.g. `KSTREAM-AGGREGATE-STATE-STORE-0000000002`. */
  newStoreName(prefix: string): string {
    return this.newName(prefix + 'STATE-STORE-');
  }

  /**
   * The store builder a Materialized describes.
   * @throws TopologyError when a serde is missing (it cannot be inferred from upstream).
   */
  storeBuilder<K, V>(
    storeName: string,
    materialized: Materialized<K, V> | undefined,
    keySerde: Serde<K> | undefined,
    valueSerde: Serde<V> | undefined,
    operator: string,
  ): StoreBuilder<KeyValueStore<K, V>> & { readonly cachingEnabled: boolean } {
    const k = materialized?.keySerde ?? keySerde;
    const v = materialized?.valueSerde ?? valueSerde;
    if (k === undefined || v === undefined) {
      throw new TopologyError(
        `${operator} needs a ${k === undefined ? 'key' : 'value'} serde for store "${storeName}": ` +
          `pass it with Materialized.with(...)/withKeySerde/withValueSerde, or give the upstream stream serdes (Consumed.with, Grouped.with)`,
        { store: storeName },
      );
    }
    const supplier =
      (materialized?.storeType ?? 'persistent') === 'in-memory'
        ? Stores.inMemoryKeyValueStore(storeName)
        : Stores.persistentKeyValueStore(storeName);
    const builder = Stores.keyValueStoreBuilder(supplier, k, v);
    if (materialized?.cachingEnabled ?? true) builder.withCachingEnabled();
    else builder.withCachingDisabled();
    if (materialized?.loggingEnabled ?? true)
      builder.withLoggingEnabled({ ...(materialized?.logConfig ?? {}) });
    else builder.withLoggingDisabled();
    return builder;
  }
}
