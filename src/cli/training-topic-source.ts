/**
 * The `training-examples` topic as the source of `ctr-streams train
 * --from-topic` (continuous training).
 *
 * A run is bounded and reproducible: it takes the topic's end offsets once,
 * at its start, and reads from the position the parent version was trained
 * through (stored in that version's version.json, so model and position never
 * disagree) up to those ends. Records written later belong to the next run.
 *
 * Steps, each a function here so each can be tested and reasoned about alone:
 * 1. `trainingRange`: where to start and stop per partition, and why.
 * 2. `readTrainingEvents`: decode the records of the range. A record that
 *    cannot be decoded is counted and skipped (this is an offline reader: one
 *    bad record must not stop training); the first few are named in a warning.
 *    A key seen twice in the range (at-least-once redelivery of the
 *    engagement app) is trained on once.
 * 3. `readItemsFor`: read `item-created` to its end, keeping only the items
 *    the examples name (images are ~12 KB each; the catalogue can be large).
 * 4. `toTrainingExamples`: join events to their items. The item-side
 *    features (`category`, `itemAgeHours`) are filled exactly as the
 *    list builder fills them when it scores (topologies/list-builder.ts), so
 *    training and serving see the same values. An example whose item is
 *    unknown is skipped and counted.
 * 5. `holdOutLatest`: the latest examples (by impression time) are the
 *    validation share: a CTR model is judged on the future it will serve.
 */
import { KafkaAdmin, readTopicToEnd, type Kafka, type PartitionOffsets } from '../kafka/index.ts';
import type { CtrModel, ItemLookupFactory, TrainingExample, TrainingPosition } from '../ml/index.ts';
import { itemContentOf } from '../../topologies/embeddings.ts';
import type { ItemCreatedEvent, PipelineSerdes, TrainingExampleEvent } from '../../topologies/events.ts';
import { CliError } from './errors.ts';

/** Why a run starts where it does (printed, and stored with the version). */
export type StartReason = 'position' | 'no-position' | 'other-topic' | 'from-beginning';

/** The offsets of one bounded run over a topic. */
export interface TrainingRange {
  topic: string;
  /** Partition -> first offset to read. */
  start: Map<number, bigint>;
  /** Partition -> end offset taken at the start of the run (exclusive); also the next position. */
  end: Map<number, bigint>;
  reason: StartReason;
  /** Things an operator should know (retention deleted unread records ...). */
  warnings: string[];
}

/** Records in the range (end - start summed over partitions; compaction or markers can make the real count smaller). */
export function rangeSize(range: TrainingRange): number {
  let n = 0n;
  for (const [p, end] of range.end) n += end - (range.start.get(p) ?? end);
  return Number(n);
}

/** The position a range ends at, as stored with the version it trains. */
export function positionOf(range: TrainingRange): TrainingPosition {
  const offsets: Record<string, string> = {};
  for (const [p, end] of [...range.end].sort((a, b) => a[0] - b[0])) offsets[String(p)] = end.toString();
  return { topic: range.topic, offsets };
}

/**
 * Where a run reads `topic`: from `position` (the parent version's) or the
 * earliest offsets, to the ends in `offsets`.
 * - no position (a version trained from a file, or no version): the beginning;
 * - a position of another topic (another --topic-prefix): the beginning;
 * - a partition the position does not name (partitions were added): its beginning;
 * - a position below the log start (retention deleted records nobody trained
 *   on): the log start, with a warning naming how many were lost.
 * @throws CliError CTR_CLI_FAILED when a stored offset is past the partition's
 *   end: the topic was deleted and recreated; `--from-beginning` is the way on.
 */
export function trainingRange(
  topic: string,
  offsets: readonly PartitionOffsets[],
  position: TrainingPosition | undefined,
  fromBeginning = false,
): TrainingRange {
  const reason: StartReason = fromBeginning
    ? 'from-beginning'
    : position === undefined
      ? 'no-position'
      : position.topic !== topic
        ? 'other-topic'
        : 'position';
  const start = new Map<number, bigint>();
  const end = new Map<number, bigint>();
  const warnings: string[] = [];
  for (const o of offsets) {
    const low = BigInt(o.low);
    const high = BigInt(o.high);
    end.set(o.partition, high);
    const stored = reason === 'position' ? position?.offsets[String(o.partition)] : undefined;
    if (stored === undefined) {
      start.set(o.partition, low);
      continue;
    }
    const at = BigInt(stored);
    if (at > high)
      throw new CliError(
        'CTR_CLI_FAILED',
        `the parent version was trained through ${topic}[${o.partition}] offset ${at}, past the partition's end ${high}: was the topic recreated? Give --from-beginning to train on it from its start`,
        { topic, partition: o.partition, offset: String(at) },
      );
    if (at < low) {
      warnings.push(
        `${topic}[${o.partition}]: ${low - at} record(s) from offset ${at} were deleted by retention before any training read them; starting at ${low}`,
      );
      start.set(o.partition, low);
    } else start.set(o.partition, at);
  }
  return { topic, start, end, reason, warnings };
}

