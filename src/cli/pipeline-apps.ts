/**
 * The CTR pipeline's applications as `ctr-streams run` starts them, one per
 * process as deploy/ runs them (`run embeddings`, `run engagement`,
 * `run recommendations`), with the models they need: the embedding towers
 * and the CTR model from the registry directory (worker threads that follow
 * the registry, so a new version is picked up without a restart), and for
 * recommendations the item-embedding table that follows the compacted
 * `item-embeddings` topic. Loaded lazily by the run command.
 */
import type { BackendChoice } from '../ml/index.ts';
import { ModelRegistry } from '../ml/index.ts';
import { createKafka } from '../kafka/index.ts';
import { followEmbeddings } from '../pipeline/global-tables.ts';
import { Pipeline } from '../pipeline/pipeline.ts';
import { startLookupServer, type LookupServer } from '../lookup/index.ts';
import type { StreamsConfig } from '../streams/config.ts';
import { KafkaStreams } from '../streams/runtime/index.ts';
import { schemaRegistryFromConfig } from '../streams/serde/index.ts';
import { embeddingsTopology } from '../../topologies/embeddings.ts';
import { engagementTopology } from '../../topologies/engagement.ts';
import { recommendationsTopology } from '../../topologies/recommendations.ts';
import { pipelineSerdes } from '../../topologies/events.ts';
import { PooledModelRunner, type ModelRunner } from '../../topologies/model-runner.ts';
import { topicNames } from '../../topologies/topics.ts';
import type { PipelineTopologyName } from './topology-catalog.ts';
import type { RunningApps } from './start-apps.ts';

export interface PipelineRunOptions {
  topicPrefix: string;
  registryDir: string;
  workers: number;
  backend?: BackendChoice;
  cycleIntervalMs?: number;
  k?: number;
  /** `run all` only: serve the lookup API (item embeddings, latest lists) on this port (0 = any free port). */
  lookupPort?: number;
  /** Interface of the lookup API. Default 0.0.0.0. */
  lookupHost?: string;
  /** Proxied at the lookup API's /metrics. */
  metricsUrl?: string;
}

/** Starts one pipeline application under `config` (its application.id, state.dir, ...). */
export async function startPipelineApp(
  name: PipelineTopologyName,
  config: StreamsConfig,
  o: PipelineRunOptions,
  bounds: { stopOffsets?: ReadonlyMap<string, bigint> } = {},
): Promise<RunningApps> {
  const stop = bounds.stopOffsets ? { stopOffsets: bounds.stopOffsets } : {};
  const topics = topicNames(o.topicPrefix);
  // schema.registry.url set: a server registry (other producers' ids resolve); else local ids
  const serdes = pipelineSerdes(schemaRegistryFromConfig(config));
  const kafka = createKafka({ bootstrapServers: config['bootstrap.servers'], clientId: config['client.id'] });
  await Pipeline.createTopics(kafka, topics);
  const closers: Array<() => Promise<void>> = [];
  let model: ModelRunner | undefined;
  const loadModel = async (): Promise<ModelRunner> => {
    model = await PooledModelRunner.start(new ModelRegistry(o.registryDir), {
      workers: o.workers,
      ...(o.backend ? { backend: o.backend } : {}),
    });
    closers.push(() => model!.close());
    return model;
  };
  try {
    let app: KafkaStreams;
    if (name === 'embeddings') {
      app = new KafkaStreams(embeddingsTopology({ topics, serdes, model: await loadModel() }), config, {
        kafka,
        ...stop,
      });
    } else if (name === 'engagement') {
      app = new KafkaStreams(engagementTopology({ topics, serdes }), config, { kafka, ...stop });
    } else {
      const m = await loadModel();
      const emb = followEmbeddings(kafka, topics.itemEmbeddings, serdes);
      await emb.follower.start();
      closers.push(() => emb.follower.close());
      await emb.follower.caughtUp();
      app = new KafkaStreams(
        recommendationsTopology({
          topics,
          serdes,
          model: m,
          embeddings: emb.table,
          ...(o.cycleIntervalMs ? { cycleIntervalMs: o.cycleIntervalMs } : {}),
          ...(o.k ? { k: o.k } : {}),
        }),
        config,
        { kafka, ...stop },
      );
    }
    closers.unshift(() => app.close());
    await app.start();
    return {
      apps: [app],
      error: () => app.error,
      close: async () => {
        for (const c of closers) await c().catch(() => {});
      },
    };
  } catch (error) {
    for (const c of closers) await c().catch(() => {});
    throw error;
  }
}

/** Starts the whole pipeline in one process: `<application.id>-embeddings`, `-engagement`, `-recommendations`. */
export async function startWholePipeline(config: StreamsConfig, o: PipelineRunOptions): Promise<RunningApps> {
  // every other setting applies to all three apps; each gets its own application.id
  const { 'application.id': prefix, ...shared } = config;
  const pipeline = await Pipeline.start({
    bootstrap: config['bootstrap.servers'].join(','),
    applicationId: prefix,
    streamsConfig: shared,
    topicPrefix: o.topicPrefix,
    stateDir: config['state.dir'],
    registryDir: o.registryDir,
    workers: o.workers,
    commitIntervalMs: config['commit.interval.ms'],
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.cycleIntervalMs ? { cycleIntervalMs: o.cycleIntervalMs } : {}),
    ...(o.k ? { k: o.k } : {}),
  });
  let lookup: LookupServer | undefined;
  try {
    if (o.lookupPort !== undefined) {
      lookup = await startLookupServer(
        {
          embeddings: pipeline.embeddings,
          recommendations: pipeline.latestLists,
          ...(o.metricsUrl ? { metricsUrl: o.metricsUrl } : {}),
        },
        o.lookupPort,
        o.lookupHost ?? '0.0.0.0',
      );
    }
  } catch (error) {
    await pipeline.close();
    throw error;
  }
  return {
    apps: Object.values(pipeline.apps),
    ...(lookup ? { lookupUrl: lookup.url } : {}),
    error: () => pipeline.error,
    close: async () => {
      await lookup?.close();
      await pipeline.close();
    },
  };
}
