/**
 * Training and evaluation entry points for the CLI and benchmarks.
 *
 * - `continueTraining`: continuous training against a registry: resume from
 *   the latest version's checkpoint (weights + Adam slots) or start fresh,
 *   train on the given batches (a file, the `training-examples` topic: any
 *   async iterable), evaluate on held-out examples, publish a new version
 *   with its metrics, parent and checkpoint, and promote it.
 * - `evaluateOnWorld`: quality on generated data next to the Bayes-optimal
 *   figures, for warm items and for cold (never trained on) items scored both
 *   with their tower embedding and with the OOV embedding.
 * - `readExamplesFile` / `readItemsFile`: JSON-lines sources.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CtrModel, DEFAULT_MODEL_CONFIG, type CtrModelConfig } from './ctr-model.ts';
import {
  CtrTrainer,
  type ItemLookup,
  type StepResult,
  type TrainingExample,
  type TrainOptions,
} from './trainer.ts';
import { exampleFromImpression, predictExamples } from './examples.ts';
import { qualityReport, type QualityReport } from './evaluation.ts';
import type { Item, World } from './generator.ts';
import type { ModelRegistry, TrainingPosition, VersionInfo } from './registry.ts';
import type { ItemContent } from './towers.ts';
import { createLogger } from '../telemetry/logger.ts';

const log = createLogger('ml-train');

/**
 * Item contents whose form depends on the model trained (e.g. the image
 * tower's input size): asked once, with the model training starts from.
 */
export interface ItemLookupFactory {
  forModel(model: CtrModel): ItemLookup;
}

export interface ContinueTrainingOptions {
  registry: ModelRegistry;
  /**
   * The version to continue from. Default: the registry's latest. A caller
   * that read a version's `trainedThrough` passes that version, so the new
   * version's parent is the one whose position it resumed from even if
   * LATEST moves meanwhile. `null`: train a fresh model.
   */
  from?: string | null;
  /** Example batches (each batch is split into optimizer steps of `train.batchSize`). */
  batches: Iterable<readonly TrainingExample[]> | AsyncIterable<readonly TrainingExample[]>;
  items: ItemLookup | ItemLookupFactory;
  /** Held-out examples for the version's validation metrics. */
  validation?: readonly TrainingExample[];
  /** Config of a fresh model when the registry is empty. */
  config?: CtrModelConfig;
  train?: Partial<TrainOptions>;
  onStep?: (r: StepResult, step: number) => void;
  /** Stored with the new version (see VersionInfo.trainedThrough). */
  trainedThrough?: TrainingPosition;
  /** Stored with the new version (see VersionInfo.trainingSource). */
  trainingSource?: Record<string, unknown>;
  /** Make the new version "latest". Default true; false lets the caller check first (see the CLI's train). */
  promote?: boolean;
}

/**
 * Trains the next version from `from` (default: the registry's latest; `null`: a fresh model) and
 * publishes it, promoted unless `promote` is false. @returns the new version's info.
 */
export async function continueTraining(o: ContinueTrainingOptions): Promise<VersionInfo> {
  const parent = o.from === undefined ? await o.registry.latest() : (o.from ?? undefined);
  let trainer: CtrTrainer;
  if (parent) {
    const ckpt = await o.registry.checkpoint(parent);
    trainer = ckpt
      ? CtrTrainer.resume(ckpt, `checkpoint of ${parent}`, o.train)
      : new CtrTrainer(await o.registry.load(parent), o.train);
    log.info({ parent, resumedSlots: ckpt !== undefined }, 'resuming training from a published version');
  } else {
    trainer = new CtrTrainer(CtrModel.create(o.config ?? DEFAULT_MODEL_CONFIG, o.train?.seed ?? 1), o.train);
    log.info('no version to continue from: training a fresh model');
  }
  const items = typeof o.items === 'function' ? o.items : o.items.forModel(trainer.model);
  const n = await trainer.train(o.batches, items, o.onStep);
  const metrics: Record<string, number> = { examplesTrained: n };
  if (o.validation && o.validation.length > 0) {
    const probs = predictExamples(trainer.model, o.validation, items);
    const labels = o.validation.map((e) => e.label);
    const r = qualityReport(probs, labels, probs);
    Object.assign(metrics, { auc: r.auc, logLoss: r.logLoss, ece: r.ece, validationExamples: r.examples });
  }
  return o.registry.publish(trainer.model, {
    metrics,
    checkpoint: trainer.checkpoint(),
    ...(parent ? { parent } : {}),
    ...(o.trainedThrough ? { trainedThrough: o.trainedThrough } : {}),
    ...(o.trainingSource ? { trainingSource: o.trainingSource } : {}),
    promote: o.promote ?? true,
  });
}

export interface WorldEvaluation {
  warm: QualityReport;
  /** Items created after training, embedded by the towers from their content. */
  coldTower: QualityReport;
  /** The same cold impressions scored with the OOV embedding (no embedding yet). */
  coldOov: QualityReport;
}

/**
 * Quality of `model` on fresh impressions of `world`: warm items (from
 * `warmItems`), and `coldCount` brand-new items. Draws from the world's PRNG.
 */
export function evaluateOnWorld(
  model: CtrModel,
  world: World,
  opts: { warmItems: readonly Item[]; examples?: number; coldCount?: number },
): WorldEvaluation {
  const n = opts.examples ?? 30_000;
  const lookup = (id: string): ItemContent | undefined => world.item(id);
  const score = (imps: ReturnType<World['impressions']>, oov: boolean): QualityReport => {
    const ex = imps.map((i) => exampleFromImpression(i, world.item(i.itemId) as Item));
    const probs = predictExamples(model, ex, lookup, () => oov);
    return qualityReport(
      probs,
      ex.map((e) => e.label),
      imps.map((i) => i.clickProbability),
    );
  };
  const warm = score(world.impressions(n, { pool: opts.warmItems }), false);
  const last = opts.warmItems.reduce((t, i) => Math.max(t, i.createdAt), 0);
  const cold = world.newItems(opts.coldCount ?? 200, last + 3600_000);
  const coldImps = world.impressions(n, { pool: cold, from: last + 2 * 3600_000, spanMs: 24 * 3600_000 });
  return { warm, coldTower: score(coldImps, false), coldOov: score(coldImps, true) };
}

/** Reads JSON lines of TrainingExample ({ features, itemId, label }) in batches of `batchSize`. */
export async function* readExamplesFile(path: string, batchSize = 4096): AsyncGenerator<TrainingExample[]> {
  let batch: TrainingExample[] = [];
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    const e = JSON.parse(text) as TrainingExample;
    if (typeof e.itemId !== 'string' || typeof e.features !== 'object')
      throw new Error(`${path}:${line}: not a training example (needs features, itemId, label)`);
    batch.push(e);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Reads JSON lines of items ({ id, title, description, image: base64 RGB bytes }) into a map. */
export async function readItemsFile(path: string): Promise<Map<string, ItemContent>> {
  const out = new Map<string, ItemContent>();
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (text.trim() === '') continue;
    const j = JSON.parse(text) as { id: string; title: string; description: string; image: string };
    out.set(j.id, {
      title: j.title,
      description: j.description,
      image: new Uint8Array(Buffer.from(j.image, 'base64')),
    });
  }
  return out;
}
