/**
 * The RecordCollector of a task on a real broker (Kafka Streams'
 * RecordCollectorImpl): outputs and changelog records go to the shared
 * idempotent producer (acks=all), in chunks sent in the background while the
 * task keeps processing; `flush()` sends the rest, awaits every ack and
 * returns, per topic-partition, the next offset after the last acked record,
 * which the task stores as the changelog position.
 *
 * Sends of one collector are chained (one request in flight per task): a
 * later chunk never overtakes an earlier one, so per-partition order holds
 * even across retries, and the returned offsets only grow.
 */
import type { KafkaProducer, OutgoingRecord } from '../../kafka/index.ts';
import type { RecordCollector } from '../processor/record-collector.ts';
import type { Headers } from '../processor/record.ts';
import { CollectorSendError } from './errors.ts';
import { counter } from '../../telemetry/instruments.ts';
import { METRICS } from '../../telemetry/metric-names.ts';

/** Acknowledged records per destination topic (the catalogue's ctr.streams.records.produced). */
const producedRecords = counter(METRICS.recordsProduced);

export interface KafkaRecordCollectorOptions {
  /** For error messages. */
  taskId: string;
  /** Records buffered before a chunk is sent in the background. Default 2000 (the producer has one request in flight per broker: larger requests, fewer round trips). */
  chunkRecords?: number;
}

export class KafkaRecordCollector implements RecordCollector {
  private readonly producer: KafkaProducer;
  private readonly taskId: string;
  private readonly chunkRecords: number;
  private pending: OutgoingRecord[] = [];
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private failure: CollectorSendError | undefined;
  private readonly nextOffsets = new Map<string, string>();

  constructor(producer: KafkaProducer, options: KafkaRecordCollectorOptions) {
    this.producer = producer;
    this.taskId = options.taskId;
    this.chunkRecords = options.chunkRecords ?? 2000;
  }

  send(topic: string, partition: number, key: Buffer, value: Buffer | null, timestamp: number): void {
    this.enqueue({ topic, partition, key, value, timestamp });
  }

  sendRecord(
    topic: string,
    partition: number | undefined,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
    timestamp: number,
  ): void {
    const record: OutgoingRecord = { topic, key, value, headers, timestamp };
    if (partition !== undefined) record.partition = partition;
    this.enqueue(record);
  }

  async partitionsFor(topic: string): Promise<number> {
    return this.producer.partitionCountOf(topic);
  }

  /** Records handed over but not yet acked (queued + in flight). The task loop waits when this grows large. */
  unackedRecords(): number {
    return this.queued + this.pending.length;
  }

  /** Resolves when every chunk sent so far is acked (not the records still buffered). */
  async drainInFlight(): Promise<void> {
    await this.chain;
    if (this.failure) throw this.failure;
  }

  async flush(): Promise<Map<string, string>> {
    this.dispatch();
    await this.chain;
    if (this.failure) throw this.failure;
    return new Map(this.nextOffsets);
  }

  private enqueue(record: OutgoingRecord): void {
    // a failed send poisons the collector: the task must close dirty and be revived from its last commit
    if (this.failure) throw this.failure;
    this.pending.push(record);
    if (this.pending.length >= this.chunkRecords) this.dispatch();
  }

  private dispatch(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending;
    this.pending = [];
    this.queued += chunk.length;
    this.chain = this.chain.then(async () => {
      try {
        if (this.failure) return;
        const acked = await this.producer.send(chunk);
        const perTopic = new Map<string, number>();
        for (const r of chunk) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
        for (const [topic, n] of perTopic) producedRecords.add(n, { topic });
        for (const [tp, next] of acked) {
          const before = this.nextOffsets.get(tp);
          if (before === undefined || BigInt(next) > BigInt(before)) this.nextOffsets.set(tp, next);
        }
      } catch (error) {
        const topics = [...new Set(chunk.map((r) => r.topic))].join(', ');
        this.failure ??= new CollectorSendError(
          `task ${this.taskId} cannot send ${chunk.length} records to ${topics}: ${(error as Error).message}`,
          {
            cause: error,
            taskId: this.taskId,
            retriable: (error as { retriable?: boolean }).retriable ?? false,
          },
        );
      } finally {
        this.queued -= chunk.length;
      }
    });
  }
}
