/**
 * The global tables one pipeline process keeps: every item's embedding (for
 * scoring) and every context's latest list (for the lookup API), each
 * filled by a TopicFollower over its compacted topic.
 */
import type { Kafka } from '../kafka/index.ts';
import { createLogger } from '../telemetry/index.ts';
import { EmbeddingTable } from '../../topologies/embedding-table.ts';
import type { ItemEmbeddingEvent, PipelineSerdes, RecommendationEvent } from '../../topologies/events.ts';
import { TopicFollower } from './topic-follower.ts';

const log = createLogger('global-tables');

/** The item-embedding table over `item-embeddings`. */
export function followEmbeddings(
  kafka: Kafka,
  topic: string,
  serdes: PipelineSerdes,
  table = new EmbeddingTable(),
): { table: EmbeddingTable; follower: TopicFollower } {
  const follower = new TopicFollower(kafka, topic, (records) => {
    for (const r of records) {
      if (r.key === null) continue;
      try {
        table.apply(
          r.key.toString('utf8'),
          serdes.itemEmbedding.deserialize(topic, r.value) as ItemEmbeddingEvent | null,
        );
      } catch (err) {
        log.warn(
          { topic, partition: r.partition, offset: r.offset, err: String(err) },
          'unreadable item-embeddings record skipped',
        );
      }
    }
  });
  return { table, follower };
}

/** The latest list per context over `recommendations`. */
export function followRecommendations(
  kafka: Kafka,
  topic: string,
  serdes: PipelineSerdes,
  table = new Map<string, RecommendationEvent>(),
): { table: Map<string, RecommendationEvent>; follower: TopicFollower } {
  const follower = new TopicFollower(kafka, topic, (records) => {
    for (const r of records) {
      if (r.key === null) continue;
      try {
        const v = serdes.recommendation.deserialize(topic, r.value);
        if (v === null) table.delete(r.key.toString('utf8'));
        else {
          const held = table.get(v.contextId);
          if (!held || held.generatedAt <= v.generatedAt) table.set(v.contextId, v);
        }
      } catch (err) {
        log.warn(
          { topic, partition: r.partition, offset: r.offset, err: String(err) },
          'unreadable recommendations record skipped',
        );
      }
    }
  });
  return { table, follower };
}
