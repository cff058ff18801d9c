/**
 * What a dead-lettered record looks like: the ORIGINAL key and value bytes
 * (so the record can be replayed once the bug or the schema is fixed), the
 * original headers, and headers that say what went wrong and where the
 * record came from. Header names follow Kafka Streams' KIP-1034
 * (`__streams.errors.*`), so tools written for Kafka Streams' DLQs read ours.
 */
import type { Headers, StreamRecord } from '../processor/record.ts';
import type { RawRecord } from '../processor/raw-record.ts';

/** The header names we add, spelled once. */
export const DLQ_HEADERS = {
  /** Error class name, e.g. `SerdeError`, `TypeError`. */
  exception: '__streams.errors.exception',
  /** Stable error code when the error has one (`CTR_SERDE_WIRE_FORMAT`), else absent. */
  code: '__streams.errors.code',
  /** Error message (at most 4 KiB). */
  message: '__streams.errors.message',
  /** Stack trace (at most 8 KiB). */
  stacktrace: '__streams.errors.stacktrace',
  /** Which handler dead-lettered it: `deserialization`, `processing` or `production`. */
  handler: '__streams.errors.handler',
  /** Source topic, partition, offset (decimal), timestamp (ms since the epoch, decimal). */
  topic: '__streams.errors.topic',
  partition: '__streams.errors.partition',
  offset: '__streams.errors.offset',
  timestamp: '__streams.errors.timestamp',
  /** The node that failed: a source, a processor or a sink. */
  processor: '__streams.errors.processor',
  applicationId: '__streams.errors.application.id',
  taskId: '__streams.errors.task.id',
  /** Set when key/value are NOT the source bytes (see `payloadOf`): `json`. */
  payload: '__streams.errors.payload',
  /** Records in the failed batch, when a processor failed on a whole batch. */
  batchSize: '__streams.errors.batch.size',
  /** The sink's destination topic, for production errors. */
  sinkTopic: '__streams.errors.sink.topic',
} as const;

export type HandlerKind = 'deserialization' | 'processing' | 'production';

const MAX_MESSAGE = 4096;
const MAX_STACK = 8192;

/** The error's stable code (`code` of a StreamsError, or of a Node system error), else undefined. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The error's class name (`SerdeError`), `name` of plain errors, or the typeof of a thrown non-error. */
export function errorClass(error: unknown): string {
  if (error instanceof Error)
    return error.constructor?.name && error.constructor.name !== 'Error'
      ? error.constructor.name
      : error.name;
  return typeof error;
}

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}...` : text;
}

export interface DeadLetterFacts {
  handler: HandlerKind;
  error: unknown;
  applicationId: string;
  taskId: string;
  processor: string;
  /** Source coordinates; absent fields are left out of the headers. */
  topic?: string;
  partition?: number;
  offset?: string;
  timestamp?: number;
}

/** Original headers + the error headers (ours win on a name clash). */
export function deadLetterHeaders(original: Headers, facts: DeadLetterFacts, extra: Headers = {}): Headers {
  const headers: Headers = { ...original };
  headers[DLQ_HEADERS.exception] = errorClass(facts.error);
  const code = errorCode(facts.error);
  if (code !== undefined) headers[DLQ_HEADERS.code] = code;
  headers[DLQ_HEADERS.message] = errorMessage(facts.error);
  const stack = facts.error instanceof Error ? facts.error.stack : undefined;
  if (stack) headers[DLQ_HEADERS.stacktrace] = stack.length > MAX_STACK ? stack.slice(0, MAX_STACK) : stack;
  headers[DLQ_HEADERS.handler] = facts.handler;
  if (facts.topic !== undefined) headers[DLQ_HEADERS.topic] = facts.topic;
  if (facts.partition !== undefined) headers[DLQ_HEADERS.partition] = String(facts.partition);
  if (facts.offset !== undefined) headers[DLQ_HEADERS.offset] = facts.offset;
  if (facts.timestamp !== undefined) headers[DLQ_HEADERS.timestamp] = String(facts.timestamp);
  headers[DLQ_HEADERS.processor] = facts.processor;
  headers[DLQ_HEADERS.applicationId] = facts.applicationId;
  headers[DLQ_HEADERS.taskId] = facts.taskId;
  return { ...headers, ...extra };
}

/** A DLQ record ready for `RecordCollector.sendRecord`. */
export interface DeadLetterRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  timestamp: number;
}

/**
 * The DLQ record of a source record as fetched (an undeserializable one, or
 * the source of a record a processor or sink failed on): its bytes, untouched.
 */
export function deadLetterOfRaw(
  record: RawRecord,
  facts: Omit<DeadLetterFacts, 'topic' | 'partition' | 'offset' | 'timestamp'>,
  extra: Headers = {},
): DeadLetterRecord {
  return {
    key: record.key,
    value: record.value,
    headers: deadLetterHeaders(
      record.headers,
      {
        ...facts,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
      },
      extra,
    ),
    timestamp: record.timestamp,
  };
}

/**
 * Bytes for a typed key or value whose source bytes are no longer at hand
 * (a processor or a sink failed after deserialization). Buffers pass as they
 * are, strings as UTF-8; anything else as JSON (typed arrays as arrays,
 * bigints as strings), and `reencoded` says so, so the DLQ reader knows the
 * bytes are not the source's.
 */
export function payloadOf(value: unknown): { bytes: Buffer | null; reencoded: boolean } {
  if (value === null || value === undefined) return { bytes: null, reencoded: false };
  if (Buffer.isBuffer(value)) return { bytes: value, reencoded: false };
  if (typeof value === 'string') return { bytes: Buffer.from(value, 'utf8'), reencoded: false };
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (ArrayBuffer.isView(v) && !(v instanceof DataView))
        return Array.from(v as unknown as ArrayLike<number>);
      return v;
    });
    return { bytes: text === undefined ? null : Buffer.from(text, 'utf8'), reencoded: true };
  } catch {
    return { bytes: Buffer.from(String(value), 'utf8'), reencoded: true };
  }
}

/** The DLQ record of a typed record (processing / production errors). */
export function deadLetterOfTyped(
  record: StreamRecord<unknown, unknown>,
  facts: Omit<DeadLetterFacts, 'topic' | 'partition' | 'offset' | 'timestamp'>,
  extra: Headers = {},
): DeadLetterRecord {
  const key = payloadOf(record.key);
  const value = payloadOf(record.value);
  const origin = record.origin;
  const marks: Headers = key.reencoded || value.reencoded ? { [DLQ_HEADERS.payload]: 'json' } : {};
  return {
    key: key.bytes,
    value: value.bytes,
    headers: deadLetterHeaders(
      record.headers,
      {
        ...facts,
        timestamp: record.timestamp,
        ...(origin ? { topic: origin.topic, partition: origin.partition, offset: origin.offset } : {}),
      },
      { ...marks, ...extra },
    ),
    timestamp: record.timestamp,
  };
}
