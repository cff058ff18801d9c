/**
 * Replay: reprocess an application's input history from a point in time (or
 * offset) up to a bound, then stop.
 *
 * 1. Refuse while the group `<application.id>` has members.
 * 2. State: `wipe` resets the application first (internal topics, group,
 *    local state; see application-reset.ts), so stateful operators start
 *    empty and the replay computes exactly what a first run over the range
 *    computes. `keep` keeps stores as they are (their contents already hold
 *    the effects of the replayed records: counters count twice). A new
 *    `--application-id` replays into fresh state without touching the
 *    original application.
 * 3. Commit the start offsets on the input topics: the first offset at or
 *    after `from` (a time), or the given offset, per partition.
 * 4. The stop offsets: the first offset at or after `to` (or the end of each
 *    partition now). Run the application until its committed offsets reach
 *    them, with progress; then close it cleanly.
 *
 * The bound is exact: the application runs with the stop offsets as its
 * `stopOffsets` option, so the runtime does not process a record at or
 * after its partition's stop offset, and the committed offsets end at the
 * bound.
 */
import { KafkaAdmin, type Kafka } from '../kafka/index.ts';
import type { Topology } from '../streams/topology/index.ts';
import { resetApplication } from './application-reset.ts';
import { CliError } from './errors.ts';
import { inputTopicsOf, intermediateTopicsOf } from './topology-topics.ts';

export { inputTopicsOf, intermediateTopicsOf };

/** Where a replay starts: a time (ms since the epoch), an offset in every partition, or the earliest offsets. */
export type ReplayStart = { timestampMs: number } | { offset: bigint } | { earliest: true };

export interface ReplayPlanOptions {
  kafka: Kafka;
  applicationId: string;
  topology: Topology;
  from: ReplayStart;
  /** Stop at the first offset at or after this time; default the partitions' ends now. */
  toTimestampMs?: number;
  /** 'wipe': reset internal topics and local state first; 'keep': leave them. */
  state: 'wipe' | 'keep';
  stateDir: string;
  onStep?: (line: string) => void;
}

export interface ReplayPartition {
  topic: string;
  partition: number;
  start: bigint;
  stop: bigint;
}

/**
 * Steps 1-3: prepares the group and state, returns the per-partition range.
 * @throws CliError CTR_CLI_GROUP_ACTIVE while instances run
 */
export async function prepareReplay(o: ReplayPlanOptions): Promise<ReplayPartition[]> {
  const step = o.onStep ?? (() => {});
  const inputs = inputTopicsOf(o.topology, o.applicationId);
  if (o.state === 'wipe') {
    await resetApplication({
      kafka: o.kafka,
      applicationId: o.applicationId,
      topology: o.topology,
      stateDir: o.stateDir,
      onStep: step,
    });
  }
  const admin = new KafkaAdmin(o.kafka);
  await admin.connect();
  try {
    const group = await admin.describeGroup(o.applicationId);
    if (group.members.length > 0)
      throw new CliError(
        'CTR_CLI_GROUP_ACTIVE',
        `cannot replay "${o.applicationId}": its consumer group has ${group.members.length} live member(s); stop every instance first, or replay under a new --application-id`,
      );
    const existing = new Set(await admin.listTopics());
    const missing = inputs.filter((t) => !existing.has(t));
    if (missing.length > 0)
      throw new CliError(
        'CTR_CLI_USAGE',
        `cannot replay "${o.applicationId}": input topic(s) ${missing.map((t) => `"${t}"`).join(', ')} do not exist`,
      );
    const ranges: ReplayPartition[] = [];
    for (const topic of inputs) {
      const bounds = await admin.topicOffsets(topic);
      const startAt =
        'timestampMs' in o.from
          ? new Map(
              (await admin.offsetsForTime(topic, o.from.timestampMs)).map((p) => [
                p.partition,
                BigInt(p.offset),
              ]),
            )
          : undefined;
      const stopAt =
        o.toTimestampMs === undefined
          ? undefined
          : new Map(
              (await admin.offsetsForTime(topic, o.toTimestampMs)).map((p) => [
                p.partition,
                BigInt(p.offset),
              ]),
            );
      const offsets: Array<{ partition: number; offset: string }> = [];
      for (const b of bounds) {
        const low = BigInt(b.low);
        const high = BigInt(b.high);
        let start =
          'earliest' in o.from
            ? low
            : 'offset' in o.from
              ? o.from.offset
              : (startAt!.get(b.partition) ?? high);
        if (start < low) start = low;
        if (start > high) start = high;
        let stop = stopAt?.get(b.partition) ?? high;
        if (stop < start) stop = start;
        ranges.push({ topic, partition: b.partition, start, stop });
        offsets.push({ partition: b.partition, offset: start.toString() });
        step(`${topic}[${b.partition}]: replay offsets ${start}..${stop} (${stop - start} records)`);
      }
      await admin.setGroupOffsets(o.applicationId, topic, offsets);
    }
    for (const topic of intermediateTopicsOf(o.topology)) {
      const ends = (await admin.topicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
      await admin.setGroupOffsets(o.applicationId, topic, ends);
      step(`${topic}: intermediate topic, starts at its end (the replay writes it again)`);
    }
    return ranges;
  } finally {
    await admin.disconnect();
  }
}

/**
 * True when the group has consumed every intermediate topic up to its end
 * now: the records the replay wrote there are processed too.
 */
export async function intermediateCaughtUp(
  kafka: Kafka,
  applicationId: string,
  topology: Topology,
): Promise<boolean> {
  const topics = intermediateTopicsOf(topology);
  if (topics.length === 0) return true;
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  try {
    const committed = new Map(
      (await admin.groupOffsets(applicationId, topics)).map((g) => [
        `${g.topic}:${g.partition}`,
        BigInt(g.offset),
      ]),
    );
    for (const topic of topics)
      for (const p of await admin.topicOffsets(topic))
        if ((committed.get(`${topic}:${p.partition}`) ?? -1n) < BigInt(p.high)) return false;
    return true;
  } finally {
    await admin.disconnect();
  }
}

/** Records of the range committed so far (each partition counted up to its stop). */
export async function replayProgress(
  kafka: Kafka,
  applicationId: string,
  ranges: readonly ReplayPartition[],
): Promise<{ done: bigint; total: bigint }> {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  try {
    const topics = [...new Set(ranges.map((r) => r.topic))];
    const committed = new Map(
      (await admin.groupOffsets(applicationId, topics)).map((g) => [
        `${g.topic}:${g.partition}`,
        BigInt(g.offset),
      ]),
    );
    let done = 0n;
    let total = 0n;
    for (const r of ranges) {
      total += r.stop - r.start;
      const c = committed.get(`${r.topic}:${r.partition}`) ?? r.start;
      const at = c < r.start ? r.start : c > r.stop ? r.stop : c;
      done += at - r.start;
    }
    return { done, total };
  } finally {
    await admin.disconnect();
  }
}
