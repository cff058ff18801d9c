/**
 * Wiring of the whole CTR pipeline in one process: topics, the model runner
 * (worker threads following the registry), the global tables, and the three
 * topologies, each its own KafkaStreams application
 * (`<app>-embeddings`, `<app>-engagement`, `<app>-recommendations`) so they
 * scale and restart independently. Several processes with the same
 * settings share the work through their consumer groups.
 */
import { join } from 'node:path';
import { createKafka, KafkaAdmin, type Kafka, type TopicSpec } from '../kafka/index.ts';
import type { BackendChoice } from '../ml/index.ts';
import { ModelRegistry } from '../ml/index.ts';
import { InteractiveQueries, KafkaStreams } from '../streams/runtime/index.ts';
import type { KeyLookup } from '../lookup/index.ts';
import type { StreamsConfigInput } from '../streams/config.ts';
import { createLogger } from '../telemetry/index.ts';
import { embeddingsTopology } from '../../topologies/embeddings.ts';
import { engagementTopology } from '../../topologies/engagement.ts';
import type { EmbeddingTable } from '../../topologies/embedding-table.ts';
import { pipelineSerdes, type PipelineSerdes, type RecommendationEvent } from '../../topologies/events.ts';
import type { CycleResult } from '../../topologies/list-builder.ts';
import { PooledModelRunner, type ModelRunner } from '../../topologies/model-runner.ts';
import { PipelineStats } from '../../topologies/pipeline-stats.ts';
import { recommendationsTopology, RECOMMENDATION_STORES } from '../../topologies/recommendations.ts';
import type { CandidateSet } from '../../topologies/engagement.ts';
import {
  topicNames,
  topicSpecs,
  type PartitionCounts,
  type PipelineTopics,
} from '../../topologies/topics.ts';
import { followEmbeddings, followRecommendations } from './global-tables.ts';
import type { TopicFollower } from './topic-follower.ts';

const log = createLogger('pipeline');

