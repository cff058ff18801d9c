/** Building topologies: public surface of src/streams/topology. */
export { Topology, type SourceOptions, type SubtopologyInfo } from './topology.ts';
export type {
  NodeDescription,
  NodeDescriptionUnion,
  ProcessorDescription,
  SinkDescription,
  SourceDescription,
  SubtopologyDescription,
  TopologyDescription,
} from './topology-description.ts';
export type { InternalTopicSpec } from './internal-topics.ts';
export * from './dsl/index.ts';
