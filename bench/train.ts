/**
 * bench/train: training speed with dense vs lazy (sparse) Adam on the
 * embedding tables, exported size with and without optimizer slots, and
 * (with --quality) model quality on generated data next to the
 * Bayes-optimal figures, for warm and cold items.
 *
 *   node --import tsx bench/train.ts [--backend wasm] [--steps 20] [--batch 1024]
 *   node --import tsx bench/train.ts --quality [--world-seed 42] [--examples 1200000] [--epochs 1] [--batch 1024] [--lr 0.01] [--lr-end 0.0005]
 */
import { availableParallelism, loadavg } from 'node:os';
import { initBackend, type BackendChoice } from '../src/ml/backend.ts';
import { CtrModel, DEFAULT_MODEL_CONFIG } from '../src/ml/ctr-model.ts';
import { CtrTrainer } from '../src/ml/trainer.ts';
import { Adam } from '../src/ml/optimizer.ts';
import { World } from '../src/ml/generator.ts';
import { exampleFromImpression } from '../src/ml/examples.ts';
import { evaluateOnWorld } from '../src/ml/train-eval.ts';
import type { QualityReport } from '../src/ml/evaluation.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] as string) : def;
};
const backend = await initBackend(arg('--backend', 'wasm') as BackendChoice);
const batch = Number(arg('--batch', '1024'));
const worldSeed = Number(arg('--world-seed', '42'));
const world = new World({ seed: worldSeed });
const lookup = (id: string) => world.item(id);
console.log(
  `# bench/train  backend ${backend}, node ${process.version}, ${availableParallelism()} cores, load avg ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
const hashRows = Number(arg('--hash-rows', String(1 << 18)));
// the seed's comparison is about big tables: default 2^18 rows, like ML-STACK's reference head
const cfg = { ...DEFAULT_MODEL_CONFIG, spec: { ...DEFAULT_MODEL_CONFIG.spec, hashRows } };
console.log(
  `# model: towers (text ${cfg.towers.text.tokens} tokens/LSTM ${cfg.towers.text.lstm}, image ${cfg.towers.image.size}px) + DeepFM head (2^${Math.log2(cfg.spec.hashRows)} x ${cfg.fmDim + 1} table, MLP ${cfg.hidden.join('-')}); world seed ${worldSeed}: ${world.items.length} items, ${world.contexts.length} contexts`,
);

