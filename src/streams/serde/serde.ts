/**
 * Serde: how a key or value type becomes bytes and back, per topic.
 *
 * Serialize and deserialize are synchronous so that a batch of records costs
 * no promise per record. A serde that needs I/O (a schema registry) does it
 * in the optional async hooks, which the engine awaits once per batch or at
 * start: `prepare` before the first record (register schemas), `resolve`
 * before deserializing a batch (fetch any writer schema not yet cached).
 */
import type { Headers } from '../processor/record.ts';

export interface Serializer<T> {
  /** `null` in, `null` out: a tombstone stays a tombstone. */
  serialize(topic: string, data: T | null, headers?: Headers): Buffer | null;
}

export interface Deserializer<T> {
  /**
   * @throws SerdeError (serde/errors.ts) when the bytes are not a valid T;
   * the engine hands the record to the deserialization exception handler.
   */
  deserialize(topic: string, data: Buffer | null, headers?: Headers): T | null;
}

export interface Serde<T> extends Serializer<T>, Deserializer<T> {
  /** A short name for describe() and error messages, e.g. `string`, `avro(item-created)`. */
  readonly name: string;
  /** Called once per topic before the first serialize (e.g. register the schema). */
  prepare?(topic: string, isKey: boolean): Promise<void>;
  /** Called with a batch's raw values before they are deserialized (e.g. fetch unknown schema ids). */
  resolve?(topic: string, data: ReadonlyArray<Buffer | null>): Promise<void>;
}
