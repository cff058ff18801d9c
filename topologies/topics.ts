/**
 * The pipeline's topics: names, partition counts and configs, in one place.
 * Topics that are joined by key must have the same partition count
 * (co-partitioning): item-created + embedding-requests (by item id),
 * impressions + clicks (by impression id), context-activity +
 * context-candidates + recommendations (by context id).
 */
import type { TopicSpec } from '../src/kafka/index.ts';

export interface PipelineTopics {
  itemCreated: string;
  embeddingRequests: string;
  itemEmbeddings: string;
  impressions: string;
  clicks: string;
  trainingExamples: string;
  /** Internal: shown items per context, repartitioned by context id (engagement -> engagement). */
  contextActivity: string;
  /** Internal: impressions and clicks per item, repartitioned by item id (engagement -> engagement). */
  itemActivity: string;
  /** Compacted: the candidate set of each context (engagement -> recommendations). */
  contextCandidates: string;
  recommendations: string;
}

/**
 * Topic names, each with an optional prefix (tests give every run its own
 * topics: `topicNames('t-3f2a')` -> `t-3f2a-item-created`, ...).
 */
export function topicNames(prefix = ''): PipelineTopics {
  const p = prefix === '' ? '' : `${prefix}-`;
  return {
    itemCreated: `${p}item-created`,
    embeddingRequests: `${p}embedding-requests`,
    itemEmbeddings: `${p}item-embeddings`,
    impressions: `${p}impressions`,
    clicks: `${p}clicks`,
    trainingExamples: `${p}training-examples`,
    contextActivity: `${p}context-activity`,
    itemActivity: `${p}item-activity`,
    contextCandidates: `${p}context-candidates`,
    recommendations: `${p}recommendations`,
  };
}

/** Partition counts per co-partitioned group. */
export interface PartitionCounts {
  /** item-created, embedding-requests, item-embeddings. Default 4. */
  items: number;
  /** impressions, clicks, training-examples. Default 4. */
  events: number;
  /** context-activity, context-candidates, recommendations. Default 4. */
  contexts: number;
}

export const DEFAULT_PARTITIONS: PartitionCounts = { items: 4, events: 4, contexts: 4 };

/** Every topic the pipeline needs, as specs for KafkaAdmin.createTopics (idempotent there). */
export function topicSpecs(
  t: PipelineTopics,
  partitions: Partial<PartitionCounts> = {},
  replicationFactor = 1,
): TopicSpec[] {
  const p = { ...DEFAULT_PARTITIONS, ...partitions };
  const spec = (name: string, n: number, compacted = false): TopicSpec => ({
    name,
    partitions: n,
    replicationFactor,
    compacted,
  });
  return [
    spec(t.itemCreated, p.items, true),
    spec(t.embeddingRequests, p.items),
    spec(t.itemEmbeddings, p.items, true),
    spec(t.impressions, p.events),
    spec(t.clicks, p.events),
    spec(t.trainingExamples, p.events),
    spec(t.contextActivity, p.contexts),
    spec(t.itemActivity, p.items),
    spec(t.contextCandidates, p.contexts, true),
    spec(t.recommendations, p.contexts, true),
  ];
}
