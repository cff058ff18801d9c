/** A record as fetched from Kafka, before deserialization. */
import type { Headers } from './record.ts';

export interface RawRecord {
  key: Buffer | null;
  value: Buffer | null;
  /** ms since the epoch (the Kafka record timestamp). */
  timestamp: number;
  headers: Headers;
  topic: string;
  partition: number;
  /** int64 offset as a decimal string. */
  offset: string;
}
