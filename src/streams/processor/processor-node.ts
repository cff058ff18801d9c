/**
 * A processor instantiated for one task, with its own context. Forwarded
 * records are buffered while the processor runs and handed to the children
 * as batches when it returns: the batch stays the unit of work downstream
 * too, and a processor cannot race its own children.
 *
 * Poison-record isolation (Kafka Streams handles a failing record alone; we
 * process batches, so we get there in two steps). When a processing handler
 * is set (and `processingIsolation` is not false), every batch attempt runs
 * with an undo journal of its store writes (store-journal.ts). If the
 * processor throws on a batch of several records:
 *   1. what the attempt forwarded is dropped (it never left this node's
 *      buffer: children have seen nothing) and its store writes are undone;
 *   2. the batch is run again one record at a time through THIS node only,
 *      each record in its own journaled attempt. A record that succeeds keeps
 *      its writes and its forwards; a record that throws has its writes
 *      undone and its forwards dropped, and goes alone to the handler
 *      ('continue': skipped, e.g. dead-lettered; 'fail': the task fails);
 *   3. the forwards of the records that succeeded go to the children as ONE
 *      batch, in record order.
 * So each good record's store effects and forwards happen exactly once, and
 * only the poison record is handed to the handler. Nodes upstream are not
 * re-run (their work is done and kept); a child that fails isolates its own
 * batch the same way. Not undone: the processor's own in-memory fields and
 * anything it did outside the task's stores (a remote call runs again in the
 * record-by-record pass); write processors so that re-running a record is safe.
 * A node that uses a store whose writes cannot be undone (a custom
 * StateStore, a window store retaining duplicates) is not isolated: its
 * whole batch goes to the handler, as does any failure when isolation is off.
 * Punctuators are not journaled: a failed punctuator has no record to isolate.
 */
import { IllegalStateError, TopologyError } from '../errors.ts';
import type { StateStore } from '../state/state-store.ts';
import { describeCause, ProcessingError } from './errors.ts';
import type { HandlerContext } from './exception-handlers.ts';
import type { Cancellable, Processor, ProcessorContext, PunctuationType, Punctuator } from './processor.ts';
import { PunctuationSchedule } from './punctuation-schedule.ts';
import type { StreamRecord } from './record.ts';
import { journaledStore, StoreJournal } from './store-journal.ts';
import type { NodeHost, TaskNode } from './task-node.ts';

type AnyRecord = StreamRecord<unknown, unknown>;
type Pending = { records: ReadonlyArray<AnyRecord>; child: string | undefined };

/** What `attempt` returns when the work did not throw (a thrown value may be anything, even undefined). */
const SUCCEEDED: unique symbol = Symbol('succeeded');

export class ProcessorNode implements TaskNode {
  readonly children: TaskNode[] = [];
  /** @internal forwards buffered while the processor runs */
  readonly pending: Pending[] = [];
  /** @internal true while process() or a punctuator of this node runs */
  active = false;
  /** @internal true when failed batches are isolated record by record (and store writes journaled) */
  readonly isolating: boolean;
  /** @internal false once the processor got a store whose writes the journal cannot undo */
  undoable = true;
  /** @internal the undo journal of the current attempt's store writes */
  readonly journal = new StoreJournal();
  private readonly context: ProcessorContext;

  constructor(
    readonly name: string,
    private readonly processor: Processor<unknown, unknown, unknown, unknown>,
    readonly storeNames: ReadonlySet<string>,
    private readonly host: NodeHost,
  ) {
    this.isolating =
      host.handlers.onProcessingError !== undefined && host.handlers.processingIsolation !== false;
    this.context = new NodeContext(this, host);
  }

  async init(): Promise<void> {
    try {
      await this.processor.init?.(this.context);
    } catch (error) {
      throw new ProcessingError(
        `processor "${this.name}" of task ${this.host.taskId} failed to init: ${describeCause(error)}`,
        {
          cause: error,
          taskId: this.host.taskId,
          processor: this.name,
        },
      );
    }
  }

