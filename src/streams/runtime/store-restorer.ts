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
 * Failures (restore-failure.ts classifies them), per store:
 *  - a retriable read failure (leader change, timeout, lost connection) is
 *    retried with exponential backoff (100 ms doubling to 5 s, +-20% jitter)
 *    from the position the store reached, which every applied chunk moves on;
 *    after `taskTimeoutMs` (task.timeout.ms) of failing without progress the
 *    failure is fatal (KIP-572). Each retry is logged with attempt and delay,
 *    counted in `ctr.streams.restore.retries` and told to the listener;
 *  - an out-of-range read (the changelog changed under us) wipes the store
 *    and restores it from the start (Kafka Streams' TaskCorruptedException);
 *  - anything else, and any failure of the store itself (LevelDB, disk), is a
 *    fatal RestoreError naming store, changelog partition and offset.
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
import { classifyRestoreFailure, failureReason } from './restore-failure.ts';

const log = createLogger('restore');
const restoredRecords = counter(METRICS.restoreRecords);
const remainingRecords = gauge(METRICS.restoreRemaining);
const restoreDurations = histogram(METRICS.restoreDuration);
const restoreRetries = counter(METRICS.restoreRetries);

/** First retry delay, ms; doubles per retry up to MAX_BACKOFF_MS (Kafka's retry.backoff.ms default). */
const INITIAL_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
/**
 * Wipes allowed in one restore of one store. One is the normal cure for a
 * recreated changelog; more means the changelog keeps changing under us (or a
 * bug), which is not something wiping again would fix.
 */
const MAX_WIPES = 2;
/** Kafka Streams' task.timeout.ms default. */
export const DEFAULT_TASK_TIMEOUT_MS = 300_000;

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
  /**
   * Not in Kafka Streams: a retriable failure interrupted the restore, which
   * resumes from `offset` (the store's position) after `delayMs`.
   * `attempt` counts retries of this store's restore, from 1.
   */
  onRestoreRetry?(
    topic: string,
    partition: number,
    storeName: string,
    offset: string,
    attempt: number,
    delayMs: number,
    error: Error,
  ): void;
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
  /** Changelog records applied (over all attempts). */
  restored: number;
  /** Retries after retriable failures (0 when the first attempt succeeded). */
  retries: number;
  durationMs: number;
}

/** One read of a changelog partition, as the fault hooks see it. */
export interface ChangelogRead {
  taskId: string;
  store: string;
  topic: string;
  partition: number;
  /** The offset this read starts from. */
  from: string;
  /** 0 for the first attempt of this store's restore, then one more per retry or wipe. */
  attempt: number;
}

/**
 * Fault injection, for tests of the failure paths on a real broker (a leader
 * change cannot be provoked on demand on one broker). A hook that throws acts
 * as a failure of the changelog read, and is classified like one: throw a
 * retriable KafkaError to be retried, anything else to be fatal.
 */
export interface RestoreFaults {
  /** Before each read of a changelog partition (after its offsets were fetched and the start chosen). */
  beforeRead?(read: ChangelogRead): void | Promise<void>;
  /** Before each fetched chunk is applied to the store; `offset` is the chunk's first offset. */
  beforeApply?(read: ChangelogRead, offset: string): void | Promise<void>;
}

export interface RestoreOptions {
  kafka: Kafka;
  taskId: string;
  partition: number;
  stores: readonly StateStore[];
  listener?: StateRestoreListener | undefined;
  /** Most records per restoreBatch call. */
  batchMaxRecords: number;
  /**
   * task.timeout.ms: how long a store's restore may keep failing retriably
   * (since its last progress) before the failure is fatal; 0 = never retry.
   * Default 300000.
   */
  taskTimeoutMs?: number;
  /** Checked between batches and during backoff: stop early (the task was revoked or the app is closing). */
  isCancelled?: () => boolean;
  faults?: RestoreFaults | undefined;
}

function isCorrupted(error: unknown): boolean {
  return (error as { code?: string }).code === 'CTR_STORE_CORRUPTED';
}

/** Ends a read early without an error: the restore was cancelled. */
const CANCELLED = Symbol('restore cancelled');

