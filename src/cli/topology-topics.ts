/**
 * Which of a topology's source topics are inputs (reset and replay move
 * their offsets) and which are intermediate (written and read by the same
 * application), for `reset` and `replay`.
 */
import type { Topology } from '../streams/topology/index.ts';

/**
 * Intermediate topics (Kafka's reset tool's `--intermediate-topics`): user
 * topics the topology both writes (a sink) and reads (a source), e.g. the
 * pipeline's `context-activity`. Their records are outputs of earlier
 * processing, so a reset or replay starts them at their END: reprocessing
 * the inputs writes them again.
 */
export function intermediateTopicsOf(topology: Topology): string[] {
  const written = new Set<string>();
  const read = new Set<string>();
  for (const sub of topology.describe().subtopologies)
    for (const n of sub.nodes) {
      if (n.type === 'sink' && n.topic !== undefined && !topology.isInternalTopic(n.topic))
        written.add(n.topic);
      if (n.type === 'source') for (const t of n.topics ?? []) if (!topology.isInternalTopic(t)) read.add(t);
    }
  return [...read].filter((t) => written.has(t)).sort();
}

/** The input topics of a topology: sources that are not internal, intermediate or global. */
export function inputTopicsOf(topology: Topology, applicationId: string): string[] {
  const internal = new Set(topology.internalTopics(applicationId).map((t) => t.name));
  const globals = new Set(topology.globalSubtopologies().flatMap((g) => g.sourceTopics));
  const intermediate = new Set(intermediateTopicsOf(topology));
  const out = new Set<string>();
  for (const sub of topology.subtopologies())
    for (const t of topology.sourceTopics(sub.id, applicationId))
      if (!internal.has(t) && !globals.has(t) && !intermediate.has(t)) out.add(t);
  return [...out].sort();
}
