/**
 * End-to-end training of the CTR model (towers + head) on labelled examples.
 *
 * One step: gather the batch's unique items through the towers, pick each
 * example's embedding (or the OOV vector, with probability `oovRate`, so the
 * OOV vector learns to stand in for unknown items), run the plain head, and
 * take gradients with respect to the dense weights AND the gathered table
 * rows. Table rows are then updated with lazy (sparse) or dense Adam.
 *
 * Sources: `train` takes any (async) iterable of example batches, so the CLI
 * can feed a file and the pipeline the `training-examples` topic without this
 * module knowing Kafka. Continuous training resumes from the last version's
 * checkpoint (weights + optimizer slots) and trains on new examples only.
 */
import * as tf from '@tensorflow/tfjs';
import { CtrModel, isStateParam, isTowerWeight, TABLE_PARAMS } from './ctr-model.ts';
import { gatherTableRows, headLogitsTf, normaliseNumbers, type TfParams } from './ctr-head-tf.ts';
import { allocateRows, writeContext, writeItem, type FeatureValues } from './feature-spec.ts';
import { Adam, type AdamOptions, type TableUpdate } from './optimizer.ts';
import { Random } from './random.ts';
import { decodeTensors, encodeTensors, type TensorMap } from './tensor-file.ts';
import { itemEmbeddingTf, textInputs, towerBatch, type ItemContent } from './towers.ts';
import { TrainingError } from './errors.ts';
import { createLogger } from '../telemetry/logger.ts';

/** One labelled example: context and item feature values, the item, the label. */
export interface TrainingExample {
  /** Feature values by field name (context and item fields, numbers). */
  features: FeatureValues;
  itemId: string;
  /** 1 = clicked. */
  label: number;
}

/** Where the trainer finds an item's content (title, description, image). */
export type ItemLookup = (itemId: string) => ItemContent | undefined;

export interface TrainOptions {
  /** Examples per step. Default 512. */
  batchSize: number;
  /** Table update mode; `lazy` (default) touches only the rows a batch used. */
  tableUpdate: TableUpdate;
  adam: Partial<AdamOptions>;
  /** Probability of training an example on the OOV embedding. Default 0.05. */
  oovRate: number;
  /**
   * Train the item towers with the head (default). `false` freezes them: each
   * item is embedded once per trainer and the cached vector is reused, as the
   * pipeline serves them, so a step costs only the head and the table updates.
   * That is the cheap way to refresh the head on new examples between
   * end-to-end runs (the towers are the slow part: EmbArk's split).
   */
  trainTowers: boolean;
  /**
   * Learning rate over this run (steps counted from the trainer's creation,
   * not the model's lifetime, so a resumed run decays again). `constant`
   * (default) keeps `adam.learningRate`; `cosine` decays it from there to
   * `finalLearningRate` over `totalSteps`, then holds it. A bounded run (a
   * file, a topic up to its end offsets) knows its steps: decaying to a small
   * rate at the end removes most of the gradient noise a constant rate leaves
   * in the weights.
   */
  schedule: LearningRateSchedule;
  seed: number;
}

export type LearningRateSchedule =
  { kind: 'constant' } | { kind: 'cosine'; totalSteps: number; finalLearningRate: number };

/** The learning rate of run step `step` (0-based) under `schedule`, starting from `initial`. */
export function scheduledLearningRate(schedule: LearningRateSchedule, initial: number, step: number): number {
  if (schedule.kind === 'constant') return initial;
  const f = Math.min(1, step / Math.max(1, schedule.totalSteps - 1));
  return (
    schedule.finalLearningRate + 0.5 * (initial - schedule.finalLearningRate) * (1 + Math.cos(Math.PI * f))
  );
}

export const DEFAULT_TRAIN: TrainOptions = {
  batchSize: 512,
  tableUpdate: 'lazy',
  adam: {},
  oovRate: 0.05,
  trainTowers: true,
  schedule: { kind: 'constant' },
  seed: 1,
};

const log = createLogger('ml-trainer');

/** Frozen-tower embeddings kept per trainer (64 floats each: 1M items = 256 MB). */
const EMBEDDING_CACHE_ITEMS = 1_000_000;
/** Items per tower call when filling the frozen-tower cache. */
const TOWER_CHUNK = 256;

/** What one step did. */
export interface StepResult {
  loss: number;
  examples: number;
  /** The learning rate this step used (see `TrainOptions.schedule`). */
  learningRate: number;
  /** Unique rows updated per table. */
  touchedRows: Record<string, number>;
}

