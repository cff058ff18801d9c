/**
 * GlobalKTable: a table EVERY instance holds in full, filled from all
 * partitions of its topic by the instance's global thread (bootstrapped to
 * the topic's end before any task starts, then kept up to date while the app
 * runs). Streams join it by any key they can compute from a record
 * (`stream.join(globalTable, (key, value) => value.itemId, joiner)`), with
 * no repartitioning and no co-partitioning. Processors read it; nothing but
 * its topic writes it.
 */
import type { Serde } from '../../serde/serde.ts';
import type { Processor } from '../../processor/processor.ts';
import type { KeyValueStore } from '../../state/state-store.ts';
import type { Consumed } from './consumed.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import { Materialized } from './materialized.ts';

export class GlobalKTable<K, V> {
  /** @internal use StreamsBuilder.globalTable */
  constructor(
    readonly topic: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** The global store: `context.getStateStore(name)` from any processor, interactive queries. */
    readonly queryableStoreName: string,
  ) {}
}

/** Writes each record of the global topic into the store (null deletes), one write per batch. */
function globalTableUpdater<K, V>(storeName: string): () => Processor<K, V, never, never> {
  return () => {
    let store: KeyValueStore<K, V>;
    return {
      init(ctx) {
        store = ctx.getStateStore<KeyValueStore<K, V>>(storeName);
      },
      async process(records) {
        const entries: Array<readonly [K, V | null]> = [];
        for (const r of records)
          if (r.key !== null && r.key !== undefined) entries.push([r.key, r.value ?? null]);
        if (entries.length > 0) await store.putAll(entries);
      },
    };
  };
}

/**
 * Adds a global table over `topic` (StreamsBuilder.globalTable).
 * @throws TopologyError when serdes are missing for the store or the topic is already read.
 */
export function addGlobalTable<K, V>(
  internal: InternalStreamsBuilder,
  topic: string,
  consumed: Consumed<K, V> | undefined,
  materialized: Materialized<K, V> | undefined,
): GlobalKTable<K, V> {
  const storeName = materialized?.storeName ?? internal.newStoreName(`${topic}-`);
  const keySerde = materialized?.keySerde ?? consumed?.keySerde;
  const valueSerde = materialized?.valueSerde ?? consumed?.valueSerde;
  // the topic is the store's changelog; a cache would only delay what processors see
  const settings = (materialized ?? Materialized.with<K, V>(keySerde, valueSerde))
    .withLoggingDisabled()
    .withCachingDisabled();
  const storeBuilder = internal.storeBuilder(
    storeName,
    settings,
    keySerde,
    valueSerde,
    `globalTable("${topic}")`,
  );
  const sourceName = consumed?.name ?? internal.newName('KSTREAM-SOURCE-');
  const processorName = consumed?.name ? `${consumed.name}-global-table` : internal.newName('KTABLE-SOURCE-');
  internal.topology.addGlobalStore(
    storeBuilder,
    sourceName,
    consumed?.keySerde,
    consumed?.valueSerde,
    topic,
    processorName,
    globalTableUpdater<K, V>(storeName),
    consumed?.timestampExtractor ? { timestampExtractor: consumed.timestampExtractor } : {},
  );
  return new GlobalKTable<K, V>(topic, keySerde, valueSerde, storeName);
}
