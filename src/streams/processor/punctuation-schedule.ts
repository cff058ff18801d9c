/**
 * The punctuators a task has scheduled, with Kafka Streams' timing rules
 * (PunctuationSchedule / PunctuationQueue): a schedule fires when its time
 * reaches the due time; one that fell behind fires once and skips the
 * intervals it missed, so a long pause never causes a burst of calls.
 */
import type { Cancellable, PunctuationType, Punctuator } from './processor.ts';

export class PunctuationSchedule implements Cancellable {
  private cancelled = false;

  /**
   * @param dueMs the first due time, in ms (stream time or wall-clock time, per `type`).
   * @param intervalMs > 0.
   */
  constructor(
    readonly nodeName: string,
    readonly type: PunctuationType,
    readonly intervalMs: number,
    readonly punctuator: Punctuator,
    public dueMs: number,
  ) {}

  get isCancelled(): boolean {
    return this.cancelled;
  }

  cancel(): void {
    this.cancelled = true;
  }

  /** Moves the due time past `nowMs` after a call at `nowMs`, skipping missed intervals. */
  advance(nowMs: number): void {
    const next = this.dueMs + this.intervalMs;
    if (nowMs >= next) {
      const missed = Math.floor((nowMs - this.dueMs) / this.intervalMs);
      this.dueMs += (missed + 1) * this.intervalMs;
    } else {
      this.dueMs = next;
    }
  }
}

/** The schedules of one task and one punctuation type. */
export class PunctuationQueue {
  private schedules: PunctuationSchedule[] = [];

  add(schedule: PunctuationSchedule): void {
    this.schedules.push(schedule);
  }

  get size(): number {
    this.prune();
    return this.schedules.length;
  }

  /** The earliest due time of a live schedule, or undefined when there is none. */
  nextDueMs(): number | undefined {
    this.prune();
    let min: number | undefined;
    for (const s of this.schedules) if (min === undefined || s.dueMs < min) min = s.dueMs;
    return min;
  }

  /**
   * The live schedules due at `nowMs`, earliest due first (ties in scheduling
   * order). The caller fires each and then calls `advance(nowMs)` on it.
   */
  due(nowMs: number): PunctuationSchedule[] {
    this.prune();
    return this.schedules.filter((s) => s.dueMs <= nowMs).sort((a, b) => a.dueMs - b.dueMs);
  }

  clear(): void {
    this.schedules = [];
  }

  private prune(): void {
    if (this.schedules.some((s) => s.isCancelled))
      this.schedules = this.schedules.filter((s) => !s.isCancelled);
  }
}
