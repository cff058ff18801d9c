/**
 * How the DSL wires joins into the topology (KStream.join/leftJoin/outerJoin,
 * KTable.join/leftJoin/outerJoin); the processors are in join-processors.ts.
 *
 * Co-partitioning: both inputs of a join must have the same partition count
 * and be partitioned by the same key; the join's processors share stores, so
 * they land in ONE sub-topology, and the runtime (and the test driver) refuse
 * to start when its source topics differ in partition count, naming them.
 * A stream whose key changed upstream is first sent through a repartition
 * topic `<application.id>-<name>-repartition`, as Kafka Streams does.
 */
import { TopologyError } from '../../errors.ts';
import { bytesSerde } from '../../serde/bytes-serde.ts';
import type { Serde } from '../../serde/serde.ts';
import { Stores } from '../../state/stores.ts';
import { WindowStores } from '../../state/window-store-builder.ts';
import type { GlobalKTable } from './global-ktable.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import {
  streamStreamJoinProcessor,
  streamTableJoinProcessor,
  tableTableJoinProcessor,
  type JoinType,
} from './join-processors.ts';
import { KStream } from './kstream.ts';
import { KTable } from './ktable.ts';
import type { Materialized } from './materialized.ts';
import type { Named } from './named.ts';
import { addRepartition } from './repartition.ts';
import { storeUpdateProcessor } from './stateful-processors.ts';
import { passThroughProcessor } from './stateless-processors.ts';
import type { StreamJoined } from './stream-joined.ts';
import type { JoinWindows } from './windows.ts';

/** Kafka Streams' ValueJoinerWithKey: `key` is the record key (read-only). */
export type ValueJoiner<V1, V2, VR> = (value: V1, otherValue: V2, key: any) => VR;

function missing(what: string, operator: string): TopologyError {
  return new TopologyError(
    `${operator} needs the ${what}: pass it with StreamJoined.with(...) / Consumed.with(...) / Grouped.with(...)`,
  );
}

/** The node to join from: the stream itself, or a repartition source when its key changed. */
function joinInput<K, V>(
  stream: KStream<K, V>,
  base: string,
  named: boolean,
  keySerde: Serde<K> | undefined,
  valueSerde: Serde<V> | undefined,
): string {
  if (!stream.repartitionRequired) return stream.nodeName;
  return addRepartition({
    builder: stream.builder,
    parent: stream.nodeName,
    base,
    named,
    keySerde,
    valueSerde,
    operator: 'join',
  });
}

