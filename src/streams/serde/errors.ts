/**
 * Errors of the serde area. A deserializer throws a SerdeError for bytes that
 * are not a valid value; the engine hands the record to the deserialization
 * exception handler, which decides (fail, log and continue, dead-letter) by
 * policy. `code` says which kind of bad input it was, so a DLQ reader and the
 * per-reason metrics can tell random bytes from an unknown schema id.
 */
import { StreamsError, type StreamsErrorContext } from '../errors.ts';

export const SERDE_ERROR_CODES = [
  /** The bytes do not decode as the expected type (truncated Avro, bad JSON, odd float32 length...). */
  'CTR_SERDE_DESERIALIZE',
  /** A value could not be encoded (wrong field types for the schema, not JSON-serializable...). */
  'CTR_SERDE_SERIALIZE',
  /** A Confluent frame that is not one: too short, or a magic byte other than 0. */
  'CTR_SERDE_WIRE_FORMAT',
  /** The frame names a schema id the registry does not know (or that was never resolved). */
  'CTR_SERDE_UNKNOWN_SCHEMA',
  /** The writer schema cannot be read as the reader schema (incompatible evolution, another record type). */
  'CTR_SERDE_INCOMPATIBLE_SCHEMA',
  /** An .avsc that does not parse, or a schema the registry refuses. */
  'CTR_SERDE_SCHEMA',
  /** The schema registry could not be reached or answered an error; retriable. */
  'CTR_SERDE_REGISTRY',
  /** A serializer used before `prepare` registered its schema. */
  'CTR_SERDE_NOT_PREPARED',
] as const;
export type SerdeErrorCode = (typeof SERDE_ERROR_CODES)[number];

export interface SerdeErrorContext extends StreamsErrorContext {
  /** The serde's name, e.g. `avro(impression)`. */
  serde?: string;
  /** The Confluent schema id in the frame, when there was one. */
  schemaId?: number;
}

/** The one error class of this area; `code` tells the kind (see {@link SERDE_ERROR_CODES}). */
export class SerdeError extends StreamsError {
  override readonly code: SerdeErrorCode;
  readonly serde: string | undefined;
  readonly schemaId: number | undefined;

  constructor(code: SerdeErrorCode, message: string, context: SerdeErrorContext = {}) {
    super(code, message, context);
    this.code = code;
    this.serde = context.serde;
    this.schemaId = context.schemaId;
  }
}

/** Text of any thrown thing, for messages that wrap a library's error. */
export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
