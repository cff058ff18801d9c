/**
 * Records the engine skips on purpose, without asking an exception handler
 * (Kafka Streams' `dropped-records` sensor): a negative extracted timestamp,
 * an aggregation or table step given a null key or value. They are counted
 * in `ctr.streams.dropped.records` and logged once per batch with the counts:
 * a topic full of null keys must be visible on a dashboard, but must not
 * write one log line per record.
 */
import { counter, METRICS } from '../../telemetry/index.ts';
import { createLogger } from '../../telemetry/logger.ts';
import type { RecordOrigin } from './record.ts';

/** Why a record was dropped: the `reason` attribute of `ctr.streams.dropped.records`. */
export type DropReason = 'negative-timestamp' | 'null-key' | 'null-value';

const dropped = counter(METRICS.droppedRecords);
const log = createLogger('task');

/**
 * Counts the records one batch dropped and logs one line for them. Create one
 * per batch, `add()` per dropped record, then `report()` once.
 */
export class DroppedRecords {
  private readonly counts = new Map<DropReason, number>();
  private first: RecordOrigin | undefined;
  private total = 0;

  /**
   * @param taskId the task that dropped them (for the log line).
   * @param processor the source or processor node that dropped them.
   * @param topic the source topic when the node knows it; else the first dropped record's origin topic is used.
   */
  constructor(
    private readonly taskId: string,
    private readonly processor: string,
    private readonly topic?: string,
  ) {}

  /** Notes one dropped record; `origin` is where it was read (undefined when unknown). */
  add(reason: DropReason, origin: RecordOrigin | undefined): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.total++;
    if (this.first === undefined) this.first = origin;
  }

  /** Number of records noted so far. */
  get count(): number {
    return this.total;
  }

  /** Adds the counts to the metric and logs one warning naming them; nothing when none was dropped. */
  report(): void {
    if (this.total === 0) return;
    const topic = this.topic ?? this.first?.topic ?? 'unknown';
    for (const [reason, n] of this.counts) dropped.add(n, { reason, topic });
    const what = [...this.counts].map(([reason, n]) => `${n} (${reason})`).join(', ');
    log.warn(
      {
        taskId: this.taskId,
        processor: this.processor,
        topic,
        dropped: Object.fromEntries(this.counts),
        ...(this.first ? { firstPartition: this.first.partition, firstOffset: this.first.offset } : {}),
      },
      `"${this.processor}" of task ${this.taskId} dropped ${this.total} record(s) of a batch from "${topic}": ${what}` +
        (this.first
          ? `; the first at ${this.first.topic}[${this.first.partition}] offset ${this.first.offset}`
          : ''),
    );
  }
}
