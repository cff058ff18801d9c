/**
 * The group consumer: a member of a consumer group with manual offset
 * commits, batches per partition, pause/resume per partition and rebalance
 * callbacks. kafkajs's shapes stay inside this file; callers see
 * ConsumedRecord and FetchedBatch.
 *
 * kafkajs has no synchronous "partitions revoked" callback like the Java
 * client's ConsumerRebalanceListener. What it offers, and what this wrapper
 * exposes: `onRebalancing` (a rebalance started; in-flight batches are still
 * finishing) and `onAssigned` (the new assignment after the group joined).
 */
import type { Consumer, EachBatchPayload, Kafka, TopicPartitionOffsetAndMetadata } from 'kafkajs';
import { describeError, KafkaError } from './errors.ts';
import { createPartitionGroupAssigner } from './partition-group-assigner.ts';

export interface ConsumerOptions {
  groupId: string;
  /** The group drops a member silent for this long, in ms. Default 30000. */
  sessionTimeoutMs?: number;
  /** Default 3000 ms. */
  heartbeatIntervalMs?: number;
  /** How long members get to rejoin during a rebalance, in ms. Default 60000. */
  rebalanceTimeoutMs?: number;
  /** Bytes fetched per partition per request. Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Bytes per fetch request. Default 10 MiB. */
  maxBytes?: number;
  /** Longest a fetch waits for minBytes, in ms. Default 500. */
  maxWaitTimeMs?: number;
  /** Read only committed records of transactional producers. Default true. */
  readCommitted?: boolean;
  /**
   * When set, the group uses the sticky co-partitioning assigner
   * (partition-group-assigner.ts): partition p of every subscribed topic goes
   * to one member, and each member keeps the partition numbers this function
   * reports it owns where balance allows. Default: kafkajs's round robin.
   */
  ownedPartitions?: () => readonly number[];
  /** With `ownedPartitions`: this member's `application.server` (host:port), announced in its group metadata. */
  applicationServer?: string;
}

/**
 * True when `error` (from a heartbeat or a commit) means the group is
 * rebalancing or this member's generation is over: stop, commit what can
 * be committed, and let the consumer rejoin.
 */
export function isRebalancingError(error: unknown): boolean {
  const type = (error as { type?: string } | undefined)?.type;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  if (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'NOT_COORDINATOR_FOR_GROUP' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'UNKNOWN_MEMBER_ID'
  )
    return true;
  return cause !== undefined && cause !== error && isRebalancingError(cause);
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** int64 as a decimal string. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** ms since the epoch (create or log-append time). */
  timestamp: number;
  headers: { [name: string]: Buffer | undefined };
}

export interface FetchedBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /** Next offset to be written to the partition when fetched (lag = highWatermark - last offset - 1). */
  highWatermark: string;
  /** Sends a heartbeat now if one is due; call it during long processing. */
  heartbeat(): Promise<void>;
  /** True when the partition was revoked or seeked since the fetch: stop processing this batch. */
  isStale(): boolean;
}

export type Assignment = Map<string, number[]>;

export interface RunOptions {
  /** Called with each fetched batch; a partition's next batch is not delivered before this resolves. */
  eachBatch(batch: FetchedBatch): Promise<void>;
  /** How many partitions' batches may be processed at once. Default 1. */
  partitionsConsumedConcurrently?: number;
}

function toRecord(
  topic: string,
  partition: number,
  m: EachBatchPayload['batch']['messages'][number],
): ConsumedRecord {
  const headers: ConsumedRecord['headers'] = {};
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    if (value === undefined) continue;
    // a repeated header arrives as an array; the last value wins, as in Kafka Streams' lastHeader()
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    headers[name] = last === undefined ? undefined : Buffer.isBuffer(last) ? last : Buffer.from(String(last));
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    timestamp: Number(m.timestamp),
    headers,
  };
}

export class KafkaConsumer {
  private readonly consumer: Consumer;
  readonly groupId: string;
  private readonly assignedListeners: ((assignment: Assignment) => void)[] = [];
  private readonly rebalancingListeners: (() => void)[] = [];
  private readonly crashListeners: ((error: Error, willRestart: boolean) => void)[] = [];

