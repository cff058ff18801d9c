/**
 * The three exception handlers, with Kafka Streams' names and meanings:
 *
 * - DeserializationExceptionHandler: a source record's key or value does not
 *   deserialize (random bytes, wrong magic byte, unknown schema id,
 *   truncated Avro...).
 * - ProcessingExceptionHandler (KIP-1033): a processor or punctuator threw.
 * - ProductionExceptionHandler: a sink cannot serialize a record, or the
 *   producer cannot send it (too large, topic gone...).
 *
 * Each answers 'continue' (the record counts as handled and its offset will
 * be committed) or 'fail' (the task stops with a typed error and the offset
 * is NOT committed, so the record is read again after the fix). Built-ins:
 * `fail` (the default: never lose a record silently), `log-and-continue`
 * (log, count, skip) and `dead-letter` (send to `<application.id>-dlq`, count,
 * continue).
 *
 * Dead-lettering goes through the task's RecordCollector, the same path as
 * the task's outputs: the task's commit flushes the collector and awaits
 * every ack BEFORE it commits consumer offsets, so a dead-lettered record's
 * offset is committed only after the DLQ has it. If the DLQ send fails, the
 * flush fails, the task closes dirty and the record is read again.
 */
import type { StreamsConfig } from '../config.ts';
import type {
  HandlerContext,
  HandlerResponse,
  ProducedRecord,
  TaskExceptionHandlers,
} from '../processor/exception-handlers.ts';
import type { RawRecord } from '../processor/raw-record.ts';
import type { Headers, StreamRecord } from '../processor/record.ts';
import { createLogger } from '../../telemetry/logger.ts';
import {
  DLQ_HEADERS,
  deadLetterHeaders,
  deadLetterOfRaw,
  deadLetterOfTyped,
  errorClass,
  errorCode,
  type DeadLetterFacts,
  type DeadLetterRecord,
  type HandlerKind,
} from './dead-letter-record.ts';
import { HandlerStats, type HandlerAction } from './handler-stats.ts';
import type { ExceptionHandlerName } from '../config.ts';

export type { HandlerContext, HandlerResponse, ProducedRecord } from '../processor/exception-handlers.ts';

export interface DeserializationExceptionHandler {
  readonly name: string;
  handle(context: HandlerContext, record: RawRecord, error: unknown): HandlerResponse;
}

export interface ProcessingExceptionHandler {
  readonly name: string;
  /**
   * `records` is what failed: one record when the task isolated it (the
   * usual case), the whole batch when the processor's stores cannot be
   * rolled back, empty for a punctuator; on 'continue' they count as processed.
   */
  handle(
    context: HandlerContext,
    records: ReadonlyArray<StreamRecord<unknown, unknown>>,
    error: unknown,
  ): HandlerResponse;
}

export interface ProductionExceptionHandler {
  readonly name: string;
  /** A sink could not serialize `record` for `topic` (Kafka Streams' handleSerializationException). */
  handleSerializationException(
    context: HandlerContext,
    record: StreamRecord<unknown, unknown>,
    topic: string,
    error: unknown,
  ): HandlerResponse;
  /** The producer could not send `record` (Kafka Streams' handle). */
  handle(context: HandlerContext, record: ProducedRecord, error: unknown): HandlerResponse;
}

/** Every built-in is all three handlers at once; pick one per kind. */
export type ExceptionHandler = DeserializationExceptionHandler &
  ProcessingExceptionHandler &
  ProductionExceptionHandler;

/** Names accepted by the `*.exception.handler` settings. */
// one list of handler names, declared with the config keys that take them
export type { ExceptionHandlerName };

const log = createLogger('exception-handler');

/** Logs at most `burst` lines per `windowMs`, then one line saying how many were suppressed: 10,000 bad records must not flood the log. */
class LogLimiter {
  #windowStart = 0;
  #inWindow = 0;
  #suppressed = 0;
  constructor(
    private readonly burst = 20,
    private readonly windowMs = 10_000,
  ) {}
  allow(): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= this.windowMs) {
      if (this.#suppressed > 0)
        log.warn(
          { suppressed: this.#suppressed, windowMs: this.windowMs },
          `suppressed ${this.#suppressed} more bad-record log lines`,
        );
      this.#windowStart = now;
      this.#inWindow = 0;
      this.#suppressed = 0;
    }
    if (this.#inWindow < this.burst) {
      this.#inWindow++;
      return true;
    }
    this.#suppressed++;
    return false;
  }
}

