/**
 * The demo's first model: trained on a generated history of the same world
 * the event producer publishes, so a fresh machine has a useful model within
 * seconds. Published to the registry (and promoted) with its validation
 * metrics (AUC, log loss, and the Bayes-optimal AUC of the known truth).
 */
import {
  CtrModel,
  CtrTrainer,
  DEFAULT_MODEL_CONFIG,
  ModelRegistry,
  exampleFromImpression,
  predictExamples,
  qualityReport,
  type World,
} from '../ml/index.ts';
import { createLogger } from '../telemetry/index.ts';

const log = createLogger('initial-model');

export interface InitialModelOptions {
  /** Training impressions (one example each). Default 20000. */
  examples?: number;
  /** Held-out impressions for the metrics. Default 4000. */
  validation?: number;
  /** Passes over the training examples. Default 2. */
  epochs?: number;
  seed?: number;
  /** Progress per epoch (0..1). */
  onProgress?: (done: number, total: number) => void;
}

export interface InitialModelResult {
  version: string;
  seconds: number;
  examples: number;
  metrics: Record<string, number>;
}

/** Trains a model on `world`'s generated history and publishes it as the registry's latest version. */
export async function trainInitialModel(
  registry: ModelRegistry,
  world: World,
  o: InitialModelOptions = {},
): Promise<InitialModelResult> {
  const t0 = performance.now();
  const n = o.examples ?? 20_000;
  const epochs = o.epochs ?? 2;
  const history = world.impressions(n + (o.validation ?? 4000));
  const train = history.slice(0, n);
  const valid = history.slice(n);
  const toExample = (imp: (typeof history)[number]) =>
    exampleFromImpression(imp, world.item(imp.itemId) as { category: string });
  const examples = train.map(toExample);
  const model = CtrModel.create(DEFAULT_MODEL_CONFIG, o.seed ?? 1);
  const total = epochs * Math.ceil(n / 512);
  // a fresh model: a high start rate decayed over the run (bench/train --quality: the decay closes most of
  // the gap to the Bayes-optimal AUC that a constant rate leaves)
  const trainer = new CtrTrainer(model, {
    batchSize: 512,
    seed: o.seed ?? 1,
    adam: { learningRate: 0.01 },
    schedule: { kind: 'cosine', totalSteps: total, finalLearningRate: 0.0005 },
  });
  const items = (id: string) => world.item(id);
  let steps = 0;
  for (let e = 0; e < epochs; e++) {
    await trainer.train([examples], items, () => {
      steps++;
      if (steps % 10 === 0) o.onProgress?.(steps, total);
    });
  }
  o.onProgress?.(total, total);
  const probs = predictExamples(model, valid.map(toExample), items);
  const q = qualityReport(
    probs,
    Float32Array.from(valid, (v) => (v.clicked ? 1 : 0)),
    Float32Array.from(valid, (v) => v.clickProbability),
  );
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(q)) if (typeof v === 'number') metrics[k] = v;
  const info = await registry.publish(model, { metrics, checkpoint: trainer.checkpoint() });
  const seconds = (performance.now() - t0) / 1000;
  log.info(
    { version: info.version, seconds, examples: n * epochs, metrics },
    'initial model trained and published',
  );
  return { version: info.version, seconds, examples: n * epochs, metrics };
}
