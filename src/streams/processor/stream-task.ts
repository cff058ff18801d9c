/**
 * StreamTask: runs one sub-topology for one partition (Kafka Streams'
 * StreamTask). Kafka-agnostic: the runtime feeds it fetched batches and the
 * TopologyTestDriver feeds it piped records, through the same code.
 *
 * Lifecycle (checked on every call):
 *
 *   CREATED --initialize()--> RESTORING --completeRestoration()--> RUNNING
 *   RUNNING <--suspend()/resume()--> SUSPENDED
 *   any state --closeClean()/closeDirty()--> CLOSED
 *
 * `initialize()` opens the stores; the runtime then restores them from their
 * changelogs (StateStore.committedPosition / restoreBatch) and calls
 * `completeRestoration()`, which initialises the processors: a processor's
 * `init` may read its stores, so they must be complete first.
 */
import { join } from 'node:path';
import { IllegalStateError, StreamsError, TopologyError } from '../errors.ts';
import type { SharedCacheBudget, StateStore, StateStoreContext } from '../state/state-store.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { describeCause, TaskCommitError } from './errors.ts';
import type { TaskExceptionHandlers } from './exception-handlers.ts';
import { ProcessorNode } from './processor-node.ts';
import type { ProcessorTopology } from './processor-topology.ts';
import { supplyProcessor } from './processor.ts';
import { PunctuationQueue, type PunctuationSchedule } from './punctuation-schedule.ts';
import type { RawRecord } from './raw-record.ts';
import { ProductionGuardCollector } from './production-guard-collector.ts';
import type { RecordCollector } from './record-collector.ts';
import type { StreamRecord } from './record.ts';
import { SinkNode } from './sink-node.ts';
import { SourceNode } from './source-node.ts';
import type { NodeHost, TaskNode } from './task-node.ts';

export type TaskState = 'CREATED' | 'RESTORING' | 'RUNNING' | 'SUSPENDED' | 'CLOSED';

const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  CREATED: ['RESTORING', 'CLOSED'],
  RESTORING: ['RUNNING', 'SUSPENDED', 'CLOSED'],
  RUNNING: ['SUSPENDED', 'CLOSED'],
  SUSPENDED: ['RUNNING', 'RESTORING', 'CLOSED'],
  CLOSED: [],
};

export interface StreamTaskOptions {
  applicationId: string;
  /** The sub-topology this task runs (Topology.subtopology(id)). */
  topology: ProcessorTopology;
  /** The partition of the sub-topology's source topics. */
  partition: number;
  collector: RecordCollector;
  /** `<state.dir>/<application.id>`: the task's stores live in `<stateDir>/<taskId>/<store>`. */
  appStateDir: string;
  /** ONE per app instance. */
  cacheBudget: SharedCacheBudget;
  /** The wall clock in ms (default `Date.now`); the driver passes its mock clock. */
  time?: () => number;
  /** Error policies; absent hooks mean fail. */
  handlers?: TaskExceptionHandlers;
  /**
   * The instance's global stores (Topology.addGlobalStore), by name: every
   * processor of the task may read them through `getStateStore`. The task
   * neither builds, flushes, commits nor closes them; their owner does.
   */
  globalStores?: ReadonlyMap<string, StateStore>;
}

const log = createLogger('task');

export class StreamTask {
  /** `<subtopologyId>_<partition>`. */
  readonly id: string;
  readonly partition: number;
  readonly applicationId: string;
  private currentState: TaskState = 'CREATED';
  private readonly options: StreamTaskOptions;
  private readonly time: () => number;
  private readonly storeMap = new Map<string, StateStore>();
  private readonly sourcesByTopic = new Map<string, SourceNode | null>();
  private readonly sources: Array<{
    node: SourceNode;
    topics: readonly string[] | undefined;
    pattern: RegExp | undefined;
  }> = [];
  private readonly processors: ProcessorNode[] = [];
  private readonly processorsByName = new Map<string, ProcessorNode>();
  private readonly streamTimeQueue = new PunctuationQueue();
  private readonly wallClockQueue = new PunctuationQueue();
  /** Next offset to consume, per `"topic:partition"`, of everything processed. */
  private readonly consumed = new Map<string, string>();
  private streamTime = -1;
  private needsCommit = false;
  /** Set once every processor's init ran (completeRestoration). */
  private processorsReady = false;
  private commitAsked = false;
  /** The batch being processed, by offset (one topic-partition per batch): the handlers' `sourceRecord`. */
  private batch: { records: readonly RawRecord[]; byOffset: Map<string, RawRecord> | undefined } | undefined;
  /** The options' collector behind the production exception handler. */
  private readonly collector: ProductionGuardCollector;