/**
 * Restores every changelogged store of one task, one after the other.
 * Retriable read failures are retried (see the header); a cancelled restore
 * returns the stores done so far.
 * @throws RestoreError naming the store, changelog partition and offset when a store cannot be restored
 */
export async function restoreTaskStores(options: RestoreOptions): Promise<RestoreResult[]> {
  const results: RestoreResult[] = [];
  const logged = options.stores.filter((s) => s.changelogTopic !== undefined);
  if (logged.length === 0) return results;
  const admin = new KafkaAdmin(options.kafka);
  try {
    for (const store of logged) {
      if (options.isCancelled?.()) break;
      results.push(await restoreStoreRetrying(admin, store, options));
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return results;
}

/** Where an attempt got to; kept across attempts so a failure names the offset and a retry resumes. */
interface Progress {
  /** The next changelog offset to apply (the store's position), once known. */
  offset: string | undefined;
  /** Records applied by the current attempt. */
  applied: number;
  /** The listener was told this restore started (an attempt that failed before reading did not tell it). */
  announced: boolean;
}

/** The result of one attempt, before the totals over attempts. */
type AttemptResult = Omit<RestoreResult, 'retries' | 'durationMs'>;

async function restoreStoreRetrying(
  admin: KafkaAdmin,
  store: StateStore,
  options: RestoreOptions,
): Promise<RestoreResult> {
  const topic = store.changelogTopic!;
  const { partition, taskId } = options;
  const where = `"${store.name}" of task ${taskId} from ${topic}[${partition}]`;
  const timeoutMs = options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
  const started = performance.now();
  const progress: Progress = { offset: undefined, applied: 0, announced: false };
  let attempt = 0;
  let retries = 0;
  let wipes = 0;
  let restored = 0;
  let wiped = false;
  let from: string | undefined;
  let forceWipe = false;
  /** performance.now() of the first failure since the last progress; undefined while none. */
  let failingSince: number | undefined;
  for (; ; attempt++) {
    progress.applied = 0;
    try {
      // one wipe per out-of-range failure: a later retry resumes from what the restore reached since
      const wipeNow = forceWipe;
      forceWipe = false;
      const result = await restoreStoreOnce(admin, store, options, { attempt, forceWipe: wipeNow, progress });
      restored += result.restored;
      wiped ||= result.wiped;
      if (result.wiped || from === undefined) from = result.from;
      const durationMs = performance.now() - started;
      if (!options.isCancelled?.())
        restoreDurations.record(durationMs / 1000, { [METRIC_ATTRIBUTES.store]: store.name });
      options.listener?.onRestoreEnd?.(topic, partition, store.name, restored);
      if (restored > 0 || retries > 0) {
        log.info(
          {
            taskId,
            store: store.name,
            topic,
            partition,
            restored,
            retries,
            durationMs: Math.round(durationMs),
            recordsPerSecond: Math.round(restored / (durationMs / 1000)),
          },
          `restored "${store.name}"`,
        );
      }
      return { ...result, from, wiped, restored, retries, durationMs };
    } catch (error) {
      restored += progress.applied;
      // a store failure, or a RestoreError the attempt already judged final
      if (error instanceof RestoreError) throw error;
      const offset = progress.offset ?? '?';
      const message = (error as Error).message ?? String(error);
      const final = (why: string, retriable = false): RestoreError =>
        new RestoreError(`cannot restore ${where} at offset ${offset}${why}: ${message}`, {
          cause: error,
          taskId,
          store: store.name,
          topic,
          partition,
          offset,
          ...(retriable ? { retriable } : {}),
        });
      if (options.isCancelled?.()) throw final(': cancelled after');
      const kind = classifyRestoreFailure(error);
      if (kind === 'corrupted' && wipes < MAX_WIPES) {
        wipes++;
        forceWipe = true;
        log.warn(
          { taskId, store: store.name, topic, partition, offset, err: error },
          `store "${store.name}" of task ${taskId}: position ${offset} is not in ${topic}[${partition}] any more ` +
            `(the changelog was recreated or truncated): wiping it and restoring from the changelog's start`,
        );
        continue;
      }
      if (kind !== 'retriable')
        throw final(kind === 'corrupted' ? ` (out of range again after ${wipes} wipes)` : '');
      const now = performance.now();
      // task.timeout.ms measures failing without progress: an attempt that applied records restarts it
      if (failingSince === undefined || progress.applied > 0) failingSince = now;
      const failingMs = now - failingSince;
      if (failingMs >= timeoutMs)
        throw final(
          `: still failing after retrying for ${Math.round(failingMs)} ms ` +
            `(${retries} retr${retries === 1 ? 'y' : 'ies'}, task.timeout.ms = ${timeoutMs})`,
          true,
        );
      retries++;
      const backoff = Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** Math.min(retries - 1, 16));
      const jittered = Math.round(backoff * (0.8 + Math.random() * 0.4));
      // the last retry runs when task.timeout.ms is up, so a short timeout still gets one more try
      const delayMs = Math.max(0, Math.min(jittered, Math.ceil(timeoutMs - failingMs)));
      const reason = failureReason(error);
      log.warn(
        {
          taskId,
          store: store.name,
          topic,
          partition,
          offset,
          attempt: retries,
          delayMs,
          reason,
          err: error,
        },
        `restore of "${store.name}" from ${topic}[${partition}] at offset ${offset} failed (${reason}): ` +
          `retry ${retries} in ${delayMs} ms`,
      );
      restoreRetries.add(1, { [METRIC_ATTRIBUTES.store]: store.name, [METRIC_ATTRIBUTES.reason]: reason });
      options.listener?.onRestoreRetry?.(
        topic,
        partition,
        store.name,
        offset,
        retries,
        delayMs,
        error instanceof Error ? error : new Error(String(error)),
      );
      await sleepUnlessCancelled(delayMs, options.isCancelled);
      if (options.isCancelled?.()) throw final(': cancelled while retrying');
    }
  }
}

/** Waits `ms`, returning early once `isCancelled()` (polled every 100 ms) says so. */
async function sleepUnlessCancelled(ms: number, isCancelled: (() => boolean) | undefined): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    const left = until - performance.now();
    if (left <= 0 || isCancelled?.()) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, 100)));
  }
}