  /**
   * Runs the processor on a batch, isolating a poison record when it throws
   * (see the file comment), then hands the forwards to the children.
   * @throws ProcessingError when the handler says fail (or there is none), or when undoing a failed attempt fails.
   */
  async process(records: ReadonlyArray<AnyRecord>): Promise<void> {
    if (records.length === 0) return;
    const error = await this.attempt(() => this.processor.process(records));
    if (error === SUCCEEDED) {
      await this.drain(this.takePending());
      return;
    }
    if (!this.isolating || !this.undoable || records.length === 1) {
      await this.onFailure(records, error);
      return;
    }
    const kept: Pending[] = [];
    for (const record of records) {
      const one = [record];
      const recordError = await this.attempt(() => this.processor.process(one));
      if (recordError === SUCCEEDED) kept.push(...this.takePending());
      else await this.onFailure(one, recordError);
    }
    await this.drain(kept);
  }

  /** Runs a due punctuator of this node, then hands what it forwarded to the children. */
  async punctuate(schedule: PunctuationSchedule, timestampMs: number): Promise<void> {
    const error = await this.attempt(() => schedule.punctuator(timestampMs), false);
    if (error !== SUCCEEDED) {
      await this.onFailure([], error, schedule.type);
      return;
    }
    await this.drain(this.takePending());
  }

  async close(): Promise<void> {
    await this.processor.close?.();
  }

  /**
   * One attempt at `work`. On failure its forwards are dropped and, when
   * journaled and undoable, its store writes undone.
   * @returns SUCCEEDED, or what the work threw.
   */
  private async attempt(work: () => void | Promise<void>, journaled = this.isolating): Promise<unknown> {
    this.active = true;
    if (journaled) this.journal.begin();
    try {
      await work();
      if (journaled) this.journal.discard();
      return SUCCEEDED;
    } catch (error) {
      this.pending.length = 0;
      if (journaled) await this.undo(error);
      return error;
    } finally {
      this.active = false;
    }
  }

  private async undo(cause: unknown): Promise<void> {
    // without a complete journal, undoing part of the writes would leave the stores in a state no record order explains
    if (!this.undoable) {
      this.journal.discard();
      return;
    }
    try {
      await this.journal.rollback();
    } catch (error) {
      throw new ProcessingError(
        `processor "${this.name}" of task ${this.host.taskId} failed (${describeCause(cause)}) and its store writes ` +
          `could not be undone: ${describeCause(error)}`,
        { cause: error, taskId: this.host.taskId, processor: this.name },
      );
    }
  }

  /** Asks the handler about failed records; returns on 'continue'. @throws ProcessingError on 'fail'. */
  private async onFailure(
    records: ReadonlyArray<AnyRecord>,
    error: unknown,
    punctuation?: PunctuationType,
  ): Promise<void> {
    const handler = this.host.handlers.onProcessingError;
    const response = handler ? await handler(handlerContext(this.host, this.name), records, error) : 'fail';
    if (response === 'continue') return;
    const origin = records[0]?.origin;
    const what = punctuation
      ? `a ${punctuation} punctuator`
      : `a batch of ${records.length} record(s)` +
        (origin ? ` from ${origin.topic}[${origin.partition}] at offset ${origin.offset}` : '');
    throw new ProcessingError(
      `processor "${this.name}" of task ${this.host.taskId} failed on ${what}: ${describeCause(error)}`,
      {
        cause: error,
        taskId: this.host.taskId,
        processor: this.name,
        ...(origin ? { topic: origin.topic, partition: origin.partition, offset: origin.offset } : {}),
      },
    );
  }

  private takePending(): Pending[] {
    return this.pending.splice(0, this.pending.length);
  }

  /** Hands buffered forwards to the children, each child one batch in forward order. */
  private async drain(pending: readonly Pending[]): Promise<void> {
    if (pending.length === 0) return;
    for (const child of this.children) {
      let batch: AnyRecord[] | undefined;
      for (const p of pending) {
        if (p.child !== undefined && p.child !== child.name) continue;
        if (batch === undefined) batch = [];
        for (const r of p.records) batch.push(r);
      }
      if (batch !== undefined && batch.length > 0) await child.process(batch);
    }
  }
}