  constructor(options: StreamTaskOptions) {
    this.options = options;
    this.applicationId = options.applicationId;
    this.partition = options.partition;
    this.id = `${options.topology.id}_${options.partition}`;
    this.time = options.time ?? Date.now;
    this.collector = new ProductionGuardCollector(options.collector, {
      applicationId: options.applicationId,
      taskId: this.id,
      handlers: options.handlers ?? {},
    });
  }

  get state(): TaskState {
    return this.currentState;
  }

  /** The largest record timestamp processed (ms), -1 before the first. */
  get streamTimeMs(): number {
    return this.streamTime;
  }

  /** True when records were processed (or punctuators ran) since the last commit. */
  get commitNeeded(): boolean {
    return this.needsCommit;
  }

  /** True when a processor called `context.requestCommit()` since the last commit. */
  get commitRequested(): boolean {
    return this.commitAsked;
  }

  /** The task's stores (empty before `initialize()`). */
  stores(): StateStore[] {
    return [...this.storeMap.values()];
  }

  /** Builds the nodes and opens the stores. CREATED -> RESTORING. */
  async initialize(): Promise<void> {
    this.checkState('initialize', ['CREATED']);
    const host = this.host();
    const topology = this.options.topology;
    const context: StateStoreContext = {
      applicationId: this.applicationId,
      taskId: this.id,
      partition: this.partition,
      taskDir: join(this.options.appStateDir, this.id),
      collector: this.collector,
      cacheBudget: this.options.cacheBudget,
      // changelog records carry the task's stream time: the batch being processed has no single record
      currentTimestamp: () => (this.streamTime >= 0 ? this.streamTime : this.time()),
    };
    try {
      for (const [name, builder] of topology.storeBuilders) {
        const store = builder.build();
        this.storeMap.set(name, store);
        await store.init(context);
      }
    } catch (error) {
      await this.closeStoresQuietly();
      throw error;
    }

    const nodes = new Map<string, TaskNode | SourceNode>();
    for (const def of topology.nodes.values()) {
      if (def.kind === 'source') {
        const node = new SourceNode(def, host);
        nodes.set(def.name, node);
        this.sources.push({ node, topics: def.topics, pattern: def.pattern });
      } else if (def.kind === 'processor') {
        const node = new ProcessorNode(def.name, supplyProcessor(def.supplier), new Set(def.stores), host);
        nodes.set(def.name, node);
        this.processors.push(node);
        this.processorsByName.set(def.name, node);
      } else {
        nodes.set(def.name, new SinkNode(def, host));
      }
    }
    for (const def of topology.nodes.values()) {
      if (def.kind === 'sink') continue;
      const parent = nodes.get(def.name) as SourceNode | ProcessorNode;
      for (const childName of def.children) {
        const child = nodes.get(childName);
        if (child === undefined || child instanceof SourceNode) {
          throw new TopologyError(
            `node "${def.name}" has an unknown child "${childName}" in sub-topology ${topology.id}`,
          );
        }
        parent.children.push(child);
      }
    }
    this.transition('RESTORING');
  }

  /** Initialises the processors once the stores are restored. RESTORING -> RUNNING. */
  async completeRestoration(): Promise<void> {
    this.checkState('completeRestoration', ['RESTORING']);
    for (const p of this.processors) await p.init();
    this.processorsReady = true;
    this.transition('RUNNING');
  }

