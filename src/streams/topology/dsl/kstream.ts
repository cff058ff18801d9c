/**
 * KStream: a record stream (every record is an event), with Kafka Streams'
 * operators. Each operator adds a processor node to the topology and returns
 * the stream of its output. Functions receive one record at a time; the
 * engine runs them over whole batches.
 *
 * Serdes travel with the stream: an operator that keeps the key (filter,
 * mapValues, ...) keeps the key serde; one that changes the key (map,
 * selectKey, flatMap) drops it and marks the stream for repartitioning, so
 * that a later `groupByKey` regroups records by their new key through a
 * repartition topic, as Kafka Streams does.
 */
import { TopologyError } from '../../errors.ts';
import type { Processor, ProcessorSupplier } from '../../processor/processor.ts';
import type { TopicNameExtractor } from '../../processor/processor-topology.ts';
import type { Serde } from '../../serde/serde.ts';
import { BranchedKStream } from './branched-kstream.ts';
import type { Grouped } from './grouped.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import { KGroupedStream } from './kgrouped-stream.ts';
import { GlobalKTable } from './global-ktable.ts';
import { streamGlobalTableJoin, streamStreamJoin, streamTableJoin } from './joins.ts';
import type { StreamJoined } from './stream-joined.ts';
import type { JoinWindows } from './windows.ts';
import { KTable } from './ktable.ts';
import type { Materialized } from './materialized.ts';
import { addRepartition } from './repartition.ts';
import { tableUpsertProcessor } from './stateful-processors.ts';
import type { Named } from './named.ts';
import type { Produced } from './produced.ts';
import {
  filterProcessor,
  flatMapProcessor,
  flatMapValuesProcessor,
  mapProcessor,
  mapValuesProcessor,
  passThroughProcessor,
  peekProcessor,
  selectKeyProcessor,
} from './stateless-processors.ts';

export class KStream<K, V> {
  /** @internal use StreamsBuilder.stream */
  constructor(
    /** @internal */ readonly builder: InternalStreamsBuilder,
    /** The node whose output this stream is. */
    readonly nodeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** True when the key changed since the source: grouping must repartition. */
    readonly repartitionRequired: boolean,
  ) {}

  /** Keeps the records for which `predicate` is true. */
  filter(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.stateless(
      named,
      'KSTREAM-FILTER-',
      filterProcessor(predicate, true),
      this.keySerde,
      this.valueSerde,
      false,
    );
  }

  /** Drops the records for which `predicate` is true. */
  filterNot(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.stateless(
      named,
      'KSTREAM-FILTER-',
      filterProcessor(predicate, false),
      this.keySerde,
      this.valueSerde,
      false,
    );
  }

  /** A new key and value per record (the key changes: a later grouping repartitions). */
  map<KR, VR>(mapper: (key: K, value: V) => readonly [KR, VR], named?: Named): KStream<KR, VR> {
    return this.stateless(named, 'KSTREAM-MAP-', mapProcessor(mapper), undefined, undefined, true);
  }

  /** A new value per record; the key stays (no repartition). `mapper(value, key)`. */
  mapValues<VR>(mapper: (value: V, key: K) => VR, named?: Named): KStream<K, VR> {
    return this.stateless(
      named,
      'KSTREAM-MAPVALUES-',
      mapValuesProcessor(mapper),
      this.keySerde,
      undefined,
      false,
    );
  }

  /** Zero or more records per record (the key changes: a later grouping repartitions). */
  flatMap<KR, VR>(mapper: (key: K, value: V) => Iterable<readonly [KR, VR]>, named?: Named): KStream<KR, VR> {
    return this.stateless(named, 'KSTREAM-FLATMAP-', flatMapProcessor(mapper), undefined, undefined, true);
  }

  /** Zero or more values per record, each with the record's key. `mapper(value, key)`. */
  flatMapValues<VR>(mapper: (value: V, key: K) => Iterable<VR>, named?: Named): KStream<K, VR> {
    return this.stateless(
      named,
      'KSTREAM-FLATMAPVALUES-',
      flatMapValuesProcessor(mapper),
      this.keySerde,
      undefined,
      false,
    );
  }

  /** Calls `action` per record and passes the records on unchanged. */
  peek(action: (key: K, value: V) => void, named?: Named): KStream<K, V> {
    return this.stateless(
      named,
      'KSTREAM-PEEK-',
      peekProcessor(action),
      this.keySerde,
      this.valueSerde,
      false,
    );
  }

