/**
 * Restores a task's changelogged stores before the task processes anything
 * (Kafka Streams' StoreChangelogReader), reading each store's changelog
 * partition with an assigned (group-less) reader from the store's committed
 * position to the end offset the partition had when restoring started.
 *
 * Where to start:
 *  - a valid position (low <= position <= end): only the tail after it;
 *  - no position, an unreadable one (StoreCorruptedError) or one outside the
 *    log (the changelog was recreated or truncated): wipe, then from the start.
 *
 * Progress goes to a StateRestoreListener (Kafka Streams' names), to the
 * log every few seconds (records restored / total and the rate) and to the
 * catalogue's metrics, once per restored chunk, never per record:
 * `ctr.streams.restore.records` (records applied, per store; its rate is the
 * restore rate), `ctr.streams.restore.remaining` (per store and task, counts
 * down to 0) and `ctr.streams.restore.duration` (seconds, once per store).
 */
import type { Kafka } from '../../kafka/index.ts';
import { KafkaAdmin, readTopicToEnd } from '../../kafka/index.ts';
import type { StateStore } from '../state/state-store.ts';
import { counter, gauge, histogram } from '../../telemetry/instruments.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { METRIC_ATTRIBUTES, METRICS } from '../../telemetry/metric-names.ts';
import { RestoreError } from './errors.ts';

const log = createLogger('restore');
const restoredRecords = counter(METRICS.restoreRecords);
const remainingRecords = gauge(METRICS.restoreRemaining);
const restoreDurations = histogram(METRICS.restoreDuration);

/** Kafka Streams' StateRestoreListener; offsets are decimal strings, counts are records. */
export interface StateRestoreListener {
  onRestoreStart?(
    topic: string,
    partition: number,
    storeName: string,
    startingOffset: string,
    endingOffset: string,
  ): void;
  onBatchRestored?(
    topic: string,
    partition: number,
    storeName: string,
    batchEndOffset: string,
    numRestored: number,
  ): void;
  onRestoreEnd?(topic: string, partition: number, storeName: string, totalRestored: number): void;
}

/** What one store's restore did. */
export interface RestoreResult {
  store: string;
  topic: string;
  partition: number;
  /** The offset restoring started from (`low` after a wipe). */
  from: string;
  /** The end offset restored up to (exclusive). */
  to: string;
  /** True when the store was wiped and restored from the start. */
  wiped: boolean;
  /** Changelog records applied. */
  restored: number;
  durationMs: number;
}

export interface RestoreOptions {
  kafka: Kafka;
  taskId: string;
  partition: number;
  stores: readonly StateStore[];
  listener?: StateRestoreListener | undefined;
  /** Most records per restoreBatch call. */
  batchMaxRecords: number;
  /** Checked between batches: stop early (the task was revoked or the app is closing). */
  isCancelled?: () => boolean;
}

function isCorrupted(error: unknown): boolean {
  return (error as { code?: string }).code === 'CTR_STORE_CORRUPTED';
}

/**
 * Restores every changelogged store of one task, one after the other.
 * @throws RestoreError naming the store and changelog partition when reading or applying fails
 */
export async function restoreTaskStores(options: RestoreOptions): Promise<RestoreResult[]> {
  const results: RestoreResult[] = [];
  const logged = options.stores.filter((s) => s.changelogTopic !== undefined);
  if (logged.length === 0) return results;
  const admin = new KafkaAdmin(options.kafka);
  await admin.connect();
  try {
    for (const store of logged) {
      if (options.isCancelled?.()) break;
      results.push(await restoreStore(admin, store, options));
    }
  } finally {
    await admin.disconnect();
  }
  return results;
}