/**
 * Reads the range's end offsets from the broker and plans the run.
 * @throws CliError CTR_CLI_USAGE when the topic does not exist
 */
export async function planTrainingRange(
  kafka: Kafka,
  topic: string,
  position: TrainingPosition | undefined,
  fromBeginning: boolean,
): Promise<TrainingRange> {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic))
      throw new CliError(
        'CTR_CLI_USAGE',
        `topic "${topic}" does not exist (check --topic-prefix and --bootstrap)`,
      );
    return trainingRange(topic, await admin.topicOffsets(topic), position, fromBeginning);
  } finally {
    await admin.disconnect();
  }
}

/** A decoded example record and where it came from. */
export interface TopicTrainingEvent {
  partition: number;
  offset: bigint;
  event: TrainingExampleEvent;
}

/** What a read skipped, by cause. */
export interface ReadCounts {
  /** Records in the range that were read. */
  records: number;
  /** Values that could not be decoded (not Avro, unknown schema, corrupt). */
  undecodable: number;
  /** Records with a null value. */
  tombstones: number;
  /** Records whose key (`<impressionId>/<itemId>`) was already read in this run. */
  duplicates: number;
}

/** How many undecodable records a warning names one by one. */
const NAMED_BAD_RECORDS = 5;

/**
 * Decodes every record of `range` (records past its end, written while the
 * run reads, are left for the next run).
 * @param onRecords progress: called with the number of records of each fetched batch
 * @returns events in fetch order, the counts of what was skipped, and the
 *   first few undecodable records named by partition and offset (the caller reports them)
 */
export async function readTrainingEvents(
  kafka: Kafka,
  range: TrainingRange,
  serdes: Pick<PipelineSerdes, 'trainingExample'>,
  options: { timeoutMs: number; onRecords?: (n: number) => void },
): Promise<{ events: TopicTrainingEvent[]; counts: ReadCounts; badRecords: string[] }> {
  const counts: ReadCounts = { records: 0, undecodable: 0, tombstones: 0, duplicates: 0 };
  const events: TopicTrainingEvent[] = [];
  const badRecords: string[] = [];
  const seen = new Set<string>();
  const wanted = [...range.start].filter(([p, s]) => s < (range.end.get(p) ?? 0n)).map(([p]) => p);
  if (wanted.length === 0) return { events, counts, badRecords };
  const serde = serdes.trainingExample;
  await readTopicToEnd(kafka, range.topic, {
    partitions: wanted,
    from: new Map(wanted.map((p) => [p, String(range.start.get(p))])),
    timeoutMs: options.timeoutMs,
    onBatch: async (records) => {
      const inRange = records.filter((r) => BigInt(r.offset) < (range.end.get(r.partition) ?? 0n));
      if (inRange.length === 0) return;
      // a server schema registry is asked once per unknown schema id, before decoding the batch
      await serde.resolve?.(
        range.topic,
        inRange.map((r) => r.value),
      );
      for (const r of inRange) {
        counts.records++;
        if (r.value === null) {
          counts.tombstones++;
          continue;
        }
        let event: TrainingExampleEvent | null;
        try {
          event = serde.deserialize(range.topic, r.value);
        } catch (error) {
          counts.undecodable++;
          if (badRecords.length < NAMED_BAD_RECORDS)
            badRecords.push(`${range.topic}[${r.partition}] offset ${r.offset}: ${(error as Error).message}`);
          continue;
        }
        if (event === null) {
          counts.tombstones++;
          continue;
        }
        const key = r.key?.toString('utf8') ?? `${event.impressionId}/${event.itemId}`;
        if (seen.has(key)) {
          counts.duplicates++;
          continue;
        }
        seen.add(key);
        events.push({ partition: r.partition, offset: BigInt(r.offset), event });
      }
      options.onRecords?.(inRange.length);
    },
  });
  return { events, counts, badRecords };
}