  /** A new key per record (a later grouping repartitions). */
  selectKey<KR>(selector: (key: K, value: V) => KR, named?: Named): KStream<KR, V> {
    return this.stateless(
      named,
      'KSTREAM-KEY-SELECT-',
      selectKeyProcessor(selector),
      undefined,
      this.valueSerde,
      true,
    );
  }

  /** Splits the stream by predicates: `split().branch(p1).branch(p2).defaultBranch()`. */
  split(named?: Named): BranchedKStream<K, V> {
    const name = named?.name ?? this.builder.newName('KSTREAM-BRANCH-');
    return new BranchedKStream(this, name);
  }

  /** The records of both streams, each stream's order kept. */
  merge(other: KStream<K, V>, named?: Named): KStream<K, V> {
    if (other.builder !== this.builder)
      throw new TopologyError('cannot merge streams of two different StreamsBuilders');
    const name = named?.name ?? this.builder.newName('KSTREAM-MERGE-');
    this.builder.topology.addProcessor(name, passThroughProcessor(), this.nodeName, other.nodeName);
    return new KStream(
      this.builder,
      name,
      this.keySerde === other.keySerde ? this.keySerde : undefined,
      this.valueSerde === other.valueSerde ? this.valueSerde : undefined,
      this.repartitionRequired || other.repartitionRequired,
    );
  }

  /**
   * Runs a Processor API processor on the stream and returns what it
   * forwards; `storeNames` connects stores already added (a supplier's
   * `stores()` are added and connected automatically).
   */
  process<KR, VR>(
    supplier: ProcessorSupplier<K, V, KR, VR>,
    named?: Named,
    ...storeNames: string[]
  ): KStream<KR, VR> {
    const name = named?.name ?? this.builder.newName('KSTREAM-PROCESSOR-');
    this.builder.topology.addProcessor(name, supplier, this.nodeName);
    if (storeNames.length > 0) this.builder.topology.connectProcessorAndStateStores(name, ...storeNames);
    return new KStream<KR, VR>(this.builder, name, undefined, undefined, true);
  }

  /**
   * Writes the stream to a topic (or the topic an extractor picks per record).
   * Serdes: `produced`'s, else the stream's, else raw Buffer/string values.
   */
  to(topic: string | TopicNameExtractor<K, V>, produced?: Produced<K, V>): void {
    const name = produced?.name ?? this.builder.newName('KSTREAM-SINK-');
    this.builder.topology.addSink(
      name,
      topic,
      produced?.keySerde ?? this.keySerde,
      produced?.valueSerde ?? this.valueSerde,
      produced?.partitioner,
      this.nodeName,
    );
  }

  /**
   * Groups by the current key for an aggregation. When the key changed
   * upstream, records first go through a repartition topic
   * (`<application.id>-<name>-repartition`) so that each key lands in one task.
   */
  groupByKey(grouped?: Grouped<K, V>): KGroupedStream<K, V> {
    const keySerde = grouped?.keySerde ?? this.keySerde;
    const valueSerde = grouped?.valueSerde ?? this.valueSerde;
    if (!this.repartitionRequired)
      return new KGroupedStream(this.builder, this.nodeName, keySerde, valueSerde, undefined);
    return new KGroupedStream(this.builder, this.nodeName, keySerde, valueSerde, { name: grouped?.name });
  }

  /**
   * Groups by a new key (`selectKey` then `groupByKey`): the records go
   * through a repartition topic, so `grouped` must give the serdes unless
   * the stream still has them (the value serde is kept, the key's is not).
   */
  groupBy<KR>(selector: (key: K, value: V) => KR, grouped?: Grouped<KR, V>): KGroupedStream<KR, V> {
    return this.selectKey(selector).groupByKey(grouped);
  }

