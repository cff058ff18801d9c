/**
 * The autobatcher (the Zemanta seed's lesson): callers from all tasks submit
 * small scoring requests; the autobatcher joins them into one model call and
 * resolves each caller with its own result.
 *
 * A request's time in the queue has two parts, kept apart because they have
 * different causes and different bounds:
 * - **forming**: waiting for its batch to fill. A batch is *due* when it holds
 *   `maxBatchSize` rows or its oldest request has waited `maxWaitMs`; this part
 *   is bounded by `maxWaitMs` by design.
 * - **slot wait**: waiting, once due, for a free model slot (`concurrency`, one
 *   per worker). This is queueing under saturation and has no bound but the
 *   queue's: it grows when the offered load exceeds what the slots serve.
 * Time after a batch was due while a slot was free is event-loop lag (a late
 * timer); it is reported apart too, as `lag`.
 *
 * Policy:
 * - while a slot is free, a batch is dispatched the moment it is due;
 * - while every slot is busy, the queue keeps growing and the next batch
 *   takes up to `maxBatchSize` rows of it the moment a slot frees (so under
 *   saturation batches grow and each model call does more: that is where the
 *   throughput comes from); its requests' wait past due counts as slot wait;
 * - a batch never holds more than `maxBatchSize` rows (a request larger than
 *   that is rejected with ShapeError: split it); requests keep their order.
 * Why one batch per slot and not a deeper pipeline (e.g. `concurrency` = 2 x
 * workers): a second batch queued at a busy worker would be closed early
 * (smaller) and would wait where the autobatcher can neither see nor grow
 * it; a free slot means an idle worker, so dispatching at slot-free loses
 * only one message round trip per call (tens of microseconds).
 *
 * Backpressure: the queue is bounded (`maxQueueRows`); a submit that does not
 * fit waits for room (the caller's await slows it down) and fails with the
 * retriable OverloadedError after `maxQueueWaitMs`.
 */
import { ClosedError, OverloadedError, ShapeError } from './errors.ts';
import { METRICS, METRIC_ATTRIBUTES, gauge, histogram } from '../telemetry/index.ts';

/**
 * Time source of an autobatcher: milliseconds on a monotonic clock and one
 * timer. Tests inject a manual clock to check the bounds without wall-clock
 * races; the default is `performance.now()` and `setTimeout`.
 */