export class CtrTrainer {
  readonly model: CtrModel;
  readonly options: TrainOptions;
  readonly adam: Adam;
  private readonly rng: Random;
  /** The learning rate the schedule starts from. */
  private readonly initialRate: number;
  /** Steps taken by this trainer (the schedule's clock). */
  private runSteps = 0;
  /** Item embeddings of the frozen towers (trainTowers false), by item id. */
  private readonly embeddings = new Map<string, Float32Array>();

  constructor(model: CtrModel, options: Partial<TrainOptions> = {}) {
    this.model = model;
    this.options = { ...DEFAULT_TRAIN, ...options };
    this.adam = new Adam(this.options.adam);
    this.initialRate = this.adam.options.learningRate;
    this.adam.step = model.steps;
    this.rng = new Random(this.options.seed ^ model.steps);
  }

  /** One optimizer step on `examples` (any count >= 1). @throws TrainingError on an unknown item or non-finite loss. */
  step(examples: readonly TrainingExample[], items: ItemLookup): StepResult {
    if (examples.length === 0) throw new TrainingError('cannot train on an empty batch');
    const m = this.model;
    const c = m.config;
    const spec = c.spec;
    const k1 = c.fmDim + 1;
    const B = examples.length;
    const w = m.weights;
    const data = (name: string): Float32Array => (w.get(name) as { data: Float32Array }).data;
    const trainTowers = this.options.trainTowers;

    // unique items: a tower batch (towers trained) or cached embeddings (towers frozen)
    const { itemIndex, idx } = uniqueItems(examples);
    const tb = trainTowers ? towerBatch(c.towers, contentsOf(itemIndex.keys(), items)) : undefined;
    const text = tb ? textInputs(c.towers, data('text.table'), tb) : undefined;
    const frozenEmb = trainTowers ? undefined : this.cachedEmbeddings(itemIndex, items);

    // pack features (embeddings enter from the towers inside the graph, or from the cache)
    const rows = allocateRows({ ...spec, embeddingDim: 0 }, B);
    const zero = new Float32Array(0);
    examples.forEach((ex, i) => {
      writeContext(spec, rows, i, ex.features);
      writeItem({ ...spec, embeddingDim: 0 }, rows, i, ex.features, zero);
    });
    updateRunningMax(data('num.ctx.max'), rows.contextNums);
    updateRunningMax(data('num.item.max'), rows.itemNums);
    const ctxN = normaliseNumbers(rows.contextNums, data('num.ctx.max'));
    const itemN = normaliseNumbers(rows.itemNums, data('num.item.max'));
    const table = data('fm.table');
    const oovMask = new Float32Array(B);
    for (let i = 0; i < B; i++) oovMask[i] = this.rng.bernoulli(this.options.oovRate) ? 1 : 0;
    const labels = Float32Array.from(examples, (e) => (e.label > 0 ? 1 : 0));

    const denseNames = [...w.keys()].filter(
      (n) =>
        !isStateParam(n) &&
        !(TABLE_PARAMS as readonly string[]).includes(n) &&
        (trainTowers || !isTowerWeight(n)),
    );
    const fc = spec.contextFields.length;
    const fi = spec.itemFields.length;
    const T = c.towers.text.tokens;
    const S = c.towers.image.size;
    const dim = spec.embeddingDim;

    // results leave tidy through this variable, not its return value: tidy walks a
    // returned container element by element, and these are megabytes of gradients
    const result = { loss: 0, grads: [] as Float32Array[] };
    tf.tidy(() => {
      const ctxVecs = tf.tensor3d(gatherTableRows(table, k1, rows.contextCats), [B, fc, k1]);
      const itemVecs = tf.tensor3d(gatherTableRows(table, k1, rows.itemCats), [B, fi, k1]);
      // towers trained: token vectors are a differentiated input (their gradient updates text.table)
      const tokVecs = tb && text ? [tf.tensor3d(text.vecs, [tb.size, T, c.towers.text.dim])] : [];
      const dense = denseNames.map((n) =>
        tf.tensor((w.get(n) as { data: Float32Array }).data, (w.get(n) as { shape: number[] }).shape),
      );
      const consts = {
        tokMask: tb && text ? tf.tensor2d(text.mask, [tb.size, T]) : undefined,
        pixels: tb ? tf.tensor4d(tb.pixels, [tb.size, S, S, 3]) : undefined,
        frozen: frozenEmb ? tf.tensor2d(frozenEmb, [itemIndex.size, dim]) : undefined,
        idx: tf.tensor1d(idx, 'int32'),
        oov: tf.tensor2d(oovMask, [B, 1]),
        ctxNorm: tf.tensor2d(ctxN.norm, [B, spec.contextNumeric.length]),
        ctxMask: tf.tensor2d(ctxN.mask, [B, spec.contextNumeric.length]),
        itemNorm: tf.tensor2d(itemN.norm, [B, spec.itemNumeric.length]),
        itemMask: tf.tensor2d(itemN.mask, [B, spec.itemNumeric.length]),
        labels: tf.tensor1d(labels),
      };
      const nVar = 2 + tokVecs.length;
      const lossFn = (...args: tf.Tensor[]): tf.Scalar => {
        const [cv, iv] = args;
        const ds = args.slice(nVar);
        const p: TfParams = new Map(denseNames.map((n, j) => [n, ds[j] as tf.Tensor]));
        const embU = consts.frozen
          ? consts.frozen
          : itemEmbeddingTf(
              c.towers,
              p,
              args[2] as tf.Tensor3D,
              consts.tokMask as tf.Tensor2D,
              consts.pixels as tf.Tensor4D,
            );
        const embRows = tf.gather(embU, consts.idx);
        const emb = tf.add(
          tf.mul(embRows, tf.sub(1, consts.oov)),
          tf.mul(p.get('oov') as tf.Tensor, consts.oov),
        ) as tf.Tensor2D;
        const logits = headLogitsTf(m.headConfig, p, {
          ctxVecs: cv as tf.Tensor3D,
          itemVecs: iv as tf.Tensor3D,
          emb,
          ctxNorm: consts.ctxNorm,
          ctxMask: consts.ctxMask,
          itemNorm: consts.itemNorm,
          itemMask: consts.itemMask,
        });
        return tf.losses.sigmoidCrossEntropy(consts.labels, logits) as tf.Scalar;
      };
      const { value, grads } = tf.valueAndGrads(lossFn)([ctxVecs, itemVecs, ...tokVecs, ...dense]);
      result.loss = value.dataSync()[0] as number;
      result.grads = grads.map((g) => g.dataSync() as Float32Array);
    });
    if (!Number.isFinite(result.loss))
      throw new TrainingError(`loss became ${result.loss} at step ${this.adam.step + 1}`);

    this.adam.options.learningRate = scheduledLearningRate(
      this.options.schedule,
      this.initialRate,
      this.runSteps++,
    );
    this.adam.beginStep();
    const [gCtx, gItem] = result.grads as Float32Array[];
    const gTok = tb ? result.grads[2] : undefined;
    const gDense = result.grads.slice(tb ? 3 : 2);
    denseNames.forEach((n, j) => this.adam.updateDense(n, data(n), gDense[j] as Float32Array));
    const touched: Record<string, number> = {};
    const ids = new Int32Array(rows.contextCats.length + rows.itemCats.length);
    ids.set(rows.contextCats, 0);
    ids.set(rows.itemCats, rows.contextCats.length);
    const g = new Float32Array(ids.length * k1);
    g.set(gCtx as Float32Array, 0);
    g.set(gItem as Float32Array, (gCtx as Float32Array).length);
    touched['fm.table'] = this.updateTable('fm.table', table, k1, ids, g);
    if (tb && gTok)
      touched['text.table'] = this.updateTable(
        'text.table',
        data('text.table'),
        c.towers.text.dim,
        tb.tokens,
        gTok,
      );
    m.steps = this.adam.step;
    m.examplesSeen += B;
    if (trainTowers) m.dispose(); // tower tensors were uploaded from old weights
    return {
      loss: result.loss,
      examples: B,
      learningRate: this.adam.options.learningRate,
      touchedRows: touched,
    };
  }

