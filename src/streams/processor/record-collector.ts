/**
 * RecordCollector: the narrow port from a task to the producer (Kafka
 * Streams' RecordCollector). The runtime implements it over the Kafka
 * producer; the TopologyTestDriver implements it in memory.
 */
import type { ChangelogCollector } from '../state/state-store.ts';
import type { Headers } from './record.ts';

export interface RecordCollector extends ChangelogCollector {
  /**
   * Queues an output record. Sending is asynchronous; `flush()` awaits the acks.
   * @param partition the target partition, or undefined to let the producer
   *   pick it (Kafka's default: murmur2 of the key bytes, see `defaultPartition`).
   * @param timestamp ms since the epoch.
   */
  sendRecord(
    topic: string,
    partition: number | undefined,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
    timestamp: number,
  ): void;
  /**
   * The partition count of `topic`; called by sinks that have a custom
   * partitioner. Implementations cache it.
   * @throws StreamsError when the topic does not exist.
   */
  partitionsFor(topic: string): Promise<number>;
  /**
   * Waits until every record sent so far is acked.
   * @returns per `"topic:partition"`, the offset after the last acked record
   *   sent through this collector (cumulative over its lifetime).
   * @throws StreamsError when a send failed (the task must close dirty).
   */
  flush(): Promise<Map<string, string>>;
}