abstract class BuiltInHandler implements ExceptionHandler {
  abstract readonly name: ExceptionHandlerName;
  protected abstract readonly action: HandlerAction;
  readonly stats: HandlerStats;
  readonly #logs = new LogLimiter();

  constructor(stats: HandlerStats = new HandlerStats()) {
    this.stats = stats;
  }

  protected note(
    kind: HandlerKind,
    context: HandlerContext,
    error: unknown,
    where: { topic?: string; partition?: number; offset?: string },
    count = 1,
  ): void {
    const code = errorCode(error) ?? errorClass(error);
    this.stats.record(kind, this.action, code, where.topic, count);
    if (!this.#logs.allow()) return;
    const at =
      where.topic !== undefined
        ? `${where.topic}[${where.partition ?? '?'}] offset ${where.offset ?? '?'}`
        : 'a punctuator';
    const line = {
      applicationId: context.applicationId,
      taskId: context.taskId,
      processor: context.processor,
      handler: kind,
      action: this.action,
      code,
      records: count,
      ...where,
      err: error,
    };
    const text = `${kind} error in "${context.processor}" at ${at}: ${error instanceof Error ? error.message : String(error)} (${this.action})`;
    if (this.action === 'fail') log.error(line, text);
    else log.warn(line, text);
  }

  handle(
    context: HandlerContext,
    recordOrRecords: RawRecord | ReadonlyArray<StreamRecord<unknown, unknown>> | ProducedRecord,
    error: unknown,
  ): HandlerResponse {
    if (Array.isArray(recordOrRecords))
      return this.onProcessing(
        context,
        recordOrRecords as ReadonlyArray<StreamRecord<unknown, unknown>>,
        error,
      );
    const record = recordOrRecords as RawRecord | ProducedRecord;
    if ('offset' in record) return this.onDeserialization(context, record, error);
    return this.onSend(context, record, error);
  }

  handleSerializationException(
    context: HandlerContext,
    record: StreamRecord<unknown, unknown>,
    topic: string,
    error: unknown,
  ): HandlerResponse {
    return this.onSerialization(context, record, topic, error);
  }

  protected onDeserialization(context: HandlerContext, record: RawRecord, error: unknown): HandlerResponse {
    this.note('deserialization', context, error, {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
    });
    return this.response();
  }

  protected onProcessing(
    context: HandlerContext,
    records: ReadonlyArray<StreamRecord<unknown, unknown>>,
    error: unknown,
  ): HandlerResponse {
    const origin = records[0]?.origin;
    this.note(
      'processing',
      context,
      error,
      origin ? { topic: origin.topic, partition: origin.partition, offset: origin.offset } : {},
      Math.max(1, records.length),
    );
    return this.response();
  }

  protected onSerialization(
    context: HandlerContext,
    record: StreamRecord<unknown, unknown>,
    _topic: string,
    error: unknown,
  ): HandlerResponse {
    const origin = record.origin;
    this.note(
      'production',
      context,
      error,
      origin ? { topic: origin.topic, partition: origin.partition, offset: origin.offset } : {},
    );
    return this.response();
  }

  protected onSend(context: HandlerContext, record: ProducedRecord, error: unknown): HandlerResponse {
    this.note('production', context, error, {
      topic: record.topic,
      ...(record.partition !== undefined ? { partition: record.partition } : {}),
    });
    return this.response();
  }

  protected response(): HandlerResponse {
    return this.action === 'fail' ? 'fail' : 'continue';
  }
}

/** Logs the error and answers 'fail': the task stops, the offset is not committed (Kafka Streams' LogAndFail). */
export class FailHandler extends BuiltInHandler {
  readonly name = 'fail' as const;
  protected readonly action = 'fail' as const;
}

/** Logs (rate-limited), counts and skips the record (Kafka Streams' LogAndContinue). */
export class LogAndContinueHandler extends BuiltInHandler {
  readonly name = 'log-and-continue' as const;
  protected readonly action = 'continue' as const;
}

export interface DeadLetterHandlerOptions {
  /** The DLQ topic; default `<application.id>-dlq` of the failing task's app. */
  topic?: string;
  stats?: HandlerStats;
}

/**
 * Sends the record to the dead-letter topic with its original key and value
 * bytes (deserialization and send errors) and headers naming the error and
 * the source (see DLQ_HEADERS), counts it, and answers 'continue'.
 *
 * Processing and serialization errors happen after deserialization: the
 * task still holds the batch's source records, so the DLQ gets the source
 * key/value bytes and headers of the record the failing one came from
 * (`HandlerContext.sourceRecord`). Only when that source record is not at
 * hand (a record buffered from an earlier batch, a context without
 * `sourceRecord`) are the typed key and value re-encoded (Buffers and strings
 * as they are, other values as JSON, header `__streams.errors.payload: json`).
 * The task isolates the poison record of a failing batch, so normally one
 * record is dead-lettered; a failed punctuator has no record, so it is only
 * logged and counted.
 */
export class DeadLetterHandler extends BuiltInHandler {
  readonly name = 'dead-letter' as const;
  protected readonly action = 'dead-letter' as const;
  readonly #topic: string | undefined;

