/**
 * Partitioning: which partition of a topic a record goes to. The default is
 * Kafka's own (murmur2 of the serialized key, as the Java client and kafkajs'
 * DefaultPartitioner compute it), so that records written by this engine land
 * where any other Kafka producer would put them, and co-partitioning holds.
 */

/**
 * Chooses a partition for a sink record (Kafka Streams' StreamPartitioner).
 * @param numPartitions the partition count of `topic`, > 0.
 * @returns a partition in [0, numPartitions), or `undefined` to use the
 *   default (murmur2 of the key bytes).
 */
export type StreamPartitioner<K = unknown, V = unknown> = (
  topic: string,
  key: K,
  value: V,
  numPartitions: number,
) => number | undefined;

/**
 * Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2), seed
 * 0x9747b28c, over the given bytes. Returns a signed 32-bit integer.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) +
      ((data[i4 + 1]! & 0xff) << 8) +
      ((data[i4 + 2]! & 0xff) << 16) +
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  // the tail bytes, as Kafka's switch with fall-through does
  const tail = length & ~3;
  const rest = length % 4;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner picks for a keyed record:
 * `toPositive(murmur2(key)) % numPartitions`.
 * @throws RangeError when numPartitions < 1.
 */
export function defaultPartition(key: Uint8Array, numPartitions: number): number {
  if (!(numPartitions >= 1)) throw new RangeError(`numPartitions must be >= 1, got ${numPartitions}`);
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}