export interface AutobatcherClock {
  /** Monotonic time, ms. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for clearTimer. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

const realClock: AutobatcherClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Why a batch was dispatched. */
export type DispatchReason =
  /** it held maxBatchSize rows (or the next request did not fit) */
  | 'full'
  /** its oldest request had waited maxWaitMs */
  | 'wait'
  /** close() flushed it */
  | 'close';

/** One dispatched batch, for observers (benchmarks, tests); times in ms of the autobatcher's clock. */
export interface BatchReport {
  /** When the batch was handed to `run`. */
  dispatchedAt: number;
  reason: DispatchReason;
  requests: number;
  rows: number;
  /** Per request, in order: time spent forming the batch (<= maxWaitMs). */
  formMs: Float64Array;
  /** Per request: time waited for a free slot once the batch was due (saturation). */
  slotMs: Float64Array;
  /** Per request: time after due while a slot was free (a late timer: event-loop lag). */
  lagMs: Float64Array;
}

export interface AutobatcherOptions<Req, Res> {
  /** Runs one batch; must return one result per request, in order. A rejection fails that batch's callers only. */
  run: (batch: Req[]) => Promise<Res[]>;
  /** Rows of a request (default 1). */
  rows?: (req: Req) => number;
  /** Max rows per model call (>= 1). */
  maxBatchSize: number;
  /** Max time the oldest request of a batch waits for the batch to form, ms (>= 0; 0 = dispatch when a slot is free). */
  maxWaitMs: number;
  /** Model slots: batches allowed in flight at once (one per worker). Default 1. */
  concurrency?: number;
  /** Max queued rows before submit waits. Default 16 x maxBatchSize (never less than maxBatchSize). */
  maxQueueRows?: number;
  /** Max time a submit waits for queue room before OverloadedError, ms. Default 5000. */
  maxQueueWaitMs?: number;
  /** Model name for metrics. Default `ctr`. */
  model?: string;
  /** Time source; default performance.now() and setTimeout. */
  clock?: AutobatcherClock;
  /** Called synchronously with every dispatched batch (keep it cheap; it runs on the submit path). */
  onBatch?: (report: BatchReport) => void;
}

/** Counters for benchmarks and tests (metrics go to OpenTelemetry too). Times in ms. */
export interface AutobatcherStats {
  calls: number;
  requests: number;
  rows: number;
  maxBatchRows: number;
  /** Longest total queue wait of a request (forming + slot + lag). */
  maxWaitMs: number;
  /** Sum of total queue waits (mean = totalWaitMs / requests). */
  totalWaitMs: number;
  /** Longest / summed time spent forming a batch (bounded by the option maxWaitMs). */
  maxFormMs: number;
  totalFormMs: number;
  /** Longest / summed wait for a free slot after the batch was due. */
  maxSlotWaitMs: number;
  totalSlotWaitMs: number;
  /** Longest / summed event-loop lag past due with a slot free. */
  maxLagMs: number;
  totalLagMs: number;
  /** Sum of model-call wall times (slot busy time; utilisation = totalRunMs / (elapsed x concurrency)). */
  totalRunMs: number;
  /** Time during which every slot was busy. */
  saturatedMs: number;
  /** Submits that failed with OverloadedError. */
  rejected: number;
  /** Batches whose run failed (each failed only its own callers). */
  failedCalls: number;
}

interface Entry<Req, Res> {
  req: Req;
  rows: number;
  enqueued: number;
  resolve: (r: Res) => void;
  reject: (e: Error) => void;
}

interface RoomWaiter {
  rows: number;
  go: () => void;
  fail: (e: Error) => void;
}

const batchSizeHist = histogram(METRICS.autobatchBatchSize);
const waitHist = histogram(METRICS.autobatchWait);
const formHist = histogram(METRICS.autobatchFormWait);
const slotHist = histogram(METRICS.autobatchSlotWait);
const queueGauge = gauge(METRICS.autobatchQueueDepth);

export class Autobatcher<Req, Res> {
  private readonly run: (batch: Req[]) => Promise<Res[]>;
  private readonly rowsOf: (req: Req) => number;
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly concurrency: number;
  private readonly maxQueueRows: number;
  private readonly maxQueueWaitMs: number;
  private readonly attrs: Record<string, string>;
  private readonly clock: AutobatcherClock;
  private readonly onBatch: ((report: BatchReport) => void) | undefined;
  /**
   * Queue = entries[head..]; a moving head instead of shift() keeps a long queue O(1) per dispatch.
   * Slots before head are cleared at dispatch (undefined), so no dispatched request stays reachable.
   */
  private entries: (Entry<Req, Res> | undefined)[] = [];
  private head = 0;
  private queuedRows = 0;
  private inFlight = 0;
  private timer: unknown = undefined;
  private closed = false;
  /** The last (or current) interval during which every slot was busy. */
  private saturatedSince = Number.NEGATIVE_INFINITY;
  private saturatedUntil = Number.NEGATIVE_INFINITY;
  private readonly roomWaiters: RoomWaiter[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  readonly stats: AutobatcherStats = {
    calls: 0,
    requests: 0,
    rows: 0,
    maxBatchRows: 0,
    maxWaitMs: 0,
    totalWaitMs: 0,
    maxFormMs: 0,
    totalFormMs: 0,
    maxSlotWaitMs: 0,
    totalSlotWaitMs: 0,
    maxLagMs: 0,
    totalLagMs: 0,
    totalRunMs: 0,
    saturatedMs: 0,
    rejected: 0,
    failedCalls: 0,
  };

  /** @throws ShapeError when maxBatchSize < 1 or maxWaitMs < 0. */
  constructor(o: AutobatcherOptions<Req, Res>) {
    if (!(o.maxBatchSize >= 1))
      throw new ShapeError(`autobatcher maxBatchSize must be >= 1, got ${o.maxBatchSize}`);
    if (!(o.maxWaitMs >= 0)) throw new ShapeError(`autobatcher maxWaitMs must be >= 0, got ${o.maxWaitMs}`);
    this.run = o.run;
    this.rowsOf = o.rows ?? (() => 1);
    this.maxBatchSize = o.maxBatchSize;
    this.maxWaitMs = o.maxWaitMs;
    this.concurrency = Math.max(1, o.concurrency ?? 1);
    this.maxQueueRows = Math.max(o.maxBatchSize, o.maxQueueRows ?? 16 * o.maxBatchSize);
    this.maxQueueWaitMs = o.maxQueueWaitMs ?? 5000;
    this.attrs = { [METRIC_ATTRIBUTES.model]: o.model ?? 'ctr' };
    this.clock = o.clock ?? realClock;
    this.onBatch = o.onBatch;
  }

  /** Rows waiting in the queue. */
  get queueDepth(): number {
    return this.queuedRows;
  }

  /** Batches in flight (at most `concurrency`). */
  get busySlots(): number {
    return this.inFlight;
  }

  private get queueLength(): number {
    return this.entries.length - this.head;
  }

  /**
   * Submits one request; resolves with its own result.
   * Rejects with ShapeError when the request has more rows than maxBatchSize,
   * OverloadedError when the queue stayed full for maxQueueWaitMs,
   * ClosedError after close(); and with whatever `run` throws for its batch.
   */
  submit(req: Req): Promise<Res> {
    if (this.closed) return Promise.reject(new ClosedError('autobatcher is closed'));
    const rows = this.rowsOf(req);
    if (rows > this.maxBatchSize) {
      return Promise.reject(
        new ShapeError(
          `request of ${rows} rows exceeds the autobatcher's maxBatchSize ${this.maxBatchSize}: split it`,
        ),
      );
    }
    // submitters already waiting for room go first, in order: a newcomer must not overtake them
    if (this.roomWaiters.length > 0 || this.queuedRows + rows > this.maxQueueRows)
      return this.waitForRoom(rows).then(() => this.enqueue(req, rows));
    return this.enqueue(req, rows);
  }

  private enqueue(req: Req, rows: number): Promise<Res> {
    // a submitter let in after waiting for room may find the autobatcher closed meanwhile
    if (this.closed) return Promise.reject(new ClosedError('autobatcher is closed'));
    return new Promise<Res>((resolve, reject) => {
      this.entries.push({ req, rows, enqueued: this.clock.now(), resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  private waitForRoom(rows: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: RoomWaiter = {
        rows,
        go: () => {
          this.clock.clearTimer(t);
          resolve();
        },
        fail: (e: Error) => {
          this.clock.clearTimer(t);
          reject(e);
        },
      };
      const t = this.clock.setTimer(() => {
        const i = this.roomWaiters.indexOf(w);
        if (i >= 0) this.roomWaiters.splice(i, 1);
        this.stats.rejected++;
        reject(
          new OverloadedError(
            `autobatcher "${this.attrs[METRIC_ATTRIBUTES.model]}" queue full (${this.queuedRows} of ${this.maxQueueRows} rows) for ${this.maxQueueWaitMs} ms`,
          ),
        );
        // the next waiter may fit now that this one gave up
        this.releaseRoom();
      }, this.maxQueueWaitMs);
      this.roomWaiters.push(w);
    });
  }

  /** Lets submitters waiting for room in, in order, as far as room allows. */
  private releaseRoom(): void {
    let reserved = 0;
    let n = 0;
    for (const w of this.roomWaiters) {
      if (this.queuedRows + reserved + w.rows > this.maxQueueRows) break;
      reserved += w.rows;
      n++;
    }
    // go() resolves a promise: the waiter enqueues in a later microtask, on the room
    // reserved here (a plain submit in between may overshoot maxQueueRows by that much)
    for (const w of this.roomWaiters.splice(0, n)) w.go();
  }

  /**
   * Dispatches what is due while slots are free, then arms the timer for the
   * oldest request. The head batch is full exactly when the queue holds
   * maxBatchSize rows or more: requests are taken greedily in order, each
   * fits a batch, so the batch stops either at maxBatchSize rows or at a
   * request that does not fit.
   */
  private schedule(): void {
    while (this.inFlight < this.concurrency && this.queueLength > 0) {
      const oldest = this.entries[this.head] as Entry<Req, Res>;
      if (this.queuedRows >= this.maxBatchSize) this.dispatch('full');
      else if (this.closed) this.dispatch('close');
      else if (this.clock.now() - oldest.enqueued >= this.maxWaitMs) this.dispatch('wait');
      else break;
    }
    if (this.queueLength > 0 && this.timer === undefined && this.inFlight < this.concurrency) {
      const oldest = this.entries[this.head] as Entry<Req, Res>;
      const delay = Math.max(0, this.maxWaitMs - (this.clock.now() - oldest.enqueued));
      this.timer = this.clock.setTimer(() => {
        this.timer = undefined;
        this.schedule();
      }, delay);
    }
    queueGauge.record(this.queueLength, this.attrs);
  }

  private dispatch(reason: DispatchReason): void {
    if (this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
    const now = this.clock.now();
    const first = this.head;
    let rows = 0;
    let end = first;
    while (
      end < this.entries.length &&
      rows + (this.entries[end] as Entry<Req, Res>).rows <= this.maxBatchSize
    ) {
      rows += (this.entries[end] as Entry<Req, Res>).rows;
      end++;
    }
    const batch = this.entries.slice(first, end) as Entry<Req, Res>[];
    const next = this.entries[end];
    // the queue lets go of dispatched requests now: until the next compaction it would otherwise keep up to
    // ~2 x 1024 of them (and their payloads: a list request's packed rows) reachable
    this.entries.fill(undefined, first, end);
    this.head = end;
    if (this.head === this.entries.length) {
      this.entries.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    this.queuedRows -= rows;
    this.accountWaits(batch, rows, next, now, reason);
    this.releaseRoom();

    this.inFlight++;
    if (this.inFlight === this.concurrency) this.saturatedSince = now;
    const reqs = new Array<Req>(batch.length);
    for (let i = 0; i < batch.length; i++) reqs[i] = (batch[i] as Entry<Req, Res>).req;
    let results: Promise<Res[]>;
    try {
      results = this.run(reqs);
    } catch (err) {
      results = Promise.reject(err as Error);
    }
    results.then(
      (res) => {
        if (!Array.isArray(res) || res.length !== batch.length) {
          const n = Array.isArray(res) ? res.length : typeof res;
          this.finish(now);
          this.failBatch(
            batch,
            new ShapeError(`autobatcher run returned ${n} results for ${batch.length} requests`),
          );
          return;
        }
        this.finish(now);
        for (let i = 0; i < batch.length; i++) (batch[i] as Entry<Req, Res>).resolve(res[i] as Res);
      },
      (err: unknown) => {
        this.finish(now);
        this.failBatch(batch, err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private failBatch(batch: Entry<Req, Res>[], err: Error): void {
    this.stats.failedCalls++;
    for (const e of batch) e.reject(err);
  }

  /** A slot frees: account saturation, then dispatch the next batch at once if it is due. */
  private finish(startedAt: number): void {
    const now = this.clock.now();
    this.stats.totalRunMs += now - startedAt;
    if (this.inFlight === this.concurrency) {
      this.saturatedUntil = now;
      this.stats.saturatedMs += now - this.saturatedSince;
    }
    this.inFlight--;
    this.schedule();
    if (this.inFlight === 0 && this.queueLength === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Splits each request's queue time into forming, slot wait and lag.
   * The batch was due at the earlier of: its oldest request's enqueue +
   * maxWaitMs, and the moment it filled (the enqueue of the request that
   * completed it, or of the first that did not fit).
   */
  private accountWaits(
    batch: Entry<Req, Res>[],
    rows: number,
    next: Entry<Req, Res> | undefined,
    now: number,
    reason: DispatchReason,
  ): void {
    const n = batch.length;
    const oldest = batch[0] as Entry<Req, Res>;
    const last = batch[n - 1] as Entry<Req, Res>;
    const filledAt =
      rows >= this.maxBatchSize
        ? last.enqueued
        : next !== undefined
          ? next.enqueued
          : Number.POSITIVE_INFINITY;
    const dueAt = reason === 'close' ? now : Math.min(oldest.enqueued + this.maxWaitMs, filledAt, now);
    const report: BatchReport | undefined = this.onBatch
      ? {
          dispatchedAt: now,
          reason,
          requests: n,
          rows,
          formMs: new Float64Array(n),
          slotMs: new Float64Array(n),
          lagMs: new Float64Array(n),
        }
      : undefined;
    const s = this.stats;
    for (let i = 0; i < n; i++) {
      const e = batch[i] as Entry<Req, Res>;
      const ready = Math.max(dueAt, e.enqueued);
      const form = ready - e.enqueued;
      // slot wait = the part of [ready, now] inside the last all-slots-busy interval
      const slot = Math.max(0, Math.min(this.saturatedUntil, now) - Math.max(ready, this.saturatedSince));
      const lag = Math.max(0, now - ready - slot);
      const total = now - e.enqueued;
      s.totalWaitMs += total;
      if (total > s.maxWaitMs) s.maxWaitMs = total;
      s.totalFormMs += form;
      if (form > s.maxFormMs) s.maxFormMs = form;
      s.totalSlotWaitMs += slot;
      if (slot > s.maxSlotWaitMs) s.maxSlotWaitMs = slot;
      s.totalLagMs += lag;
      if (lag > s.maxLagMs) s.maxLagMs = lag;
      waitHist.record(total / 1000, this.attrs);
      formHist.record(form / 1000, this.attrs);
      slotHist.record(slot / 1000, this.attrs);
      if (report) {
        report.formMs[i] = form;
        report.slotMs[i] = slot;
        report.lagMs[i] = lag;
      }
    }
    s.calls++;
    s.requests += n;
    s.rows += rows;
    if (rows > s.maxBatchRows) s.maxBatchRows = rows;
    batchSizeHist.record(n, this.attrs);
    if (report) this.onBatch?.(report);
  }

  /** Resolves when nothing is queued or in flight. */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.queueLength === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Refuses new requests (ClosedError; submits waiting for room fail too),
   * dispatches what is queued without waiting for batches to form (as slots
   * free), and resolves when every batch has finished.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.roomWaiters.splice(0)) w.fail(new ClosedError('autobatcher is closed'));
    // closed: schedule() dispatches every queued request as soon as a slot is free
    this.schedule();
    await this.drain();
  }
}
