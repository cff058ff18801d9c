/**
 * Errors of the runtime (the KafkaStreams app on a real broker). Each has a
 * stable code and names the thing: the task, the store, the changelog
 * partition, the state directory.
 */
import { StreamsError, type StreamsErrorContext } from '../errors.ts';

export const RUNTIME_ERROR_CODES = [
  'CTR_STATE_DIR_LOCKED',
  'CTR_RESTORE',
  'CTR_COLLECTOR_SEND',
  'CTR_TASK_FAILED',
  'CTR_INVALID_STATE_TRANSITION',
] as const;

export type RuntimeErrorCode = (typeof RUNTIME_ERROR_CODES)[number];

/**
 * Another live process holds a task's state directory lock: two instances
 * of one application on the same machine must use different `state.dir`s.
 */
export class StateDirLockedError extends StreamsError {
  readonly lockFile: string;
  readonly holderPid: number | undefined;
  constructor(lockFile: string, holderPid: number | undefined, context: StreamsErrorContext = {}) {
    super(
      'CTR_STATE_DIR_LOCKED',
      `cannot lock state directory of task ${context.taskId ?? '?'}: ${lockFile} is held by process ${holderPid ?? 'unknown'}; ` +
        'is another instance of this application using the same state.dir on this machine? Give each instance its own state.dir',
      { retriable: true, ...context },
    );
    this.lockFile = lockFile;
    this.holderPid = holderPid;
  }
}

/** A store could not be restored from its changelog partition. */
export class RestoreError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_RESTORE', message, context);
  }
}

/** The producer could not send a task's records (outputs or changelog); the task must close dirty. */
export class CollectorSendError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_COLLECTOR_SEND', message, context);
  }
}

/** A task failed while processing, punctuating or committing; the app goes to ERROR. */
export class TaskFailedError extends StreamsError {
  constructor(message: string, context: StreamsErrorContext = {}) {
    super('CTR_TASK_FAILED', message, context);
  }
}

/** A KafkaStreams state change that the lifecycle does not allow (e.g. NOT_RUNNING -> RUNNING). */
export class InvalidStateTransitionError extends StreamsError {
  constructor(from: string, to: string) {
    super('CTR_INVALID_STATE_TRANSITION', `KafkaStreams cannot go from ${from} to ${to}`);
  }
}
