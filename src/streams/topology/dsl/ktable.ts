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

export class KTable<K, V> {
  /** @internal use StreamsBuilder.table or an aggregation */
  constructor(
    private readonly builder: InternalStreamsBuilder,
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
}
