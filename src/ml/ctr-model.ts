/**
 * The whole CTR model: towers + head + the OOV item embedding, as one set of
 * named weights with its config and feature spec. This is the unit that is
 * trained, exported, versioned in the registry and loaded by workers.
 *
 * Serving splits it (the EmbArk split): `embed` runs the towers once per item
 * (results cached by the caller, per model version), and `head` (HeadKernels)
 * scores cached embeddings every cycle.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type * as tfTypes from '@tensorflow/tfjs';
import { HeadKernels, headShapes, headStateShapes, initHead, type HeadConfig } from './ctr-head.ts';
import { toTfParams, type TfParams } from './ctr-head-tf.ts';
import { DEFAULT_FEATURE_SPEC, type FeatureSpec } from './feature-spec.ts';
import { ModelFormatError } from './errors.ts';
import { decodeTensors, encodeTensors, sizeOf, type TensorMap } from './tensor-file.ts';
import {
  DEFAULT_TOWERS,
  embedItems,
  embeddingDimOf,
  initTowers,
  towerShapes,
  type ItemContent,
  type TowerConfig,
} from './towers.ts';

export interface CtrModelConfig {
  spec: FeatureSpec;
  fmDim: number;
  hidden: number[];
  towers: TowerConfig;
}

export const DEFAULT_MODEL_CONFIG: CtrModelConfig = {
  spec: DEFAULT_FEATURE_SPEC,
  fmDim: 16,
  hidden: [128, 64],
  towers: DEFAULT_TOWERS,
};

/** Everything a version stores next to its weights (model.json). */
export interface ModelMeta {
  format: 'ctr-streams-model/1';
  config: CtrModelConfig;
  /** Examples trained on so far, over the model's whole history. */
  examplesSeen: number;
  /** Optimizer steps so far. */
  steps: number;
}

/** Head config of a model config. */
export function headConfigOf(c: CtrModelConfig): HeadConfig {
  return { spec: c.spec, fmDim: c.fmDim, hidden: c.hidden };
}

/** Names of the embedding tables (trained with sparse updates, gathered in JS, never uploaded whole). */
export const TABLE_PARAMS = ['fm.table', 'text.table'] as const;

/** Weights of the item towers (text and image), including the token table. */
export function isTowerWeight(name: string): boolean {
  return name.startsWith('text.') || name.startsWith('image.');
}

/** Names of non-trainable state (running max |value| of numeric features). */
export function isStateParam(name: string): boolean {
  return name.endsWith('.max');
}

export class CtrModel {
  readonly config: CtrModelConfig;
  readonly weights: TensorMap;
  examplesSeen: number;
  steps: number;
  private kernels: HeadKernels | undefined;
  private towerTf: TfParams | undefined;

  constructor(
    config: CtrModelConfig,
    weights: TensorMap,
    history: { examplesSeen?: number; steps?: number } = {},
  ) {
    if (config.spec.embeddingDim !== embeddingDimOf(config.towers)) {
      throw new ModelFormatError(
        `feature spec embeddingDim ${config.spec.embeddingDim} differs from the towers' output ${embeddingDimOf(config.towers)}`,
      );
    }
    this.config = config;
    this.weights = weights;
    this.examplesSeen = history.examplesSeen ?? 0;
    this.steps = history.steps ?? 0;
    for (const [name, shape] of CtrModel.shapes(config)) {
      const t = weights.get(name);
      if (!t) throw new ModelFormatError(`model weights lack "${name}"`);
      if (t.data.length !== sizeOf(shape)) {
        throw new ModelFormatError(
          `model weight "${name}" has ${t.data.length} values, config implies [${shape.join(', ')}]`,
        );
      }
    }
  }

  /** All weight names and shapes a config implies. */
  static shapes(c: CtrModelConfig): [string, number[]][] {
    const h = headConfigOf(c);
    return [
      ...headShapes(h),
      ...headStateShapes(h),
      ...towerShapes(c.towers),
      ['oov', [c.spec.embeddingDim]],
    ];
  }

  /** A freshly initialised model (deterministic in `seed`). */
  static create(config: CtrModelConfig = DEFAULT_MODEL_CONFIG, seed = 1): CtrModel {
    const w: TensorMap = new Map([
      ...initHead(headConfigOf(config), seed),
      ...initTowers(config.towers, seed + 7),
    ]);
    w.set('oov', { shape: [config.spec.embeddingDim], data: new Float32Array(config.spec.embeddingDim) });
    return new CtrModel(config, w);
  }

  get headConfig(): HeadConfig {
    return headConfigOf(this.config);
  }

  /** The hand-written head over this model's weights (built once, shared). */
  get head(): HeadKernels {
    this.kernels ??= new HeadKernels(this.headConfig, this.weights);
    return this.kernels;
  }

  /** The learned embedding for items whose tower embedding is not (yet) known. */
  get oovEmbedding(): Float32Array {
    return (this.weights.get('oov') as { data: Float32Array }).data;
  }

  /** Runs both towers: items.length x embeddingDim floats. Needs an initialised tfjs backend. */
  embed(items: readonly ItemContent[]): Float32Array {
    this.towerTf ??= toTfParams(
      this.weights,
      (n) => (n.startsWith('text.') || n.startsWith('image.')) && n !== 'text.table',
    );
    return embedItems(this.config.towers, this.weights, this.towerTf, items);
  }

  /**
   * A digest of what the towers compute: their config and every tower
   * weight (sha256, hex). Two models with the same digest embed every item
   * identically, so their embeddings are interchangeable (a version trained
   * with frozen towers keeps its parent's).
   */
  towersDigest(): string {
    const h = createHash('sha256');
    h.update(JSON.stringify(this.config.towers));
    for (const name of [...this.weights.keys()].filter(isTowerWeight).sort()) {
      const t = this.weights.get(name) as { shape: number[]; data: Float32Array };
      h.update(`${name}:${t.shape.join('x')};`);
      h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    return h.digest('hex');
  }

  /** Frees tfjs tensors this model uploaded (weights stay usable; they re-upload on demand). */
  dispose(): void {
    this.towerTf?.forEach((t: tfTypes.Tensor) => t.dispose());
    this.towerTf = undefined;
  }

  /** Serialises weights + meta; no optimizer state (that lives in training checkpoints). */
  toBuffer(): Buffer {
    return encodeTensors(this.weights, this.meta());
  }

  meta(): ModelMeta {
    return {
      format: 'ctr-streams-model/1',
      config: this.config,
      examplesSeen: this.examplesSeen,
      steps: this.steps,
    };
  }

  /** Reads a model written by toBuffer. `what` names the source in errors. @throws ModelFormatError */
  static fromBuffer(buf: Uint8Array, what: string): CtrModel {
    const { tensors, meta } = decodeTensors(buf, what);
    const m = meta as Partial<ModelMeta>;
    if (m.format !== 'ctr-streams-model/1' || !m.config)
      throw new ModelFormatError(`${what}: not a ctr-streams model (format ${String(m.format)})`);
    const weights: TensorMap = new Map();
    for (const [name] of CtrModel.shapes(m.config)) {
      const t = tensors.get(name);
      if (t) weights.set(name, t);
    }
    return new CtrModel(m.config, weights, { examplesSeen: m.examplesSeen ?? 0, steps: m.steps ?? 0 });
  }

  static async fromFile(path: string): Promise<CtrModel> {
    return CtrModel.fromBuffer(await readFile(path), path);
  }
}