export function streamStreamJoin<K, V, VO, VR>(
  left: KStream<K, V>,
  right: KStream<K, VO>,
  type: JoinType,
  joiner: (value: V, otherValue: VO | null, key: K) => VR,
  windows: JoinWindows,
  joined: StreamJoined<K, V, VO> | undefined,
): KStream<K, VR> {
  const builder = left.builder;
  if (right.builder !== builder)
    throw new TopologyError('cannot join streams of two different StreamsBuilders');
  const operator = `${type} join of "${left.nodeName}" with "${right.nodeName}"`;
  const keySerde = joined?.keySerde ?? left.keySerde ?? right.keySerde;
  const valueSerde = joined?.valueSerde ?? left.valueSerde;
  const otherValueSerde = joined?.otherValueSerde ?? right.valueSerde;
  if (keySerde === undefined) throw missing('key serde', operator);
  if (valueSerde === undefined) throw missing('value serde of this (left) stream', operator);
  if (otherValueSerde === undefined) throw missing('value serde of the other (right) stream', operator);
  const name = joined?.name;
  const thisName = name
    ? `${name}-this-join`
    : builder.newName(type === 'outer' ? 'KSTREAM-OUTERTHIS-' : 'KSTREAM-JOINTHIS-');
  const otherName = name
    ? `${name}-other-join`
    : builder.newName(type === 'inner' ? 'KSTREAM-JOINOTHER-' : 'KSTREAM-OUTEROTHER-');
  const mergeName = name ? `${name}-merge` : builder.newName('KSTREAM-MERGE-');
  const storeBase = joined?.storeName ?? name;
  const thisStore = storeBase ? `${storeBase}-this-join-store` : `${thisName}-store`;
  const otherStore = storeBase ? `${storeBase}-other-join-store` : `${otherName}-store`;
  const outerStore =
    type === 'inner'
      ? undefined
      : storeBase
        ? `${storeBase}-outer-shared-join-store`
        : `${builder.newName('KSTREAM-OUTERSHARED-')}-store`;
  const leftInput = joinInput(
    left,
    name ? `${name}-left` : builder.newName('KSTREAM-JOIN-LEFT-'),
    name !== undefined,
    keySerde,
    valueSerde,
  );
  const rightInput = joinInput(
    right,
    name ? `${name}-right` : builder.newName('KSTREAM-JOIN-RIGHT-'),
    name !== undefined,
    keySerde,
    otherValueSerde,
  );

  const retentionMs = windows.beforeMs + windows.afterMs + windows.graceMs + 1;
  const buffer = <T>(storeName: string, serde: Serde<T>) => {
    const b = WindowStores.windowStoreBuilder(storeName, keySerde, serde, {
      retentionMs,
      windowSizeMs: 0,
      retainDuplicates: true,
    });
    return joined && !joined.loggingEnabled ? b.withLoggingDisabled() : b;
  };
  const topology = builder.topology;
  const common = {
    thisStoreName: '',
    otherStoreName: '',
    outerStoreName: outerStore,
    graceMs: windows.graceMs,
    keySerde,
    operator,
  };
  topology.addProcessor(
    thisName,
    streamStreamJoinProcessor<K, V, VO, VR>({
      ...common,
      thisStoreName: thisStore,
      otherStoreName: otherStore,
      side: 'left',
      beforeMs: windows.beforeMs,
      afterMs: windows.afterMs,
      emitUnmatched: type !== 'inner',
      joiner,
      otherUnmatched: type === 'outer' ? (otherValue, key) => joiner(null as V, otherValue, key) : undefined,
      thisValueSerde: valueSerde,
      otherValueSerde,
    }),
    leftInput,
  );
  topology.addProcessor(
    otherName,
    streamStreamJoinProcessor<K, VO, V, VR>({
      ...common,
      thisStoreName: otherStore,
      otherStoreName: thisStore,
      side: 'right',
      // from the right side's view the window is mirrored
      beforeMs: windows.afterMs,
      afterMs: windows.beforeMs,
      emitUnmatched: type === 'outer',
      joiner: (rightValue, leftValue, key) => joiner(leftValue as V, rightValue, key),
      otherUnmatched: type !== 'inner' ? (leftValue, key) => joiner(leftValue, null, key) : undefined,
      thisValueSerde: otherValueSerde,
      otherValueSerde: valueSerde,
    }),
    rightInput,
  );
  topology.addStateStore(buffer(thisStore, valueSerde), thisName, otherName);
  topology.addStateStore(buffer(otherStore, otherValueSerde), thisName, otherName);
  if (outerStore !== undefined) {
    const shared = Stores.keyValueStoreBuilder(
      Stores.persistentKeyValueStore(outerStore),
      bytesSerde,
      bytesSerde,
    );
    if (joined && !joined.loggingEnabled) shared.withLoggingDisabled();
    topology.addStateStore(shared, thisName, otherName);
  }
  topology.addProcessor(mergeName, passThroughProcessor(), thisName, otherName);
  return new KStream<K, VR>(builder, mergeName, keySerde, undefined, false);
}

export function streamTableJoin<K, V, VT, VR>(
  stream: KStream<K, V>,
  table: KTable<K, VT>,
  type: 'inner' | 'left',
  joiner: (value: V, tableValue: VT | null, key: K) => VR,
  named: Named | undefined,
): KStream<K, VR> {
  const builder = stream.builder;
  if (table.builder !== builder)
    throw new TopologyError('cannot join a stream and a table of two different StreamsBuilders');
  if (!table.queryableStoreName)
    throw new TopologyError(
      `the table joined by "${stream.nodeName}" is not materialized; pass Materialized.as(...) where it is made`,
    );
  const name = named?.name ?? builder.newName('KSTREAM-JOIN-');
  const base = named !== undefined ? name : builder.newName('KSTREAM-JOIN-STREAM-');
  const input = joinInput(
    stream,
    base,
    named !== undefined,
    stream.keySerde ?? table.keySerde,
    stream.valueSerde,
  );
  builder.topology.addProcessor(
    name,
    streamTableJoinProcessor<K, V, VT, VR>({
      tableStoreName: table.queryableStoreName,
      type,
      joiner,
      operator: `${type} stream-table join "${name}"`,
    }),
    input,
  );
  builder.topology.connectProcessorAndStateStores(name, table.queryableStoreName);
  return new KStream<K, VR>(builder, name, stream.keySerde ?? table.keySerde, undefined, false);
}

