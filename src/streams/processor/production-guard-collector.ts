/**
 * The production exception handler's place in the task (Kafka Streams calls
 * ProductionExceptionHandler.handle from RecordCollectorImpl when a send
 * fails). A StreamTask wraps its RecordCollector in this guard, so the policy
 * holds for every collector (the Kafka one, the driver's, a test's) without
 * each implementing it:
 *
 * - a record the collector refuses at once (`sendRecord` throws) is kept
 *   aside; the next `flush()` asks the handler about it;
 * - a `flush()` that throws RecordSendError (particular records not written,
 *   the collector still usable) has the handler asked about each of them.
 *
 * 'continue' skips the record (the handler counted it, and dead-lettered it
 * through this same collector for `dead-letter`, so the guard flushes again
 * to have the DLQ acked before the commit goes on); 'fail' fails the flush
 * with RecordProductionError, and the task closes dirty without committing
 * offsets, so the records are read again. Changelog records are never
 * skipped: a store whose changelog lacks a write would restore to a
 * different state, so a refused changelog record always fails. A flush error
 * that is not a RecordSendError (the producer is gone, fenced, timed out) is
 * rethrown as it is: no record can be singled out.
 */
import type { ProducedRecord, TaskExceptionHandlers } from './exception-handlers.ts';
import { describeCause, RecordProductionError, RecordSendError } from './errors.ts';
import type { RecordCollector } from './record-collector.ts';
import type { Headers } from './record.ts';

/** A flush sends at most this many rounds of dead-letter records before it gives up (a DLQ that keeps refusing). */
const MAX_FLUSH_ROUNDS = 3;

export interface ProductionGuardOptions {
  applicationId: string;
  taskId: string;
  handlers: TaskExceptionHandlers;
}

export class ProductionGuardCollector implements RecordCollector {
  private refused: Array<{ record: ProducedRecord; error: unknown }> = [];
  /** Topics records were sent to through `send()`: the changelogs. */
  private readonly changelogTopics = new Set<string>();
  private skippedCount = 0;

  constructor(
    /** The collector that really sends. */
    readonly inner: RecordCollector,
    private readonly options: ProductionGuardOptions,
  ) {}

  /** Records skipped so far because the handler answered 'continue'. */
  get skipped(): number {
    return this.skippedCount;
  }

  send(topic: string, partition: number, key: Buffer, value: Buffer | null, timestamp: number): void {
    this.changelogTopics.add(topic);
    // a changelog record the collector refuses fails the caller at once: it cannot be skipped
    this.inner.send(topic, partition, key, value, timestamp);
  }

  sendRecord(
    topic: string,
    partition: number | undefined,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
    timestamp: number,
  ): void {
    try {
      this.inner.sendRecord(topic, partition, key, value, headers, timestamp);
    } catch (error) {
      // decided at flush: the handler may be async, and sendRecord is not
      this.refused.push({ record: { topic, partition, key, value, headers, timestamp }, error });
    }
  }

  partitionsFor(topic: string): Promise<number> {
    return this.inner.partitionsFor(topic);
  }

  /**
   * Flushes the inner collector, putting the failed records to the production handler.
   * @returns the inner collector's acked offsets after the last round.
   * @throws RecordProductionError when a failed record may not be skipped; the inner collector's own errors otherwise.
   */
  async flush(): Promise<Map<string, string>> {
    for (let round = 1; ; round++) {
      let acked: Map<string, string> | undefined;
      // flush first, decide after: a collector that is broken (not refusing records) fails here before
      // any handler is asked, so no record is counted or dead-lettered for a fault that was not its own
      try {
        acked = await this.inner.flush();
      } catch (error) {
        if (!(error instanceof RecordSendError) || round >= MAX_FLUSH_ROUNDS) throw error;
        this.refused.push(...error.failed);
      }
      if (this.refused.length === 0 && acked !== undefined) return acked;
      if (round >= MAX_FLUSH_ROUNDS) {
        const first = this.refused[0]!;
        throw new RecordProductionError(
          `task ${this.options.taskId} could not write ${this.refused.length} record(s) after ${round} flushes, ` +
            `the first to "${first.record.topic}": ${describeCause(first.error)}`,
          { taskId: this.options.taskId, cause: first.error },
        );
      }
      const refused = this.refused;
      this.refused = [];
      await this.decide(refused);
      // and flush again: dead-letter records just queued must be acked before this commit counts
    }
  }

  private async decide(failed: ReadonlyArray<{ record: ProducedRecord; error: unknown }>): Promise<void> {
    const handler = this.options.handlers.onProductionError;
    for (const { record, error } of failed) {
      const changelog = this.changelogTopics.has(record.topic);
      const response =
        handler && !changelog
          ? await handler(
              {
                applicationId: this.options.applicationId,
                taskId: this.options.taskId,
                processor: 'record-collector',
                collector: this,
              },
              record,
              error,
            )
          : 'fail';
      if (response === 'continue') {
        this.skippedCount++;
        continue;
      }
      const at =
        record.partition === undefined ? `"${record.topic}"` : `${record.topic}[${record.partition}]`;
      throw new RecordProductionError(
        `task ${this.options.taskId} could not write a${changelog ? ' changelog' : 'n output'} record to ${at}: ${describeCause(error)}` +
          (changelog ? ' (changelog records are never skipped)' : ''),
        { cause: error, taskId: this.options.taskId, topic: record.topic },
      );
    }
  }
}
