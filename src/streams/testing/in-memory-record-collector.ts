/**
 * The driver's RecordCollector: appends to in-memory topic logs at once
 * (every send is "acked" immediately) and reports the next offset of every
 * partition it wrote to, exactly as the Kafka-backed collector does.
 */
import type { Headers } from '../processor/record.ts';
import type { RecordCollector } from '../processor/record-collector.ts';
import { defaultPartition } from '../processor/partitioner.ts';
import type { TopicLog } from './topic-log.ts';

export class InMemoryRecordCollector implements RecordCollector {
  private readonly nextOffsets = new Map<string, string>();
  private readonly roundRobin = new Map<string, number>();

  /** @param topicLog returns (creating if needed) the log of a topic. */
  constructor(private readonly topicLog: (topic: string) => TopicLog) {}

  send(topic: string, partition: number, key: Buffer, value: Buffer | null, timestamp: number): void {
    this.append(topic, partition, key, value, {}, timestamp);
  }

  sendRecord(
    topic: string,
    partition: number | undefined,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
    timestamp: number,
  ): void {
    const log = this.topicLog(topic);
    let target = partition;
    if (target === undefined) {
      if (key !== null) {
        target = defaultPartition(key, log.partitionCount);
      } else {
        // a null key has no hash: spread like a round-robin producer
        const next = this.roundRobin.get(topic) ?? 0;
        this.roundRobin.set(topic, next + 1);
        target = next % log.partitionCount;
      }
    }
    this.append(topic, target, key, value, headers, timestamp);
  }

  async partitionsFor(topic: string): Promise<number> {
    return this.topicLog(topic).partitionCount;
  }

  async flush(): Promise<Map<string, string>> {
    return new Map(this.nextOffsets);
  }

  private append(
    topic: string,
    partition: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
    timestamp: number,
  ): void {
    const log = this.topicLog(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= log.partitionCount) {
      throw new RangeError(
        `cannot send to ${topic}[${partition}]: the topic has ${log.partitionCount} partition(s)`,
      );
    }
    const record = log.append(partition, key, value, headers, timestamp);
    this.nextOffsets.set(`${topic}:${partition}`, String(Number(record.offset) + 1));
  }
}
