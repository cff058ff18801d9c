import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend.ts';
import { CtrModel } from '../../../src/ml/ctr-model.ts';
import { CtrTrainer, scheduledLearningRate } from '../../../src/ml/trainer.ts';
import { TrainingError } from '../../../src/ml/errors.ts';
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

  it('with frozen towers trains the head only, with the same head update as end-to-end training', () => {
    const frozen = new CtrTrainer(CtrModel.create(TINY_MODEL, 5), { batchSize: 200, trainTowers: false });
    const full = new CtrTrainer(CtrModel.create(TINY_MODEL, 5), { batchSize: 200 });
    const towerBefore = new Map(
      [...frozen.model.weights]
        .filter(([n]) => n.startsWith('text.') || n.startsWith('image.'))
        .map(([n, t]) => [n, t.data.slice()]),
    );
    const a = frozen.step(examples.slice(0, 200), lookup);
    const b = full.step(examples.slice(0, 200), lookup);
    // same forward pass, so the same loss and the same gradients of the head's weights
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `loss ${a.loss} vs ${b.loss}`);
    for (const name of ['mlp.0.wc', 'mlp.0.wi', 'item.fm', 'oov', 'fm.table']) {
      const x = frozen.model.weights.get(name)!.data;
      const y = full.model.weights.get(name)!.data;
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      assert.ok(worst < 1e-5, `${name} differs by ${worst}`);
    }
    assert.equal(a.touchedRows['text.table'], undefined);
    // end-to-end training moved the towers; frozen training did not touch a single float of them
    let towersMoved = false;
    for (const [name, was] of towerBefore) {
      assert.deepEqual(frozen.model.weights.get(name)!.data, was, `${name} changed with frozen towers`);
      if (!towersMoved) towersMoved = full.model.weights.get(name)!.data.some((v, i) => v !== was[i]);
    }
    assert.ok(towersMoved, 'end-to-end training should have updated the towers');
    // and the head still learns
    let last = a.loss;
    for (let e = 0; e < 15; e++)
      for (let i = 0; i < 600; i += 200) last = frozen.step(examples.slice(i, i + 200), lookup).loss;
    assert.ok(last < a.loss, `loss ${a.loss} -> ${last}`);
  });
  it('refuses an example whose item the lookup does not know, naming it, with towers trained or frozen', () => {
    const bad = [...examples.slice(0, 3), { ...examples[3]!, itemId: 'no-such-item' }];
    for (const trainTowers of [true, false]) {
      const trainer = new CtrTrainer(CtrModel.create(TINY_MODEL, 7), { trainTowers });
      assert.throws(
        () => trainer.step(bad, lookup),
        (e: unknown) => e instanceof TrainingError && /"no-such-item"/.test(e.message),
      );
      assert.equal(trainer.model.steps, 0, 'nothing was applied');
    }
  });

  it('decays the learning rate on a cosine from the initial to the final rate over the run', () => {
    const cosine = { kind: 'cosine', totalSteps: 5, finalLearningRate: 0.001 } as const;
    assert.ok(Math.abs(scheduledLearningRate(cosine, 0.01, 0) - 0.01) < 1e-12);
    assert.ok(Math.abs(scheduledLearningRate(cosine, 0.01, 2) - 0.0055) < 1e-12);
    assert.ok(Math.abs(scheduledLearningRate(cosine, 0.01, 4) - 0.001) < 1e-12);
    assert.ok(Math.abs(scheduledLearningRate(cosine, 0.01, 9) - 0.001) < 1e-12, 'held after the run');
    assert.equal(scheduledLearningRate({ kind: 'constant' }, 0.01, 9), 0.01);
    const trainer = new CtrTrainer(CtrModel.create(TINY_MODEL, 6), {
      batchSize: 100,
      adam: { learningRate: 0.01 },
      schedule: cosine,
    });
    const rates: number[] = [];
    for (let i = 0; i < 500; i += 100)
      rates.push(trainer.step(examples.slice(i, i + 100), lookup).learningRate);
    assert.deepEqual(
      rates,
      [0, 1, 2, 3, 4].map((s) => scheduledLearningRate(cosine, 0.01, s)),
    );
    // strictly falling over the run
    for (let i = 1; i < rates.length; i++) assert.ok(rates[i]! < rates[i - 1]!);
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
