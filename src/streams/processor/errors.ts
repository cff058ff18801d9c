/**
 * Errors of the processor area: what can go wrong while a task runs its
 * sub-topology. Each carries the task id and, where one is known, the
 * processor and the source record (topic/partition/offset) it was handling.
 */
import { StreamsError, type StreamsErrorContext } from '../errors.ts';

export const PROCESSOR_ERROR_CODES = [
  'CTR_PROCESSING',
  'CTR_RECORD_DESERIALIZATION',
  'CTR_RECORD_SERIALIZATION',
  'CTR_TASK_COMMIT',
] as const;
export type ProcessorErrorCode = (typeof PROCESSOR_ERROR_CODES)[number];

/** A processor's `process`, `init`, `close` or a punctuator threw (and the handler, if any, said fail). */
export class ProcessingError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_PROCESSING', message, context);
  }
}

/** A source record's key or value could not be deserialized and the handler said fail (or there is none). */
export class RecordDeserializationError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_RECORD_DESERIALIZATION', message, context);
  }
}

/** A sink could not serialize a record's key or value (and the handler said fail, or there is none). */
export class RecordSerializationError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_RECORD_SERIALIZATION', message, context);
  }
}

/** A commit step (store flush, collector flush, store commit) failed; the task must be closed dirty. */
export class TaskCommitError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_TASK_COMMIT', message, context);
  }
}

/** `error.message` when it is an Error, else its string form: for messages that quote a cause. */
export function describeCause(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
