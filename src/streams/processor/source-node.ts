/**
 * A source instantiated for one task: turns a fetched batch of raw records
 * into typed StreamRecords (resolving the serdes once per batch) and hands
 * them to its children.
 */
import type { Serde } from '../serde/serde.ts';
import { DroppedRecords } from './dropped-records.ts';
import { describeCause, RecordDeserializationError } from './errors.ts';
import type { SourceNodeDef, TimestampExtractor } from './processor-topology.ts';
import type { RawRecord } from './raw-record.ts';
import type { StreamRecord } from './record.ts';
import { handlerContext } from './processor-node.ts';
import type { NodeHost, TaskNode } from './task-node.ts';

export class SourceNode {
  readonly children: TaskNode[] = [];
  readonly name: string;
  private readonly keySerde: Serde<any> | undefined;
  private readonly valueSerde: Serde<any> | undefined;
  private readonly extractor: TimestampExtractor | undefined;
  /** Largest timestamp read per topic (a task reads one partition of each), for the extractor. */
  private readonly partitionTimes = new Map<string, number>();

  constructor(
    def: SourceNodeDef,
    private readonly host: NodeHost,
  ) {
    this.name = def.name;
    this.keySerde = def.keySerde;
    this.valueSerde = def.valueSerde;
    this.extractor = def.timestampExtractor;
  }

  /**
   * Deserializes a batch of one topic-partition. Records whose bytes do not
   * decode go to the deserialization handler ('continue' drops them here,
   * the handler having logged or dead-lettered them).
   * @throws RecordDeserializationError when the handler says fail or there is none.
   */
  async deserialize(raws: readonly RawRecord[]): Promise<StreamRecord<unknown, unknown>[]> {
    const topic = raws[0]!.topic;
    // resolve once per batch: a registry serde fetches every unknown schema id in one go
    if (this.keySerde?.resolve)
      await this.keySerde.resolve(
        topic,
        raws.map((r) => r.key),
      );
    if (this.valueSerde?.resolve)
      await this.valueSerde.resolve(
        topic,
        raws.map((r) => r.value),
      );
    const out: StreamRecord<unknown, unknown>[] = [];
    let partitionTime = this.partitionTimes.get(topic) ?? -1;
    const dropped = new DroppedRecords(this.host.taskId, this.name, topic);
    for (const raw of raws) {
      let key: unknown;
      let value: unknown;
      try {
        key = this.keySerde ? this.keySerde.deserialize(raw.topic, raw.key, raw.headers) : raw.key;
        value = this.valueSerde ? this.valueSerde.deserialize(raw.topic, raw.value, raw.headers) : raw.value;
      } catch (error) {
        await this.onError(raw, error);
        continue;
      }
      let timestamp = raw.timestamp;
      if (this.extractor) {
        timestamp = this.extractor(
          { key, value, timestamp: raw.timestamp, headers: raw.headers, topic: raw.topic },
          partitionTime,
        );
        if (!(timestamp >= 0)) {
          // Kafka Streams drops these too (no event time to window or punctuate by); counted and logged per batch
          dropped.add('negative-timestamp', {
            topic: raw.topic,
            partition: raw.partition,
            offset: raw.offset,
          });
          continue;
        }
      }
      if (timestamp > partitionTime) partitionTime = timestamp;
      out.push({
        key,
        value,
        timestamp,
        headers: raw.headers,
        origin: { topic: raw.topic, partition: raw.partition, offset: raw.offset },
      });
    }
    this.partitionTimes.set(topic, partitionTime);
    dropped.report();
    return out;
  }

  async forward(records: ReadonlyArray<StreamRecord<unknown, unknown>>): Promise<void> {
    for (const child of this.children) await child.process(records);
  }

  private async onError(raw: RawRecord, error: unknown): Promise<void> {
    const handler = this.host.handlers.onDeserializationError;
    const response = handler ? await handler(handlerContext(this.host, this.name), raw, error) : 'fail';
    if (response === 'continue') return;
    throw new RecordDeserializationError(
      `source "${this.name}" of task ${this.host.taskId} cannot deserialize the record at ${raw.topic}[${raw.partition}] offset ${raw.offset}: ${describeCause(error)}`,
      {
        cause: error,
        taskId: this.host.taskId,
        processor: this.name,
        topic: raw.topic,
        partition: raw.partition,
        offset: raw.offset,
      },
    );
  }
}
