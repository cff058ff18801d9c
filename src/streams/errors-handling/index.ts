/**
 * What the engine does with bad records: the exception handlers (Kafka
 * Streams' names), the dead-letter record format, and their counts. The
 * public face of src/streams/errors-handling.
 */
export {
  FailHandler,
  LogAndContinueHandler,
  DeadLetterHandler,
  exceptionHandler,
  exceptionHandlersFromConfig,
  taskExceptionHandlers,
  type DeserializationExceptionHandler,
  type ProcessingExceptionHandler,
  type ProductionExceptionHandler,
  type ExceptionHandler,
  type ExceptionHandlerName,
  type ExceptionHandlers,
  type ExceptionHandlerConfig,
  type DeadLetterHandlerOptions,
  type ProducedRecord,
  type HandlerContext,
  type HandlerResponse,
} from './exception-handlers.ts';
export {
  DLQ_HEADERS,
  deadLetterHeaders,
  deadLetterOfRaw,
  deadLetterOfTyped,
  payloadOf,
  errorCode,
  errorClass,
  type HandlerKind,
  type DeadLetterRecord,
  type DeadLetterFacts,
} from './dead-letter-record.ts';
export { HandlerStats, type HandlerAction, type HandlerCounts } from './handler-stats.ts';
