/**
 * The engine's error base. Every error the engine throws is a StreamsError
 * with a stable `code` (one of the tuples below), `retriable`, and the context
 * that lets a message name the thing: task, store, topic, partition, offset.
 *
 * Each area of the engine declares its own codes next to its errors
 * (state/errors.ts, serde/errors.ts, runtime/errors.ts, ...); this file holds
 * the base class and the codes shared by all areas.
 */

export const COMMON_ERROR_CODES = ['CTR_CONFIG', 'CTR_TOPOLOGY', 'CTR_ILLEGAL_STATE', 'CTR_STREAMS'] as const;

export interface StreamsErrorContext {
  cause?: unknown;
  retriable?: boolean;
  taskId?: string;
  store?: string;
  topic?: string;
  partition?: number;
  offset?: string;
  processor?: string;
}

export class StreamsError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly taskId: string | undefined;
  readonly store: string | undefined;
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly offset: string | undefined;
  readonly processor: string | undefined;

  constructor(code: string, message: string, context: StreamsErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = context.retriable ?? false;
    this.taskId = context.taskId;
    this.store = context.store;
    this.topic = context.topic;
    this.partition = context.partition;
    this.offset = context.offset;
    this.processor = context.processor;
  }
}

/** A topology that cannot run as built (unknown parent, duplicate name, store not connected, ...). */
export class TopologyError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_TOPOLOGY', message, context);
  }
}

/** An operation called in a lifecycle state that does not allow it. */
export class IllegalStateError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_ILLEGAL_STATE', message, context);
  }
}
