/**
 * Raw bytes, passed through untouched: for pass-through topologies, the DLQ,
 * and keys or values whose format is another component's business.
 */
import type { Serde } from './serde.ts';

class BytesSerde implements Serde<Buffer> {
  readonly name = 'bytes';

  serialize(_topic: string, data: Buffer | null): Buffer | null {
    return data;
  }

  deserialize(_topic: string, data: Buffer | null): Buffer | null {
    return data;
  }
}

/** The identity serde over Buffers (one shared, stateless instance). */
export const bytesSerde: Serde<Buffer> = new BytesSerde();
