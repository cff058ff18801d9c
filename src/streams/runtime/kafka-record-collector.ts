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
 *
 * A chunk the broker refuses because of particular records (too large,
 * invalid) is sent again per partition, then record by record inside a
 * refused partition, so that only those records fail: `flush()` reports them
 * in a RecordSendError and the task's production exception handler decides
 * (skip / dead-letter / fail). The broker may have written the other
 * partitions of the refused request already, so the resend can duplicate
 * them (at-least-once). Any other send error poisons the collector.
 */
import type { KafkaProducer, OutgoingRecord } from '../../kafka/index.ts';
import type { RecordCollector } from '../processor/record-collector.ts';
import type { Headers } from '../processor/record.ts';
import type { ProducedRecord } from '../processor/exception-handlers.ts';
import { RecordSendError } from '../processor/errors.ts';
import { CollectorSendError } from './errors.ts';

/** kafkajs error types that reject particular records, not the connection or the producer. */
const RECORD_ERROR_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
]);

/** True when `error` (or one of its causes) is a broker error about the records themselves. */
function isRecordError(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && RECORD_ERROR_TYPES.has(type)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

function producedRecord(record: OutgoingRecord): ProducedRecord {
  const bytes = (data: Buffer | string | null): Buffer | null =>
    typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return {
    topic: record.topic,
    partition: record.partition,
    key: bytes(record.key),
    value: bytes(record.value),
    headers: record.headers ?? {},
    timestamp: record.timestamp ?? 0,
  };
}
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
  /** Records the broker refused for themselves since the last flush (reported by flush, then forgotten). */
  private rejected: Array<{ record: ProducedRecord; error: unknown }> = [];
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
    if (this.rejected.length > 0) {
      const failed = this.rejected;
      this.rejected = [];
      const first = failed[0]!;
      throw new RecordSendError(
        `task ${this.taskId}: the broker refused ${failed.length} record(s), the first to "${first.record.topic}": ${(first.error as Error).message}`,
        failed,
        { taskId: this.taskId },
      );
    }
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
        try {
          this.noteAcked(chunk, await this.producer.send(chunk));
        } catch (error) {
          if (!isRecordError(error)) throw error;
          await this.isolate(chunk);
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

  private noteAcked(records: readonly OutgoingRecord[], acked: Map<string, string>): void {
    const perTopic = new Map<string, number>();
    for (const r of records) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
    for (const [topic, n] of perTopic) producedRecords.add(n, { topic });
    for (const [tp, next] of acked) {
      const before = this.nextOffsets.get(tp);
      if (before === undefined || BigInt(next) > BigInt(before)) this.nextOffsets.set(tp, next);
    }
  }

  /** Resends a refused chunk per partition, then record by record where the broker still refuses, keeping order. */
  private async isolate(chunk: readonly OutgoingRecord[]): Promise<void> {
    const groups = new Map<string, OutgoingRecord[]>();
    for (const record of chunk) {
      const key = `${record.topic}\u0000${record.partition ?? '-'}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = []));
      group.push(record);
    }
    for (const group of groups.values()) {
      try {
        this.noteAcked(group, await this.producer.send(group));
        continue;
      } catch (error) {
        if (!isRecordError(error)) throw error;
        if (group.length === 1) {
          this.rejected.push({ record: producedRecord(group[0]!), error });
          continue;
        }
      }
      for (const record of group) {
        try {
          this.noteAcked([record], await this.producer.send([record]));
        } catch (error) {
          if (!isRecordError(error)) throw error;
          this.rejected.push({ record: producedRecord(record), error });
        }
      }
    }
  }
}
