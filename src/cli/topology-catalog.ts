/**
 * Which topology a command means. `<topology>` is either
 *
 * - a pipeline topology by name: `embeddings`, `engagement`, `recommendations`
 *   (built from topologies/ with the topic names of `--topic-prefix`), or
 * - a module: a path to a .ts/.js file (`./my-app.ts`, optionally
 *   `./my-app.ts#exportName`) whose export (default: `default`, else
 *   `topology`) is a Topology, or a function returning one (maybe async).
 *   This is how an operator runs, describes, replays and resets any
 *   application built with src/streams, not only the CTR pipeline.
 *
 * Building a pipeline topology for `describe`, `store` or `reset` needs no
 * model: the model runner handed in is a placeholder that refuses to score
 * (those commands never process a record). `run` wires real models.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Topology } from '../streams/topology/index.ts';
import { CliError } from './errors.ts';

export const PIPELINE_TOPOLOGIES = ['embeddings', 'engagement', 'recommendations'] as const;
export type PipelineTopologyName = (typeof PIPELINE_TOPOLOGIES)[number];

/** The application id each pipeline topology runs under by default (deploy/ uses the same). */
export const DEFAULT_APPLICATION_IDS: Record<PipelineTopologyName, string> = {
  embeddings: 'ctr-embeddings',
  engagement: 'ctr-engagement',
  recommendations: 'ctr-recommendations',
};

export function isPipelineTopology(spec: string): spec is PipelineTopologyName {
  return (PIPELINE_TOPOLOGIES as readonly string[]).includes(spec);
}

/** True when `spec` names a module rather than a pipeline topology. */
export function isModuleSpec(spec: string): boolean {
  return /[/\\]/.test(spec) || /\.(m?[jt]s)(#.*)?$/.test(spec);
}

export interface ResolvedTopology {
  /** The name printed in messages: the pipeline name or the module spec. */
  readonly name: string;
  readonly topology: Topology;
  /** The application id to use when neither --application-id nor the config names one. */
  readonly defaultApplicationId: string | undefined;
}

function usage(spec: string, detail: string): CliError {
  return new CliError(
    'CTR_CLI_UNKNOWN_TOPOLOGY',
    `unknown topology "${spec}": ${detail} (use one of ${PIPELINE_TOPOLOGIES.join(', ')}, or a module path like ./my-app.ts)`,
  );
}

/** Loads a topology module (see the file comment). @throws CliError CTR_CLI_UNKNOWN_TOPOLOGY */
export async function loadTopologyModule(spec: string): Promise<ResolvedTopology> {
  const hash = spec.lastIndexOf('#');
  const file = hash > 0 ? spec.slice(0, hash) : spec;
  const exportName = hash > 0 ? spec.slice(hash + 1) : undefined;
  const path = isAbsolute(file) ? file : resolve(process.cwd(), file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(
      'CTR_CLI_UNKNOWN_TOPOLOGY',
      `cannot load topology module ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const name = exportName ?? ('default' in mod ? 'default' : 'topology');
  let value = mod[name];
  if (typeof value === 'function' && !isTopology(value)) value = await (value as () => unknown)();
  if (!isTopology(value))
    throw usage(spec, `export "${name}" of ${path} is not a Topology nor a function returning one`);
  const appId = mod.applicationId;
  return { name: spec, topology: value, defaultApplicationId: typeof appId === 'string' ? appId : undefined };
}

function isTopology(value: unknown): value is Topology {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Topology).describe === 'function' &&
    typeof (value as Topology).subtopologies === 'function' &&
    typeof (value as Topology).internalTopics === 'function'
  );
}

/**
 * The topology named by `spec`, built for inspection (describe, store, reset, diff).
 * @param topicPrefix pipeline topic prefix ('' = the plain names)
 * @throws CliError CTR_CLI_UNKNOWN_TOPOLOGY for a name that is neither a pipeline topology nor a loadable module
 */
export async function resolveTopology(spec: string, topicPrefix = ''): Promise<ResolvedTopology> {
  if (isPipelineTopology(spec)) {
    const { pipelineTopologyForInspection } = await import('./pipeline-topologies.ts');
    return {
      name: spec,
      topology: pipelineTopologyForInspection(spec, topicPrefix),
      defaultApplicationId: DEFAULT_APPLICATION_IDS[spec],
    };
  }
  if (isModuleSpec(spec)) return loadTopologyModule(spec);
  throw usage(spec, 'not a pipeline topology nor a module path');
}