/** Runs a store operation; its failure is fatal (a disk error is not cured by reading the changelog again). */
async function onStore<T>(
  what: string,
  operation: () => Promise<T>,
  context: {
    where: string;
    taskId: string;
    store: string;
    topic: string;
    partition: number;
    offset?: string;
  },
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const at = context.offset === undefined ? '' : ` at offset ${context.offset}`;
    throw new RestoreError(
      `cannot restore ${context.where}${at}: ${what} failed: ${(error as Error).message}`,
      {
        cause: error,
        taskId: context.taskId,
        store: context.store,
        topic: context.topic,
        partition: context.partition,
        ...(context.offset === undefined ? {} : { offset: context.offset }),
      },
    );
  }
}

/**
 * One attempt: fetch the changelog's offsets, choose the start (wiping when
 * the position is not in the log), read to the end and apply.
 * @throws RestoreError for store failures and a missing partition (final); read failures as they are (classified by the caller)
 */
async function restoreStoreOnce(
  admin: KafkaAdmin,
  store: StateStore,
  options: RestoreOptions,
  state: { attempt: number; forceWipe: boolean; progress: Progress },
): Promise<AttemptResult> {
  const topic = store.changelogTopic!;
  const { partition, taskId } = options;
  const where = `"${store.name}" of task ${taskId} from ${topic}[${partition}]`;
  const context = { where, taskId, store: store.name, topic, partition };
  const started = performance.now();
  // connect() is idempotent in kafkajs; after a lost connection it reconnects
  await admin.connect();
  const offsets = (await admin.topicOffsets(topic)).find((o) => o.partition === partition);
  if (!offsets)
    throw new RestoreError(`cannot restore ${where}: the changelog has no partition ${partition}`, context);
  const low = BigInt(offsets.low);
  const end = BigInt(offsets.high);

  let position: string | undefined;
  if (!state.forceWipe) {
    try {
      position = await store.committedPosition();
    } catch (error) {
      if (!isCorrupted(error))
        throw new RestoreError(
          `cannot restore ${where}: reading its position failed: ${(error as Error).message}`,
          { cause: error, ...context },
        );
      log.warn(
        { taskId, store: store.name, error: (error as Error).message },
        'store position unreadable: wiping and restoring fully',
      );
      position = undefined;
    }
  }
  let from: bigint;
  let wiped = false;
  if (!state.forceWipe && position !== undefined && BigInt(position) >= low && BigInt(position) <= end) {
    from = BigInt(position);
  } else {
    if (position !== undefined) {
      log.warn(
        { taskId, store: store.name, topic, partition, position, low: offsets.low, end: offsets.high },
        `store "${store.name}" of task ${taskId}: position ${position} is outside ${topic}[${partition}] ` +
          `(offsets ${offsets.low}..${offsets.high}; the changelog was recreated or truncated): ` +
          `wiping it and restoring from offset ${offsets.low}`,
      );
    }
    await onStore('wiping the store', () => store.wipe(), context);
    wiped = true;
    from = low;
  }
  state.progress.offset = from.toString();
  const read: ChangelogRead = {
    taskId,
    store: store.name,
    topic,
    partition,
    from: from.toString(),
    attempt: state.attempt,
  };
  const total = Number(end - from);
  const remainingLabels = { [METRIC_ATTRIBUTES.store]: store.name, [METRIC_ATTRIBUTES.taskId]: taskId };
  remainingRecords.record(total, remainingLabels);
  // once per restore, and again when it starts over after an out-of-range wipe (not per retry);
  // by the first attempt that got this far, which is not attempt 0 when fetching the offsets failed
  if (!state.progress.announced || state.forceWipe) {
    state.progress.announced = true;
    options.listener?.onRestoreStart?.(topic, partition, store.name, from.toString(), end.toString());
  }
  // 0 once this instance stops restoring the store, done or not: an OpenTelemetry gauge keeps
  // reporting its last value, and a revoked task's remainder belongs to its new owner
  try {
    await options.faults?.beforeRead?.(read);
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
          attempt: state.attempt,
        },
        'restoring store',
      );
      let lastLog = performance.now();
      // a failure inside onBatch ends the read through the signal: a throwing batch handler
      // would be retried by kafkajs, then restarted from the earliest offset
      const abort = new AbortController();
      try {
        await readTopicToEnd(options.kafka, topic, {
          partitions: [partition],
          from: new Map([[partition, from.toString()]]),
          timeoutMs: 10 * 60_000,
          signal: abort.signal,
          onBatch: async (records) => {
            if (abort.signal.aborted) return;
            try {
              for (let i = 0; i < records.length; i += options.batchMaxRecords) {
                if (options.isCancelled?.()) {
                  abort.abort(CANCELLED);
                  return;
                }
                const chunk = records.slice(i, i + options.batchMaxRecords);
                const first = chunk[0]!.offset;
                await options.faults?.beforeApply?.(read, first);
                const entries = chunk
                  .filter((r) => r.key !== null)
                  .map((r) => ({ key: r.key as Buffer, value: r.value }));
                const next = (BigInt(chunk[chunk.length - 1]!.offset) + 1n).toString();
                await onStore('writing restored records', () => store.restoreBatch(entries, next), {
                  ...context,
                  offset: first,
                });
                state.progress.offset = next;
                state.progress.applied += chunk.length;
                restoredRecords.add(chunk.length, { [METRIC_ATTRIBUTES.store]: store.name });
                // by offset, not by count: compacted or aborted offsets leave gaps in the changelog
                remainingRecords.record(Number(end - BigInt(next)), remainingLabels);
                options.listener?.onBatchRestored?.(topic, partition, store.name, next, chunk.length);
              }
            } catch (error) {
              abort.abort(error);
              return;
            }
            const now = performance.now();
            if (now - lastLog > 2000) {
              lastLog = now;
              const applied = state.progress.applied;
              const rate = Math.round(applied / ((now - started) / 1000));
              log.info(
                {
                  taskId,
                  store: store.name,
                  topic,
                  partition,
                  restored: applied,
                  total,
                  recordsPerSecond: rate,
                },
                `restored ${applied}/${total} records of "${store.name}"`,
              );
            }
          },
        });
      } catch (error) {
        if (error !== CANCELLED) throw error;
      }
    }
  } finally {
    remainingRecords.record(0, remainingLabels);
  }
  return {
    store: store.name,
    topic,
    partition,
    from: from.toString(),
    to: end.toString(),
    wiped,
    restored: state.progress.applied,
  };
}