  /**
   * Processes one fetched batch of ONE topic-partition, in offset order.
   * STREAM_TIME punctuators fire as stream time reaches their due time: the
   * batch is split after the record that makes one due, so the punctuator
   * sees exactly the records before it (as with Kafka Streams' per-record loop).
   * @throws RecordDeserializationError, ProcessingError, RecordSerializationError (the task must then close dirty).
   */
  async process(records: readonly RawRecord[]): Promise<void> {
    this.checkState('process', ['RUNNING']);
    if (records.length === 0) return;
    const first = records[0]!;
    const source = this.sourceFor(first.topic);
    if (source === undefined) {
      throw new TopologyError(`task ${this.id} has no source for topic "${first.topic}"`, {
        taskId: this.id,
        topic: first.topic,
      });
    }
    for (const r of records) {
      if (r.topic !== first.topic || r.partition !== first.partition) {
        throw new IllegalStateError(
          `task ${this.id} was given a batch mixing ${first.topic}[${first.partition}] and ${r.topic}[${r.partition}]; pass one topic-partition per call`,
          { taskId: this.id },
        );
      }
    }
    this.batch = { records, byOffset: undefined };
    try {
      const typed = await source.deserialize(records);
      let start = 0;
      while (start < typed.length) {
        const end = this.chunkEnd(typed, start);
        const chunk = start === 0 && end === typed.length ? typed : typed.slice(start, end);
        for (let i = 0; i < chunk.length; i++)
          if (chunk[i]!.timestamp > this.streamTime) this.streamTime = chunk[i]!.timestamp;
        await source.forward(chunk);
        await this.punctuateStreamTime();
        start = end;
      }
    } finally {
      this.batch = undefined;
    }
    const last = records[records.length - 1]!;
    this.consumed.set(`${last.topic}:${last.partition}`, (BigInt(last.offset) + 1n).toString());
    this.needsCommit = true;
  }

  /**
   * Fires the WALL_CLOCK_TIME punctuators due at `wallClockMs`.
   * @returns true when at least one fired.
   */
  async punctuate(wallClockMs: number): Promise<boolean> {
    this.checkState('punctuate', ['RUNNING']);
    const due = this.wallClockQueue.due(wallClockMs);
    for (const schedule of due) await this.fire(schedule, wallClockMs);
    if (due.length > 0) this.needsCommit = true;
    return due.length > 0;
  }

  /**
   * Steps 1-3 of the commit protocol (state/state-store.ts): flush every
   * store, flush the collector (awaiting the acks of changelog records and
   * outputs), then commit each store with the acked changelog position.
   * @returns the consumer offsets to commit: next offset per `"topic:partition"` processed by this task.
   * @throws TaskCommitError when a step fails; the task must then close dirty.
   */
  async commit(): Promise<Map<string, string>> {
    this.checkState('commit', ['RUNNING', 'SUSPENDED']);
    let step = 'flush stores';
    try {
      // flush caches first: a flush hands records to the collector that belong to this commit (KAFKA-10362)
      for (const store of this.storeMap.values()) await store.flush();
      step = 'flush the record collector';
      // the guard asks the production handler about records the producer did not write
      const acked = await this.collector.flush();
      step = 'commit stores';
      for (const store of this.storeMap.values()) {
        const topic = store.changelogTopic;
        await store.commit(topic === undefined ? undefined : acked.get(`${topic}:${this.partition}`));
      }
    } catch (error) {
      if (error instanceof StreamsError && error.code === 'CTR_TASK_COMMIT') throw error;
      throw new TaskCommitError(`task ${this.id} cannot commit (${step}): ${describeCause(error)}`, {
        cause: error,
        taskId: this.id,
      });
    }
    this.needsCommit = false;
    this.commitAsked = false;
    return new Map(this.consumed);
  }

  /** Stops processing (before a rebalance hands the partition away or back). RUNNING/RESTORING -> SUSPENDED. */
  suspend(): void {
    this.checkState('suspend', ['RUNNING', 'RESTORING']);
    this.transition('SUSPENDED');
  }

  /** SUSPENDED -> RUNNING (processors already initialised) or RESTORING (they were not). */
  resume(): void {
    this.checkState('resume', ['SUSPENDED']);
    this.transition(this.processorsInitialised() ? 'RUNNING' : 'RESTORING');
  }

  /**
   * Commits (when running), closes the processors, then the stores. -> CLOSED.
   * @returns the consumer offsets to commit (empty when the task never ran).
   */
  async closeClean(): Promise<Map<string, string>> {
    if (this.currentState === 'CLOSED') return new Map();
    let offsets = new Map<string, string>();
    if (this.currentState === 'RUNNING' || this.currentState === 'SUSPENDED') offsets = await this.commit();
    const errors: unknown[] = [];
    if (this.processorsInitialised()) {
      for (const p of this.processors) {
        try {
          await p.close();
        } catch (error) {
          errors.push(error);
        }
      }
    }
    for (const store of this.storeMap.values()) {
      try {
        await store.close();
      } catch (error) {
        errors.push(error);
      }
    }
    this.clearSchedules();
    this.transition('CLOSED');
    if (errors.length > 0) {
      throw new StreamsError(
        'CTR_STREAMS',
        `task ${this.id} closed with ${errors.length} error(s): ${errors.map(describeCause).join('; ')}`,
        {
          cause: errors[0],
          taskId: this.id,
        },
      );
    }
    return offsets;
  }