if (!args.includes('--quality')) {
  const steps = Number(arg('--steps', '20'));
  const examples = world
    .impressions(batch * (steps + 3))
    .map((i) => exampleFromImpression(i, world.item(i.itemId)!));
  const rows: string[] = [];
  const sizes: Record<string, [number, number]> = {};
  const speed: Record<string, number> = {};
  // towers trained end to end (the tower math dominates a step), and towers frozen
  // (head fine-tuning on cached embeddings, where the tables dominate: the seed's setting)
  for (const towers of ['trained', 'frozen'] as const) {
    for (const mode of ['dense', 'lazy'] as const) {
      const model = CtrModel.create(cfg, 1);
      const trainer = new CtrTrainer(model, {
        batchSize: batch,
        tableUpdate: mode,
        trainTowers: towers === 'trained',
      });
      // warm-up: kernels, slot allocation, and (frozen) the embedding cache of every item
      trainer.step(examples.slice(0, batch), lookup);
      if (towers === 'frozen') trainer.step(examples.slice(batch, 2 * batch), lookup);
      const t0 = performance.now();
      let touched = 0;
      for (let s = 2; s < steps + 2; s++)
        touched +=
          trainer.step(examples.slice(s * batch, (s + 1) * batch), lookup).touchedRows['fm.table'] ?? 0;
      const sec = (performance.now() - t0) / 1000;
      speed[`${towers}/${mode}`] = (steps * batch) / sec;
      rows.push(
        `| ${towers} | ${mode} | ${batch} | ${steps} | ${Math.round((steps * batch) / sec).toLocaleString('en-US')} | ${((1000 * sec) / steps).toFixed(0)} | ${Math.round(touched / steps).toLocaleString('en-US')} of ${cfg.spec.hashRows.toLocaleString('en-US')} |`,
      );
      if (towers === 'trained') sizes[mode] = [model.toBuffer().length, trainer.checkpoint().length];
    }
  }
  console.log('');
  console.log(
    '| towers | table update | batch | steps | examples/s | ms/step | table rows updated per step (lazy: touched only) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  const gain = (t: string): string =>
    `${(100 * ((speed[`${t}/lazy`] as number) / (speed[`${t}/dense`] as number) - 1)).toFixed(0)}%`;
  console.log(
    `\nlazy vs dense Adam, examples/s: ${gain('frozen')} with frozen towers (the seed: +40%), ${gain('trained')} with the towers trained end to end`,
  );
  // the table update alone (same touched rows, same gradients), without the towers' and head's math
  const width = cfg.fmDim + 1;
  const touchedIds = Int32Array.from(
    new Set(Array.from({ length: batch * 9 }, (_, j) => (j * 2654435761) % hashRows)),
  );
  const grads = Float32Array.from({ length: touchedIds.length * width }, (_, j) => Math.sin(j) * 1e-3);
  console.log('');
  console.log(
    `| table update alone (2^${Math.log2(hashRows)} x ${width} table, ${touchedIds.length} touched rows) | ms/step |`,
  );
  console.log('|---|---|');
  for (const mode of ['dense', 'lazy'] as const) {
    const adam = new Adam();
    const table = new Float32Array(hashRows * width);
    adam.beginStep();
    adam.updateTable('t', table, width, touchedIds, grads, mode);
    const t0 = performance.now();
    for (let s = 0; s < 10; s++) {
      adam.beginStep();
      adam.updateTable('t', table, width, touchedIds, grads, mode);
    }
    console.log(`| ${mode} | ${((performance.now() - t0) / 10).toFixed(2)} |`);
  }
  const [exported, ckpt] = sizes.lazy as [number, number];
  console.log('');
  console.log('| artefact | bytes |');
  console.log('|---|---|');
  console.log(`| training checkpoint (weights + Adam m, v) | ${ckpt.toLocaleString('en-US')} |`);
  console.log(
    `| exported model (no optimizer slots) | ${exported.toLocaleString('en-US')} (${(100 * (1 - exported / ckpt)).toFixed(0)}% smaller) |`,
  );
} else {
  const n = Number(arg('--examples', '1200000'));
  const epochs = Number(arg('--epochs', '1'));
  const lr = Number(arg('--lr', '0.01'));
  const lrEnd = Number(arg('--lr-end', '0.0005'));
  const warmItems = [...world.items];
  // fresh impressions in chunks (1.2M examples do not need to be in memory at once);
  // with --epochs > 1 the same chunks are drawn again from a copy of the world's seed
  const chunkSize = 100_000;
  const chunks = Math.ceil(n / chunkSize);
  const model = CtrModel.create(cfg, 1);
  const totalSteps = epochs * Math.ceil(n / batch) + chunks * epochs; // upper bound: a partial batch per chunk
  const trainer = new CtrTrainer(model, {
    batchSize: batch,
    adam: { learningRate: lr },
    schedule: { kind: 'cosine', totalSteps, finalLearningRate: lrEnd },
  });
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) {
    const source = e === 0 ? world : new World({ seed: worldSeed });
    let loss = 0;
    let steps = 0;
    let rate = lr;
    for (let c = 0; c < chunks; c++) {
      const train = source
        .impressions(Math.min(chunkSize, n - c * chunkSize))
        .map((i) => exampleFromImpression(i, source.item(i.itemId)!));
      await trainer.train([train], lookup, (r) => {
        loss += r.loss;
        steps++;
        rate = r.learningRate;
      });
      process.stderr.write(
        `# epoch ${e + 1}/${epochs}: ${Math.min(n, (c + 1) * chunkSize)}/${n} examples, loss ${(loss / steps).toFixed(4)}, lr ${rate.toFixed(5)}, ${Math.round(model.examplesSeen / ((performance.now() - t0) / 1000))} examples/s\n`,
      );
    }
  }
  const ev = evaluateOnWorld(model, world, { warmItems, examples: 30_000, coldCount: 200 });
  const line = (name: string, r: QualityReport): string =>
    `| ${name} | ${r.examples} | ${r.clickRate.toFixed(3)} | ${r.auc.toFixed(4)} | ${r.bayesAuc.toFixed(4)} | ${(r.bayesAuc - r.auc).toFixed(4)} | ${r.logLoss.toFixed(4)} | ${r.bayesLogLoss.toFixed(4)} | ${r.ece.toFixed(4)} |`;
  console.log('');
  console.log(
    `trained on ${n} examples x ${epochs} epochs, batch ${batch}, lr ${lr} cosine-decayed to ${lrEnd}, lazy Adam, in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  console.log(
    '| held-out set | examples | click rate | AUC | Bayes AUC | gap | log loss | Bayes log loss | ECE |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  console.log(line('warm items', ev.warm));
  console.log(line('cold items, tower embedding', ev.coldTower));
  console.log(line('cold items, OOV embedding', ev.coldOov));
  console.log(
    `\nOOV penalty on cold items: AUC ${(ev.coldTower.auc - ev.coldOov.auc).toFixed(4)} lower than with the tower embedding (${(ev.coldOov.bayesAuc - ev.coldOov.auc).toFixed(4)} below Bayes)`,
  );
}
console.log(
  `# load avg at end: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} (shared machine: noisy)`,
);