/** createTopics, retried with backoff: a fresh topic's leader election can outlast one call on a loaded broker. */
async function createWithRetry(kafka: Kafka, specs: TopicSpec[], attempts = 6): Promise<void> {
  if (specs.length === 0) return;
  for (let i = 1; ; i++) {
    const admin = new KafkaAdmin(kafka);
    try {
      await admin.connect();
      await admin.createTopics(specs);
      return;
    } catch (err) {
      if (i >= attempts) throw err;
      log.warn({ attempt: i, err: String(err) }, 'creating topics failed; retrying');
      await new Promise((r) => setTimeout(r, 500 * i));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

export interface PipelineOptions {
  /** `bootstrap.servers`. */
  bootstrap: string;
  /** Application id prefix. Default `ctr`. */
  applicationId?: string;
  /** Topic name prefix ('' = the plain names). Default ''. */
  topicPrefix?: string;
  /** `state.dir` (each app keeps its stores under it). */
  stateDir: string;
  /** Model registry directory (must hold a version). */
  registryDir: string;
  partitions?: Partial<PartitionCounts>;
  /** List-building cycle interval, ms. Default 300000. */
  cycleIntervalMs?: number;
  /** Items per list. Default 10. */
  k?: number;
  /** Candidates kept per context. Default 500. */
  maxCandidates?: number;
  /** Click join window, ms. Default 600000. */
  joinWindowMs?: number;
  /** `commit.interval.ms` of the three apps. Default 30000. */
  commitIntervalMs?: number;
  /** Scoring worker threads. Default 2. */
  workers?: number;
  backend?: BackendChoice;
  /** A model runner to use instead of the pooled one (tests). */
  model?: ModelRunner;
  /**
   * `host:port` where this instance's lookup API answers (`application.server`
   * of the recommendations app), so other instances can redirect candidate
   * queries here. Default: none (queries for keys held elsewhere answer `unknown`).
   */
  applicationServer?: string;
  /** Extra settings for all three apps. */
  streamsConfig?: StreamsConfigInput;
  stats?: PipelineStats;
  onCycle?: (result: CycleResult, candidates: ReadonlyMap<string, CandidateSet>, taskId: string) => void;
}

export class Pipeline {
  readonly stats: PipelineStats;
  readonly topics: PipelineTopics;
  readonly serdes: PipelineSerdes;
  readonly kafka: Kafka;
  readonly model: ModelRunner;
  readonly embeddings: EmbeddingTable;
  /** The latest list of every context (from the recommendations topic). */
  readonly latestLists: Map<string, RecommendationEvent>;
  readonly apps: { embeddings: KafkaStreams; engagement: KafkaStreams; recommendations: KafkaStreams };
  private readonly followers: TopicFollower[];
  private readonly queries: InteractiveQueries;
  private readonly ownsModel: boolean;
  private closing: Promise<void> | undefined;

  private constructor(init: {
    stats: PipelineStats;
    topics: PipelineTopics;
    serdes: PipelineSerdes;
    kafka: Kafka;
    model: ModelRunner;
    ownsModel: boolean;
    embeddings: EmbeddingTable;
    latestLists: Map<string, RecommendationEvent>;
    apps: Pipeline['apps'];
    followers: TopicFollower[];
    queries: InteractiveQueries;
  }) {
    this.queries = init.queries;
    this.stats = init.stats;
    this.topics = init.topics;
    this.serdes = init.serdes;
    this.kafka = init.kafka;
    this.model = init.model;
    this.ownsModel = init.ownsModel;
    this.embeddings = init.embeddings;
    this.latestLists = init.latestLists;
    this.apps = init.apps;
    this.followers = init.followers;
  }

  /** Creates the pipeline's topics (existing ones are kept). */
  static async createTopics(
    kafka: Kafka,
    topics: PipelineTopics,
    partitions?: Partial<PartitionCounts>,
  ): Promise<void> {
    await createWithRetry(kafka, topicSpecs(topics, partitions));
  }

  /**
   * Creates topics, starts the model runner and the global tables, then the three apps.
   * @throws RegistryError when the registry holds no model; StreamsError / KafkaError when an app cannot start.
   */
  static async start(o: PipelineOptions): Promise<Pipeline> {
    const topics = topicNames(o.topicPrefix ?? '');
    const serdes = pipelineSerdes();
    const kafka = createKafka({
      bootstrapServers: o.bootstrap,
      clientId: `${o.applicationId ?? 'ctr'}-pipeline`,
    });
    const stats = o.stats ?? new PipelineStats();
    await Pipeline.createTopics(kafka, topics, o.partitions);
    const ownsModel = o.model === undefined;
    const model =
      o.model ??
      (await PooledModelRunner.start(new ModelRegistry(o.registryDir), {
        workers: o.workers ?? 2,
        ...(o.backend ? { backend: o.backend } : {}),
      }));
    const emb = followEmbeddings(kafka, topics.itemEmbeddings, serdes);
    const recs = followRecommendations(kafka, topics.recommendations, serdes);
    await Promise.all([emb.follower.start(), recs.follower.start()]);
    await emb.follower.caughtUp();
    log.info({ items: emb.table.size }, 'item-embedding table loaded');
    const app = o.applicationId ?? 'ctr';
    const config = (name: string): StreamsConfigInput => ({
      'application.id': `${app}-${name}`,
      'bootstrap.servers': o.bootstrap,
      'state.dir': join(o.stateDir),
      'commit.interval.ms': o.commitIntervalMs ?? 30_000,
      ...o.streamsConfig,
    });
    const recommendations = recommendationsTopology({
      topics,
      serdes,
      model,
      embeddings: emb.table,
      stats,
      ...(o.cycleIntervalMs ? { cycleIntervalMs: o.cycleIntervalMs } : {}),
      ...(o.k ? { k: o.k } : {}),
      ...(o.onCycle ? { onCycle: o.onCycle } : {}),
    });
    const apps = {
      embeddings: new KafkaStreams(
        embeddingsTopology({ topics, serdes, model, stats }),
        config('embeddings'),
        { kafka },
      ),
      engagement: new KafkaStreams(
        engagementTopology({
          topics,
          serdes,
          stats,
          ...(o.maxCandidates ? { maxCandidates: o.maxCandidates } : {}),
          ...(o.joinWindowMs ? { joinWindowMs: o.joinWindowMs } : {}),
        }),
        config('engagement'),
        { kafka },
      ),
      recommendations: new KafkaStreams(
        recommendations,
        {
          ...config('recommendations'),
          ...(o.applicationServer ? { 'application.server': o.applicationServer } : {}),
        },
        { kafka },
      ),
    };
    // the apps' changelog topics, created here with retries: a busy broker may not have elected
    // the leaders of a fresh topic within one createTopics call, and three apps starting at once make it busier
    const counts = new Map(topicSpecs(topics, o.partitions).map((t) => [t.name, t.partitions]));
    for (const [name, topology] of [
      ['embeddings', embeddingsTopology({ topics, serdes, model })],
      ['engagement', engagementTopology({ topics, serdes })],
      ['recommendations', recommendationsTopology({ topics, serdes, model, embeddings: emb.table })],
    ] as const) {
      const internal = topology.internalTopics(`${app}-${name}`).map((t) => ({
        name: t.name,
        partitions: Math.max(1, ...t.partitionsFrom.map((f) => counts.get(f) ?? 1)),
        compacted: t.kind === 'changelog',
        configs: { ...t.config },
      }));
      await createWithRetry(kafka, internal);
    }
    const pipeline = new Pipeline({
      stats,
      topics,
      serdes,
      kafka,
      model,
      ownsModel,
      embeddings: emb.table,
      latestLists: recs.table,
      apps,
      followers: [emb.follower, recs.follower],
      queries: new InteractiveQueries(apps.recommendations, recommendations, { kafka }),
    });
    try {
      for (const a of Object.values(apps)) await a.start();
    } catch (err) {
      await pipeline.close();
      throw err;
    }
    return pipeline;
  }

  /**
   * Where a context's candidate set is answered (interactive queries over the
   * recommendations app's partitioned `candidates` store): here with its
   * value, on another instance, or unknown while the group rebalances.
   */
  async candidates(contextId: string): Promise<KeyLookup<CandidateSet>> {
    try {
      const where = await this.queries.queryMetadataForKey(
        RECOMMENDATION_STORES.candidates,
        contextId,
        this.serdes.key,
      );
      if (where.local) {
        const value = await this.queries
          .keyValueStore<string, CandidateSet>(RECOMMENDATION_STORES.candidates, this.serdes.key)
          .get(contextId);
        return { kind: 'local', value };
      }
      if (where.activeHost) return { kind: 'remote', host: where.activeHost };
      return {
        kind: 'unknown',
        reason: `partition ${where.partition} has no announced owner (rebalancing?)`,
      };
    } catch (err) {
      return { kind: 'unknown', reason: String((err as Error).message ?? err) };
    }
  }

  /** The first fatal error of any app, if one failed. */
  get error(): Error | undefined {
    return this.apps.embeddings.error ?? this.apps.engagement.error ?? this.apps.recommendations.error;
  }

  /** Closes the apps (final commit), the global tables and the model workers. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const results = await Promise.allSettled(Object.values(this.apps).map((a) => a.close()));
      await Promise.allSettled(this.followers.map((f) => f.close()));
      if (this.ownsModel) await this.model.close();
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
    })();
    return this.closing;
  }
}
