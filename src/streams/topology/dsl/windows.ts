/**
 * Window definitions of the DSL, with Kafka Streams' names and semantics:
 *
 * - TimeWindows: fixed-size windows [start, start + size), every `advance` ms
 *   (tumbling when advance = size, hopping when smaller). A record belongs to
 *   every window that contains its timestamp.
 * - SlidingWindows: windows of `timeDifference` ms defined by the records
 *   themselves, [t - diff, t] both ends inclusive: two records fall in one
 *   window when their timestamps differ by at most `timeDifference`.
 * - SessionWindows: per key, records closer than `inactivityGap` merge into one
 *   session [first, last] (inclusive).
 * - JoinWindows: a stream-stream join matches records whose timestamps differ
 *   by at most `before` (other earlier) / `after` (other later) ms.
 *
 * Grace: a window accepts out-of-order records until stream time passes its
 * end + grace; later records are dropped and counted. `of...WithNoGrace`
 * means grace 0, as in Kafka Streams 3.x.
 */
import { TopologyError } from '../../errors.ts';
import type { TimeWindow } from '../../state/window-store.ts';

function checkMs(value: number, what: string, min = 0): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new TopologyError(`${what} must be an integer number of ms >= ${min}, got ${String(value)}`);
}

export class TimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly advanceMs: number,
    readonly graceMs: number,
  ) {}

  /** Tumbling windows of `sizeMs` with no grace (late = after the window end). */
  static ofSizeWithNoGrace(sizeMs: number): TimeWindows {
    checkMs(sizeMs, 'the window size', 1);
    return new TimeWindows(sizeMs, sizeMs, 0);
  }

  /** Tumbling windows of `sizeMs` that accept records up to `graceMs` after they end. */
  static ofSizeAndGrace(sizeMs: number, graceMs: number): TimeWindows {
    checkMs(sizeMs, 'the window size', 1);
    checkMs(graceMs, 'the grace period');
    return new TimeWindows(sizeMs, sizeMs, graceMs);
  }

  /** Hopping windows: a new window every `advanceMs` (0 < advance <= size). */
  advanceBy(advanceMs: number): TimeWindows {
    checkMs(advanceMs, 'the window advance', 1);
    if (advanceMs > this.sizeMs)
      throw new TopologyError(
        `the window advance (${advanceMs} ms) must not exceed the window size (${this.sizeMs} ms)`,
      );
    return new TimeWindows(this.sizeMs, advanceMs, this.graceMs);
  }

  /** The windows that contain `timestampMs`, by start ascending. Starts are never negative. */
  windowsFor(timestampMs: number): TimeWindow[] {
    const out: TimeWindow[] = [];
    let start = Math.max(0, timestampMs - this.sizeMs + this.advanceMs);
    start -= start % this.advanceMs;
    for (; start <= timestampMs; start += this.advanceMs) {
      if (start + this.sizeMs > timestampMs) out.push({ startMs: start, endMs: start + this.sizeMs });
    }
    return out;
  }
}

export class SlidingWindows {
  private constructor(
    readonly timeDifferenceMs: number,
    readonly graceMs: number,
  ) {}

  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): SlidingWindows {
    checkMs(timeDifferenceMs, 'the time difference', 1);
    return new SlidingWindows(timeDifferenceMs, 0);
  }

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): SlidingWindows {
    checkMs(timeDifferenceMs, 'the time difference', 1);
    checkMs(graceMs, 'the grace period');
    return new SlidingWindows(timeDifferenceMs, graceMs);
  }
}

export class SessionWindows {
  private constructor(
    readonly inactivityGapMs: number,
    readonly graceMs: number,
  ) {}

  static ofInactivityGapWithNoGrace(inactivityGapMs: number): SessionWindows {
    checkMs(inactivityGapMs, 'the inactivity gap', 1);
    return new SessionWindows(inactivityGapMs, 0);
  }

  static ofInactivityGapAndGrace(inactivityGapMs: number, graceMs: number): SessionWindows {
    checkMs(inactivityGapMs, 'the inactivity gap', 1);
    checkMs(graceMs, 'the grace period');
    return new SessionWindows(inactivityGapMs, graceMs);
  }
}

export class JoinWindows {
  private constructor(
    /** How much earlier the other side's record may be, ms. */
    readonly beforeMs: number,
    /** How much later the other side's record may be, ms. */
    readonly afterMs: number,
    readonly graceMs: number,
  ) {}

  /** Records match when |t1 - t2| <= timeDifferenceMs; no grace. */
  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): JoinWindows {
    checkMs(timeDifferenceMs, 'the time difference');
    return new JoinWindows(timeDifferenceMs, timeDifferenceMs, 0);
  }

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): JoinWindows {
    checkMs(timeDifferenceMs, 'the time difference');
    checkMs(graceMs, 'the grace period');
    return new JoinWindows(timeDifferenceMs, timeDifferenceMs, graceMs);
  }

  /** The other side may be at most `beforeMs` earlier (asymmetric windows: click after impression = before(0)). */
  before(beforeMs: number): JoinWindows {
    checkMs(beforeMs, 'the join window "before"');
    return new JoinWindows(beforeMs, this.afterMs, this.graceMs);
  }

  /** The other side may be at most `afterMs` later. */
  after(afterMs: number): JoinWindows {
    checkMs(afterMs, 'the join window "after"');
    return new JoinWindows(this.beforeMs, afterMs, this.graceMs);
  }
}
