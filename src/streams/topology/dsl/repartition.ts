/**
 * Repartitioning: after a key change, records of one key may sit in any
 * partition; a stateful step (aggregation, join) must first send them
 * through an internal topic keyed by the new key, so that each key lands in
 * exactly one task (Kafka Streams' repartition topics).
 *
 * filter (drop null keys) -> sink to `<base>-repartition` -> source from it.
 * The topic is internal: at run time it is `<application.id>-<base>-repartition`,
 * created with the partition count of the writing sub-topology's sources
 * (Topology.internalTopics). Shared by every DSL operator that regroups.
 */
import { TopologyError } from '../../errors.ts';
import type { Serde } from '../../serde/serde.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import { filterProcessor } from './stateless-processors.ts';

export interface RepartitionSpec<K, V> {
  builder: InternalStreamsBuilder;
  /** The node whose output is repartitioned. */
  parent: string;
  /** The topic is `<base>-repartition`; nodes `<base>-repartition-{filter,sink,source}` when `named`. */
  base: string;
  /** True when `base` came from the user (Grouped/Repartitioned name): nodes then take its name too. */
  named: boolean;
  keySerde: Serde<K> | undefined;
  valueSerde: Serde<V> | undefined;
  /** For the error message, e.g. `grouping`, `join`. */
  operator: string;
}

/**
 * Adds the repartition step and returns the name of its source node (where
 * the regrouped records continue).
 * @throws TopologyError when a serde is missing (the records must cross Kafka).
 */
export function addRepartition<K, V>(spec: RepartitionSpec<K, V>): string {
  const { builder, base, named } = spec;
  const topic = `${base}-repartition`;
  if (spec.keySerde === undefined || spec.valueSerde === undefined) {
    throw new TopologyError(
      `${spec.operator} after a key change needs a ${spec.keySerde === undefined ? 'key' : 'value'} serde for the repartition topic "${topic}": ` +
        "pass Grouped.with(keySerde, valueSerde) (or the operator's serdes)",
    );
  }
  const topology = builder.topology;
  const filterName = named ? `${base}-repartition-filter` : builder.newName('KSTREAM-FILTER-');
  const sinkName = named ? `${base}-repartition-sink` : builder.newName('KSTREAM-SINK-');
  const sourceName = named ? `${base}-repartition-source` : builder.newName('KSTREAM-SOURCE-');
  topology.markInternalTopic(topic);
  // a record without a key cannot be regrouped: drop it before it costs a round trip through Kafka
  topology.addProcessor(
    filterName,
    filterProcessor((key: unknown) => key !== null && key !== undefined, true),
    spec.parent,
  );
  topology.addSink(sinkName, topic, spec.keySerde, spec.valueSerde, filterName);
  topology.addSource(sourceName, topic, spec.keySerde, spec.valueSerde);
  return sourceName;
}
