/**
 * TestInputTopic: pipes records into the driver as if a producer wrote them
 * to a topic. Every pipe call is async: it returns once the topology has
 * processed the records (and whatever they caused downstream).
 */
import type { Serde } from '../serde/serde.ts';
import type { Headers } from '../processor/record.ts';
import type { TestRecord } from './test-record.ts';

/** A serialized input record; `partition` undefined lets the driver partition by key, as the producer does. */
export interface InputBytesRecord {
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: Headers;
  partition: number | undefined;
}

/** What the input topic needs from its driver (internal). */
export interface InputTopicHost {
  appendInput(topic: string, records: ReadonlyArray<InputBytesRecord>): Promise<void>;
}

export interface InputTopicOptions {
  /** Partition count (default: the driver's `defaultPartitions`, 1). Sub-topologies get one task per partition. */
  partitions?: number;
  /** Timestamp of the first record piped without one (default: the driver's initial wall-clock time). */
  startTimestampMs?: number;
  /** How far the topic's current time moves after each record piped without a timestamp (default 0 ms). */
  autoAdvanceMs?: number;
}

export class TestInputTopic<K, V> {
  private currentTimeMs: number;

  constructor(
    readonly name: string,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly host: InputTopicHost,
    startTimestampMs: number,
    private readonly autoAdvanceMs: number,
  ) {
    this.currentTimeMs = startTimestampMs;
  }

  /** Pipes one record. `timestampMs` undefined: the topic's current time (then auto-advanced). */
  async pipeInput(key: K, value: V, timestampMs?: number, headers: Headers = {}): Promise<void> {
    await this.pipeRecordList([{ key, value, timestamp: timestampMs, headers }]);
  }

  /** Pipes one record with a null key. */
  async pipeValue(value: V, timestampMs?: number): Promise<void> {
    await this.pipeRecordList([{ key: null as K, value, timestamp: timestampMs }]);
  }

  /** Pipes one record given as a TestRecord (may force its partition). */
  async pipeRecord(record: TestRecord<K, V>): Promise<void> {
    await this.pipeRecordList([record]);
  }

  /**
   * Pipes records as ONE fetch would deliver them: per partition, the
   * records form one batch in the order given (a batch-aware processor sees
   * them together). Records without a timestamp take the current time.
   */
  async pipeRecordList(records: ReadonlyArray<TestRecord<K, V>>): Promise<void> {
    const raws = records.map((r) => {
      const headers = r.headers ?? {};
      let timestamp = r.timestamp;
      if (timestamp === undefined) {
        timestamp = this.currentTimeMs;
        this.currentTimeMs += this.autoAdvanceMs;
      }
      return {
        key: this.keySerde ? this.keySerde.serialize(this.name, r.key, headers) : toBytes(r.key),
        value: this.valueSerde ? this.valueSerde.serialize(this.name, r.value, headers) : toBytes(r.value),
        timestamp,
        headers,
        partition: r.partition,
      };
    });
    await this.host.appendInput(this.name, raws);
  }

  /** Pipes `[key, value]` pairs as one list; timestamps from the topic's current time. */
  async pipeKeyValueList(pairs: ReadonlyArray<readonly [K, V]>): Promise<void> {
    await this.pipeRecordList(pairs.map(([key, value]) => ({ key, value })));
  }

  /** Pipes values with null keys as one list. */
  async pipeValueList(values: readonly V[]): Promise<void> {
    await this.pipeRecordList(values.map((value) => ({ key: null as K, value })));
  }

  /** Moves the topic's current time (for records piped without a timestamp). */
  advanceTime(ms: number): void {
    this.currentTimeMs += ms;
  }

  /** The timestamp the next record piped without one gets. */
  get currentTime(): number {
    return this.currentTimeMs;
  }
}

function toBytes(data: unknown): Buffer | null {
  if (data === null || data === undefined) return null;
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  throw new TypeError(`without a serde the input topic accepts Buffer, string or null, got a ${typeof data}`);
}