export function streamGlobalTableJoin<K, V, GK, GV, VR>(
  stream: KStream<K, V>,
  table: GlobalKTable<GK, GV>,
  type: 'inner' | 'left',
  keySelector: (key: K, value: V) => GK,
  joiner: (value: V, tableValue: GV | null, key: K) => VR,
  named: Named | undefined,
): KStream<K, VR> {
  const builder = stream.builder;
  const name = named?.name ?? builder.newName('KSTREAM-JOIN-');
  // no repartition and no co-partitioning: every instance holds the whole global table
  builder.topology.addProcessor(
    name,
    streamTableJoinProcessor<K, V, GV, VR>({
      tableStoreName: table.queryableStoreName,
      type,
      joiner,
      keySelector,
      operator: `${type} stream-globalTable join "${name}"`,
    }),
    stream.nodeName,
  );
  return new KStream<K, VR>(builder, name, stream.keySerde, undefined, stream.repartitionRequired);
}

export function tableTableJoin<K, V, VO, VR>(
  left: KTable<K, V>,
  right: KTable<K, VO>,
  type: JoinType,
  joiner: (value: V | null, otherValue: VO | null, key: K) => VR,
  named: Named | undefined,
  materialized: Materialized<K, VR> | undefined,
): KTable<K, VR> {
  const builder: InternalStreamsBuilder = left.builder;
  if (right.builder !== builder)
    throw new TopologyError('cannot join tables of two different StreamsBuilders');
  for (const t of [left, right]) {
    if (!t.queryableStoreName)
      throw new TopologyError(
        `table "${t.nodeName}" of a ${type} table-table join is not materialized; pass Materialized.as(...) where it is made`,
      );
  }
  const base = named?.name;
  const thisName = base ? `${base}-join-this` : builder.newName('KTABLE-JOINTHIS-');
  const otherName = base ? `${base}-join-other` : builder.newName('KTABLE-JOINOTHER-');
  const mergeName = base ? `${base}-merge` : builder.newName('KTABLE-MERGE-');
  const topology = builder.topology;
  const operator = `${type} table-table join "${mergeName}"`;
  topology.addProcessor(
    thisName,
    tableTableJoinProcessor<K, V, VO, VR>({
      otherStoreName: right.queryableStoreName,
      type,
      side: 'left',
      joiner,
      operator,
    }),
    left.nodeName,
  );
  topology.addProcessor(
    otherName,
    tableTableJoinProcessor<K, VO, V, VR>({
      otherStoreName: left.queryableStoreName,
      type,
      side: 'right',
      joiner,
      operator,
    }),
    right.nodeName,
  );
  topology.connectProcessorAndStateStores(thisName, right.queryableStoreName);
  topology.connectProcessorAndStateStores(otherName, left.queryableStoreName);
  topology.addProcessor(mergeName, passThroughProcessor(), thisName, otherName);
  const keySerde = materialized?.keySerde ?? left.keySerde ?? right.keySerde;
  if (materialized === undefined) return new KTable<K, VR>(builder, mergeName, keySerde, undefined, '');
  const storeName = materialized.storeName ?? builder.newStoreName('KTABLE-MERGE-');
  const storeBuilder = builder.storeBuilder(
    storeName,
    materialized,
    keySerde,
    materialized.valueSerde,
    operator,
  );
  const tableName = base ? `${base}-materialize` : builder.newName('KTABLE-SOURCE-');
  topology.addProcessor(
    tableName,
    storeUpdateProcessor<K, VR | null, VR>({
      storeName,
      keySerde: keySerde!,
      step: (_k, value) => value,
      skipNullValues: false,
      coalesce: storeBuilder.cachingEnabled,
      operator,
    }),
    mergeName,
  );
  topology.addStateStore(storeBuilder, tableName);
  return new KTable<K, VR>(builder, tableName, keySerde, materialized.valueSerde, storeName);
}