  /**
   * The stream read as a table: the latest value per key (null deletes),
   * kept in a store. After a key change the records are repartitioned first.
   * @throws TopologyError when serdes are missing for the store (or the repartition topic).
   */
  toTable(named?: Named, materialized?: Materialized<K, V>): KTable<K, V> {
    const builder = this.builder;
    const storeName = materialized?.storeName ?? builder.newStoreName('KSTREAM-TOTABLE-');
    const keySerde = materialized?.keySerde ?? this.keySerde;
    const valueSerde = materialized?.valueSerde ?? this.valueSerde;
    const storeBuilder = builder.storeBuilder(storeName, materialized, keySerde, valueSerde, 'toTable');
    const parent = this.repartitionRequired
      ? addRepartition({
          builder,
          parent: this.nodeName,
          base: named?.name ?? storeName,
          named: named !== undefined,
          keySerde,
          valueSerde,
          operator: 'toTable',
        })
      : this.nodeName;
    const name = named?.name ?? builder.newName('KSTREAM-TOTABLE-');
    builder.topology.addProcessor(
      name,
      tableUpsertProcessor<K, V>({
        storeName,
        keySerde: keySerde!,
        coalesce: storeBuilder.cachingEnabled,
        operator: `toTable "${name}"`,
      }),
      parent,
    );
    builder.topology.addStateStore(storeBuilder, name);
    return new KTable<K, V>(builder, name, keySerde, valueSerde, storeName);
  }

  /**
   * Inner join. With a stream and JoinWindows: every pair of records of the
   * same key whose timestamps are within the window (stream-stream). With a
   * KTable: each record with the table's current value of its key, records
   * without one dropped (stream-table). With a GlobalKTable: each record with
   * the global table's value of `keySelector(key, value)`. `joiner(value,
   * otherValue, key)` makes the result value.
   */
  join<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V, otherValue: VO, key: K) => VR,
    windows: JoinWindows,
    joined?: StreamJoined<K, V, VO>,
  ): KStream<K, VR>;
  join<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT, key: K) => VR,
    named?: Named,
  ): KStream<K, VR>;
  join<GK, GV, VR>(
    table: GlobalKTable<GK, GV>,
    keySelector: (key: K, value: V) => GK,
    joiner: (value: V, tableValue: GV, key: K) => VR,
    named?: Named,
  ): KStream<K, VR>;
  join(other: unknown, a: any, b?: any, c?: any): KStream<K, any> {
    return this.joinOf('inner', other, a, b, c);
  }

  /**
   * Left join: like `join`, and a record without a partner is emitted with
   * `otherValue` null (stream-stream: once its window closed without a partner).
   */
  leftJoin<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V, otherValue: VO | null, key: K) => VR,
    windows: JoinWindows,
    joined?: StreamJoined<K, V, VO>,
  ): KStream<K, VR>;
  leftJoin<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT | null, key: K) => VR,
    named?: Named,
  ): KStream<K, VR>;
  leftJoin<GK, GV, VR>(
    table: GlobalKTable<GK, GV>,
    keySelector: (key: K, value: V) => GK,
    joiner: (value: V, tableValue: GV | null, key: K) => VR,
    named?: Named,
  ): KStream<K, VR>;
  leftJoin(other: unknown, a: any, b?: any, c?: any): KStream<K, any> {
    return this.joinOf('left', other, a, b, c);
  }

  /** Outer stream-stream join: unpartnered records of EITHER side are emitted (the missing side null) once their window closed. */
  outerJoin<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V | null, otherValue: VO | null, key: K) => VR,
    windows: JoinWindows,
    joined?: StreamJoined<K, V, VO>,
  ): KStream<K, VR> {
    return streamStreamJoin(
      this,
      other,
      'outer',
      joiner as (value: V, otherValue: VO | null, key: K) => VR,
      windows,
      joined,
    );
  }

  private joinOf(type: 'inner' | 'left', other: unknown, a: any, b: any, c: any): KStream<K, any> {
    if (other instanceof KStream) return streamStreamJoin(this, other, type, a, b, c);
    if (other instanceof GlobalKTable) return streamGlobalTableJoin(this, other, type, a, b, c);
    return streamTableJoin(this, other as KTable<K, unknown>, type, a, b);
  }

  private stateless<KR, VR>(
    named: Named | undefined,
    prefix: string,
    supplier: () => Processor<any, any, any, any>,
    keySerde: Serde<KR> | undefined,
    valueSerde: Serde<VR> | undefined,
    keyChanged: boolean,
  ): KStream<KR, VR> {
    const name = named?.name ?? this.builder.newName(prefix);
    this.builder.topology.addProcessor(name, supplier, this.nodeName);
    return new KStream(this.builder, name, keySerde, valueSerde, this.repartitionRequired || keyChanged);
  }
}
