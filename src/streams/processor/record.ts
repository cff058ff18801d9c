/**
 * The record that flows between processors. Named StreamRecord (Kafka
 * Streams calls it Record) so it does not shadow TypeScript's Record type.
 */

/** Kafka headers; values are bytes on the wire, strings are accepted on write. */
export type Headers = { [name: string]: Buffer | string | undefined };

/** Where a record came from: set on records read from a source topic, kept through stateless steps. */
export interface RecordOrigin {
  topic: string;
  partition: number;
  /** Kafka offsets are int64: kept as decimal strings, as kafkajs does. */
  offset: string;
}

export interface StreamRecord<K, V> {
  key: K;
  value: V;
  /** Event time in ms since the epoch. */
  timestamp: number;
  headers: Headers;
  origin?: RecordOrigin;
}
