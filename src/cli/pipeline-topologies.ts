/**
 * The CTR pipeline's topologies as the CLI builds them for inspection
 * (describe, store, reset, diff): real topologies with a model runner that
 * refuses to run, because those commands never process a record. Loaded
 * lazily so commands on other topologies do not pay for importing the
 * pipeline and the model code.
 */
import type { Topology } from '../streams/topology/index.ts';
import { embeddingsTopology } from '../../topologies/embeddings.ts';
import { engagementTopology } from '../../topologies/engagement.ts';
import { recommendationsTopology } from '../../topologies/recommendations.ts';
import { EmbeddingTable } from '../../topologies/embedding-table.ts';
import { pipelineSerdes } from '../../topologies/events.ts';
import type { ModelRunner } from '../../topologies/model-runner.ts';
import { topicNames } from '../../topologies/topics.ts';
import { CliError } from './errors.ts';
import type { PipelineTopologyName } from './topology-catalog.ts';

/** A ModelRunner for topologies that are described, never run. */
const inspectionModel: ModelRunner = {
  version: undefined,
  embeddingVersion: undefined,
  backend: 'none',
  snapshot: () => Promise.resolve(undefined),
  embed: () =>
    Promise.reject(
      new CliError('CTR_CLI_FAILED', 'this topology was built for inspection only: it has no model'),
    ),
  score: () =>
    Promise.reject(
      new CliError('CTR_CLI_FAILED', 'this topology was built for inspection only: it has no model'),
    ),
  close: () => Promise.resolve(),
};

export function pipelineTopologyForInspection(name: PipelineTopologyName, topicPrefix: string): Topology {
  const topics = topicNames(topicPrefix);
  const serdes = pipelineSerdes();
  switch (name) {
    case 'embeddings':
      return embeddingsTopology({ topics, serdes, model: inspectionModel });
    case 'engagement':
      return engagementTopology({ topics, serdes });
    case 'recommendations':
      return recommendationsTopology({
        topics,
        serdes,
        model: inspectionModel,
        embeddings: new EmbeddingTable(),
      });
  }
}
