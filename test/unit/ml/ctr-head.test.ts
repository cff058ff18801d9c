import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend.ts';
import {
  contextInputSize,
  HeadKernels,
  initHead,
  partSize,
  type HeadConfig,
} from '../../../src/ml/ctr-head.ts';
import { ShapeError } from '../../../src/ml/errors.ts';
import {
  contextHiddenTf,
  crossLogitsTf,
  disposeInputs,
  headInputsFromRows,
  headLogitsTf,
  toTfParams,
} from '../../../src/ml/ctr-head-tf.ts';
import {
  allocateRows,
  DEFAULT_FEATURE_SPEC,
  writeContext,
  writeItem,
  packContext,
} from '../../../src/ml/feature-spec.ts';
import { Random } from '../../../src/ml/random.ts';

const config: HeadConfig = {
  spec: { ...DEFAULT_FEATURE_SPEC, hashRows: 1 << 12, embeddingDim: 16 },
  fmDim: 8,
  hidden: [32, 16],
};

function randomParams(seed: number) {
  const params = initHead(config, seed);
  const rng = new Random(seed + 1);
  // make every term matter: non-trivial table, biases, running max
  for (const [name, t] of params) {
    if (name.endsWith('.max')) t.data.forEach((_, i) => (t.data[i] = 5 + rng.next() * 20));
    else if (name.endsWith('.b') || name === 'fm.bias' || name === 'fm.table')
      t.data.forEach((_, i) => (t.data[i] = rng.normal() * 0.2));
  }
  return params;
}

function oneContextRows(n: number, seed: number) {
  const rng = new Random(seed);
  const rows = allocateRows(config.spec, n);
  const ctx = {
    contextId: 'ctx-7',
    publisher: 'pub-2',
    placement: 'pub-2/pl-1',
    country: 'SI',
    segment: 'seg-3',
    device: 'mobile',
    position: 0,
    hour: 13,
    pageDepth: 4,
  };
  for (let r = 0; r < n; r++) {
    writeContext(config.spec, rows, r, ctx);
    const emb = Float32Array.from({ length: 16 }, () => rng.normal());
    writeItem(
      config.spec,
      rows,
      r,
      { category: `cat-${r % 4}`, itemAgeHours: r % 5 === 0 ? undefined : rng.next() * 50 },
      emb,
    );
  }
  return { rows, ctx: packContext(config.spec, ctx) };
}