async function restoreStore(
  admin: KafkaAdmin,
  store: StateStore,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const topic = store.changelogTopic!;
  const { partition, taskId } = options;
  const where = `"${store.name}" of task ${taskId} from ${topic}[${partition}]`;
  const started = performance.now();
  let offsets;
  try {
    offsets = (await admin.topicOffsets(topic)).find((o) => o.partition === partition);
  } catch (error) {
    throw new RestoreError(`cannot restore ${where}: cannot read its offsets: ${(error as Error).message}`, {
      cause: error,
      taskId,
      store: store.name,
      topic,
      partition,
      retriable: true,
    });
  }
  if (!offsets)
    throw new RestoreError(`cannot restore ${where}: the changelog has no partition ${partition}`, {
      taskId,
      store: store.name,
      topic,
      partition,
    });
  const low = BigInt(offsets.low);
  const end = BigInt(offsets.high);

  let position: string | undefined;
  try {
    position = await store.committedPosition();
  } catch (error) {
    if (!isCorrupted(error)) throw error;
    log.warn(
      { taskId, store: store.name, error: (error as Error).message },
      'store position unreadable: wiping and restoring fully',
    );
    position = undefined;
  }
  let from: bigint;
  let wiped = false;
  if (position !== undefined && BigInt(position) >= low && BigInt(position) <= end) {
    from = BigInt(position);
  } else {
    if (position !== undefined) {
      log.warn(
        { taskId, store: store.name, topic, partition, position, low: offsets.low, end: offsets.high },
        'store position outside the changelog: wiping and restoring fully',
      );
    }
    await store.wipe();
    wiped = true;
    from = low;
  }
  const total = Number(end - from);
  const remainingLabels = { [METRIC_ATTRIBUTES.store]: store.name, [METRIC_ATTRIBUTES.taskId]: taskId };
  remainingRecords.record(total, remainingLabels);
  options.listener?.onRestoreStart?.(topic, partition, store.name, from.toString(), end.toString());
  let restored = 0;
  // 0 once this instance stops restoring the store, done or not: an OpenTelemetry gauge keeps
  // reporting its last value, and a revoked task's remainder belongs to its new owner
  try {
    if (from < end) {
      log.info(
        {
          taskId,
          store: store.name,
          topic,
          partition,
          from: from.toString(),
          to: end.toString(),
          total,
          wiped,
        },
        'restoring store',
      );
      let lastLog = performance.now();
      try {
        await readTopicToEnd(options.kafka, topic, {
          partitions: [partition],
          from: new Map([[partition, from.toString()]]),
          timeoutMs: 10 * 60_000,
          onBatch: async (records) => {
            for (let i = 0; i < records.length; i += options.batchMaxRecords) {
              if (options.isCancelled?.()) return;
              const chunk = records.slice(i, i + options.batchMaxRecords);
              const entries = chunk
                .filter((r) => r.key !== null)
                .map((r) => ({ key: r.key as Buffer, value: r.value }));
              const next = (BigInt(chunk[chunk.length - 1]!.offset) + 1n).toString();
              await store.restoreBatch(entries, next);
              restored += chunk.length;
              restoredRecords.add(chunk.length, { [METRIC_ATTRIBUTES.store]: store.name });
              // by offset, not by count: compacted or aborted offsets leave gaps in the changelog
              remainingRecords.record(Number(end - BigInt(next)), remainingLabels);
              options.listener?.onBatchRestored?.(topic, partition, store.name, next, chunk.length);
            }
            const now = performance.now();
            if (now - lastLog > 2000) {
              lastLog = now;
              const rate = Math.round(restored / ((now - started) / 1000));
              log.info(
                { taskId, store: store.name, topic, partition, restored, total, recordsPerSecond: rate },
                `restored ${restored}/${total} records of "${store.name}"`,
              );
            }
          },
        });
      } catch (error) {
        throw new RestoreError(`cannot restore ${where} at offset ${from}: ${(error as Error).message}`, {
          cause: error,
          taskId,
          store: store.name,
          topic,
          partition,
          offset: from.toString(),
          retriable: true,
        });
      }
    }
  } finally {
    remainingRecords.record(0, remainingLabels);
  }
  const durationMs = performance.now() - started;
  if (!options.isCancelled?.())
    restoreDurations.record(durationMs / 1000, { [METRIC_ATTRIBUTES.store]: store.name });
  options.listener?.onRestoreEnd?.(topic, partition, store.name, restored);
  if (restored > 0) {
    log.info(
      {
        taskId,
        store: store.name,
        topic,
        partition,
        restored,
        durationMs: Math.round(durationMs),
        recordsPerSecond: Math.round(restored / (durationMs / 1000)),
      },
      `restored "${store.name}"`,
    );
  }
  return {
    store: store.name,
    topic,
    partition,
    from: from.toString(),
    to: end.toString(),
    wiped,
    restored,
    durationMs,
  };
}