  /**
   * Embeddings of the batch's unique items (in `itemIndex` order) with the frozen
   * towers: each item runs through the towers once per trainer, like the
   * pipeline's embedding store. Bounded: the cache is cleared when it passes
   * `EMBEDDING_CACHE_ITEMS` items.
   */
  private cachedEmbeddings(itemIndex: ReadonlyMap<string, number>, items: ItemLookup): Float32Array {
    const dim = this.model.config.spec.embeddingDim;
    let missing = [...itemIndex.keys()].filter((id) => !this.embeddings.has(id));
    if (this.embeddings.size + missing.length > EMBEDDING_CACHE_ITEMS) {
      this.embeddings.clear();
      missing = [...itemIndex.keys()];
    }
    for (let i = 0; i < missing.length; i += TOWER_CHUNK) {
      const chunk = missing.slice(i, i + TOWER_CHUNK);
      const out = this.model.embed(contentsOf(chunk, items));
      chunk.forEach((id, j) => this.embeddings.set(id, out.slice(j * dim, (j + 1) * dim)));
    }
    const emb = new Float32Array(itemIndex.size * dim);
    for (const [id, u] of itemIndex) emb.set(this.embeddings.get(id) as Float32Array, u * dim);
    return emb;
  }

  /** Sums the gradients of repeated rows, then applies the table update. Returns the number of unique rows. */
  private updateTable(
    name: string,
    table: Float32Array,
    width: number,
    ids: Int32Array,
    grads: Float32Array,
  ): number {
    const pos = new Map<number, number>();
    for (let i = 0; i < ids.length; i++) if (!pos.has(ids[i] as number)) pos.set(ids[i] as number, pos.size);
    const rows = new Int32Array(pos.size);
    const sum = new Float32Array(pos.size * width);
    for (const [row, j] of pos) rows[j] = row;
    for (let i = 0; i < ids.length; i++) {
      const o = (pos.get(ids[i] as number) as number) * width;
      for (let d = 0; d < width; d++) sum[o + d] = (sum[o + d] as number) + (grads[i * width + d] as number);
    }
    this.adam.updateTable(name, table, width, rows, sum, this.options.tableUpdate);
    return rows.length;
  }