/**
 * Reads `topic` (item-created, compacted) to its end and keeps the latest
 * value of each id in `ids` (a null value deletes the item).
 * @returns the items found, how many of their records could not be decoded, and the first few of those
 */
export async function readItemsFor(
  kafka: Kafka,
  topic: string,
  ids: ReadonlySet<string>,
  serdes: Pick<PipelineSerdes, 'itemCreated'>,
  options: { timeoutMs: number },
): Promise<{ items: Map<string, ItemCreatedEvent>; undecodable: number; badRecords: string[] }> {
  const items = new Map<string, ItemCreatedEvent>();
  const badRecords: string[] = [];
  let undecodable = 0;
  if (ids.size === 0) return { items, undecodable, badRecords };
  const serde = serdes.itemCreated;
  await readTopicToEnd(kafka, topic, {
    timeoutMs: options.timeoutMs,
    onBatch: async (records) => {
      // decode only what the examples need: most of a catalogue is not in one run's examples
      const needed = records.filter((r) => r.key !== null && ids.has(r.key.toString('utf8')));
      if (needed.length === 0) return;
      await serde.resolve?.(
        topic,
        needed.map((r) => r.value),
      );
      for (const r of needed) {
        const id = (r.key as Buffer).toString('utf8');
        try {
          const item = serde.deserialize(topic, r.value);
          if (item === null) items.delete(id);
          else items.set(id, item);
        } catch (error) {
          // the item stays as its last decodable record said (or unknown): its examples are counted as such
          undecodable++;
          if (badRecords.length < NAMED_BAD_RECORDS)
            badRecords.push(`${topic}[${r.partition}] offset ${r.offset}: ${(error as Error).message}`);
        }
      }
    },
  });
  return { items, undecodable, badRecords };
}

/** A training example with the impression time it is ordered by. */
export interface TimedExample {
  example: TrainingExample;
  /** ms since the epoch. */
  impressionTimestamp: number;
  partition: number;
  offset: bigint;
}

/**
 * Joins events to their items; item-side features are filled as the list
 * builder fills them at scoring time (its own `category`, age at the
 * impression in hours, never negative), unless the event carries them.
 * @returns examples ordered by impression time (then partition, offset), and
 *   the number skipped because their item is unknown
 */
export function toTrainingExamples(
  events: readonly TopicTrainingEvent[],
  items: ReadonlyMap<string, ItemCreatedEvent>,
): { examples: TimedExample[]; unknownItems: number } {
  const examples: TimedExample[] = [];
  let unknownItems = 0;
  for (const { partition, offset, event } of events) {
    const item = items.get(event.itemId);
    if (item === undefined) {
      unknownItems++;
      continue;
    }
    const features: Record<string, string | number | boolean> = {
      category: item.category,
      itemAgeHours: Math.max(0, (event.impressionTimestamp - item.createdAt) / 3_600_000),
      ...event.features,
    };
    examples.push({
      example: { features, itemId: event.itemId, label: event.label > 0 ? 1 : 0 },
      impressionTimestamp: event.impressionTimestamp,
      partition,
      offset,
    });
  }
  examples.sort(
    (a, b) =>
      a.impressionTimestamp - b.impressionTimestamp ||
      a.partition - b.partition ||
      (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0),
  );
  return { examples, unknownItems };
}

/**
 * Splits time-ordered examples: the latest `floor(n * share)` are held out for
 * validation, the rest are trained on (in time order).
 */
export function holdOutLatest<T>(ordered: readonly T[], share: number): { train: T[]; validation: T[] } {
  const held = Math.floor(ordered.length * share);
  return { train: ordered.slice(0, ordered.length - held), validation: ordered.slice(ordered.length - held) };
}

/**
 * The item lookup of a run: contents shaped for the model being trained
 * (its image tower's input size), as the embeddings topology shapes them.
 */
export function itemLookupOf(items: ReadonlyMap<string, ItemCreatedEvent>): ItemLookupFactory {
  return {
    forModel(model: CtrModel) {
      const size = model.config.towers.image.size;
      return (id) => {
        const item = items.get(id);
        return item === undefined ? undefined : itemContentOf(item, size);
      };
    },
  };
}
