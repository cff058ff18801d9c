/** A record piped into or read from the TopologyTestDriver. */
import type { Headers } from '../processor/record.ts';

export interface TestRecord<K, V> {
  key: K;
  value: V;
  /** ms since the epoch; on input, undefined takes the input topic's current time. */
  timestamp?: number;
  headers?: Headers;
  /** On input: force this partition (default: murmur2 of the key bytes). On output: where it was written. */
  partition?: number;
}

/** A record read from an output topic: everything is known. */
export interface OutputRecord<K, V> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: K;
  readonly value: V;
  readonly timestamp: number;
  readonly headers: Headers;
}
