import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend.ts';
import { HeadKernels, initHead, partSize, type HeadConfig } from '../../../src/ml/ctr-head.ts';
import {
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
});
