/**
 * The backfill of item embeddings to a model version (docs/operations.md,
 * "Model rollout via backfill"). The embeddings application re-embeds on
 * its own every catalogue item whose vector is of another version, as soon
 * as the registry's latest version changes (topologies/embeddings.ts, a
 * chunk per punctuation so live records keep flowing). The command
 * therefore:
 *
 * 1. promotes the version in the model registry (unless it already is the
 *    latest), which every running embeddings instance picks up;
 * 2. follows the compacted `item-embeddings` topic from its start and
 *    reports how many items carry the version, until all do.
 *
 * "All items" = every item with an embedding of any version on the topic
 * (every catalogue item gets one when it is created), so the count is exact
 * once the topic is read to its end.
 */
import type { Kafka } from '../kafka/index.ts';
import { embeddingVersionOf, ModelRegistry } from '../ml/index.ts';
import { TopicFollower } from '../pipeline/topic-follower.ts';
import { pipelineSerdes } from '../../topologies/events.ts';
import { CliError } from './errors.ts';

export interface BackfillProgress {
  /** Items whose latest embedding is of the target version. */
  done: number;
  /** Items with an embedding of any version. */
  total: number;
  /** The embedding version the items must carry: the version's own, or its tower ancestor's. */
  target: string;
  /** Items per version, for the log. */
  byVersion: ReadonlyMap<string, number>;
}

export interface BackfillOptions {
  kafka: Kafka;
  registryDir: string;
  version: string;
  /** The `item-embeddings` topic. */
  topic: string;
  /** Promote the version first (default true). */
  promote?: boolean;
  /** Called about every `intervalMs` with the progress. */
  onProgress?: (p: BackfillProgress) => void;
  intervalMs?: number;
  /** Give up after this long, ms. Default 1 hour. */
  timeoutMs?: number;
}

/**
 * Promotes `version` and waits until every item's embedding is of its
 * embedding version (itself, or the ancestor whose towers it shares).
 * @throws CliError CTR_CLI_USAGE for an unknown version; CTR_CLI_FAILED on timeout (with the counts)
 */
export async function backfillEmbeddings(o: BackfillOptions): Promise<BackfillProgress> {
  const registry = new ModelRegistry(o.registryDir);
  const versions = await registry.list();
  if (!versions.includes(o.version))
    throw new CliError(
      'CTR_CLI_USAGE',
      `model version "${o.version}" is not in the registry ${o.registryDir} (versions: ${versions.join(', ') || 'none'})`,
    );
  if ((o.promote ?? true) && (await registry.latest()) !== o.version) await registry.promote(o.version);
  // vectors carry the embedding version: a version trained with frozen towers shares its parent's,
  // so its backfill is done as soon as the parent's is
  const target = embeddingVersionOf(await registry.info(o.version));

  const serde = pipelineSerdes().itemEmbedding;
  const latest = new Map<string, string>();
  const follower = new TopicFollower(
    o.kafka,
    o.topic,
    (records) => {
      for (const r of records) {
        if (r.key === null) continue;
        const id = r.key.toString();
        if (r.value === null) {
          latest.delete(id);
          continue;
        }
        try {
          const e = serde.deserialize(r.topic, r.value);
          if (e) latest.set(id, e.modelVersion);
        } catch {
          // an undecodable record is not an embedding of any version: it does not count
        }
      }
    },
    { groupPrefix: 'ctr-backfill' },
  );
  const progress = (): BackfillProgress => {
    const byVersion = new Map<string, number>();
    for (const v of latest.values()) byVersion.set(v, (byVersion.get(v) ?? 0) + 1);
    return { done: byVersion.get(target) ?? 0, total: latest.size, target, byVersion };
  };
  await follower.start();
  try {
    await follower.caughtUp();
    const deadline = Date.now() + (o.timeoutMs ?? 3_600_000);
    for (;;) {
      const p = progress();
      o.onProgress?.(p);
      if (p.total > 0 && p.done === p.total) return p;
      if (Date.now() > deadline)
        throw new CliError(
          'CTR_CLI_FAILED',
          `backfill to "${o.version}" not done: ${p.done}/${p.total} items carry its embedding version ${target} (is an embeddings application running?)`,
        );
      await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
    }
  } finally {
    await follower.close();
  }
}
