/**
 * The Processor API and the task that runs it: public surface of
 * src/streams/processor.
 */
export type { Headers, RecordOrigin, StreamRecord } from './record.ts';
export type {
  Cancellable,
  Processor,
  ProcessorContext,
  ProcessorSupplier,
  PunctuationType,
  Punctuator,
} from './processor.ts';
export { supplyProcessor, suppliedStores } from './processor.ts';
export { defaultPartition, murmur2, type StreamPartitioner } from './partitioner.ts';
export type {
  NodeDef,
  ProcessorNodeDef,
  ProcessorTopology,
  SinkNodeDef,
  SourceNodeDef,
  TimestampExtractor,
  TopicNameExtractor,
} from './processor-topology.ts';
export type { RawRecord } from './raw-record.ts';
export type { RecordCollector } from './record-collector.ts';
export type {
  HandlerContext,
  HandlerResponse,
  ProducedRecord,
  TaskExceptionHandlers,
} from './exception-handlers.ts';
export { ProductionGuardCollector, type ProductionGuardOptions } from './production-guard-collector.ts';
export { DroppedRecords, type DropReason } from './dropped-records.ts';
export { StreamTask, type StreamTaskOptions, type TaskState } from './stream-task.ts';
export {
  PROCESSOR_ERROR_CODES,
  ProcessingError,
  RecordDeserializationError,
  RecordProductionError,
  RecordSendError,
  RecordSerializationError,
  TaskCommitError,
  type ProcessorErrorCode,
} from './errors.ts';
