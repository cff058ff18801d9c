/**
 * The runtime's side of one StreamTask: its input buffers (one queue of
 * record chunks per source topic-partition), the mutex that keeps exactly
 * one operation (a batch, a punctuation, a commit) on the task at a time,
 * and the wake-up signal of its processing loop.
 *
 * Backpressure: `buffered(topic)` counts records fetched but not processed;
 * the app pauses fetching a partition above `buffered.records.per.partition`
 * and resumes it once the task has drained it below that.
 */
import type { StreamTask } from '../processor/stream-task.ts';
import type { RawRecord } from '../processor/raw-record.ts';
import type { KafkaRecordCollector } from './kafka-record-collector.ts';

/** restoring: stores being restored; running: processing; closing/closed: on its way out. */
export type TaskPhase = 'restoring' | 'running' | 'closing' | 'closed';

/** Runs async functions one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private holders = 0;

  /** True while a function runs or waits. */
  get busy(): boolean {
    return this.holders > 0;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    this.holders++;
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.holders--;
    });
  }
}

export class TaskHandle {
  readonly id: string;
  readonly partition: number;
  readonly task: StreamTask;
  readonly collector: KafkaRecordCollector;
  readonly mutex = new Mutex();
  phase: TaskPhase = 'restoring';
  /** The processing loop's promise (resolves when the loop ends). */
  loop: Promise<void> | undefined;
  /** Records restored into this task's stores when it was created. */
  restoredRecords = 0;
  lastCommitMs = Date.now();
  /** Set by the commit timer; the loop commits at its next batch boundary. */
  commitDue = false;
  /** The source topics of the task's sub-topology (its partition of each). */
  sourceTopics: readonly string[] = [];
  private readonly queues = new Map<string, RawRecord[][]>();
  private readonly counts = new Map<string, number>();
  /** Next offset expected per topic: anything below was already taken (kafkajs re-delivers after a rejoin). */
  private readonly nextOffsets = new Map<string, bigint>();
  /** Per topic: the partition's high watermark as of the latest fetch (the next offset the broker will write). */
  private readonly highWatermarks = new Map<string, bigint>();
  /** Per topic: the next offset to process (the first record fetched, then one past the last processed). */
  private readonly processPositions = new Map<string, bigint>();
  private wakeUp: (() => void) | undefined;

  constructor(task: StreamTask, collector: KafkaRecordCollector) {
    this.id = task.id;
    this.partition = task.partition;
    this.task = task;
    this.collector = collector;
  }

  /**
   * Buffers a fetched batch (already cut into chunks), skipping records at
   * offsets this task already took.
   * @returns the records buffered for `topic` after the call.
   */
  enqueue(topic: string, records: readonly RawRecord[], maxChunk: number): number {
    const expected = this.nextOffsets.get(topic);
    let fresh = records;
    if (expected !== undefined) fresh = records.filter((r) => BigInt(r.offset) >= expected);
    if (fresh.length > 0) {
      if (!this.processPositions.has(topic)) this.processPositions.set(topic, BigInt(fresh[0]!.offset));
      let queue = this.queues.get(topic);
      if (!queue) this.queues.set(topic, (queue = []));
      for (let i = 0; i < fresh.length; i += maxChunk) queue.push(fresh.slice(i, i + maxChunk));
      this.counts.set(topic, (this.counts.get(topic) ?? 0) + fresh.length);
      this.nextOffsets.set(topic, BigInt(fresh[fresh.length - 1]!.offset) + 1n);
      this.wake();
    }
    return this.counts.get(topic) ?? 0;
  }

  /** Remembers the high watermark a fetch of `topic` (this task's partition) reported; decimal string. */
  noteHighWatermark(topic: string, highWatermark: string): void {
    const hw = BigInt(highWatermark);
    // fetches of one partition can complete out of order around a rejoin: the watermark only grows
    if (hw > (this.highWatermarks.get(topic) ?? -1n)) this.highWatermarks.set(topic, hw);
  }

  /** Marks `records` of `topic` processed (a chunk from takeNext, after the task took it). */
  markProcessed(topic: string, records: readonly RawRecord[]): void {
    const last = records[records.length - 1];
    if (last) this.processPositions.set(topic, BigInt(last.offset) + 1n);
  }

  /**
   * Records of `topic` (this task's partition) not yet processed: the high watermark
   * of the latest fetch minus the next offset to process. Buffered records count,
   * since they are not done. 0 or more.
   * @returns undefined before the first fetch that brought records of `topic`.
   */
  lag(topic: string): number | undefined {
    const hw = this.highWatermarks.get(topic);
    const position = this.processPositions.get(topic);
    if (hw === undefined || position === undefined) return undefined;
    return hw > position ? Number(hw - position) : 0;
  }

  /** Records buffered for `topic`. */
  buffered(topic: string): number {
    return this.counts.get(topic) ?? 0;
  }

  /** Records buffered over all source topics. */
  totalBuffered(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /**
   * The next chunk to process: among the co-partitioned source queues, the
   * one whose head has the smallest timestamp (Kafka Streams' PartitionGroup
   * picks by timestamp too, so joins see records in event-time order).
   */
  takeNext(): { topic: string; records: RawRecord[] } | undefined {
    let bestTopic: string | undefined;
    let bestTs = Infinity;
    for (const [topic, queue] of this.queues) {
      const head = queue[0];
      if (head && head[0]!.timestamp < bestTs) {
        bestTs = head[0]!.timestamp;
        bestTopic = topic;
      }
    }
    if (bestTopic === undefined) return undefined;
    const records = this.queues.get(bestTopic)!.shift()!;
    this.counts.set(bestTopic, (this.counts.get(bestTopic) ?? 0) - records.length);
    return { topic: bestTopic, records };
  }

  /** Drops every buffered record (the task is closing); returns how many. */
  clearBuffers(): number {
    const n = this.totalBuffered();
    this.queues.clear();
    this.counts.clear();
    return n;
  }

  /** Resolves when records arrive, the phase changes or a commit is due. */
  waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }
}
