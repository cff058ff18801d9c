/**
 * Errors of the processor area: what can go wrong while a task runs its
 * sub-topology. Each carries the task id and, where one is known, the
 * processor and the source record (topic/partition/offset) it was handling.
 */
import { StreamsError, type StreamsErrorContext } from '../errors.ts';
import type { ProducedRecord } from './exception-handlers.ts';

export const PROCESSOR_ERROR_CODES = [
  'CTR_PROCESSING',
  'CTR_RECORD_DESERIALIZATION',
  'CTR_RECORD_SERIALIZATION',
  'CTR_TASK_COMMIT',
  'CTR_RECORD_SEND',
  'CTR_RECORD_PRODUCTION',
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

/**
 * Thrown by a RecordCollector's `flush()` when particular records were not
 * written but the collector can go on: `failed` lists them (with why), every
 * other record handed over before the flush was acked, and the collector
 * accepts and sends records again. The task asks the production handler
 * about each failed record. Any other error from `flush()` means the
 * collector is broken and the task must close dirty.
 */
export class RecordSendError extends StreamsError {
  readonly failed: ReadonlyArray<{ record: ProducedRecord; error: unknown }>;
  constructor(
    message: string,
    failed: ReadonlyArray<{ record: ProducedRecord; error: unknown }>,
    context: StreamsErrorContext = {},
  ) {
    super('CTR_RECORD_SEND', message, context);
    this.failed = failed;
  }
}

/** The producer could not write a record and the production handler said fail (or there is none, or it was a changelog record). */
export class RecordProductionError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_RECORD_PRODUCTION', message, context);
  }
}

/** `error.message` when it is an Error, else its string form: for messages that quote a cause. */
export function describeCause(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
