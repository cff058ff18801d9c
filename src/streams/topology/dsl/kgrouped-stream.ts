/**
 * KGroupedStream: a stream grouped by key, ready for an aggregation. Each
 * aggregation keeps its state in a store (Materialized) and returns the
 * KTable of results; the table's updates flow on (`toStream()`).
 *
 * With caching on (the default) an aggregation emits one update per key per
 * batch, the latest; with `Materialized...withCachingDisabled()` it emits
 * every update. Records with a null key or value are skipped (and logged),
 * as in Kafka Streams.
 */
import type { Serde } from '../../serde/serde.ts';
import { countSerde } from './count-serde.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import { KTable } from './ktable.ts';
import type { Materialized } from './materialized.ts';
import type { Named } from './named.ts';
import { storeUpdateProcessor } from './stateful-processors.ts';
import { SessionWindowedKStream, TimeWindowedKStream } from './windowed-kstream.ts';
import { SessionWindows, type SlidingWindows, type TimeWindows } from './windows.ts';
import { addRepartition } from './repartition.ts';

export class KGroupedStream<K, V> {
  /** @internal use KStream.groupByKey */
  constructor(
    /** @internal */ readonly builder: InternalStreamsBuilder,
    /** The node whose output is grouped. */
    readonly nodeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /**
     * Set when the key changed upstream: a stateful operator must read
     * through a repartition topic (see `addRepartition`), named after
     * `name` (Grouped) or else after its store.
     */
    readonly repartition: { name: string | undefined } | undefined,
  ) {}

  /** Counts records per key. Results are numbers (serde: a 64-bit long by default). */
  count(materialized?: Materialized<K, number>, named?: Named): KTable<K, number> {
    return this.build(
      'KSTREAM-AGGREGATE-',
      'count',
      materialized,
      named,
      countSerde,
      (_key, _value, current: number | undefined) => (current ?? 0) + 1,
    );
  }

  /**
   * Folds the records of each key into an aggregate: `aggregator(key, value,
   * aggregate)`, starting from `initializer()`. `materialized` must carry the
   * aggregate's value serde.
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    materialized?: Materialized<K, VA>,
    named?: Named,
  ): KTable<K, VA> {
    return this.build(
      'KSTREAM-AGGREGATE-',
      'aggregate',
      materialized,
      named,
      undefined,
      (key, value: V, current: VA | undefined) =>
        aggregator(key, value, current === undefined ? initializer() : current),
    );
  }

  /** Combines the values of each key: the first value as is, then `reducer(aggregate, value)`. */
  reduce(
    reducer: (aggregate: V, value: V) => V,
    materialized?: Materialized<K, V>,
    named?: Named,
  ): KTable<K, V> {
    return this.build(
      'KSTREAM-REDUCE-',
      'reduce',
      materialized,
      named,
      this.valueSerde,
      (_key, value: V, current: V | undefined) => (current === undefined ? value : reducer(current, value)),
    );
  }

  /**
   * Windows the grouped stream for a windowed aggregation: time windows
   * (tumbling/hopping), sliding windows or session windows. Goes through the repartition topic
   * like any aggregation when the key changed upstream.
   */
  windowedBy(windows: TimeWindows | SlidingWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  windowedBy(
    windows: TimeWindows | SlidingWindows | SessionWindows,
  ): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> {
    const parent = (storeName: string): string => this.parent(storeName, 'windowed grouping');
    return windows instanceof SessionWindows
      ? new SessionWindowedKStream<K, V>(this.builder, parent, this.keySerde, this.valueSerde, windows)
      : new TimeWindowedKStream<K, V>(this.builder, parent, this.keySerde, this.valueSerde, windows);
  }

  /**
   * The node the aggregation reads from: this one, or a repartition topic after a key change
   * (named after the grouping, else after the store).
   */
  private parent(storeName: string, operator: string): string {
    return this.repartition
      ? addRepartition({
          builder: this.builder,
          parent: this.nodeName,
          base: this.repartition.name ?? storeName,
          named: this.repartition.name !== undefined,
          keySerde: this.keySerde,
          valueSerde: this.valueSerde,
          operator,
        })
      : this.nodeName;
  }

  private build<VA>(
    prefix: string,
    operator: string,
    materialized: Materialized<K, VA> | undefined,
    named: Named | undefined,
    defaultValueSerde: Serde<VA> | undefined,
    step: (key: K, value: V, current: VA | undefined) => VA,
  ): KTable<K, VA> {
    const storeName = materialized?.storeName ?? this.builder.newStoreName(prefix);
    const storeBuilder = this.builder.storeBuilder(
      storeName,
      materialized,
      this.keySerde,
      defaultValueSerde,
      operator,
    );
    const parent = this.parent(storeName, 'grouping');
    const name = named?.name ?? this.builder.newName(prefix);
    const keySerde = (materialized?.keySerde ?? this.keySerde)!;
    this.builder.topology.addProcessor(
      name,
      storeUpdateProcessor<K, V, VA>({
        storeName,
        keySerde,
        step,
        skipNullValues: true,
        coalesce: storeBuilder.cachingEnabled,
        operator: `${operator} "${name}"`,
      }),
      parent,
    );
    this.builder.topology.addStateStore(storeBuilder, name);
    return new KTable<K, VA>(
      this.builder,
      name,
      keySerde,
      materialized?.valueSerde ?? defaultValueSerde,
      storeName,
    );
  }
}
