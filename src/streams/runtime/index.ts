/**
 * The runtime: KafkaStreams runs a topology on a real Kafka cluster.
 * Public surface of src/streams/runtime.
 */
export {
  KafkaStreams,
  type KafkaStreamsOptions,
  type RunnableTopology,
  type TopologyLike,
  type ErrorListener,
} from './kafka-streams.ts';
export { type KafkaStreamsState, type StateListener } from './app-state.ts';
export {
  type StateRestoreListener,
  type RestoreResult,
  type RestoreFaults,
  type ChangelogRead,
} from './store-restorer.ts';
export { classifyRestoreFailure, type RestoreFailureKind } from './restore-failure.ts';
export { KafkaRecordCollector, type KafkaRecordCollectorOptions } from './kafka-record-collector.ts';
export { StateDirectory } from './state-directory.ts';
export {
  RUNTIME_ERROR_CODES,
  CollectorSendError,
  InvalidStateTransitionError,
  RestoreError,
  StateDirLockedError,
  TaskFailedError,
  type RuntimeErrorCode,
} from './errors.ts';
export { GlobalStateUpdater, type GlobalStateUpdaterOptions } from './global-state-updater.ts';
export {
  InteractiveQueries,
  StoreQueryError,
  type KeyQueryMetadata,
  type StreamsMetadata,
  type ReadOnlyKeyValueStore,
  type ReadOnlyWindowStore,
} from './interactive-queries.ts';
