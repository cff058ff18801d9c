/**
 * The driver's in-memory Kafka: per topic, an append-only log per partition
 * (offsets are indexes), plus the global send order that output topics read in.
 */
import type { Headers } from '../processor/record.ts';

export interface LoggedRecord {
  readonly topic: string;
  readonly partition: number;
  /** int64 as a decimal string, as everywhere in the engine. */
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
  /** ms since the epoch. */
  readonly timestamp: number;
}

export class TopicLog {
  readonly partitions: LoggedRecord[][];
  /** Every record in append order, across partitions. */
  readonly all: LoggedRecord[] = [];

  constructor(
    readonly name: string,
    partitionCount: number,
  ) {
    this.partitions = Array.from({ length: partitionCount }, () => []);
  }

  get partitionCount(): number {
    return this.partitions.length;
  }

  append(
    partition: number,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
    timestamp: number,
  ): LoggedRecord {
    const log = this.partitions[partition];
    if (log === undefined) {
      throw new RangeError(
        `topic "${this.name}" has ${this.partitions.length} partition(s); there is no partition ${partition}`,
      );
    }
    const record: LoggedRecord = {
      topic: this.name,
      partition,
      offset: String(log.length),
      key,
      value,
      headers: { ...headers },
      timestamp,
    };
    log.push(record);
    this.all.push(record);
    return record;
  }

  /** Next offset of a partition (its length). */
  endOffset(partition: number): number {
    return this.partitions[partition]?.length ?? 0;
  }
}
