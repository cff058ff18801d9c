/**
 * Reads a topic from given offsets up to its end offsets as of the call,
 * without a consumer group: for the CLI's `consume`, for changelog restore
 * and for tests that check what a topic holds. It assigns partitions
 * directly (kafkajs consumers need a group id, so a throwaway one is used and
 * never commits).
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { KafkaAdmin } from './admin.ts';
import type { ConsumedRecord } from './consumer.ts';
import { describeError, KafkaError } from './errors.ts';

export interface ReadOptions {
  /** Partitions to read; default all. */
  partitions?: readonly number[];
  /** Start offset per partition; default the earliest. */
  from?: ReadonlyMap<number, string>;
  /** Gives up after this many ms without a fetched batch before the end (an idle bound, not a total). Default 60000. */
  timeoutMs?: number;
  /** Called with each fetched batch, in offset order per partition. */
  onBatch?: (records: ConsumedRecord[]) => void | Promise<void>;
  /**
   * Ends the read early: the call rejects with `signal.reason`. An `onBatch` that fails aborts
   * with its error instead of throwing (kafkajs would retry a throwing batch handler, then
   * restart the consumer from the earliest offset).
   */
  signal?: AbortSignal;
}

/**
 * Reads until every partition reached the end offset it had when the call
 * started. Returns all records unless `onBatch` is given (then it returns []).
 * @throws KafkaError CTR_KAFKA_CONSUME on timeout, naming the partitions behind
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  options: ReadOptions = {},
): Promise<ConsumedRecord[]> {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  let ends;
  try {
    ends = await admin.topicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const wanted = new Set(options.partitions ?? ends.map((e) => e.partition));
  const remaining = new Map<number, bigint>();
  const starts = new Map<number, string>();
  for (const end of ends) {
    if (!wanted.has(end.partition)) continue;
    const start = options.from?.get(end.partition) ?? end.low;
    if (BigInt(start) < BigInt(end.high)) {
      remaining.set(end.partition, BigInt(end.high));
      starts.set(end.partition, start);
    }
  }
  if (remaining.size === 0) return [];

  const consumer = kafka.consumer({
    groupId: `ctr-streams-reader-${randomUUID()}`,
    maxWaitTimeInMs: 200,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  const collected: ConsumedRecord[] = [];
  // the idle timer and the abort listener outlive a failed or aborted read unless released below:
  // a pending timer would hold the process open for up to timeoutMs
  let timer: NodeJS.Timeout | undefined;
  let abort: (() => void) | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const done = new Promise<void>((resolve, reject) => {
      // A partition is read once the consumer has passed offset end - 1. The last offsets
      // may be control records (a transactional producer's commit markers), which kafkajs
      // filters out: a batch of only markers never reaches eachBatch, so the end is also
      // detected from the batch events, which report the last offset fetched.
      const reached = (partition: number, lastOffset: string | null | undefined): void => {
        const end = remaining.get(partition);
        if (end === undefined || lastOffset === undefined || lastOffset === null) return;
        if (BigInt(lastOffset) + 1n < end) return;
        remaining.delete(partition);
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic === topic) reached(payload.partition, payload.lastOffset);
      });
      const idleMs = options.timeoutMs ?? 60_000;
      const expire = (): void => {
        const behind = [...remaining.keys()].map((p) => `${topic}[${p}]`).join(', ');
        reject(
          new KafkaError(
            'CTR_KAFKA_CONSUME',
            `timed out: nothing fetched for ${idleMs} ms while reading ${behind} to its end`,
            // nothing arrived in time (a broker down, a partition without leader): a retry may succeed
            { topic, retriable: true },
          ),
        );
      };
      timer = setTimeout(expire, idleMs);
      abort = (): void => {
        clearTimeout(timer);
        reject(options.signal?.reason);
      };
      if (options.signal?.aborted) abort();
      options.signal?.addEventListener('abort', abort, { once: true });
      // a crashed consumer either stops or restarts from the earliest offset (our seeks are lost,
      // records would be delivered twice): end the read and let the caller decide to retry
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        clearTimeout(timer);
        reject(
          new KafkaError('CTR_KAFKA_CONSUME', `cannot read "${topic}": ${describeError(payload.error)}`, {
            cause: payload.error,
            topic,
            retriable: payload.restart,
          }),
        );
      });
      // any fetched batch is progress: a long read of a big topic does not time out
      consumer.on(consumer.events.START_BATCH_PROCESS, () => {
        if (remaining.size === 0) return;
        clearTimeout(timer);
        timer = setTimeout(expire, idleMs);
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = remaining.get(batch.partition);
            if (end === undefined) return;
            const records: ConsumedRecord[] = [];
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= end) break;
              const headers: ConsumedRecord['headers'] = {};
              for (const [name, value] of Object.entries(m.headers ?? {})) {
                const last = Array.isArray(value) ? value[value.length - 1] : value;
                if (last !== undefined)
                  headers[name] = Buffer.isBuffer(last) ? last : Buffer.from(String(last));
              }
              records.push({
                topic,
                partition: batch.partition,
                offset: m.offset,
                key: m.key,
                value: m.value,
                timestamp: Number(m.timestamp),
                headers,
              });
            }
            if (options.onBatch) await options.onBatch(records);
            else collected.push(...records);
            // lastOffset() counts filtered control records, unlike the last message's offset
            reached(batch.partition, batch.lastOffset());
          },
        })
        .catch(reject);
    });
    // subscribe() started every partition at the earliest offset; move to the asked starts
    for (const [partition, offset] of starts) consumer.seek({ topic, partition, offset });
    await done;
  } catch (error) {
    if (error instanceof KafkaError || (options.signal?.aborted && error === options.signal.reason))
      throw error;
    throw new KafkaError('CTR_KAFKA_CONSUME', `cannot read "${topic}": ${describeError(error)}`, {
      cause: error,
      topic,
    });
  } finally {
    if (abort) options.signal?.removeEventListener('abort', abort);
    try {
      await consumer.disconnect();
    } finally {
      // after the disconnect: a batch started before it would re-arm the timer
      clearTimeout(timer);
    }
  }
  return collected.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
