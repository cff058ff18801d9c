/**
 * Materialized: the store a KTable or an aggregation keeps its state in:
 * name (queryable: `driver.getKeyValueStore(name)`), serdes, store type,
 * caching and changelog settings.
 *
 * Defaults, as in Kafka Streams: a persistent (LevelDB) store, caching on,
 * logging on. With caching on, an operator emits ONE update per key per
 * batch (the latest), like Kafka Streams' cache that coalesces updates;
 * with caching off it emits every update.
 */
import type { Serde } from '../../serde/serde.ts';
import { checkName } from './named.ts';

export type StoreType = 'persistent' | 'in-memory';

export class Materialized<K, V> {
  private constructor(
    readonly storeName: string | undefined,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    readonly storeType: StoreType,
    readonly cachingEnabled: boolean,
    readonly loggingEnabled: boolean,
    readonly logConfig: Readonly<Record<string, string>>,
  ) {}

  /** A store named `storeName`. */
  static as<K, V>(storeName: string): Materialized<K, V> {
    checkName(storeName, 'store');
    return new Materialized<K, V>(storeName, undefined, undefined, 'persistent', true, true, {});
  }

  /** A store with a generated name and these serdes. */
  static with<K, V>(keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined): Materialized<K, V> {
    return new Materialized(undefined, keySerde, valueSerde, 'persistent', true, true, {});
  }

  withKeySerde(keySerde: Serde<K>): Materialized<K, V> {
    return this.copy({ keySerde });
  }

  withValueSerde(valueSerde: Serde<V>): Materialized<K, V> {
    return this.copy({ valueSerde });
  }

  withStoreType(storeType: StoreType): Materialized<K, V> {
    return this.copy({ storeType });
  }

  withCachingEnabled(): Materialized<K, V> {
    return this.copy({ cachingEnabled: true });
  }

  withCachingDisabled(): Materialized<K, V> {
    return this.copy({ cachingEnabled: false });
  }

  /** Logs to `<application.id>-<store>-changelog` with these extra topic configs (the default, with none). */
  withLoggingEnabled(topicConfig: Record<string, string> = {}): Materialized<K, V> {
    return this.copy({ loggingEnabled: true, logConfig: { ...topicConfig } });
  }

  withLoggingDisabled(): Materialized<K, V> {
    return this.copy({ loggingEnabled: false, logConfig: {} });
  }

  private copy(
    changes: Partial<
      Pick<
        Materialized<K, V>,
        'keySerde' | 'valueSerde' | 'storeType' | 'cachingEnabled' | 'loggingEnabled' | 'logConfig'
      >
    >,
  ): Materialized<K, V> {
    return new Materialized(
      this.storeName,
      'keySerde' in changes ? changes.keySerde : this.keySerde,
      'valueSerde' in changes ? changes.valueSerde : this.valueSerde,
      changes.storeType ?? this.storeType,
      changes.cachingEnabled ?? this.cachingEnabled,
      changes.loggingEnabled ?? this.loggingEnabled,
      changes.logConfig ?? this.logConfig,
    );
  }
}
