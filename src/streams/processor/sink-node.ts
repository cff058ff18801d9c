/**
 * A sink instantiated for one task: serializes records and queues them on
 * the RecordCollector (the acks are awaited at commit).
 */
import type { Serde } from '../serde/serde.ts';
import { describeCause, RecordSerializationError } from './errors.ts';
import type { StreamPartitioner } from './partitioner.ts';
import type { SinkNodeDef, TopicNameExtractor } from './processor-topology.ts';
import type { StreamRecord } from './record.ts';
import { handlerContext } from './processor-node.ts';
import type { NodeHost, TaskNode } from './task-node.ts';

export class SinkNode implements TaskNode {
  readonly name: string;
  private readonly topic: string | TopicNameExtractor<any, any>;
  private readonly keySerde: Serde<any> | undefined;
  private readonly valueSerde: Serde<any> | undefined;
  private readonly partitioner: StreamPartitioner<any, any> | undefined;
  /** Topics whose serdes were prepared (once per topic, before the first serialize). */
  private readonly prepared = new Set<string>();

  constructor(
    def: SinkNodeDef,
    private readonly host: NodeHost,
  ) {
    this.name = def.name;
    this.topic = def.topic;
    this.keySerde = def.keySerde;
    this.valueSerde = def.valueSerde;
    this.partitioner = def.partitioner;
  }

  async process(records: ReadonlyArray<StreamRecord<unknown, unknown>>): Promise<void> {
    const collector = this.host.collector;
    for (const record of records) {
      let topic: string | undefined;
      try {
        topic = typeof this.topic === 'string' ? this.topic : this.topic(record.key, record.value, record);
        if (!this.prepared.has(topic)) {
          await this.keySerde?.prepare?.(topic, true);
          await this.valueSerde?.prepare?.(topic, false);
          this.prepared.add(topic);
        }
        const key = this.keySerde
          ? this.keySerde.serialize(topic, record.key as never, record.headers)
          : asBytes(record.key, 'key');
        const value = this.valueSerde
          ? this.valueSerde.serialize(topic, record.value as never, record.headers)
          : asBytes(record.value, 'value');
        let partition: number | undefined;
        if (this.partitioner) {
          const count = await collector.partitionsFor(topic);
          partition = this.partitioner(topic, record.key, record.value, count);
          if (
            partition !== undefined &&
            !(Number.isInteger(partition) && partition >= 0 && partition < count)
          ) {
            throw new RangeError(
              `the partitioner chose partition ${partition}; "${topic}" has ${count} partition(s)`,
            );
          }
        }
        collector.sendRecord(topic, partition, key, value, record.headers, record.timestamp);
      } catch (error) {
        await this.onError(record, topic ?? String(this.topic), error);
      }
    }
  }

  private async onError(
    record: StreamRecord<unknown, unknown>,
    topic: string,
    error: unknown,
  ): Promise<void> {
    const handler = this.host.handlers.onSerializationError;
    const response = handler
      ? await handler(handlerContext(this.host, this.name), record, topic, error)
      : 'fail';
    if (response === 'continue') return;
    const origin = record.origin;
    throw new RecordSerializationError(
      `sink "${this.name}" of task ${this.host.taskId} cannot write a record to "${topic}"` +
        (origin ? ` (from ${origin.topic}[${origin.partition}] offset ${origin.offset})` : '') +
        `: ${describeCause(error)}`,
      {
        cause: error,
        taskId: this.host.taskId,
        processor: this.name,
        topic,
        ...(origin ? { partition: origin.partition, offset: origin.offset } : {}),
      },
    );
  }
}

/** Without a serde a sink accepts bytes (or a string, as UTF-8) and null. */
function asBytes(data: unknown, what: string): Buffer | null {
  if (data === null || data === undefined) return null;
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  throw new TypeError(`the ${what} is a ${typeof data}, not bytes; give the sink a ${what} serde`);
}
