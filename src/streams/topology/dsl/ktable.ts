/**
 * KTable: a changelog stream read as a table (the latest value per key),
 * kept in a store. Its updates flow downstream as records whose value is the
 * new value (null when the key was deleted).
 */
import type { Serde } from '../../serde/serde.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import { KStream } from './kstream.ts';
import type { Named } from './named.ts';
import { passThroughProcessor } from './stateless-processors.ts';
import { tableTableJoin } from './joins.ts';
import type { Materialized } from './materialized.ts';

export class KTable<K, V> {
  /** @internal use StreamsBuilder.table or an aggregation */
  constructor(
    /** @internal */ readonly builder: InternalStreamsBuilder,
    /** The node whose output are this table's updates. */
    readonly nodeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** The store holding the table: `driver.getKeyValueStore(name)`, interactive queries. */
    readonly queryableStoreName: string,
  ) {}

  /**
   * The table's updates as a stream. A deletion (a table read from a topic
   * got a tombstone) is a record whose value is null; aggregations never
   * delete, so their values are never null.
   */
  toStream(named?: Named): KStream<K, V> {
    const name = named?.name ?? this.builder.newName('KTABLE-TOSTREAM-');
    this.builder.topology.addProcessor(name, passThroughProcessor(), this.nodeName);
    return new KStream<K, V>(this.builder, name, this.keySerde, this.valueSerde, false);
  }

  /**
   * Table-table inner join: the key has a value while BOTH tables have one,
   * `joiner(value, otherValue, key)`; an update on either side emits the new
   * result (null when the key left the join). Materialize the result to query
   * it or join it again.
   */
  join<VO, VR>(
    other: KTable<K, VO>,
    joiner: (value: V, otherValue: VO, key: K) => VR,
    named?: Named,
    materialized?: Materialized<K, VR>,
  ): KTable<K, VR> {
    return tableTableJoin(
      this,
      other,
      'inner',
      joiner as (value: V | null, otherValue: VO | null, key: K) => VR,
      named,
      materialized,
    );
  }

  /** Table-table left join: a value whenever THIS table has one (`otherValue` null when the other has none). */
  leftJoin<VO, VR>(
    other: KTable<K, VO>,
    joiner: (value: V, otherValue: VO | null, key: K) => VR,
    named?: Named,
    materialized?: Materialized<K, VR>,
  ): KTable<K, VR> {
    return tableTableJoin(
      this,
      other,
      'left',
      joiner as (value: V | null, otherValue: VO | null, key: K) => VR,
      named,
      materialized,
    );
  }

  /** Table-table outer join: a value whenever EITHER table has one (the missing side null). */
  outerJoin<VO, VR>(
    other: KTable<K, VO>,
    joiner: (value: V | null, otherValue: VO | null, key: K) => VR,
    named?: Named,
    materialized?: Materialized<K, VR>,
  ): KTable<K, VR> {
    return tableTableJoin(this, other, 'outer', joiner, named, materialized);
  }
}