  constructor(options: DeadLetterHandlerOptions = {}) {
    super(options.stats);
    this.#topic = options.topic;
  }

  /** The DLQ topic for an app. */
  topicFor(applicationId: string): string {
    return this.#topic ?? `${applicationId}-dlq`;
  }

  protected override onDeserialization(
    context: HandlerContext,
    record: RawRecord,
    error: unknown,
  ): HandlerResponse {
    this.#send(
      context,
      this.topicFor(context.applicationId),
      deadLetterOfRaw(record, this.#facts('deserialization', context, error)),
    );
    return super.onDeserialization(context, record, error);
  }

  protected override onProcessing(
    context: HandlerContext,
    records: ReadonlyArray<StreamRecord<unknown, unknown>>,
    error: unknown,
  ): HandlerResponse {
    const topic = this.topicFor(context.applicationId);
    // a failed punctuator (no records) has nothing to dead-letter: as in Kafka Streams it is only logged and counted
    const extra = records.length > 1 ? { [DLQ_HEADERS.batchSize]: String(records.length) } : {};
    for (const record of records) {
      this.#send(
        context,
        topic,
        this.#deadLetterOf(record, context, this.#facts('processing', context, error), extra),
      );
    }
    return super.onProcessing(context, records, error);
  }

  protected override onSerialization(
    context: HandlerContext,
    record: StreamRecord<unknown, unknown>,
    sinkTopic: string,
    error: unknown,
  ): HandlerResponse {
    this.#send(
      context,
      this.topicFor(context.applicationId),
      this.#deadLetterOf(record, context, this.#facts('production', context, error), {
        [DLQ_HEADERS.sinkTopic]: sinkTopic,
      }),
    );
    return super.onSerialization(context, record, sinkTopic, error);
  }

  protected override onSend(
    context: HandlerContext,
    record: ProducedRecord,
    error: unknown,
  ): HandlerResponse {
    const dlqTopic = this.topicFor(context.applicationId);
    if (record.topic === dlqTopic) return 'fail'; // the DLQ itself refuses: nowhere left to put it
    this.#send(context, dlqTopic, {
      key: record.key,
      value: record.value,
      headers: deadLetterHeaders(record.headers, this.#facts('production', context, error), {
        [DLQ_HEADERS.sinkTopic]: record.topic,
      }),
      timestamp: record.timestamp,
    });
    return super.onSend(context, record, error);
  }

  /** Sends a dead letter through the task's collector, like any output; the partitioner picks the partition. */
  #send(context: HandlerContext, topic: string, dlq: DeadLetterRecord): void {
    context.collector.sendRecord(topic, undefined, dlq.key, dlq.value, dlq.headers, dlq.timestamp);
  }

  /** The source bytes of `record` when the task still has them, else its typed key/value re-encoded. */
  #deadLetterOf(
    record: StreamRecord<unknown, unknown>,
    context: HandlerContext,
    facts: Omit<DeadLetterFacts, 'topic' | 'partition' | 'offset' | 'timestamp'>,
    extra: Headers,
  ): DeadLetterRecord {
    const source = record.origin ? context.sourceRecord?.(record.origin) : undefined;
    return source ? deadLetterOfRaw(source, facts, extra) : deadLetterOfTyped(record, facts, extra);
  }

  #facts(handler: HandlerKind, context: HandlerContext, error: unknown) {
    return {
      handler,
      error,
      applicationId: context.applicationId,
      taskId: context.taskId,
      processor: context.processor,
    };
  }
}

