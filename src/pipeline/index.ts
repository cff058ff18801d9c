/**
 * Wiring of the CTR pipeline around the topologies: the whole pipeline in
 * one process, the event producer, the global tables, the first model.
 */
export { Pipeline, type PipelineOptions } from './pipeline.ts';
export {
  EventProducer,
  LIVE_WORLD_START_MS,
  type EventProducerOptions,
  type ProducedCounts,
} from './event-producer.ts';
export { TopicFollower, type TopicFollowerOptions } from './topic-follower.ts';
export { followEmbeddings, followRecommendations } from './global-tables.ts';
export { trainInitialModel, type InitialModelOptions, type InitialModelResult } from './initial-model.ts';
export { QualityTracker } from './quality-tracker.ts';
