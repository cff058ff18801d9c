/**
 * The default serde of `count()` results: a signed 64-bit big-endian
 * integer, the bytes Kafka's LongSerializer writes, so that JVM consumers of
 * a count topic read it as a Long. Counts beyond 2^53 lose precision in JS.
 */
import type { Serde } from '../../serde/serde.ts';

export const countSerde: Serde<number> = {
  name: 'long',
  serialize(_topic: string, data: number | null): Buffer | null {
    if (data === null || data === undefined) return null;
    const out = Buffer.allocUnsafe(8);
    out.writeBigInt64BE(BigInt(Math.trunc(data)));
    return out;
  },
  deserialize(topic: string, data: Buffer | null): number | null {
    if (data === null) return null;
    if (data.length !== 8) throw new RangeError(`a long from "${topic}" must be 8 bytes, got ${data.length}`);
    return Number(data.readBigInt64BE());
  },
};