/** The context a handler gets for a failure in node `processor` of the host's task. */
export function handlerContext(host: NodeHost, processor: string): HandlerContext {
  return {
    applicationId: host.applicationId,
    taskId: host.taskId,
    processor,
    collector: host.collector,
    sourceRecord: (origin) => host.sourceRecord(origin),
  };
}

/** The context of one processor node: forwards into the node's buffer, resolves only its connected stores. */
class NodeContext implements ProcessorContext {
  /** Journaled views of the task stores, by name (one per store, so a processor always gets the same object). */
  private readonly views = new Map<string, StateStore>();

  constructor(
    private readonly node: ProcessorNode,
    private readonly host: NodeHost,
  ) {}

  get applicationId(): string {
    return this.host.applicationId;
  }

  get taskId(): string {
    return this.host.taskId;
  }

  get partition(): number {
    return this.host.partition;
  }

  get processorName(): string {
    return this.node.name;
  }

  get currentStreamTimeMs(): number {
    return this.host.streamTimeMs;
  }

  get currentSystemTimeMs(): number {
    return this.host.wallClockMs();
  }

  forward(records: ReadonlyArray<AnyRecord>, childName?: string): void {
    const node = this.node;
    if (!node.active) {
      throw new IllegalStateError(
        `processor "${node.name}" of task ${this.host.taskId} forwarded outside process() or a punctuator; forward only while one runs`,
        { taskId: this.host.taskId, processor: node.name },
      );
    }
    if (childName !== undefined && !node.children.some((c) => c.name === childName)) {
      throw new TopologyError(
        `processor "${node.name}" has no child "${childName}" (children: ${node.children.map((c) => `"${c.name}"`).join(', ') || 'none'})`,
        { taskId: this.host.taskId, processor: node.name },
      );
    }
    if (records.length > 0) node.pending.push({ records, child: childName });
  }

  getStateStore<S extends StateStore = StateStore>(name: string): S {
    const node = this.node;
    // a connected store of the task first, else a global store (readable by every processor)
    const own = node.storeNames.has(name) ? this.host.store(name) : undefined;
    if (own !== undefined) return this.journaled(own) as S;
    const store = this.host.globalStore(name);
    if (store === undefined) {
      throw new TopologyError(
        `processor "${node.name}" has no access to store "${name}"; connect it with Topology.addStateStore(builder, "${node.name}") ` +
          `or the supplier's stores() (connected: ${[...node.storeNames].map((s) => `"${s}"`).join(', ') || 'none'})`,
        { taskId: this.host.taskId, processor: node.name, store: name },
      );
    }
    return store as S;
  }

  /** The task store as this node must see it: through the undo journal when the node isolates failures. */
  private journaled(store: StateStore): StateStore {
    const node = this.node;
    if (!node.isolating) return store;
    let view = this.views.get(store.name);
    if (view === undefined) {
      const journaled = journaledStore(store, node.journal);
      if (journaled === undefined) node.undoable = false;
      view = journaled ?? store;
      this.views.set(store.name, view);
    }
    return view;
  }

  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    const name = this.node.name;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new TopologyError(
        `processor "${name}" scheduled a punctuator with interval ${intervalMs} ms; it must be > 0`,
        { processor: name },
      );
    }
    if (type !== 'STREAM_TIME' && type !== 'WALL_CLOCK_TIME') {
      throw new TopologyError(`processor "${name}" scheduled an unknown punctuation type "${String(type)}"`, {
        processor: name,
      });
    }
    // Kafka Streams' rule: a STREAM_TIME schedule fires at the first record
    // (due at 0), a WALL_CLOCK_TIME one an interval from now.
    const due = type === 'STREAM_TIME' ? 0 : this.host.wallClockMs() + intervalMs;
    const schedule = new PunctuationSchedule(name, type, intervalMs, punctuator, due);
    this.host.addSchedule(schedule);
    return schedule;
  }

  requestCommit(): void {
    this.host.requestCommit();
  }
}
