/**
 * The CTR pipeline's topologies (built with src/streams, src/ml and
 * src/telemetry): public surface of topologies/.
 */
export {
  embeddingsTopology,
  itemContentOf,
  EMBEDDING_STORES,
  type EmbeddingsOptions,
  type BackfillState,
} from './embeddings.ts';
export {
  engagementTopology,
  ENGAGEMENT_STORES,
  type EngagementOptions,
  type Candidate,
  type CandidateSet,
  type ContextActivity,
  type ItemActivity,
  type Counts,
} from './engagement.ts';
export {
  recommendationsTopology,
  RECOMMENDATION_STORES,
  type RecommendationsOptions,
} from './recommendations.ts';
export {
  ListBuilder,
  topK,
  listContextValues,
  type ListBuilderOptions,
  type ListContextInput,
  type BuiltList,
  type ScoredItem,
  type CycleResult,
  type CycleTimings,
} from './list-builder.ts';
export { EmbeddingTable, type EmbeddingEntry, type EmbeddingLookup } from './embedding-table.ts';
export {
  InProcessModelRunner,
  PooledModelRunner,
  type ModelRunner,
  type ModelSnapshot,
  type PooledModelRunnerOptions,
} from './model-runner.ts';
export { PipelineStats, BoundedSample } from './pipeline-stats.ts';
export {
  topicNames,
  topicSpecs,
  DEFAULT_PARTITIONS,
  type PipelineTopics,
  type PartitionCounts,
} from './topics.ts';
export {
  pipelineSerdes,
  vectorOf,
  vectorBytes,
  type PipelineSerdes,
  type ItemCreatedEvent,
  type ImpressionEvent,
  type ClickEvent,
  type ItemEmbeddingEvent,
  type EmbeddingRequestEvent,
  type EmbeddingRequestReason,
  type RecommendationEvent,
  type TrainingExampleEvent,
} from './events.ts';
export { avroStoreSerde } from './store-serdes.ts';
