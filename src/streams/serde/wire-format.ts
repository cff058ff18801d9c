/**
 * The Confluent wire format, shared by every schema-registry-aware producer
 * and consumer in the Kafka ecosystem:
 *
 *   byte 0      magic byte, always 0
 *   bytes 1-4   schema id, int32 big-endian (the registry's global id)
 *   bytes 5-    the payload: Avro binary of the value, no container header
 *
 * Kept apart from the Avro serde so tests can pin the framing byte for byte
 * and other formats (JSON Schema, Protobuf) could reuse it.
 */
import { SerdeError } from './errors.ts';

export const MAGIC_BYTE = 0;
export const FRAME_HEADER_BYTES = 5;

/** A decoded frame: the schema id, and the payload as a view on the input (no copy). */
export interface Frame {
  schemaId: number;
  payload: Buffer;
}

/**
 * Frames `payload` with `schemaId`.
 * @throws SerdeError CTR_SERDE_SERIALIZE when the id is not a uint31 (the registry's ids are positive int32).
 */
export function encodeFrame(schemaId: number, payload: Buffer): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new SerdeError(
      'CTR_SERDE_SERIALIZE',
      `schema id must be an integer from 0 to 2^31-1, got ${String(schemaId)}`,
    );
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** The schema id of a frame, or undefined when `data` is not a frame (too short or wrong magic byte). */
export function peekSchemaId(data: Buffer): number | undefined {
  if (data.length < FRAME_HEADER_BYTES || data[0] !== MAGIC_BYTE) return undefined;
  return data.readInt32BE(1);
}

/**
 * Splits a frame into id and payload.
 * @param where names the data in the error message, e.g. `impressions[3]@1042`.
 * @throws SerdeError CTR_SERDE_WIRE_FORMAT when the data is shorter than the header or the magic byte is not 0.
 */
export function decodeFrame(data: Buffer, where = 'value'): Frame {
  if (data.length < FRAME_HEADER_BYTES) {
    throw new SerdeError(
      'CTR_SERDE_WIRE_FORMAT',
      `${where}: ${data.length} bytes is shorter than the 5-byte Confluent frame header`,
    );
  }
  if (data[0] !== MAGIC_BYTE) {
    throw new SerdeError(
      'CTR_SERDE_WIRE_FORMAT',
      `${where}: magic byte is ${data[0]}, expected 0 (not a Confluent-framed record)`,
    );
  }
  return { schemaId: data.readInt32BE(1), payload: data.subarray(FRAME_HEADER_BYTES) };
}
