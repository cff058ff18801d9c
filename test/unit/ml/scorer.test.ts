import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend.ts';
import { CtrModel } from '../../../src/ml/ctr-model.ts';
import { sigmoidInPlace } from '../../../src/ml/ctr-head.ts';
import { allocateRows, packContext, writeItem } from '../../../src/ml/feature-spec.ts';
import { ClosedError } from '../../../src/ml/errors.ts';
import { Random } from '../../../src/ml/random.ts';
import { defaultBatchContextsFrom, Scorer, type ScoreRequest } from '../../../src/ml/scorer.ts';
import { TINY_MODEL } from './fixtures.ts';

const spec = TINY_MODEL.spec;

/** A model whose every term matters: non-trivial table, biases and running max. */
function model(seed: number): CtrModel {
  const m = CtrModel.create(TINY_MODEL, seed);
  const rng = new Random(seed + 1);
  for (const [name, t] of m.weights) {
    if (name.endsWith('.max')) t.data.forEach((_, i) => (t.data[i] = 5 + rng.next() * 20));
    else if (name.endsWith('.b') || name === 'fm.bias' || name === 'fm.table')
      t.data.forEach((_, i) => (t.data[i] = rng.normal() * 0.2));
  }
  return m;
}

const CONTEXTS = [
  { contextId: 'ctx-1', publisher: 'pub-1', segment: 'seg-0', position: 2, pageDepth: 9 },
  // no pageDepth: a missing (NaN) number
  { contextId: 'ctx-2', publisher: 'pub-3', placement: 'pub-3/pl-2', country: 'DE', hour: 23 },
  { contextId: 'ctx-3', publisher: 'pub-2', device: 'desktop', position: 5, pageDepth: 0 },
  { contextId: 'ctx-4', publisher: 'pub-4', country: 'SI', segment: 'seg-9', pageDepth: 130 },
];

/**
 * One request per context, with `counts[i]` candidates out of 11 items (shifted by `seed`; an item's
 * row is always the same, as keys promise), item numbers missing now and then.
 */
function requests(counts: number[], seed: number, keyed?: string): ScoreRequest[] {
  return counts.map((count, i) => {
    const rows = allocateRows(spec, count);
    const keys: string[] = [];
    for (let r = 0; r < count; r++) {
      const item = (seed + i * 7 + r) % 11;
      const emb = new Random(100 + item);
      writeItem(
        spec,
        rows,
        r,
        { category: `cat-${item % 4}`, itemAgeHours: item % 5 === 0 ? undefined : item * 3.5 },
        Float32Array.from({ length: spec.embeddingDim }, () => emb.normal()),
      );
      keys.push(`item-${item}`);
    }
    const req: ScoreRequest = {
      context: packContext(spec, CONTEXTS[i % CONTEXTS.length]!),
      items: { count, cats: rows.itemCats, nums: rows.itemNums, embeddings: rows.embeddings },
    };
    return keyed ? { ...req, itemKeys: { version: keyed, keys } } : req;
  });
}

/** Plain (unfactorised) head probabilities of one request, the reference. */
function plain(m: CtrModel, r: ScoreRequest): Float32Array {
  const n = r.items.count;
  const rows = allocateRows(spec, n);
  for (let j = 0; j < n; j++) {
    rows.contextCats.set(r.context.cats, j * spec.contextFields.length);
    rows.contextNums.set(r.context.nums, j * spec.contextNumeric.length);
  }
  rows.itemCats.set(r.items.cats);
  rows.itemNums.set(r.items.nums);
  rows.embeddings.set(r.items.embeddings);
  return sigmoidInPlace(m.head.plainLogits(rows));
}

function assertClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i]! - want[i]!) < tol, `${what} [${i}]: ${got[i]} vs ${want[i]}`);
}

