/**
 * The application reset (Kafka's `kafka-streams-application-reset.sh`, plus
 * the local state that Kafka Streams' `KafkaStreams#cleanUp` deletes):
 *
 * 1. refuse while the consumer group `<application.id>` has members: a
 *    reset under a running instance would race it;
 * 2. delete the internal topics: every `<application.id>-*-changelog` and
 *    `<application.id>-*-repartition` on the cluster (also those of stores or
 *    operators that a newer topology version no longer has), plus those the
 *    topology declares; the dead-letter topic `<application.id>-dlq` is kept
 *    (it is the record of bad input) unless asked;
 * 3. delete the group (all its committed offsets, internal topics' included,
 *    so a re-created internal topic is never read from a stale offset), then
 *    commit the input topics' new start: the earliest offsets, or the first
 *    offset at or after a time;
 * 4. delete `<state.dir>/<application.id>` (all tasks' stores and checkpoints).
 *
 * A dry run computes the same plan and changes nothing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaAdmin, type Kafka } from '../kafka/index.ts';
import { KafkaStreams } from '../streams/runtime/index.ts';
import type { Topology } from '../streams/topology/index.ts';
import { CliError } from './errors.ts';
import { inputTopicsOf, intermediateTopicsOf } from './topology-topics.ts';

export interface ResetOptions {
  kafka: Kafka;
  applicationId: string;
  /** The application's topology: its source topics are the input topics, its internal topics are deleted too. */
  topology?: Topology;
  /** More input topics (Kafka's --input-topics), e.g. when no topology is given. */
  inputTopics?: readonly string[];
  /** `state.dir` whose `<application.id>` directory is deleted; undefined = leave local state alone. */
  stateDir?: string;
  /** Start the input topics at the first offset at or after this time (ms since the epoch); default earliest. */
  toTimestampMs?: number;
  /** Delete `<application.id>-dlq` too. Default false. */
  deleteDeadLetterTopic?: boolean;
  dryRun?: boolean;
  /** Told about each step as it is done (or planned, in a dry run). */
  onStep?: (line: string) => void;
}

export interface ResetPlan {
  readonly applicationId: string;
  readonly internalTopics: readonly string[];
  readonly inputOffsets: ReadonlyArray<{ topic: string; partition: number; offset: string }>;
  readonly groupExisted: boolean;
  /** The local state directory deleted, or undefined when there was none (or no state dir given). */
  readonly stateDirectory: string | undefined;
  readonly dryRun: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Names on the cluster that are internal topics of `applicationId`. */
export function internalTopicsOf(
  applicationId: string,
  topics: readonly string[],
  includeDlq = false,
): string[] {
  const pattern = new RegExp(`^${escapeRegExp(applicationId)}-.+-(changelog|repartition)$`);
  return topics.filter((t) => pattern.test(t) || (includeDlq && t === `${applicationId}-dlq`)).sort();
}

/**
 * Resets an application (see the file comment).
 * @throws CliError CTR_CLI_GROUP_ACTIVE when the group has live members; KafkaError when the cluster refuses a step
 */
export async function resetApplication(o: ResetOptions): Promise<ResetPlan> {
  const step = o.onStep ?? (() => {});
  const admin = new KafkaAdmin(o.kafka);
  await admin.connect();
  try {
    const group = await admin.describeGroup(o.applicationId);
    if (group.members.length > 0) {
      const who = group.members.map((m) => `${m.clientId}@${m.host}`).join(', ');
      throw new CliError(
        'CTR_CLI_GROUP_ACTIVE',
        `cannot reset "${o.applicationId}": its consumer group has ${group.members.length} live member(s) (${who}); stop every instance first`,
      );
    }
    const groupExisted = (await admin.listGroups()).includes(o.applicationId);
    const existing = await admin.listTopics();
    const existingSet = new Set(existing);
    const declared = o.topology ? o.topology.internalTopics(o.applicationId).map((t) => t.name) : [];
    const internal = [
      ...new Set([
        ...internalTopicsOf(o.applicationId, existing, o.deleteDeadLetterTopic),
        ...declared.filter((t) => existingSet.has(t)),
      ]),
    ].sort();

    const inputs = new Set([
      ...(o.inputTopics ?? []),
      ...(o.topology ? inputTopicsOf(o.topology, o.applicationId) : []),
    ]);
    // intermediate topics (written and read by the topology) start at their end: rewinding
    // them would process earlier outputs a second time next to the ones the inputs re-create
    const intermediate = o.topology ? intermediateTopicsOf(o.topology).filter((t) => existingSet.has(t)) : [];
    const inputOffsets: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const topic of [...inputs].sort()) {
      if (!existingSet.has(topic)) {
        step(`input topic "${topic}" does not exist: nothing to reset`);
        continue;
      }
      const offsets =
        o.toTimestampMs === undefined
          ? (await admin.topicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.low }))
          : await admin.offsetsForTime(topic, o.toTimestampMs);
      for (const p of offsets) inputOffsets.push({ topic, partition: p.partition, offset: p.offset });
    }

    for (const topic of intermediate)
      for (const p of await admin.topicOffsets(topic))
        inputOffsets.push({ topic, partition: p.partition, offset: p.high });

    const appDir = o.stateDir === undefined ? undefined : join(o.stateDir, o.applicationId);
    const stateDirectory = appDir !== undefined && existsSync(appDir) ? appDir : undefined;
    const verb = o.dryRun ? 'would ' : '';
    for (const t of internal) step(`${verb}delete internal topic ${t}`);
    if (groupExisted) step(`${verb}delete consumer group ${o.applicationId} (all committed offsets)`);
    for (const p of inputOffsets)
      step(`${verb}set ${o.applicationId} offset of ${p.topic}[${p.partition}] to ${p.offset}`);
    if (stateDirectory)
      step(
        `${verb}delete local state ${stateDirectory} (${readdirSync(stateDirectory).length} task directories)`,
      );
    else if (o.stateDir !== undefined) step(`no local state under ${join(o.stateDir, o.applicationId)}`);

    if (!o.dryRun) {
      if (internal.length > 0) await admin.deleteTopics(internal);
      if (groupExisted) await admin.deleteGroups([o.applicationId]);
      const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
      for (const p of inputOffsets)
        byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), { partition: p.partition, offset: p.offset }]);
      for (const [topic, partitions] of byTopic)
        await admin.setGroupOffsets(o.applicationId, topic, partitions);
      if (stateDirectory) KafkaStreams.cleanUp(o.stateDir!, o.applicationId);
      await waitUntilDeleted(admin, internal);
    }
    return {
      applicationId: o.applicationId,
      internalTopics: internal,
      inputOffsets,
      groupExisted,
      stateDirectory,
      dryRun: o.dryRun ?? false,
    };
  } finally {
    await admin.disconnect();
  }
}

/** Topic deletion is asynchronous on the broker: wait until the names are gone, so a restart re-creates them cleanly. */
async function waitUntilDeleted(admin: KafkaAdmin, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const left = new Set(await admin.listTopics());
    const still = topics.filter((t) => left.has(t));
    if (still.length === 0) return;
    if (Date.now() > deadline)
      throw new CliError(
        'CTR_CLI_FAILED',
        `internal topics still listed 30 s after deletion: ${still.join(', ')}`,
        { retriable: true },
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}