  /**
   * Trains over batches from any source until it ends. `onStep` sees each step.
   * @returns examples trained on.
   */
  async train(
    batches: Iterable<readonly TrainingExample[]> | AsyncIterable<readonly TrainingExample[]>,
    items: ItemLookup,
    onStep?: (r: StepResult, step: number) => void,
  ): Promise<number> {
    let n = 0;
    for await (const batch of batches) {
      for (let i = 0; i < batch.length; i += this.options.batchSize) {
        const r = this.step(batch.slice(i, i + this.options.batchSize), items);
        n += r.examples;
        onStep?.(r, this.adam.step);
        if (this.adam.step % 50 === 0) log.debug({ step: this.adam.step, loss: r.loss }, 'training step');
      }
    }
    return n;
  }

  /** A training checkpoint: weights plus Adam slots and step (what `resume` needs). */
  checkpoint(): Buffer {
    const shapes = new Map([...this.model.weights].map(([n, t]) => [n, t.shape]));
    const all: TensorMap = new Map([...this.model.weights, ...this.adam.slotTensors(shapes)]);
    return encodeTensors(all, { ...this.model.meta(), adamStep: this.adam.step });
  }

  /** A trainer resumed from a checkpoint written by `checkpoint()`. */
  static resume(buf: Uint8Array, what: string, options: Partial<TrainOptions> = {}): CtrTrainer {
    const { tensors, meta } = decodeTensors(buf, what);
    const weights: TensorMap = new Map([...tensors].filter(([n]) => !n.startsWith('adam.')));
    const model = CtrModel.fromBuffer(encodeTensors(weights, meta), what);
    const t = new CtrTrainer(model, options);
    t.adam.loadSlots(tensors, (meta as { adamStep?: number }).adamStep ?? model.steps);
    return t;
  }
}

/** The batch's distinct items in first-seen order, and each example's index among them. */
function uniqueItems(examples: readonly TrainingExample[]): {
  itemIndex: Map<string, number>;
  idx: Int32Array;
} {
  const itemIndex = new Map<string, number>();
  const idx = new Int32Array(examples.length);
  examples.forEach((ex, i) => {
    let u = itemIndex.get(ex.itemId);
    if (u === undefined) {
      u = itemIndex.size;
      itemIndex.set(ex.itemId, u);
    }
    idx[i] = u;
  });
  return { itemIndex, idx };
}

/** The contents of items by id. @throws TrainingError naming an item the lookup does not know */
function contentsOf(ids: Iterable<string>, items: ItemLookup): ItemContent[] {
  return Array.from(ids, (id) => {
    const content = items(id);
    if (!content)
      throw new TrainingError(`an example names item "${id}", which the item lookup does not know`);
    return content;
  });
}

/** Running max |value| per feature (column j of a row-major [n, max.length] array); NaN = missing. */
function updateRunningMax(max: Float32Array, values: Float32Array): void {
  const n = max.length;
  for (let i = 0; i < values.length; i++) {
    const x = Math.abs(values[i] as number);
    if (x > (max[i % n] as number)) max[i % n] = x;
  }
}
