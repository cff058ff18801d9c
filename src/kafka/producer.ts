/**
 * The producer: idempotent, acks from all in-sync replicas, records sent in
 * batches. Every record is given an explicit partition before it is sent
 * (Kafka's default murmur2 partitioner for keyed records), so that a send can
 * report, per topic-partition, the next offset after the records it wrote:
 * the engine stores that position as a changelog checkpoint.
 */
import {
  CompressionTypes,
  Partitioners,
  type Kafka,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import { describeError, KafkaError } from './errors.ts';

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ProducerOptions {
  /** Default true: retries never duplicate or reorder records. */
  idempotent?: boolean;
  /** Default `none`. kafkajs ships only gzip; the others need a codec registered. */
  compression?: Compression;
  /** Milliseconds a send may take before it fails. Default 30000. */
  timeoutMs?: number;
  /** Set for a transactional producer (exactly-once). */
  transactionalId?: string;
}

export interface OutgoingRecord {
  topic: string;
  /** Explicit partition; when omitted, murmur2(key) as Kafka's default partitioner does. */
  partition?: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: { [name: string]: Buffer | string | undefined };
  /** Milliseconds since the epoch; default now. */
  timestamp?: number;
}

/** `topic:partition` -> next offset after the last record acknowledged there. */
export type NextOffsets = Map<string, string>;

const codecs: Record<Compression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

export class KafkaProducer {
  private readonly producer: Producer;
  private readonly kafka: Kafka;
  private readonly compression: CompressionTypes;
  private readonly timeoutMs: number;
  private readonly partitionCounts = new Map<string, number>();
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private roundRobin = 0;

  constructor(kafka: Kafka, options: ProducerOptions = {}) {
    this.kafka = kafka;
    const idempotent = options.idempotent ?? true;
    this.producer = kafka.producer({
      idempotent,
      // idempotence in kafkajs is only safe with one request in flight per broker
      maxInFlightRequests: idempotent ? 1 : 5,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded on purpose (~1 min of backoff in all). Kafka's Java producer
      // bounds retries by delivery.timeout.ms; kafkajs has no such timeout, so
      // unbounded retries would hang a commit forever on a dead broker instead
      // of failing the send to the production exception handler. A failed send
      // fails the task before its offsets are committed: at-least-once holds.
      retry: { retries: 12, initialRetryTime: 100, maxRetryTime: 10_000 },
      ...(options.transactionalId ? { transactionalId: options.transactionalId } : {}),
    });
    this.compression = codecs[options.compression ?? 'none'];
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (error) {
      throw new KafkaError('CTR_KAFKA_CONNECT', `cannot connect the producer: ${describeError(error)}`, {
        cause: error,
        retriable: true,
      });
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }

  /** The partition Kafka's default partitioner picks for `key` (murmur2, as the Java client). */
  async partitionFor(topic: string, key: Buffer | string | null): Promise<number> {
    const count = await this.partitionCount(topic);
    if (key === null) return this.roundRobin++ % count;
    const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    return this.partitioner({ topic, partitionMetadata, message: { key, value: null } });
  }

  /**
   * The partition count of `topic` (cached after the first call).
   * @throws KafkaError CTR_KAFKA_PRODUCE when the topic does not exist
   */
  async partitionCountOf(topic: string): Promise<number> {
    return this.partitionCount(topic);
  }

  private async partitionCount(topic: string): Promise<number> {
    const cached = this.partitionCounts.get(topic);
    if (cached !== undefined) return cached;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const count = metadata.topics[0]?.partitions.length ?? 0;
      if (count === 0)
        throw new KafkaError('CTR_KAFKA_PRODUCE', `topic "${topic}" has no partitions`, { topic });
      this.partitionCounts.set(topic, count);
      return count;
    } catch (error) {
      if (error instanceof KafkaError) throw error;
      throw new KafkaError('CTR_KAFKA_PRODUCE', `cannot produce to "${topic}": ${describeError(error)}`, {
        cause: error,
        topic,
      });
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Sends the records in one request per broker and resolves when all are
   * acknowledged by all in-sync replicas. Order is kept per partition.
   * @returns the next offset after the last written record, per topic-partition
   * @throws KafkaError CTR_KAFKA_PRODUCE naming the topics
   */
  async send(records: readonly OutgoingRecord[]): Promise<NextOffsets> {
    if (records.length === 0) return new Map();
    const byTopic = new Map<string, Message[]>();
    const counts = new Map<string, number>();
    for (const record of records) {
      const partition = record.partition ?? (await this.partitionFor(record.topic, record.key));
      const message: Message = {
        key: record.key,
        value: record.value,
        partition,
        ...(record.headers ? { headers: record.headers } : {}),
        ...(record.timestamp !== undefined ? { timestamp: String(record.timestamp) } : {}),
      };
      let list = byTopic.get(record.topic);
      if (!list) byTopic.set(record.topic, (list = []));
      list.push(message);
      const key = topicPartitionKey(record.topic, partition);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    let metadata;
    try {
      metadata = await this.producer.sendBatch({
        topicMessages,
        acks: -1,
        timeout: this.timeoutMs,
        compression: this.compression,
      });
    } catch (error) {
      const topics = [...byTopic.keys()].map((t) => `"${t}"`).join(', ');
      throw new KafkaError(
        'CTR_KAFKA_PRODUCE',
        `cannot send ${records.length} records to ${topics}: ${describeError(error)}`,
        {
          cause: error,
          retriable: (error as { retriable?: boolean }).retriable ?? false,
          ...(byTopic.size === 1 ? { topic: [...byTopic.keys()][0] } : {}),
        },
      );
    }
    // kafkajs reports one base offset per topic-partition of the request
    const next: NextOffsets = new Map();
    for (const m of metadata) {
      const key = topicPartitionKey(m.topicName, m.partition);
      const count = counts.get(key) ?? 0;
      if (m.baseOffset === undefined) continue;
      next.set(key, (BigInt(m.baseOffset) + BigInt(count)).toString());
    }
    return next;
  }
}
