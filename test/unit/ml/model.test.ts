import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend.ts';
import { CtrModel } from '../../../src/ml/ctr-model.ts';
import { CtrTrainer } from '../../../src/ml/trainer.ts';
import { World } from '../../../src/ml/generator.ts';
import { exampleFromImpression, predictExamples } from '../../../src/ml/examples.ts';
import { conv3x3Stride2, textTowerTf, imageTowerTf, towerBatch, textInputs } from '../../../src/ml/towers.ts';
import { toTfParams } from '../../../src/ml/ctr-head-tf.ts';
import { TINY_MODEL, TINY_WORLD } from './fixtures.ts';

describe('CtrModel: towers, training, export', () => {
  const world = new World(TINY_WORLD);
  const lookup = (id: string) => world.item(id);
  const examples = world.impressions(600).map((i) => exampleFromImpression(i, world.item(i.itemId)!));

  before(async () => {
    await initBackend('wasm');
  });

  it('towers produce [items, out] each and a [items, 16] item embedding', () => {
    const model = CtrModel.create(TINY_MODEL, 1);
    const c = TINY_MODEL.towers;
    const items = world.items.slice(0, 5);
    const b = towerBatch(c, items);
    const t = textInputs(c, model.weights.get('text.table')!.data, b);
    const p = toTfParams(model.weights, (n) => n.startsWith('text.') || n.startsWith('image.'));
    const [textShape, imageShape] = tf.tidy(() => [
      textTowerTf(
        c,
        p,
        tf.tensor3d(t.vecs, [5, c.text.tokens, c.text.dim]),
        tf.tensor2d(t.mask, [5, c.text.tokens]),
      ).shape,
      imageTowerTf(c, p, tf.tensor4d(b.pixels, [5, 8, 8, 3])).shape,
    ]);
    p.forEach((x) => x.dispose());
    assert.deepEqual(textShape, [5, 8]);
    assert.deepEqual(imageShape, [5, 8]);
    const emb = model.embed(items);
    assert.equal(emb.length, 5 * 16);
    assert.ok(emb.every(Number.isFinite));
    // the same item embeds the same way alone and in a batch
    const alone = model.embed([items[2]!]);
    for (let d = 0; d < 16; d++) assert.ok(Math.abs(alone[d]! - emb[2 * 16 + d]!) < 1e-5);
    model.dispose();
  });

  it('the gather-based stride-2 convolution equals tf.conv2d with same padding', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const k = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 6) as tf.Tensor4D;
      const want = tf.conv2d(x, k, 2, 'same').dataSync();
      const got = conv3x3Stride2(x, k).dataSync();
      assert.equal(got.length, want.length);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4);
    });
  });

  it('trains end to end: loss falls, and lazy updates touch only the batch rows', () => {
    const model = CtrModel.create(TINY_MODEL, 2);
    const trainer = new CtrTrainer(model, { batchSize: 200, adam: { learningRate: 0.01 } });
    const table = model.weights.get('fm.table')!.data;
    const before = table.slice();
    const first = trainer.step(examples.slice(0, 200), lookup);
    assert.ok(
      first.touchedRows['fm.table']! > 0 && first.touchedRows['fm.table']! < TINY_MODEL.spec.hashRows,
    );
    let changedRows = 0;
    for (let r = 0; r < TINY_MODEL.spec.hashRows; r++) {
      for (let d = 0; d < TINY_MODEL.fmDim + 1; d++) {
        if (table[r * 5 + d] !== before[r * 5 + d]) {
          changedRows++;
          break;
        }
      }
    }
    assert.ok(
      changedRows <= first.touchedRows['fm.table']!,
      `${changedRows} rows changed, ${first.touchedRows['fm.table']} touched`,
    );
    let last = first.loss;
    for (let e = 0; e < 15; e++)
      for (let i = 0; i < 600; i += 200) last = trainer.step(examples.slice(i, i + 200), lookup).loss;
    assert.ok(last < first.loss, `loss ${first.loss} -> ${last}`);
    assert.equal(model.examplesSeen, 200 * 46);
  });

  it('exports without optimizer slots and reloads to identical predictions', () => {
    const model = CtrModel.create(TINY_MODEL, 3);
    const trainer = new CtrTrainer(model, { batchSize: 200 });
    for (let i = 0; i < 600; i += 200) trainer.step(examples.slice(i, i + 200), lookup);
    const exported = model.toBuffer();
    const checkpoint = trainer.checkpoint();
    // slots are two more copies of every trained tensor: the export is about a third of the checkpoint
    assert.ok(
      exported.length < checkpoint.length * 0.4,
      `export ${exported.length} B vs checkpoint ${checkpoint.length} B`,
    );
    const reloaded = CtrModel.fromBuffer(exported, 'test export');
    const test = examples.slice(0, 100);
    const a = predictExamples(model, test, lookup);
    const b = predictExamples(reloaded, test, lookup);
    assert.deepEqual(b, a);
    assert.equal(reloaded.steps, 3);
  });

  it('resumes training from a checkpoint exactly where it stopped', () => {
    const m1 = CtrModel.create(TINY_MODEL, 4);
    const t1 = new CtrTrainer(m1, { batchSize: 200, oovRate: 0 });
    t1.step(examples.slice(0, 200), lookup);
    const resumed = CtrTrainer.resume(t1.checkpoint(), 'test checkpoint', { batchSize: 200, oovRate: 0 });
    t1.step(examples.slice(200, 400), lookup);
    resumed.step(examples.slice(200, 400), lookup);
    assert.deepEqual(resumed.model.weights.get('mlp.0.wc')!.data, m1.weights.get('mlp.0.wc')!.data);
    assert.deepEqual(resumed.model.weights.get('fm.table')!.data, m1.weights.get('fm.table')!.data);
  });
});

describe('UnsortedSegmentSum kernel (gather gradient) on wasm and cpu', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`gives tf.gather a correct table gradient on ${backend}`, async () => {
      await initBackend(backend);
      const table = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
      const ids = tf.tensor1d([3, 0, 3, 1], 'int32');
      const weights = tf.tensor2d([1, 10, 100, 1000, 2, 20, 3, 30], [4, 2]);
      const [g] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), weights)))([table]);
      // row 3 is gathered twice: its gradient sums rows 0 and 2 of the weights
      assert.deepEqual(Array.from(g!.dataSync()), [100, 1000, 3, 30, 0, 0, 3, 30]);
      tf.dispose([table, ids, weights, g!]);
    });
  }
  after(async () => {
    await initBackend('wasm');
  });
});