  constructor(kafka: Kafka, options: ConsumerOptions) {
    this.groupId = options.groupId;
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3000,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: options.maxBytes ?? 10 * 1024 * 1024,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 500,
      readUncommitted: !(options.readCommitted ?? true),
      allowAutoTopicCreation: false,
      ...(options.ownedPartitions
        ? {
            partitionAssigners: [
              createPartitionGroupAssigner(options.ownedPartitions, options.applicationServer),
            ],
          }
        : {}),
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const assignment: Assignment = new Map();
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        assignment.set(
          topic,
          [...partitions].sort((a, b) => a - b),
        );
      }
      for (const listener of this.assignedListeners) listener(assignment);
    });
    this.consumer.on(this.consumer.events.REBALANCING, () => {
      for (const listener of this.rebalancingListeners) listener();
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      for (const listener of this.crashListeners) listener(event.payload.error, event.payload.restart);
    });
  }

  /** Called after each (re)join with this member's whole assignment. */
  onAssigned(listener: (assignment: Assignment) => void): void {
    this.assignedListeners.push(listener);
  }

  /** Called when the group starts rebalancing (before the rejoin completes). */
  onRebalancing(listener: () => void): void {
    this.rebalancingListeners.push(listener);
  }

  /** Called when the consumer crashed; `willRestart` says whether kafkajs restarts it. */
  onCrash(listener: (error: Error, willRestart: boolean) => void): void {
    this.crashListeners.push(listener);
  }

  async connect(): Promise<void> {
    try {
      await this.consumer.connect();
    } catch (error) {
      throw new KafkaError(
        'CTR_KAFKA_CONNECT',
        `cannot connect consumer of group "${this.groupId}": ${describeError(error)}`,
        {
          cause: error,
          retriable: true,
        },
      );
    }
  }

  /** Subscribes to topics; `fromBeginning` applies to partitions the group has no committed offset for. */
  async subscribe(topics: readonly string[] | RegExp, fromBeginning = true): Promise<void> {
    await this.consumer.subscribe({
      topics: topics instanceof RegExp ? [topics] : [...topics],
      fromBeginning,
    });
  }

  /** Starts the fetch loop. Offsets are never committed automatically: call `commit`. */
  async run(options: RunOptions): Promise<void> {
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (batch.isEmpty()) return;
        const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
        await options.eachBatch({
          topic: batch.topic,
          partition: batch.partition,
          records,
          highWatermark: batch.highWatermark,
          heartbeat: payload.heartbeat,
          isStale: payload.isStale,
        });
        // the engine tracks committed offsets itself; resolving keeps kafkajs fetching from the right place
        const last = records[records.length - 1];
        if (last && !payload.isStale()) payload.resolveOffset(last.offset);
      },
    });
  }

  /**
   * Commits `offset` (the NEXT offset to consume) for each partition.
   * @throws KafkaError CTR_KAFKA_COMMIT, retriable when the group is rebalancing
   */
  async commit(offsets: readonly { topic: string; partition: number; offset: string }[]): Promise<void> {
    if (offsets.length === 0) return;
    const payload: TopicPartitionOffsetAndMetadata[] = offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
    }));
    try {
      await this.consumer.commitOffsets(payload);
    } catch (error) {
      const where = offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`).join(', ');
      throw new KafkaError(
        'CTR_KAFKA_COMMIT',
        `cannot commit offsets of group "${this.groupId}" (${where}): ${describeError(error)}`,
        {
          cause: error,
          retriable: (error as { retriable?: boolean }).retriable ?? false,
        },
      );
    }
  }

  pause(topic: string, partitions: readonly number[]): void {
    this.consumer.pause([{ topic, partitions: [...partitions] }]);
  }

  resume(topic: string, partitions: readonly number[]): void {
    this.consumer.resume([{ topic, partitions: [...partitions] }]);
  }

  /** Moves the fetch position of a partition; batches fetched before become stale. */
  seek(topic: string, partition: number, offset: string): void {
    this.consumer.seek({ topic, partition, offset });
  }

  async disconnect(): Promise<void> {
    await this.consumer.disconnect();
  }
}
