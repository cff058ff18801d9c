/**
 * A processor instantiated for one task, with its own context. Forwarded
 * records are buffered while the processor runs and handed to the children
 * as batches when it returns: the batch stays the unit of work downstream
 * too, and a processor cannot race its own children.
 */
import { IllegalStateError, TopologyError } from '../errors.ts';
import type { StateStore } from '../state/state-store.ts';
import { describeCause, ProcessingError } from './errors.ts';
import type { Cancellable, Processor, ProcessorContext, PunctuationType, Punctuator } from './processor.ts';
import { PunctuationSchedule } from './punctuation-schedule.ts';
import type { StreamRecord } from './record.ts';
import type { NodeHost, TaskNode } from './task-node.ts';

type AnyRecord = StreamRecord<unknown, unknown>;

export class ProcessorNode implements TaskNode {
  readonly children: TaskNode[] = [];
  /** @internal forwards buffered while the processor runs */
  readonly pending: Array<{ records: ReadonlyArray<AnyRecord>; child: string | undefined }> = [];
  /** @internal true while process() or a punctuator of this node runs */
  active = false;
  private readonly context: ProcessorContext;

  constructor(
    readonly name: string,
    private readonly processor: Processor<unknown, unknown, unknown, unknown>,
    readonly storeNames: ReadonlySet<string>,
    private readonly host: NodeHost,
  ) {
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

  async process(records: ReadonlyArray<AnyRecord>): Promise<void> {
    if (records.length === 0) return;
    await this.run(records, () => this.processor.process(records));
  }

  /** Runs a due punctuator of this node, then hands what it forwarded to the children. */
  async punctuate(schedule: PunctuationSchedule, timestampMs: number): Promise<void> {
    await this.run([], () => schedule.punctuator(timestampMs), schedule.type);
  }

  async close(): Promise<void> {
    await this.processor.close?.();
  }

  private async run(
    records: ReadonlyArray<AnyRecord>,
    work: () => void | Promise<void>,
    punctuation?: PunctuationType,
  ): Promise<void> {
    this.active = true;
    try {
      await work();
    } catch (error) {
      this.active = false;
      this.pending.length = 0;
      const handler = this.host.handlers.onProcessingError;
      const response = handler
        ? await handler(
            {
              applicationId: this.host.applicationId,
              taskId: this.host.taskId,
              processor: this.name,
              collector: this.host.collector,
            },
            records,
            error,
          )
        : 'fail';
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
    } finally {
      this.active = false;
    }
    await this.drain();
  }

  /** Hands the buffered forwards to the children, each child one batch in forward order. */
  private async drain(): Promise<void> {
    if (this.pending.length === 0) return;
    const pending = this.pending.splice(0, this.pending.length);
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

/** The context of one processor node: forwards into the node's buffer, resolves only its connected stores. */
class NodeContext implements ProcessorContext {
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
    const store =
      (node.storeNames.has(name) ? this.host.store(name) : undefined) ?? this.host.globalStore(name);
    if (store === undefined) {
      throw new TopologyError(
        `processor "${node.name}" has no access to store "${name}"; connect it with Topology.addStateStore(builder, "${node.name}") ` +
          `or the supplier's stores() (connected: ${[...node.storeNames].map((s) => `"${s}"`).join(', ') || 'none'})`,
        { taskId: this.host.taskId, processor: node.name, store: name },
      );
    }
    return store as S;
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
