/**
 * The autobatcher (the Zemanta seed's lesson): callers from all tasks submit
 * small scoring requests; the autobatcher joins them into one model call when
 * the batch is full (`maxBatchSize` rows) or the oldest request has waited
 * `maxWaitMs`, and resolves each caller with its own result.
 *
 * Guarantees:
 * - a batch never holds more than `maxBatchSize` rows (a request larger than
 *   that is rejected with ShapeError: split it);
 * - a request waits at most `maxWaitMs` (plus timer slack) before its batch
 *   starts, as long as a runner slot is free (`concurrency`, e.g. one per
 *   worker); when all are busy the batch starts as soon as one frees;
 * - the queue is bounded (`maxQueueRows`): a submit that does not fit waits
 *   for room (backpressure on the caller's await) and fails with the
 *   retriable OverloadedError after `maxQueueWaitMs`.
 */
import { ClosedError, OverloadedError, ShapeError } from './errors.ts';
import { METRICS, METRIC_ATTRIBUTES, gauge, histogram } from '../telemetry/index.ts';

export interface AutobatcherOptions<Req, Res> {
  /** Runs one batch; must return one result per request, in order. */
  run: (batch: Req[]) => Promise<Res[]>;
  /** Rows of a request (default 1). */
  rows?: (req: Req) => number;
  /** Max rows per model call. */
  maxBatchSize: number;
  /** Max time the oldest queued request waits before its batch starts, ms. */
  maxWaitMs: number;
  /** Batches allowed in flight at once (one per worker). Default 1. */
  concurrency?: number;
  /** Max queued rows before submit waits. Default 16 x maxBatchSize. */
  maxQueueRows?: number;
  /** Max time a submit waits for queue room before OverloadedError, ms. Default 5000. */
  maxQueueWaitMs?: number;
  /** Model name for metrics. */
  model?: string;
}

/** Counters for benchmarks and tests (metrics go to OpenTelemetry too). */
export interface AutobatcherStats {
  calls: number;
  requests: number;
  rows: number;
  maxBatchRows: number;
  /** Longest time a request waited before its batch started, ms. */
  maxWaitMs: number;
  /** Sum of waits, ms (mean = totalWaitMs / requests). */
  totalWaitMs: number;
  /** Sum of model-call wall times, ms. */
  totalRunMs: number;
  rejected: number;
}

interface Entry<Req, Res> {
  req: Req;
  rows: number;
  enqueued: number;
  resolve: (r: Res) => void;
  reject: (e: Error) => void;
}

const batchSizeHist = histogram(METRICS.autobatchBatchSize);
const waitHist = histogram(METRICS.autobatchWait);
const queueGauge = gauge(METRICS.autobatchQueueDepth);

export class Autobatcher<Req, Res> {
  private readonly run: (batch: Req[]) => Promise<Res[]>;
  private readonly rowsOf: (req: Req) => number;
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  private readonly concurrency: number;
  private readonly maxQueueRows: number;
  private readonly maxQueueWaitMs: number;
  private readonly attrs: Record<string, string>;
  private queue: Entry<Req, Res>[] = [];
  private queuedRows = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly roomWaiters: { rows: number; go: () => void; fail: (e: Error) => void }[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  readonly stats: AutobatcherStats = {
    calls: 0,
    requests: 0,
    rows: 0,
    maxBatchRows: 0,
    maxWaitMs: 0,
    totalWaitMs: 0,
    totalRunMs: 0,
    rejected: 0,
  };

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
  }

  /** Rows waiting in the queue. */
  get queueDepth(): number {
    return this.queuedRows;
  }

