/**
 * Float32 vectors as their raw IEEE-754 bytes, little-endian (the layout of a
 * Float32Array on every platform Node runs on, and of numpy's `<f4`): 4 bytes
 * per component, no header. Embeddings are stored and shipped this way, so a
 * 64-dim vector costs 256 bytes and decodes without parsing.
 */
import { SerdeError } from './errors.ts';
import type { Serde } from './serde.ts';

/** Copies a Float32Array's components into a new little-endian Buffer. */
export function float32ToBuffer(vector: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) out.writeFloatLE(vector[i]!, i * 4);
  return out;
}

/**
 * Reads little-endian float32 components from `bytes` into a new (aligned)
 * Float32Array.
 * @throws SerdeError CTR_SERDE_DESERIALIZE when the length is not a multiple of 4.
 */
export function bufferToFloat32(bytes: Buffer, what = 'float32 vector'): Float32Array {
  if (bytes.length % 4 !== 0) {
    throw new SerdeError(
      'CTR_SERDE_DESERIALIZE',
      `${what}: ${bytes.length} bytes is not a whole number of float32 components`,
    );
  }
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

class Float32VectorSerde implements Serde<Float32Array> {
  readonly name: string;
  readonly #dimension: number | undefined;

  constructor(dimension: number | undefined) {
    if (dimension !== undefined && (!Number.isInteger(dimension) || dimension <= 0)) {
      throw new SerdeError(
        'CTR_SERDE_SCHEMA',
        `float32 vector dimension must be a positive integer, got ${String(dimension)}`,
      );
    }
    this.#dimension = dimension;
    this.name = dimension === undefined ? 'float32-vector' : `float32-vector(${dimension})`;
  }

  serialize(topic: string, data: Float32Array | null): Buffer | null {
    if (data === null) return null;
    if (this.#dimension !== undefined && data.length !== this.#dimension) {
      throw new SerdeError(
        'CTR_SERDE_SERIALIZE',
        `cannot serialize a ${data.length}-dim vector for ${topic} as ${this.name}`,
        { topic, serde: this.name },
      );
    }
    return float32ToBuffer(data);
  }

  deserialize(topic: string, data: Buffer | null): Float32Array | null {
    if (data === null) return null;
    const vector = bufferToFloat32(data, `${this.name} from ${topic}`);
    if (this.#dimension !== undefined && vector.length !== this.#dimension) {
      throw new SerdeError(
        'CTR_SERDE_DESERIALIZE',
        `${this.name} from ${topic}: got ${vector.length} components`,
        { topic, serde: this.name },
      );
    }
    return vector;
  }
}

/** A float32 vector serde; with `dimension`, vectors of any other length are rejected both ways. */
export function float32VectorSerde(dimension?: number): Serde<Float32Array> {
  return new Float32VectorSerde(dimension);
}
