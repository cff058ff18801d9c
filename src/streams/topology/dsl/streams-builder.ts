/**
 * StreamsBuilder: the entry point of the DSL (Kafka Streams' StreamsBuilder).
 *
 * ```ts
 * const builder = new StreamsBuilder();
 * const impressions = builder.stream('impressions', Consumed.with(stringSerde, impressionSerde));
 * impressions
 *   .filter((_item, imp) => imp.position < 10, Named.as('top-positions'))
 *   .groupByKey()
 *   .count(Materialized.as('impressions-per-item'))
 *   .toStream(Named.as('impression-counts'))
 *   .to('impression-counts');
 * const topology = builder.build();
 * ```
 *
 * Nodes without an explicit name get Kafka Streams-style generated names
 * (`KSTREAM-SOURCE-0000000000`, `KSTREAM-FILTER-0000000001`, ...), numbered
 * in the order the operators were called.
 */
import { TopologyError } from '../../errors.ts';
import type { StateStore, StoreBuilder } from '../../state/state-store.ts';
import type { Topology } from '../topology.ts';
import type { Consumed } from './consumed.ts';
import { InternalStreamsBuilder } from './internal-streams-builder.ts';
import { KStream } from './kstream.ts';
import { KTable } from './ktable.ts';
import type { Materialized } from './materialized.ts';
import { tableUpsertProcessor } from './stateful-processors.ts';
import { addGlobalTable, type GlobalKTable } from './global-ktable.ts';

export class StreamsBuilder {
  private readonly internal = new InternalStreamsBuilder();
  private built = false;

  /**
   * A stream of the records of `topics` (or every topic matching a pattern).
   * @throws TopologyError when a topic is already read by another source.
   */
  stream<K = Buffer | null, V = Buffer | null>(
    topics: string | readonly string[] | RegExp,
    consumed?: Consumed<K, V>,
  ): KStream<K, V> {
    this.checkOpen();
    const name = consumed?.name ?? this.internal.newName('KSTREAM-SOURCE-');
    this.internal.topology.addSource(name, topics, consumed?.keySerde, consumed?.valueSerde, {
      ...(consumed?.timestampExtractor ? { timestampExtractor: consumed.timestampExtractor } : {}),
    });
    return new KStream<K, V>(this.internal, name, consumed?.keySerde, consumed?.valueSerde, false);
  }

  /**
   * A table of the latest value per key of `topic` (a null value deletes),
   * materialised in a store (`materialized` names it; else `<topic>-STATE-STORE-<n>`).
   * @throws TopologyError when serdes are missing for the store.
   */
  table<K, V>(topic: string, consumed?: Consumed<K, V>, materialized?: Materialized<K, V>): KTable<K, V> {
    this.checkOpen();
    const storeName = materialized?.storeName ?? this.internal.newStoreName(`${topic}-`);
    const keySerde = materialized?.keySerde ?? consumed?.keySerde;
    const valueSerde = materialized?.valueSerde ?? consumed?.valueSerde;
    const storeBuilder = this.internal.storeBuilder(
      storeName,
      materialized,
      keySerde,
      valueSerde,
      `table("${topic}")`,
    );
    const sourceName = consumed?.name ?? this.internal.newName('KSTREAM-SOURCE-');
    const processorName = consumed?.name
      ? `${consumed.name}-table-source`
      : this.internal.newName('KTABLE-SOURCE-');
    const topology = this.internal.topology;
    topology.addSource(sourceName, topic, consumed?.keySerde, consumed?.valueSerde, {
      ...(consumed?.timestampExtractor ? { timestampExtractor: consumed.timestampExtractor } : {}),
    });
    topology.addProcessor(
      processorName,
      tableUpsertProcessor<K, V>({
        storeName,
        keySerde: keySerde!,
        coalesce: storeBuilder.cachingEnabled,
        operator: `table "${processorName}"`,
      }),
      sourceName,
    );
    topology.addStateStore(storeBuilder, processorName);
    return new KTable<K, V>(this.internal, processorName, keySerde, valueSerde, storeName);
  }

  /**
   * A table every instance holds in full, filled from ALL partitions of
   * `topic` (bootstrapped before tasks start, updated while the app runs).
   * Streams join it by a key computed from each record; any processor may
   * read its store (`queryableStoreName`). Its store has no changelog: the
   * topic is one.
   * @throws TopologyError when serdes are missing for the store or the topic is already read.
   */
  globalTable<K, V>(
    topic: string,
    consumed?: Consumed<K, V>,
    materialized?: Materialized<K, V>,
  ): GlobalKTable<K, V> {
    this.checkOpen();
    return addGlobalTable(this.internal, topic, consumed, materialized);
  }

  /**
   * Adds a store for processors of `KStream.process(supplier, named, storeName)`
   * to use; it must be connected to at least one processor before `build()`.
   */
  addStateStore(builder: StoreBuilder<StateStore>): this {
    this.checkOpen();
    this.internal.topology.addStateStore(builder);
    return this;
  }

  /**
   * The Topology built so far; the builder cannot be used afterwards.
   * @throws TopologyError when the topology is not runnable (no source, a store connected to nothing).
   */
  build(): Topology {
    this.checkOpen();
    this.internal.topology.subtopologies();
    this.built = true;
    return this.internal.topology;
  }

  private checkOpen(): void {
    if (this.built)
      throw new TopologyError('this StreamsBuilder was already built; make a new one for another topology');
  }
}
