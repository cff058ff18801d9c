import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ItemPartTable, defaultChunkSlots } from '../../../src/ml/item-part-table.ts';
import { ItemPartView, allocateChunk } from '../../../src/ml/item-part-view.ts';
import { MlError } from '../../../src/ml/errors.ts';

const P = 5;
/** A table of `slots` slots in chunks of 4. */
function table(slots: number): ItemPartTable {
  return new ItemPartTable('v1', P, { chunkSlots: 4, maxBytes: slots * (P + 1) * 4 });
}
const keys = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `k${from + i}`);
/** Writes recognisable parts for every computed row of a plan (as a worker would), then settles. */
function run(t: ItemPartTable, batch: string[][], ok = true) {
  const plans = t.reserve(batch);
  plans.forEach((p, i) => {
    for (const r of p.compute) {
      const s = p.slots[r]!;
      if (s >= 0)
        t.view.write(
          s,
          p.stamps[r]!,
          Float32Array.from({ length: P }, () => Number(batch[i]![r]!.slice(1))),
          0,
        );
    }
  });
  t.settle(plans, ok);
  return plans;
}

describe('ItemPartTable', () => {
  it('computes a key once, then every request reads it under the stamp it was published with', () => {
    const t = table(16);
    const [cold] = run(t, [keys(0, 6)]);
    assert.deepEqual([...cold!.compute], [0, 1, 2, 3, 4, 5]);
    assert.equal(new Set(cold!.slots).size, 6);
    const [warm] = t.reserve([keys(0, 6)]);
    assert.equal(warm!.compute.length, 0);
    assert.deepEqual([...warm!.slots], [...cold!.slots]);
    assert.deepEqual([...warm!.stamps], [...cold!.stamps]);
    const out = new Float32Array(P);
    t.view.read(warm!.slots[3]!, warm!.stamps[3]!, out, 0);
    assert.deepEqual([...out], [3, 3, 3, 3, 3]);
    t.settle([warm!], true);
    assert.deepEqual(
      { ...t.stats, bytes: 0 },
      { entries: 6, slots: 6, capacity: 16, bytes: 0, hits: 6, misses: 6, uncached: 0, evictions: 0 },
    );
  });

  it('lets later requests of the same batch read a key an earlier one writes; another batch computes it without caching', () => {
    const t = table(16);
    const first = t.reserve([
      ['a', 'b'],
      ['b', 'c', 'a'],
    ]);
    assert.deepEqual([...first[0]!.compute], [0, 1]);
    assert.deepEqual([...first[1]!.compute], [1], 'only c is new to the batch');
    assert.equal(first[1]!.slots[0], first[0]!.slots[1]);
    // a concurrent batch meets a, b, c while they are being written: computed, not waited for, not stored twice
    const [other] = t.reserve([['a', 'c']]);
    assert.deepEqual([...other!.compute], [0, 1]);
    assert.deepEqual([...other!.slots], [-1, -1]);
    t.settle([other!], true);
    t.settle(first, true);
    assert.equal(t.stats.entries, 3);
    assert.equal(t.stats.uncached, 2);
    assert.equal(t.reserve([['a', 'b', 'c']])[0]!.compute.length, 0);
  });

  it('forgets the keys a failed request was writing, so the next request computes them again', () => {
    const t = table(16);
    run(t, [['a', 'b']], false);
    assert.equal(t.stats.entries, 0);
    const [again] = t.reserve([['a', 'b']]);
    assert.deepEqual([...again!.compute], [0, 1]);
    assert.ok(
      again!.slots.every((s) => s >= 0),
      'freed slots are reused',
    );
    assert.equal(t.stats.slots, 2, 'no new slot was allocated');
  });

  it('grows chunk by chunk up to its bound', () => {
    const t = table(12);
    assert.equal(t.chunks.length, 0);
    run(t, [keys(0, 3)]);
    assert.equal(t.chunks.length, 1);
    run(t, [keys(3, 9)]);
    assert.equal(t.chunks.length, 3);
    assert.equal(t.view.chunks, 3);
    run(t, [keys(9, 20)]);
    assert.equal(t.chunks.length, 3, 'never beyond maxBytes');
    assert.equal(t.stats.capacity, 12);
    assert.ok(t.stats.bytes <= 12 * (P + 1) * 4);
    assert.equal(t.stats.entries, 12);
    assert.equal(t.stats.evictions, 8);
  });

  it('evicts with CLOCK: keys read since the hand last passed survive one more round', () => {
    const t = table(8);
    run(t, [keys(0, 8)]);
    run(t, [['n0']]); // full: the hand clears every reference bit and evicts k0
    assert.equal(t.reserve([['k0']])[0]!.compute.length, 1, 'k0 was evicted');
    const t2 = table(8);
    run(t2, [keys(0, 8)]);
    run(t2, [['n0']]); // evicts k0 again, clears the others' bits
    run(t2, [keys(1, 5)]); // k1..k4 read again
    run(t2, [['n1', 'n2', 'n3']]);
    const [probe] = t2.reserve([keys(1, 8)]);
    assert.deepEqual([...probe!.compute], [4, 5, 6], 'k5, k6, k7 went; k1..k4 stayed');
  });

  it('never evicts a slot pinned by a request in flight; with every slot pinned a row is computed uncached', () => {
    const t = table(4);
    run(t, [keys(0, 4)]);
    const reading = t.reserve([keys(0, 4)]);
    const [blocked] = t.reserve([['new']]);
    assert.deepEqual([...blocked!.slots], [-1]);
    assert.equal(t.stats.uncached, 1);
    t.settle([blocked!], true);
    t.settle(reading, true);
    const [now] = t.reserve([['new']]);
    assert.ok(now!.slots[0]! >= 0, 'unpinned: a slot can be reclaimed');
  });

  it('sizes chunks near 4 MiB', () => {
    assert.equal(defaultChunkSlots(417), 2048);
    assert.equal(defaultChunkSlots(1), 65536);
    assert.throws(() => new ItemPartTable('v', 100, { maxBytes: 10 }), RangeError);
  });
});

describe('ItemPartView', () => {
  it('reads a slot only under the stamp it was published with', () => {
    const chunk = allocateChunk(4, 3);
    const writer = new ItemPartView('v1', 3, 4);
    const reader = new ItemPartView('v1', 3, 4);
    writer.addChunks([chunk]);
    reader.addChunks([chunk]);
    writer.write(2, 7, Float32Array.of(1, 2, 3), 0);
    const out = new Float32Array(4);
    reader.read(2, 7, out, 1);
    assert.deepEqual([...out], [0, 1, 2, 3]);
    writer.write(2, 8, Float32Array.of(4, 5, 6), 0);
    assert.throws(() => reader.read(2, 7, out, 0), MlError, 'a rewritten slot is detected');
    assert.throws(() => reader.read(5, 1, out, 0), /chunk 1/);
  });
});