  /**
   * Submits one request; resolves with its own result.
   * @throws ShapeError when the request has more rows than maxBatchSize,
   *   OverloadedError when the queue stayed full for maxQueueWaitMs,
   *   ClosedError after close(); and whatever `run` throws for its batch.
   */
  async submit(req: Req): Promise<Res> {
    if (this.closed) throw new ClosedError('autobatcher is closed');
    const rows = this.rowsOf(req);
    if (rows > this.maxBatchSize) {
      throw new ShapeError(
        `request of ${rows} rows exceeds the autobatcher's maxBatchSize ${this.maxBatchSize}: split it`,
      );
    }
    if (this.queuedRows + rows > this.maxQueueRows) await this.waitForRoom(rows);
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, rows, enqueued: performance.now(), resolve, reject });
      this.queuedRows += rows;
      queueGauge.record(this.queuedRows, this.attrs);
      this.schedule();
    });
  }

  private waitForRoom(rows: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = {
        rows,
        go: () => {
          clearTimeout(t);
          resolve();
        },
        fail: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        const i = this.roomWaiters.indexOf(w);
        if (i >= 0) this.roomWaiters.splice(i, 1);
        this.stats.rejected++;
        reject(
          new OverloadedError(
            `autobatcher queue full (${this.queuedRows} of ${this.maxQueueRows} rows) for ${this.maxQueueWaitMs} ms`,
          ),
        );
      }, this.maxQueueWaitMs);
      this.roomWaiters.push(w);
    });
  }

  private releaseRoom(): void {
    while (this.roomWaiters.length > 0) {
      const w = this.roomWaiters[0] as (typeof this.roomWaiters)[number];
      if (this.queuedRows + w.rows > this.maxQueueRows) break;
      this.roomWaiters.shift();
      // reserve nothing: the waiter enqueues synchronously after this microtask
      w.go();
    }
  }

  /** Dispatches what is due and arms the timer for the oldest request. */
  private schedule(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const oldest = this.queue[0] as Entry<Req, Res>;
      const due =
        this.queuedRows >= this.maxBatchSize || performance.now() - oldest.enqueued >= this.maxWaitMs;
      if (!due) break;
      this.dispatch();
    }
    if (this.queue.length > 0 && this.timer === undefined && this.inFlight < this.concurrency) {
      const oldest = this.queue[0] as Entry<Req, Res>;
      const delay = Math.max(0, this.maxWaitMs - (performance.now() - oldest.enqueued));
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, delay);
    }
  }

  private dispatch(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch: Entry<Req, Res>[] = [];
    let rows = 0;
    while (this.queue.length > 0 && rows + (this.queue[0] as Entry<Req, Res>).rows <= this.maxBatchSize) {
      const e = this.queue.shift() as Entry<Req, Res>;
      rows += e.rows;
      batch.push(e);
    }
    this.queuedRows -= rows;
    queueGauge.record(this.queuedRows, this.attrs);
    this.releaseRoom();
    const start = performance.now();
    for (const e of batch) {
      const w = start - e.enqueued;
      this.stats.totalWaitMs += w;
      if (w > this.stats.maxWaitMs) this.stats.maxWaitMs = w;
      waitHist.record(w / 1000, this.attrs);
    }
    this.stats.calls++;
    this.stats.requests += batch.length;
    this.stats.rows += rows;
    if (rows > this.stats.maxBatchRows) this.stats.maxBatchRows = rows;
    batchSizeHist.record(batch.length, this.attrs);
    this.inFlight++;
    let results: Promise<Res[]>;
    try {
      results = this.run(batch.map((e) => e.req));
    } catch (err) {
      results = Promise.reject(err);
    }
    results
      .then(
        (res) => {
          if (res.length !== batch.length)
            throw new ShapeError(
              `autobatcher run returned ${res.length} results for ${batch.length} requests`,
            );
          batch.forEach((e, i) => e.resolve(res[i] as Res));
        },
        (err: Error) => batch.forEach((e) => e.reject(err)),
      )
      .catch((err: Error) => batch.forEach((e) => e.reject(err)))
      .finally(() => {
        this.stats.totalRunMs += performance.now() - start;
        this.inFlight--;
        this.schedule();
        if (this.inFlight === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
  }

  /** Resolves when nothing is queued or in flight. */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes what is queued, waits for it, then refuses new requests. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.roomWaiters.splice(0)) w.fail(new ClosedError('autobatcher is closed'));
    while (this.queue.length > 0 && this.inFlight < this.concurrency) this.dispatch();
    await this.drain();
  }
}
