/**
 * The task's port to the exception-handling policies (owned by
 * src/streams/errors-handling: fail, log-and-continue, dead-letter). The
 * task calls these hooks; an absent hook means "fail" (the error stops the
 * task, which is the only safe default for a record we cannot account for).
 */
import type { RawRecord } from './raw-record.ts';
import type { RecordCollector } from './record-collector.ts';
import type { Headers, RecordOrigin, StreamRecord } from './record.ts';

export type HandlerResponse = 'continue' | 'fail';

/** Facts about the failing record that every hook receives. */
export interface HandlerContext {
  applicationId: string;
  taskId: string;
  /** The node that failed: a source (deserialization), a processor, or a sink (serialization, production). */
  processor: string;
  /** Where a handler that dead-letters must send, so the offset commit waits for the DLQ ack. */
  collector: RecordCollector;
  /**
   * The source record of the batch being processed that has this origin,
   * exactly as fetched (original key/value bytes and headers), so a handler
   * can dead-letter the bytes it read rather than a re-encoding of typed
   * values. Undefined when that origin is not in the batch being processed (a
   * record buffered from an earlier batch by a join or a punctuator) or when
   * the hook runs outside `process` (commit, wall-clock punctuation). A record
   * a processor derived from a source record (map, flatMap, re-key) keeps its
   * origin, so several failures may name the same source bytes.
   * Absent on contexts built outside a task (tests, tools).
   */
  sourceRecord?(origin: RecordOrigin): RawRecord | undefined;
}

/** A record the producer did not write, as the RecordCollector had it (bytes). */
export interface ProducedRecord {
  topic: string;
  /** The partition asked for; undefined when the producer picks it. */
  partition: number | undefined;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  /** ms since the epoch. */
  timestamp: number;
}

export interface TaskExceptionHandlers {
  /** A source record's key or value did not deserialize. */
  onDeserializationError?(
    context: HandlerContext,
    record: RawRecord,
    error: unknown,
  ): HandlerResponse | Promise<HandlerResponse>;
  /**
   * A processor or punctuator threw. `records` is what failed: ONE record
   * when the task isolated the poison record (the usual case, see
   * ProcessorNode), the whole batch when the processor's stores cannot be
   * rolled back or isolation is off, empty for a punctuator. On 'continue'
   * those records count as processed and nothing they forwarded is kept.
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
  /**
   * The record collector could not send an output record (refused it, or the
   * broker rejected it for good: too large, topic gone...). Asked at commit,
   * once per failed record. 'continue' skips the record (the handler may
   * dead-letter it); 'fail' fails the commit. Never asked for changelog
   * records: a store and its changelog must not disagree, so those always fail.
   */
  onProductionError?(
    context: HandlerContext,
    record: ProducedRecord,
    error: unknown,
  ): HandlerResponse | Promise<HandlerResponse>;
  /**
   * Whether a processor that throws on a batch is re-run record by record to
   * isolate the poison record (default: true when `onProcessingError` is
   * set). Isolation journals every store write of a batch (one extra read
   * per write) so a failed attempt can be undone; set false when the
   * processing handler always answers 'fail', where the journal buys nothing.
   */
  processingIsolation?: boolean;
}
