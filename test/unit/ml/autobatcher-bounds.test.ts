/**
 * The autobatcher's bounds and saturation policy, on a manual clock: time
 * moves only when the test says so, and a model call ends only when the test
 * resolves it, so these assertions are exact and do not race the machine.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Autobatcher, type AutobatcherClock, type BatchReport } from '../../../src/ml/autobatcher.ts';

/** A clock whose time moves only on advance()/jump(); timers fire in time order. */
class ManualClock implements AutobatcherClock {
  t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves to `to`, firing every timer due on the way at its own time. */
  advance(to: number): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= to && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = Math.max(this.t, to);
  }

  /** Moves time without firing timers (an event loop that was late), then fires what is due. */
  jump(to: number): void {
    this.t = to;
    this.advance(to);
  }
}

/** A model call the test ends by hand. */
interface Call {
  batch: number[];
  at: number;
  resolve: () => void;
  fail: (e: Error) => void;
}

function setup(o: { maxBatchSize: number; maxWaitMs: number; concurrency?: number; maxQueueRows?: number }) {
  const clock = new ManualClock();
  const calls: Call[] = [];
  const reports: BatchReport[] = [];
  const b = new Autobatcher<number, string>({
    ...o,
    clock,
    rows: (r) => (r >= 1000 ? Math.floor(r / 1000) : 1), // 3005 = request 3005 of 3 rows
    run: (batch) =>
      new Promise<string[]>((resolve, reject) => {
        calls.push({
          batch,
          at: clock.now(),
          resolve: () => resolve(batch.map((r) => `result-${r}`)),
          fail: reject,
        });
      }),
    onBatch: (r) => void reports.push(r),
  });
  const results = new Map<number, string>();
  const errors = new Map<number, Error>();
  const submit = (r: number): Promise<void> =>
    b.submit(r).then(
      (x) => void results.set(r, x),
      (e: Error) => void errors.set(r, e),
    );
  return { clock, calls, reports, b, submit, results, errors };
}

