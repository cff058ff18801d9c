/**
 * The compiled graph of one sub-topology: what a StreamTask instantiates
 * (fresh processors and stores) for each partition. Produced by
 * Topology (src/streams/topology) from its builder state; Kafka-agnostic.
 */
import type { Serde } from '../serde/serde.ts';
import type { StateStore, StoreBuilder } from '../state/state-store.ts';
import type { StreamPartitioner } from './partitioner.ts';
import type { ProcessorSupplier } from './processor.ts';
import type { Headers } from './record.ts';

/**
 * Picks a record's timestamp at the source (Kafka Streams' TimestampExtractor).
 * @param record the deserialized record, with the Kafka timestamp in `timestamp`.
 * @param partitionTimeMs the largest timestamp read so far from this partition, -1 before the first.
 * @returns ms since the epoch; a negative value drops the record (logged and counted), as Kafka Streams does.
 */
export type TimestampExtractor = (
  record: { key: unknown; value: unknown; timestamp: number; headers: Headers; topic: string },
  partitionTimeMs: number,
) => number;

/**
 * Chooses a sink's topic per record (Kafka Streams' TopicNameExtractor).
 * The topic must exist; the sink never creates it.
 */
export type TopicNameExtractor<K = unknown, V = unknown> = (
  key: K,
  value: V,
  record: { timestamp: number; headers: Headers },
) => string;

export interface SourceNodeDef {
  readonly kind: 'source';
  readonly name: string;
  /** Fixed topics, or undefined when `pattern` subscribes. */
  readonly topics: readonly string[] | undefined;
  readonly pattern: RegExp | undefined;
  /** undefined = keys stay raw Buffers. */
  readonly keySerde: Serde<any> | undefined;
  readonly valueSerde: Serde<any> | undefined;
  readonly timestampExtractor: TimestampExtractor | undefined;
  readonly children: readonly string[];
}

export interface ProcessorNodeDef {
  readonly kind: 'processor';
  readonly name: string;
  readonly supplier: ProcessorSupplier<any, any, any, any>;
  /** Names of the stores this processor may access. */
  readonly stores: readonly string[];
  readonly children: readonly string[];
}

export interface SinkNodeDef {
  readonly kind: 'sink';
  readonly name: string;
  readonly topic: string | TopicNameExtractor<any, any>;
  /** undefined = the key must already be a Buffer (or null). */
  readonly keySerde: Serde<any> | undefined;
  readonly valueSerde: Serde<any> | undefined;
  readonly partitioner: StreamPartitioner<any, any> | undefined;
}

export type NodeDef = SourceNodeDef | ProcessorNodeDef | SinkNodeDef;

/** One sub-topology, ready to be instantiated per partition by a StreamTask. */
export interface ProcessorTopology {
  /** The sub-topology id: its index in Topology.describe(). */
  readonly id: number;
  /** Every node, in the order they were added (parents before children). */
  readonly nodes: ReadonlyMap<string, NodeDef>;
  /** The store builders of this sub-topology's stores, by store name. */
  readonly storeBuilders: ReadonlyMap<string, StoreBuilder<StateStore>>;
}