/**
 * A built-in handler by its setting name.
 * @param stats shared counts (one per app, so its snapshot covers all three kinds).
 */
export function exceptionHandler(
  name: ExceptionHandlerName,
  options: { deadLetterTopic?: string; stats?: HandlerStats } = {},
): ExceptionHandler {
  switch (name) {
    case 'fail':
      return new FailHandler(options.stats);
    case 'log-and-continue':
      return new LogAndContinueHandler(options.stats);
    case 'dead-letter':
      return new DeadLetterHandler({
        ...(options.deadLetterTopic ? { topic: options.deadLetterTopic } : {}),
        ...(options.stats ? { stats: options.stats } : {}),
      });
  }
}

export interface ExceptionHandlers {
  deserialization: DeserializationExceptionHandler;
  processing: ProcessingExceptionHandler;
  production: ProductionExceptionHandler;
}

/** Adapts the three handlers to the task's port (what StreamTask / KafkaStreams take as `handlers`). */
export function taskExceptionHandlers(handlers: ExceptionHandlers): TaskExceptionHandlers {
  return {
    onDeserializationError: (context, record, error) =>
      handlers.deserialization.handle(context, record, error),
    onProcessingError: (context, records, error) => handlers.processing.handle(context, records, error),
    onSerializationError: (context, record, topic, error) =>
      handlers.production.handleSerializationException(context, record, topic, error),
    onProductionError: (context, record, error) => handlers.production.handle(context, record, error),
    // a handler that always fails gains nothing from isolating the poison record: skip the undo journal
    processingIsolation: handlers.processing.name !== 'fail',
  };
}

/** The settings this module reads (Kafka Streams names; see src/streams/config.ts). */
export type ExceptionHandlerConfig = Pick<
  StreamsConfig,
  | 'default.deserialization.exception.handler'
  | 'processing.exception.handler'
  | 'default.production.exception.handler'
  | 'errors.dead.letter.queue.topic.name'
>;

/**
 * The handlers the config names, sharing one {@link HandlerStats}.
 * @returns `handlers` for KafkaStreams/StreamTask, the three handlers, and `stats` (counts per handler/action/code).
 */
export function exceptionHandlersFromConfig(
  config: ExceptionHandlerConfig,
  stats: HandlerStats = new HandlerStats(),
): {
  handlers: TaskExceptionHandlers;
  exceptionHandlers: ExceptionHandlers;
  stats: HandlerStats;
  /** The DLQ topic when any handler dead-letters (the app must create it: auto-creation is off on our brokers), else undefined. */
  deadLetterTopic: string | undefined;
} {
  const deadLetterTopic = config['errors.dead.letter.queue.topic.name'];
  const make = (name: ExceptionHandlerName) => exceptionHandler(name, { deadLetterTopic, stats });
  const exceptionHandlers: ExceptionHandlers = {
    deserialization: make(config['default.deserialization.exception.handler']),
    processing: make(config['processing.exception.handler']),
    production: make(config['default.production.exception.handler']),
  };
  const usesDlq = [
    config['default.deserialization.exception.handler'],
    config['processing.exception.handler'],
    config['default.production.exception.handler'],
  ].includes('dead-letter');
  return {
    handlers: taskExceptionHandlers(exceptionHandlers),
    exceptionHandlers,
    stats,
    deadLetterTopic: usesDlq ? deadLetterTopic : undefined,
  };
}