/** Lets promise callbacks (a finished call's then, a waiter's continuation) run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Autobatcher bounds (manual clock)', () => {
  it('dispatches when the oldest request has waited maxWaitMs and not a moment before, while a slot is free', async () => {
    const { clock, calls, reports, submit } = setup({ maxBatchSize: 100, maxWaitMs: 5 });
    void submit(1);
    clock.advance(2);
    void submit(2);
    clock.advance(4.999);
    assert.equal(calls.length, 0, 'nothing dispatched before the oldest waited maxWaitMs');
    clock.advance(5);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]?.batch, [1, 2]);
    assert.equal(calls[0]?.at, 5);
    const r = reports[0] as BatchReport;
    assert.equal(r.reason, 'wait');
    assert.deepEqual([...r.formMs], [5, 3]);
    assert.deepEqual([...r.slotMs], [0, 0]);
    assert.deepEqual([...r.lagMs], [0, 0]);
  });

  it('dispatches a batch the moment it fills, without waiting for maxWaitMs', async () => {
    const { clock, calls, reports, submit } = setup({ maxBatchSize: 4, maxWaitMs: 1000 });
    for (let i = 0; i < 4; i++) {
      clock.advance(i);
      void submit(i);
    }
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.at, 3);
    assert.equal(reports[0]?.reason, 'full');
    assert.deepEqual([...(reports[0] as BatchReport).formMs], [3, 2, 1, 0]);
  });

  it('closes a batch when the next request does not fit, and never exceeds maxBatchSize rows', async () => {
    const { calls, reports, submit } = setup({ maxBatchSize: 5, maxWaitMs: 1000, concurrency: 3 });
    void submit(3001); // 3 rows
    void submit(1); // 1 row: 4
    void submit(2002); // 2 rows: would make 6
    assert.equal(calls.length, 1, 'the first batch is full because the third request does not fit');
    assert.deepEqual(calls[0]?.batch, [3001, 1]);
    assert.equal(reports[0]?.rows, 4);
    void submit(3003); // 2 + 3 = 5: full
    assert.deepEqual(calls[1]?.batch, [2002, 3003]);
    assert.ok(reports.every((r) => r.rows <= 5));
  });

  it('under saturation keeps growing the batch up to maxBatchSize and dispatches it when a slot frees', async () => {
    const { clock, calls, reports, submit, results } = setup({
      maxBatchSize: 10,
      maxWaitMs: 5,
      concurrency: 1,
    });
    void submit(0);
    clock.advance(5); // first batch out: the only slot is now busy
    assert.equal(calls.length, 1);
    for (let i = 1; i <= 14; i++) {
      clock.advance(5 + i);
      void submit(i);
    }
    clock.advance(40);
    assert.equal(calls.length, 1, 'no dispatch while every slot is busy, however long the wait');
    calls[0]?.resolve();
    await settle();
    assert.equal(calls.length, 2, 'the next batch left the moment the slot freed');
    assert.equal(calls[1]?.at, 40);
    assert.deepEqual(calls[1]?.batch, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'grown to maxBatchSize, in order');
    const r = reports[1] as BatchReport;
    assert.equal(r.reason, 'full');
    // request 1 came at 6; its batch was due at 11 (maxWaitMs) -> forming 5, then 29 ms for the slot
    assert.equal(r.formMs[0], 5);
    assert.equal(r.slotMs[0], 29);
    assert.equal(r.lagMs[0], 0);
    // request 10 came at 15, after its batch was due: all its wait was for the slot
    assert.equal(r.formMs[9], 0);
    assert.equal(r.slotMs[9], 25);
    calls[1]?.resolve();
    await settle();
    assert.deepEqual(calls[2]?.batch, [11, 12, 13, 14], 'the rest, due since 21, left at once');
    calls[2]?.resolve();
    await settle();
    assert.equal(results.size, 15);
    for (const [k, v] of results) assert.equal(v, `result-${k}`);
  });

  it('waits out the remaining maxWaitMs when a slot frees before the queued batch is due', async () => {
    const { clock, calls, submit } = setup({ maxBatchSize: 10, maxWaitMs: 5, concurrency: 1 });
    void submit(0);
    clock.advance(5);
    clock.advance(7);
    void submit(1);
    clock.advance(8);
    calls[0]?.resolve();
    await settle();
    assert.equal(calls.length, 1, 'request 1 waited 1 of 5 ms: not due yet');
    clock.advance(11.999);
    assert.equal(calls.length, 1);
    clock.advance(12);
    assert.equal(calls.length, 2);
    assert.equal(calls[1]?.at, 12);
  });

  it('counts a late timer as lag, not as forming or slot wait', async () => {
    const { clock, reports, submit } = setup({ maxBatchSize: 10, maxWaitMs: 5, concurrency: 2 });
    void submit(1);
    clock.jump(12); // the event loop woke 7 ms late
    const r = reports[0] as BatchReport;
    assert.equal(r.formMs[0], 5);
    assert.equal(r.slotMs[0], 0);
    assert.equal(r.lagMs[0], 7);
  });

  it('keeps one batch per slot: with two slots busy the third batch waits for either', async () => {
    const { clock, calls, submit, b } = setup({ maxBatchSize: 2, maxWaitMs: 5, concurrency: 2 });
    for (let i = 0; i < 6; i++) void submit(i);
    assert.equal(calls.length, 2);
    assert.equal(b.busySlots, 2);
    clock.advance(30);
    assert.equal(calls.length, 2);
    calls[1]?.resolve(); // the second slot frees first
    await settle();
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[2]?.batch, [4, 5]);
    assert.equal(b.stats.saturatedMs, 30);
  });

  it('reports slot busy time and saturation in its stats', async () => {
    const { clock, calls, submit, b } = setup({ maxBatchSize: 1, maxWaitMs: 0, concurrency: 1 });
    void submit(1);
    void submit(2);
    clock.advance(10);
    calls[0]?.resolve();
    await settle();
    clock.advance(14);
    calls[1]?.resolve();
    await settle();
    assert.equal(b.stats.totalRunMs, 14);
    assert.equal(b.stats.saturatedMs, 14);
    assert.equal(b.stats.maxSlotWaitMs, 10);
    assert.equal(b.stats.maxFormMs, 0);
  });

  it('flushes queued requests on close without waiting for their batch to form', async () => {
    const { clock, calls, reports, submit, b } = setup({ maxBatchSize: 100, maxWaitMs: 1000 });
    const done = [submit(1), submit(2)];
    clock.advance(3);
    const closing = b.close();
    assert.equal(calls.length, 1);
    assert.equal(reports[0]?.reason, 'close');
    calls[0]?.resolve();
    await Promise.all(done);
    await closing;
  });
});
