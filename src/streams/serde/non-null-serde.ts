/**
 * A serde that refuses null. Kafka uses null values as tombstones and allows
 * null keys; on a topic where neither means anything (an event stream whose
 * records are all keyed facts), a null is bad input like any other, and
 * refusing it in the deserializer sends it to the deserialization exception
 * handler (DLQ) with its coordinates instead of failing deep in a processor.
 */
import type { Headers } from '../processor/record.ts';
import { SerdeError } from './errors.ts';
import type { Serde } from './serde.ts';

class NonNullSerde<T> implements Serde<T> {
  readonly name: string;

  constructor(
    private readonly inner: Serde<T>,
    private readonly what: 'key' | 'value',
  ) {
    this.name = `non-null(${inner.name})`;
  }

  serialize(topic: string, data: T | null, headers?: Headers): Buffer | null {
    if (data === null || data === undefined)
      throw new SerdeError(
        'CTR_SERDE_SERIALIZE',
        `${this.name}: a null ${this.what} cannot be written to ${topic}`,
        { topic, serde: this.name },
      );
    return this.inner.serialize(topic, data, headers);
  }

  deserialize(topic: string, data: Buffer | null, headers?: Headers): T | null {
    if (data === null)
      throw new SerdeError(
        'CTR_SERDE_DESERIALIZE',
        `${this.name}: a null ${this.what} on ${topic}, where every record must have one`,
        { topic, serde: this.name },
      );
    const value = this.inner.deserialize(topic, data, headers);
    if (value === null)
      throw new SerdeError(
        'CTR_SERDE_DESERIALIZE',
        `${this.name}: ${this.inner.name} decoded a null ${this.what} on ${topic}`,
        { topic, serde: this.name },
      );
    return value;
  }

  prepare(topic: string, isKey: boolean): Promise<void> {
    return this.inner.prepare?.(topic, isKey) ?? Promise.resolve();
  }

  resolve(topic: string, data: ReadonlyArray<Buffer | null>): Promise<void> {
    return this.inner.resolve?.(topic, data) ?? Promise.resolve();
  }
}

/**
 * Wraps `inner` so that null (a null key, a tombstone value) is a SerdeError
 * (CTR_SERDE_DESERIALIZE on read, CTR_SERDE_SERIALIZE on write).
 * @param what `key` or `value`, for the messages. Default `value`.
 */
export function nonNullSerde<T>(inner: Serde<T>, what: 'key' | 'value' = 'value'): Serde<T> {
  return new NonNullSerde(inner, what);
}
