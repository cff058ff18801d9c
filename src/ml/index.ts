/**
 * src/ml: the models of ctr-streams. Knows nothing about Kafka: sources of
 * examples and sinks of scores are iterables and promises supplied by the
 * caller (topologies/, the CLI).
 *
 * - Backend: `initBackend('auto' | 'tensorflow' | 'wasm' | 'cpu')` (logged; returns the name).
 * - Generator: `new World(config)` -> items (text, image, hidden topic), contexts,
 *   `impressions(n)` with ground-truth click probabilities.
 * - Features: `DEFAULT_FEATURE_SPEC`, `packContext`, `allocateRows`/`writeContext`/`writeItem` (typed arrays).
 * - Model: `CtrModel.create(config, seed)`, `model.embed(items)` (towers -> 64 floats per item),
 *   `model.head` (hand-written factorised/plain head), `model.oovEmbedding`, `toBuffer`/`fromBuffer`.
 * - Serving: `ScoringPool` (worker threads, one model copy each, hot reload via `follow(registry)`,
 *   dead workers replaced), `Autobatcher` in front of `pool.score`, `Scorer` for in-thread scoring.
 *   Every result names its version. Requests with `itemKeys` reuse item parts from a per-version
 *   `ItemPartTable` (shared memory in the pool).
 * - Registry: `ModelRegistry(root)`: publish / promote / latest / load / checkpoint / watch.
 * - Training: `CtrTrainer(model, { tableUpdate: 'lazy' | 'dense' })`, `train(batches, itemLookup)`,
 *   `checkpoint()` / `CtrTrainer.resume(buf)`; `exampleFromImpression`.
 * - Evaluation: `qualityReport(probs, labels, truth)`, `auc`, `logLoss`, `expectedCalibrationError`,
 *   `predictExamples(model, examples, items, useOov)`, `evaluateOnWorld` (warm, cold via towers, cold via OOV).
 * - CLI entry points: `continueTraining({ registry, batches, items, validation })`, `readExamplesFile`, `readItemsFile`.
 */
export {
  initBackend,
  backendName,
  registerSegmentSumKernels,
  type BackendName,
  type BackendChoice,
} from './backend.ts';
export {
  World,
  DEFAULT_WORLD,
  WORLD_EPOCH_MS,
  type WorldConfig,
  type Item,
  type ListContext,
  type Impression,
} from './generator.ts';
export { Random } from './random.ts';
export { fnv1a, hashField, tokenize } from './hashing.ts';
export {
  DEFAULT_FEATURE_SPEC,
  allocateRows,
  writeContext,
  writeItem,
  packContext,
  checkRows,
  type FeatureSpec,
  type FeatureValues,
  type PackedRows,
} from './feature-spec.ts';
export { HeadKernels, headFlops, partSize, sigmoidInPlace, type HeadConfig } from './ctr-head.ts';
export { CtrModel, DEFAULT_MODEL_CONFIG, type CtrModelConfig, type ModelMeta } from './ctr-model.ts';
export { DEFAULT_TOWERS, embeddingDimOf, type TowerConfig, type ItemContent } from './towers.ts';
export {
  Scorer,
  requestRows,
  type ScoreRequest,
  type ScoreResult,
  type HeadEngine,
  type ScorerOptions,
} from './scorer.ts';
export { ScoringPool, type ScoringPoolOptions, type NativeThreads } from './scoring-pool.ts';
// the table's planning (reserve/settle, slot plans) and its shared-memory view are the pool's and the
// workers' protocol, not API: callers set bounds and read counters
export { type ItemPartTable, type ItemPartTableOptions, type ItemPartTableStats } from './item-part-table.ts';
export { Autobatcher, type AutobatcherOptions, type AutobatcherStats } from './autobatcher.ts';
export {
  ModelRegistry,
  embeddingVersionOf,
  type VersionInfo,
  type PublishOptions,
  type TrainingPosition,
} from './registry.ts';
export {
  CtrTrainer,
  DEFAULT_TRAIN,
  type TrainOptions,
  type TrainingExample,
  type ItemLookup,
  type StepResult,
} from './trainer.ts';
export { Adam, type AdamOptions, type TableUpdate } from './optimizer.ts';
export { exampleFromImpression, predictExamples } from './examples.ts';
export { auc, logLoss, expectedCalibrationError, qualityReport, type QualityReport } from './evaluation.ts';
export {
  ML_ERROR_CODES,
  MlError,
  BackendError,
  ShapeError,
  ModelFormatError,
  RegistryError,
  OverloadedError,
  ClosedError,
  WorkerError,
  TrainingError,
  type MlErrorCode,
} from './errors.ts';
export {
  continueTraining,
  evaluateOnWorld,
  readExamplesFile,
  readItemsFile,
  type ContinueTrainingOptions,
  type ItemLookupFactory,
  type WorldEvaluation,
} from './train-eval.ts';
