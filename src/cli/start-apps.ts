/**
 * Starting what a `<topology>` argument names, for `run` and `replay`: a
 * pipeline application with its models, the whole pipeline (`all`), or a
 * topology module on a plain KafkaStreams.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { StreamsConfig } from '../streams/config.ts';
import type { KafkaStreams } from '../streams/runtime/index.ts';
import { positiveInt } from './commands/options.ts';
import { isPipelineTopology, resolveTopology } from './topology-catalog.ts';

export interface AppRunFlags {
  topicPrefix: string;
  registry: string;
  workers: number;
  backend?: string;
  cycleInterval?: number;
  top?: number;
  lookupPort?: number;
}

/** What a command drives: one or more apps and the resources they hold. */
export interface RunningApps {
  readonly apps: readonly KafkaStreams[];
  /** The lookup API's base URL when one is served (`run all --lookup-port`). */
  readonly lookupUrl?: string;
  /** The first fatal error of any app. */
  error(): Error | undefined;
  /** Closes the apps (final commit) and what they hold (models, followers). */
  close(): Promise<void>;
}

/** Adds the options that building the pipeline's applications needs. */
export function addAppRunOptions(command: Command): Command {
  return command
    .option('--topic-prefix <prefix>', 'pipeline topic name prefix', '')
    .option(
      '--registry <dir>',
      'model registry directory (embeddings, recommendations, all)',
      process.env.CTR_MODEL_REGISTRY ?? '/var/lib/ctr-streams/models',
    )
    .option(
      '--workers <n>',
      'scoring worker threads',
      positiveInt('--workers'),
      Math.max(1, Math.min(2, availableParallelism())),
    )
    .option('--backend <name>', 'tensor backend: auto, tensorflow, wasm, cpu', process.env.CTR_ML_BACKEND)
    .option(
      '--cycle-interval <ms>',
      'list-building cycle interval (recommendations)',
      positiveInt('--cycle-interval'),
    )
    .option('-k, --top <k>', 'items per list (recommendations)', positiveInt('--top'))
    .addOption(
      new Option(
        '--lookup-port <port>',
        'all: serve the lookup API (GET /items/{id}/embedding, /contexts/{id}/recommendations) on this port (0 = any free port)',
      ).argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0)
          throw new InvalidArgumentError(`--lookup-port must be a port number, got "${v}"`);
        return n;
      }),
    );
}

/** The application id to use when no setting names one. */
export async function fallbackApplicationId(spec: string, topicPrefix: string): Promise<string | undefined> {
  if (spec === 'all') return 'ctr';
  if (isPipelineTopology(spec)) return `ctr-${spec}`;
  return (await resolveTopology(spec, topicPrefix)).defaultApplicationId;
}

/** Starts what `spec` names under `config`; the caller owns (and closes) the result. */
export async function startApps(
  spec: string,
  config: StreamsConfig,
  o: AppRunFlags,
  bounds: { stopOffsets?: ReadonlyMap<string, bigint>; metricsUrl?: string } = {},
): Promise<RunningApps> {
  const pipelineOptions = {
    topicPrefix: o.topicPrefix,
    registryDir: o.registry,
    workers: o.workers,
    ...(o.backend ? { backend: o.backend as never } : {}),
    ...(o.cycleInterval ? { cycleIntervalMs: o.cycleInterval } : {}),
    ...(o.top ? { k: o.top } : {}),
    ...(o.lookupPort !== undefined ? { lookupPort: o.lookupPort } : {}),
    ...(bounds.metricsUrl ? { metricsUrl: bounds.metricsUrl } : {}),
  };
  if (spec === 'all') {
    const { startWholePipeline } = await import('./pipeline-apps.ts');
    return startWholePipeline(config, pipelineOptions);
  }
  if (isPipelineTopology(spec)) {
    const { startPipelineApp } = await import('./pipeline-apps.ts');
    return startPipelineApp(
      spec,
      config,
      pipelineOptions,
      bounds.stopOffsets ? { stopOffsets: bounds.stopOffsets } : {},
    );
  }
  const { topology } = await resolveTopology(spec, o.topicPrefix);
  const { KafkaStreams } = await import('../streams/runtime/index.ts');
  const app = new KafkaStreams(
    topology,
    config,
    bounds.stopOffsets ? { stopOffsets: bounds.stopOffsets } : {},
  );
  try {
    await app.start();
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
  return { apps: [app], error: () => app.error, close: () => app.close() };
}