describe('CTR head', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('hand-written plain logits equal the tfjs plain pass within 1e-4', () => {
    const params = randomParams(3);
    const { rows } = oneContextRows(50, 4);
    const js = new HeadKernels(config, params).plainLogits(rows);
    const tp = toTfParams(params);
    const x = headInputsFromRows(config, params, rows);
    const t = headLogitsTf(config, tp, x);
    const tv = t.dataSync();
    t.dispose();
    disposeInputs(x);
    tp.forEach((v) => v.dispose());
    assert.equal(tv.length, 50);
    for (let i = 0; i < 50; i++)
      assert.ok(
        Math.abs((js[i] as number) - (tv[i] as number)) < 1e-4,
        `row ${i}: js ${js[i]} vs tf ${tv[i]}`,
      );
  });

  it('factorised scoring (context part + cached item parts + cross) equals the plain DeepFM pass', () => {
    const params = randomParams(5);
    const { rows, ctx } = oneContextRows(300, 6);
    const head = new HeadKernels(config, params);
    const ctxPart = head.contextPart(ctx.cats, ctx.nums);
    const itemParts = head.itemParts(rows);
    assert.equal(ctxPart.length, partSize(config));
    assert.equal(itemParts.length, 300 * partSize(config));
    const fact = head.crossLogits(ctxPart, itemParts, 300);
    const tp = toTfParams(params);
    const x = headInputsFromRows(config, params, rows);
    const plain = tf.tidy(() => headLogitsTf(config, tp, x).dataSync());
    const crossTf = tf.tidy(() =>
      crossLogitsTf(
        config,
        tp,
        tf.tensor2d(ctxPart, [1, partSize(config)]),
        tf.tensor2d(itemParts, [300, partSize(config)]),
      ).dataSync(),
    );
    disposeInputs(x);
    tp.forEach((v) => v.dispose());
    for (let i = 0; i < 300; i++) {
      assert.ok(
        Math.abs((fact[i] as number) - (plain[i] as number)) < 1e-4,
        `pair ${i}: factorised ${fact[i]} vs plain ${plain[i]}`,
      );
      assert.ok(
        Math.abs((crossTf[i] as number) - (plain[i] as number)) < 1e-4,
        `pair ${i}: tf cross ${crossTf[i]} vs plain ${plain[i]}`,
      );
    }
  });

  it('scores many contexts in one cross call by context index', () => {
    const params = randomParams(8);
    const head = new HeadKernels(config, params);
    const a = oneContextRows(4, 9);
    const ctxB = packContext(config.spec, {
      contextId: 'ctx-1',
      publisher: 'pub-1',
      segment: 'seg-0',
      position: 2,
      pageDepth: 9,
    });
    const P = partSize(config);
    const parts = new Float32Array(2 * P);
    head.contextPart(a.ctx.cats, a.ctx.nums, parts, 0);
    head.contextPart(ctxB.cats, ctxB.nums, parts, P);
    const items = head.itemParts(a.rows);
    const mixed = head.crossLogits(parts, items, 4, Int32Array.from([0, 1, 1, 0]));
    const onlyA = head.crossLogits(parts.subarray(0, P), items, 4);
    const onlyB = head.crossLogits(parts.subarray(P), items, 4);
    assert.deepEqual([mixed[0], mixed[1], mixed[2], mixed[3]], [onlyA[0], onlyB[1], onlyB[2], onlyA[3]]);
    assert.notEqual(onlyA[1], onlyB[1]);
  });

  /** Contexts that differ in every field, one with its number missing (NaN) and one at 0. */
  function someContexts() {
    return [
      { contextId: 'ctx-1', publisher: 'pub-1', segment: 'seg-0', position: 2, pageDepth: 9 },
      { contextId: 'ctx-2', publisher: 'pub-3', placement: 'pub-3/pl-2', country: 'DE', hour: 23 },
      { contextId: 'ctx-3', publisher: 'pub-2', device: 'desktop', position: 5, pageDepth: 0 },
      { contextId: 'ctx-4', publisher: 'pub-4', country: 'SI', segment: 'seg-9', pageDepth: 130 },
    ].map((v) => packContext(config.spec, v));
  }

  it('batched context parts (input rows x first layer on the backend) equal contextPart within 1e-5, missing numbers included', () => {
    const params = randomParams(11);
    const head = new HeadKernels(config, params);
    const ctxs = someContexts();
    assert.ok(Number.isNaN(ctxs[1]!.nums[0]), 'the second context lacks its number');
    const C = ctxs.length;
    const P = head.partSize;
    const D = head.contextInputSize;
    assert.equal(D, contextInputSize(config));
    const h0 = config.hidden[0] as number;
    // garbage in the output rows first: contextInput must write every float of a row
    const rows = new Float32Array(C * D).fill(777);
    const parts = new Float32Array(C * P).fill(-5);
    ctxs.forEach((c, i) => head.contextInput(c.cats, c.nums, rows, i * D, parts, i * P));
    assert.ok(
      rows.every((v) => Number.isFinite(v) && v !== 777),
      'every input float written, none NaN',
    );
    const { weights, bias } = head.contextFirstLayer();
    assert.equal(weights.length, D * h0);
    assert.equal(bias.length, h0);
    const w = tf.tensor2d(weights, [D, h0]);
    const b = tf.tensor1d(bias);
    const hidden = tf.tidy(() => contextHiddenTf(tf.tensor2d(rows, [C, D]), w, b).dataSync());
    w.dispose();
    b.dispose();
    for (let i = 0; i < C; i++) parts.set(hidden.subarray(i * h0, i * h0 + h0), i * P);
    ctxs.forEach((c, i) => {
      const want = head.contextPart(c.cats, c.nums);
      for (let j = 0; j < P; j++)
        assert.ok(
          Math.abs((parts[i * P + j] as number) - (want[j] as number)) < 1e-5,
          `context ${i} float ${j}: batched ${parts[i * P + j]} vs contextPart ${want[j]}`,
        );
    });
  });

  it('contextInput rejects a context of the wrong width', () => {
    const head = new HeadKernels(config, randomParams(12));
    const [c] = someContexts();
    const P = head.partSize;
    assert.throws(
      () => head.contextInput(c!.cats.subarray(1), c!.nums, new Float32Array(64), 0, new Float32Array(P), 0),
      ShapeError,
    );
  });

  it('the tf cross part takes context parts expanded to one row per pair, equal to the context index path', () => {
    const params = randomParams(13);
    const head = new HeadKernels(config, params);
    const ctxs = someContexts();
    const P = head.partSize;
    const parts = new Float32Array(ctxs.length * P);
    ctxs.forEach((c, i) => head.contextPart(c.cats, c.nums, parts, i * P));
    const { rows } = oneContextRows(10, 14);
    const items = head.itemParts(rows);
    const index = Int32Array.from([3, 0, 0, 1, 2, 3, 1, 1, 0, 2]);
    const expanded = new Float32Array(10 * P);
    index.forEach((c, r) => expanded.set(parts.subarray(c * P, c * P + P), r * P));
    const js = head.crossLogits(parts, items, 10, index);
    const tp = toTfParams(params);
    const [byRows, byIndex] = tf.tidy(() => [
      crossLogitsTf(config, tp, tf.tensor2d(expanded, [10, P]), tf.tensor2d(items, [10, P])).dataSync(),
      crossLogitsTf(
        config,
        tp,
        tf.tensor2d(parts, [ctxs.length, P]),
        tf.tensor2d(items, [10, P]),
        tf.tensor1d(index, 'int32'),
      ).dataSync(),
    ]);
    assert.throws(
      () =>
        tf.tidy(() =>
          crossLogitsTf(config, tp, tf.tensor2d(parts, [ctxs.length, P]), tf.tensor2d(items, [10, P])),
        ),
      ShapeError,
    );
    tp.forEach((v) => v.dispose());
    for (let i = 0; i < 10; i++) {
      assert.ok(Math.abs(byRows![i]! - js[i]!) < 1e-4, `pair ${i}: expanded ${byRows![i]} vs js ${js[i]}`);
      assert.ok(Math.abs(byIndex![i]! - js[i]!) < 1e-4, `pair ${i}: gather ${byIndex![i]} vs js ${js[i]}`);
    }
  });
});
