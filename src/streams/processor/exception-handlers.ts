/**
 * The task's port to the exception-handling policies (owned by
 * src/streams/errors-handling: fail, log-and-continue, dead-letter). The
 * task calls these hooks; an absent hook means "fail" (the error stops the
 * task, which is the only safe default for a record we cannot account for).
 */
import type { RawRecord } from './raw-record.ts';
import type { RecordCollector } from './record-collector.ts';
import type { StreamRecord } from './record.ts';

export type HandlerResponse = 'continue' | 'fail';

/** Facts about the failing record that every hook receives. */
export interface HandlerContext {
  applicationId: string;
  taskId: string;
  /** The node that failed: a source (deserialization), a processor, or a sink (serialization). */
  processor: string;
  /** Where a handler that dead-letters must send, so the offset commit waits for the DLQ ack. */
  collector: RecordCollector;
}

export interface TaskExceptionHandlers {
  /** A source record's key or value did not deserialize. */
  onDeserializationError?(
    context: HandlerContext,
    record: RawRecord,
    error: unknown,
  ): HandlerResponse | Promise<HandlerResponse>;
  /**
   * A processor or punctuator threw. `records` is the batch it was given
   * (empty for a punctuator); on 'continue' the batch counts as processed
   * and nothing it forwarded is kept.
   */
  onProcessingError?(
    context: HandlerContext,
    records: ReadonlyArray<StreamRecord<unknown, unknown>>,
    error: unknown,
  ): HandlerResponse | Promise<HandlerResponse>;
  /** A sink could not serialize a record (key or value) or pick its partition. */
  onSerializationError?(
    context: HandlerContext,
    record: StreamRecord<unknown, unknown>,
    topic: string,
    error: unknown,
  ): HandlerResponse | Promise<HandlerResponse>;
}
