/**
 * Serdes of windowed keys, byte-compatible with Kafka Streams:
 * - time windows: `key | start (8 bytes, big-endian)`; the end is start + size
 *   (TimeWindowedSerializer/Deserializer);
 * - sessions: `key | end (8) | start (8)` (SessionWindowedSerializer).
 */
import type { Serde } from '../../serde/serde.ts';
import { readTime, TIME_BYTES, writeTime } from '../../state/window-key-schema.ts';
import type { Windowed } from '../../state/window-store.ts';

function inner<K>(serde: Serde<K>, topic: string, key: K): Buffer {
  const bytes = serde.serialize(topic, key);
  if (bytes === null)
    throw new RangeError(`windowed serde: key serde "${serde.name}" turned a key into null`);
  return bytes;
}

/** The serde of `Windowed<K>` keys of time (tumbling, hopping, sliding) windows of `windowSizeMs`. */
export function timeWindowedSerde<K>(keySerde: Serde<K>, windowSizeMs: number): Serde<Windowed<K>> {
  return {
    name: `windowed(${keySerde.name})`,
    serialize(topic, data) {
      if (data === null || data === undefined) return null;
      const key = inner(keySerde, topic, data.key);
      const out = Buffer.allocUnsafe(key.length + TIME_BYTES);
      key.copy(out, 0);
      writeTime(out, key.length, data.window.startMs);
      return out;
    },
    deserialize(topic, data) {
      if (data === null) return null;
      if (data.length < TIME_BYTES)
        throw new RangeError(
          `a windowed key from "${topic}" needs at least ${TIME_BYTES} bytes, got ${data.length}`,
        );
      const start = readTime(data, data.length - TIME_BYTES);
      return {
        key: keySerde.deserialize(topic, data.subarray(0, data.length - TIME_BYTES)) as K,
        window: { startMs: start, endMs: start + windowSizeMs },
      };
    },
  };
}

/** The serde of `Windowed<K>` keys of session windows. */
export function sessionWindowedSerde<K>(keySerde: Serde<K>): Serde<Windowed<K>> {
  return {
    name: `session-windowed(${keySerde.name})`,
    serialize(topic, data) {
      if (data === null || data === undefined) return null;
      const key = inner(keySerde, topic, data.key);
      const out = Buffer.allocUnsafe(key.length + 2 * TIME_BYTES);
      key.copy(out, 0);
      writeTime(out, key.length, data.window.endMs);
      writeTime(out, key.length + TIME_BYTES, data.window.startMs);
      return out;
    },
    deserialize(topic, data) {
      if (data === null) return null;
      if (data.length < 2 * TIME_BYTES)
        throw new RangeError(
          `a session key from "${topic}" needs at least ${2 * TIME_BYTES} bytes, got ${data.length}`,
        );
      const keyEnd = data.length - 2 * TIME_BYTES;
      return {
        key: keySerde.deserialize(topic, data.subarray(0, keyEnd)) as K,
        window: { startMs: readTime(data, keyEnd + TIME_BYTES), endMs: readTime(data, keyEnd) },
      };
    },
  };
}
