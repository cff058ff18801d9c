/**
 * bench/towers: items/s of the text tower and the image tower (inference, the
 * EmbArk "slow part" run once per item), on each available backend, at
 * batch 64 and 256, with FLOPs per item.
 *
 *   node --import tsx bench/towers.ts [--backends wasm,cpu] [--quick]
 */
import * as tf from '@tensorflow/tfjs';
import { availableParallelism, loadavg } from 'node:os';
import { initBackend, type BackendName } from '../src/ml/backend.ts';
import { CtrModel, DEFAULT_MODEL_CONFIG } from '../src/ml/ctr-model.ts';
import { World } from '../src/ml/generator.ts';
import { imageTowerTf, textInputs, textTowerTf, towerBatch } from '../src/ml/towers.ts';
import { toTfParams } from '../src/ml/ctr-head-tf.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const i = args.indexOf('--backends');
const backends = (i >= 0 ? (args[i + 1] as string) : 'wasm,cpu').split(',') as BackendName[];
const budgetMs = quick ? 300 : 2000;
const c = DEFAULT_MODEL_CONFIG.towers;
const model = CtrModel.create(DEFAULT_MODEL_CONFIG, 1);
const world = new World({ seed: 5, items: 256 });

// FLOPs per item (multiply-add = 2)
const T = c.text.tokens;
const H = c.text.lstm;
const textFlops = T * 2 * (c.text.dim + H) * 4 * H + T * 2 * H * c.text.attention + 2 * H * c.text.out;
let imgFlops = 0;
let side = c.image.size;
let cin = 3;
for (const ch of c.image.channels) {
  side /= 2;
  imgFlops += side * side * 2 * 9 * cin * ch;
  cin = ch;
}
imgFlops += 2 * cin * c.image.out;

console.log(
  `# bench/towers  node ${process.version}, ${availableParallelism()} cores, load avg ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log(
  `# text tower: ${T} tokens, embedding ${c.text.dim}, LSTM ${H}, attention ${c.text.attention}, dense ${c.text.out}: ${(textFlops / 1e6).toFixed(2)} MFLOP/item`,
);
console.log(
  `# image tower: ${c.image.size}x${c.image.size}x3, stride-2 3x3 convs ${c.image.channels.join('/')}, pool, dense ${c.image.out}: ${(imgFlops / 1e6).toFixed(2)} MFLOP/item`,
);
console.log('');
console.log('| backend | tower | batch | items/s | GFLOP/s |');
console.log('|---|---|---|---|---|');
for (const backend of backends) {
  if ((await initBackend(backend).catch(() => undefined)) !== backend) {
    console.log(`| ${backend} | (not available) | | | |`);
    continue;
  }
  const p = toTfParams(
    model.weights,
    (n) => (n.startsWith('text.') || n.startsWith('image.')) && n !== 'text.table',
  );
  for (const b of [64, 256]) {
    const items = world.items.slice(0, b);
    const tb = towerBatch(c, items);
    const ti = textInputs(c, model.weights.get('text.table')!.data, tb);
    const runs: [string, number, () => void][] = [
      [
        'text',
        textFlops,
        () =>
          void tf.tidy(() =>
            textTowerTf(
              c,
              p,
              tf.tensor3d(ti.vecs, [b, T, c.text.dim]),
              tf.tensor2d(ti.mask, [b, T]),
            ).dataSync(),
          ),
      ],
      [
        'image',
        imgFlops,
        () =>
          void tf.tidy(() =>
            imageTowerTf(c, p, tf.tensor4d(tb.pixels, [b, c.image.size, c.image.size, 3])).dataSync(),
          ),
      ],
      ['both (model.embed, incl. tokenising)', textFlops + imgFlops, () => void model.embed(items)],
    ];
    for (const [name, flops, f] of runs) {
      f();
      let n = 0;
      const t0 = performance.now();
      do {
        f();
        n += b;
      } while (performance.now() - t0 < budgetMs);
      const rate = n / ((performance.now() - t0) / 1000);
      console.log(
        `| ${backend} | ${name} | ${b} | ${Math.round(rate).toLocaleString('en-US')} | ${((rate * flops) / 1e9).toFixed(2)} |`,
      );
    }
  }
  p.forEach((t) => t.dispose());
  model.dispose();
}
console.log(
  `\n# load avg at end: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} (shared machine: noisy)`,
);
