/**
 * ctr-streams' engine: a Kafka Streams-style stream processor whose
 * processors receive micro-batches. This is its public API; import from here,
 * not from files inside the folders (their internals may change).
 *
 * The groups, in the order a user meets them:
 * - topology: `StreamsBuilder` (the DSL) and `Topology` (the Processor API);
 * - processor: `Processor`, `ProcessorContext`, `StreamRecord`, punctuation;
 * - state: `Stores` and the `KeyValueStore` interface;
 * - serde: string/json/bytes/float32-vector/Avro serdes, schema registries;
 * - errors-handling: deserialization / processing / production handlers, DLQ;
 * - runtime: `KafkaStreams`, the running application;
 * - config: the settings table (Kafka Streams names), loading and validation;
 * - testing: `TopologyTestDriver`, no broker needed.
 */
export * from './errors.ts';
export * from './topology/index.ts';
export * from './processor/index.ts';
export * from './state/index.ts';
export * from './serde/index.ts';
export * from './errors-handling/index.ts';
export * from './runtime/index.ts';
export * from './config.ts';
export * from './config-error.ts';
export * from './testing/index.ts';