describe('Scorer: batched context parts and expanded contexts', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('a multi-context batch scores as each request alone and as the plain head within 1e-4 (both engines)', () => {
    const m = model(21);
    const reqs = requests([5, 1, 0, 9, 3], 22);
    assert.ok(Number.isNaN(reqs[1]!.context.nums[0]), 'the second context lacks its number');
    for (const engine of ['tfjs', 'js'] as const) {
      const s = new Scorer(m, 'v1', engine);
      const batch = s.score(reqs);
      assert.equal(batch.length, reqs.length);
      reqs.forEach((r, i) => {
        const [alone] = s.score([r]);
        assertClose(batch[i]!.scores, alone!.scores, 1e-4, `${engine} request ${i} batched vs alone`);
        assertClose(batch[i]!.scores, plain(m, r), 1e-4, `${engine} request ${i} batched vs plain`);
        assert.equal(batch[i]!.version, 'v1');
      });
      s.dispose();
    }
  });

  it('scores the same whether the contexts run on the backend from 1 context, from 2 (wasm default) or never', () => {
    const m = model(31);
    const reqs = requests([4, 2, 6], 32);
    const want = reqs.map((r) => plain(m, r));
    const wasmDefault = new Scorer(m, 'v5', 'tfjs');
    assert.equal(wasmDefault.batchContextsFrom, 2);
    assert.equal(defaultBatchContextsFrom('tensorflow'), 4);
    assert.equal(new Scorer(m, 'v5', 'js').batchContextsFrom, Infinity);
    for (const [from, s] of [
      [2, wasmDefault],
      [1, new Scorer(m, 'v5', 'tfjs', { batchContextsFrom: 1 })],
      [Infinity, new Scorer(m, 'v5', 'tfjs', { batchContextsFrom: Infinity })],
    ] as const) {
      const batch = s.score(reqs);
      const alone = s.score([reqs[0]!]);
      reqs.forEach((_, i) => assertClose(batch[i]!.scores, want[i]!, 1e-4, `from ${from}: request ${i}`));
      assertClose(alone[0]!.scores, want[0]!, 1e-4, `from ${from}: one request alone`);
      s.dispose();
    }
  });

  it('keyed multi-context batches (item parts from the table) equal the plain head within 1e-4', () => {
    const m = model(23);
    const s = new Scorer(m, 'v2', 'tfjs');
    // the second round reads every part the first one wrote
    for (let round = 0; round < 2; round++) {
      const reqs = requests([4, 6, 2, 7], 24, 'v2');
      const out = s.score(reqs);
      reqs.forEach((r, i) => assertClose(out[i]!.scores, plain(m, r), 1e-4, `round ${round} request ${i}`));
    }
    assert.ok(s.itemPartTable, 'keyed requests went through the table');
    s.dispose();
  });

  it('holds its uploaded weights, leaks no tensor per call, and frees everything on dispose', () => {
    const m = model(25);
    const base = tf.memory().numTensors;
    const s = new Scorer(m, 'v3', 'tfjs');
    // the weights are uploaded by the constructor, once for the version
    assert.ok(s.tensorCount > 0);
    assert.equal(tf.memory().numTensors, base + s.tensorCount);
    const multi = requests([3, 8, 1, 5], 26);
    const single = requests([12], 27);
    for (let call = 0; call < 5; call++) {
      s.score(multi);
      s.score(single);
      s.score(requests([2, 2], 28 + call, 'v3'));
      assert.equal(tf.memory().numTensors, base + s.tensorCount, `after call ${call}`);
    }
    s.dispose();
    assert.equal(s.tensorCount, 0);
    assert.equal(tf.memory().numTensors, base, 'dispose frees the cached weights');
    assert.throws(() => s.score(multi), ClosedError);
    assert.throws(() => s.score(single), ClosedError);
  });

  it('an empty batch scores to no results on either engine', () => {
    const m = model(33);
    for (const engine of ['tfjs', 'js'] as const) {
      const s = new Scorer(m, 'v6', engine);
      assert.deepEqual(s.score([]), []);
      s.dispose();
    }
  });

  it('the js engine holds no tensors', () => {
    const base = tf.memory().numTensors;
    const s = new Scorer(model(29), 'v4', 'js');
    s.score(requests([3, 4], 30));
    assert.equal(s.tensorCount, 0);
    assert.equal(tf.memory().numTensors, base);
    s.dispose();
  });
});