  /** Closes without committing, ignoring errors (after a failure). -> CLOSED. */
  async closeDirty(): Promise<void> {
    if (this.currentState === 'CLOSED') return;
    if (this.processorsInitialised()) {
      for (const p of this.processors) {
        try {
          await p.close();
        } catch (error) {
          log.warn(
            { taskId: this.id, processor: p.name, err: error },
            'processor close failed during a dirty close',
          );
        }
      }
    }
    await this.closeStoresQuietly();
    this.clearSchedules();
    this.transition('CLOSED');
  }

  private processorsInitialised(): boolean {
    return this.processorsReady;
  }

  private async closeStoresQuietly(): Promise<void> {
    for (const store of this.storeMap.values()) {
      try {
        await store.close();
      } catch (error) {
        log.warn(
          { taskId: this.id, store: store.name, err: error },
          'store close failed during a dirty close',
        );
      }
    }
  }

  private clearSchedules(): void {
    this.streamTimeQueue.clear();
    this.wallClockQueue.clear();
  }

  /** End (exclusive) of the chunk starting at `start`: just after the record that makes a STREAM_TIME schedule due. */
  private chunkEnd(records: ReadonlyArray<StreamRecord<unknown, unknown>>, start: number): number {
    const due = this.streamTimeQueue.nextDueMs();
    if (due === undefined) return records.length;
    let time = this.streamTime;
    for (let i = start; i < records.length; i++) {
      if (records[i]!.timestamp > time) time = records[i]!.timestamp;
      if (time >= due) return i + 1;
    }
    return records.length;
  }

  private async punctuateStreamTime(): Promise<void> {
    if (this.streamTime < 0) return;
    for (const schedule of this.streamTimeQueue.due(this.streamTime))
      await this.fire(schedule, this.streamTime);
  }

  private async fire(schedule: PunctuationSchedule, nowMs: number): Promise<void> {
    if (schedule.isCancelled) return;
    // advance first: a punctuator that throws with 'continue' must not fire again at once
    schedule.advance(nowMs);
    const node = this.processorsByName.get(schedule.nodeName)!;
    await node.punctuate(schedule, nowMs);
  }

  private sourceFor(topic: string): SourceNode | undefined {
    let node = this.sourcesByTopic.get(topic);
    if (node === undefined) {
      const match = this.sources.find((s) => (s.topics ? s.topics.includes(topic) : s.pattern!.test(topic)));
      node = match?.node ?? null;
      this.sourcesByTopic.set(topic, node);
    }
    return node ?? undefined;
  }

  private host(): NodeHost {
    const streamTime = (): number => this.streamTime;
    return {
      applicationId: this.applicationId,
      taskId: this.id,
      partition: this.partition,
      get streamTimeMs() {
        return streamTime();
      },
      wallClockMs: () => this.time(),
      collector: this.collector,
      handlers: this.options.handlers ?? {},
      store: (name) => this.storeMap.get(name),
      globalStore: (name) => this.options.globalStores?.get(name),
      addSchedule: (schedule) => {
        (schedule.type === 'STREAM_TIME' ? this.streamTimeQueue : this.wallClockQueue).add(schedule);
      },
      requestCommit: () => {
        this.commitAsked = true;
      },
      sourceRecord: (origin) => {
        const batch = this.batch;
        const first = batch?.records[0];
        if (first === undefined || first.topic !== origin.topic || first.partition !== origin.partition)
          return undefined;
        // built on the first lookup: only a batch with a failure pays for the index
        if (batch!.byOffset === undefined) {
          batch!.byOffset = new Map();
          for (const r of batch!.records) batch!.byOffset.set(r.offset, r);
        }
        return batch!.byOffset.get(origin.offset);
      },
    };
  }

  private checkState(operation: string, allowed: readonly TaskState[]): void {
    if (!allowed.includes(this.currentState)) {
      throw new IllegalStateError(
        `task ${this.id} cannot ${operation} in state ${this.currentState} (allowed in ${allowed.join(', ')})`,
        {
          taskId: this.id,
        },
      );
    }
  }

  private transition(next: TaskState): void {
    if (!TRANSITIONS[this.currentState].includes(next)) {
      throw new IllegalStateError(`task ${this.id} cannot go from ${this.currentState} to ${next}`, {
        taskId: this.id,
      });
    }
    log.debug({ taskId: this.id, from: this.currentState, to: next }, 'task state');
    this.currentState = next;
  }
}
