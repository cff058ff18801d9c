/**
 * Runtime nodes of a task: the instantiated form of a sub-topology's node
 * definitions for one partition. Internal to the processor area.
 */
import type { StateStore } from '../state/state-store.ts';
import type { RecordCollector } from './record-collector.ts';
import type { PunctuationSchedule } from './punctuation-schedule.ts';
import type { StreamRecord } from './record.ts';
import type { TaskExceptionHandlers } from './exception-handlers.ts';
import type { RawRecord } from './raw-record.ts';
import type { RecordOrigin } from './record.ts';

/** A node that receives batches. */
export interface TaskNode {
  readonly name: string;
  process(records: ReadonlyArray<StreamRecord<unknown, unknown>>): Promise<void>;
}

/** What nodes need from their task. */
export interface NodeHost {
  readonly applicationId: string;
  readonly taskId: string;
  readonly partition: number;
  readonly streamTimeMs: number;
  wallClockMs(): number;
  collector: RecordCollector;
  handlers: TaskExceptionHandlers;
  /** A store of this task (connected or not: the node checks the connection). */
  store(name: string): StateStore | undefined;
  /** A global store of the instance, readable by every processor. */
  globalStore(name: string): StateStore | undefined;
  addSchedule(schedule: PunctuationSchedule): void;
  /** The raw record of the batch being processed with this origin (see HandlerContext.sourceRecord). */
  sourceRecord(origin: RecordOrigin): RawRecord | undefined;
  requestCommit(): void;
}
