/**
 * The CTR head as TensorFlow.js ops: the plain forward pass (used by training,
 * where gradients flow through it, and as the tfjs scoring path) and the
 * factorised cross part (the tfjs scoring path of the list-building cycle).
 * The math is the one documented in ctr-head.ts; the plain pass here is
 * written from the DeepFM formula directly (concatenated deep input, full FM
 * sum), independently of the part routines, so that a test comparing the two
 * proves the factorisation.
 *
 * Embedding-table rows are gathered in JS (see gatherTableRows) and enter as a
 * dense [B, F, k+1] tensor: its gradient is exactly the per-row gradient that
 * lazy Adam needs, with no dense table-shaped gradient ever built.
 */
import * as tf from '@tensorflow/tfjs';
import { matMul } from './tf-ops.ts';
import type { HeadConfig } from './ctr-head.ts';
import { ShapeError } from './errors.ts';
import type { FeatureSpec, PackedRows } from './feature-spec.ts';
import type { TensorMap } from './tensor-file.ts';

export type TfParams = Map<string, tf.Tensor>;

/** Inputs of the plain pass, all [B, ...] tensors. */
export interface TfHeadInputs {
  /** [B, Fc, k+1] gathered table rows of the context fields. */
  ctxVecs: tf.Tensor3D;
  /** [B, Fi, k+1] gathered table rows of the item fields. */
  itemVecs: tf.Tensor3D;
  /** [B, E] item embeddings. */
  emb: tf.Tensor2D;
  /** [B, Nc] normalised context numbers (0 where missing) and their presence mask. */
  ctxNorm: tf.Tensor2D;
  ctxMask: tf.Tensor2D;
  itemNorm: tf.Tensor2D;
  itemMask: tf.Tensor2D;
}

/** Uploads a TensorMap as tf tensors (callers dispose). Only names in `only` when given. */
export function toTfParams(params: TensorMap, only?: (name: string) => boolean): TfParams {
  const out: TfParams = new Map();
  for (const [name, t] of params)
    if (!only || only(name)) out.set(name, tf.tensor(t.data, t.shape, 'float32'));
  return out;
}

function p(params: TfParams, name: string): tf.Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`tf head parameter "${name}" is missing`);
  return t;
}

/** Plain head logits [B]. Must run inside tf.tidy (or have its result disposed by the caller). */
export function headLogitsTf(c: HeadConfig, params: TfParams, x: TfHeadInputs): tf.Tensor1D {
  const k = c.fmDim;
  const B = x.emb.shape[0];
  const fc = c.spec.contextFields.length;
  const fi = c.spec.itemFields.length;
  const cv = x.ctxVecs.slice([0, 0, 0], [B, fc, k]);
  const cl = x.ctxVecs.slice([0, 0, k], [B, fc, 1]);
  const iv = x.itemVecs.slice([0, 0, 0], [B, fi, k]);
  const il = x.itemVecs.slice([0, 0, k], [B, fi, 1]);
  const ev = matMul(x.emb, p(params, 'item.fm') as tf.Tensor2D).expandDims(1);
  const V = tf.concat([cv, iv, ev], 1);
  const fm = tf.mul(0.5, tf.sum(tf.sub(tf.square(tf.sum(V, 1)), tf.sum(tf.square(V), 1)), 1));
  let linear = tf.add(tf.add(tf.sum(cl, [1, 2]), tf.sum(il, [1, 2])), p(params, 'fm.bias'));
  linear = tf.add(linear, tf.sum(tf.mul(x.emb, p(params, 'item.linear')), 1));
  if (x.ctxNorm.shape[1] > 0) {
    linear = tf.add(
      linear,
      tf.sum(tf.mul(x.ctxMask, tf.add(tf.mul(x.ctxNorm, p(params, 'num.ctx.w')), p(params, 'num.ctx.b'))), 1),
    );
  }
  if (x.itemNorm.shape[1] > 0) {
    linear = tf.add(
      linear,
      tf.sum(
        tf.mul(x.itemMask, tf.add(tf.mul(x.itemNorm, p(params, 'num.item.w')), p(params, 'num.item.b'))),
        1,
      ),
    );
  }
  const deepC = tf.concat([cv.reshape([B, fc * k]), x.ctxNorm], 1) as tf.Tensor2D;
  const deepI = tf.concat([iv.reshape([B, fi * k]), x.emb, x.itemNorm], 1) as tf.Tensor2D;
  // the plain model's first layer over the concatenated input [deepC | deepI]
  const w0 = tf.concat([p(params, 'mlp.0.wc'), p(params, 'mlp.0.wi')], 0) as tf.Tensor2D;
  let h = tf.relu(
    tf.add(matMul(tf.concat([deepC, deepI], 1) as tf.Tensor2D, w0), p(params, 'mlp.0.b')),
  ) as tf.Tensor2D;
  for (let l = 1; l < c.hidden.length; l++) {
    h = tf.relu(
      tf.add(matMul(h, p(params, `mlp.${l}.w`) as tf.Tensor2D), p(params, `mlp.${l}.b`)),
    ) as tf.Tensor2D;
  }
  const deep = tf.add(
    matMul(h, p(params, 'mlp.out.w').reshape([-1, 1]) as tf.Tensor2D).reshape([B]),
    p(params, 'mlp.out.b'),
  );
  return tf.add(tf.add(linear, fm), deep) as tf.Tensor1D;
}

/**
 * The context half of the first layer for many contexts at once: rows of
 * `inputs` [C, contextInputSize] (HeadKernels.contextInput) times `weights`
 * [contextInputSize, hidden[0]] plus `bias` [hidden[0]]: [C, hidden[0]], the
 * first floats of each context part. Serving only (no custom gradient).
 */
export function contextHiddenTf(inputs: tf.Tensor2D, weights: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(inputs, weights), bias);
}

/**
 * Factorised cross part on tfjs: logits [n] of pairs from context parts
 * and item parts [n, P]. The context parts are either one row per pair
 * ([n, P], expanded by the caller), one row broadcast to every pair
 * ([1, P]), or [C, P] with `ctxIndex` [n] picking each pair's row (a
 * tf.gather: on wasm that kernel costs more than the rest of the cross part
 * at serving sizes, so the scorer expands rows in JS instead).
 * @throws ShapeError when `ctxParts` has neither 1 nor n rows and no `ctxIndex` is given.
 */
export function crossLogitsTf(
  c: HeadConfig,
  params: TfParams,
  ctxParts: tf.Tensor2D,
  itemParts: tf.Tensor2D,
  ctxIndex?: tf.Tensor1D,
): tf.Tensor1D {
  const h0 = c.hidden[0] as number;
  const k = c.fmDim;
  const n = itemParts.shape[0];
  const rowsC = ctxIndex ? n : ctxParts.shape[0];
  if (!ctxIndex && rowsC !== 1 && rowsC !== n)
    throw new ShapeError(`cross part of ${n} pairs got ${rowsC} context parts and no context index`);
  const cp = ctxIndex ? tf.gather(ctxParts, ctxIndex) : ctxParts;
  let h = tf.relu(tf.add(cp.slice([0, 0], [rowsC, h0]), itemParts.slice([0, 0], [n, h0]))) as tf.Tensor2D;
  for (let l = 1; l < c.hidden.length; l++) {
    h = tf.relu(
      tf.add(matMul(h, p(params, `mlp.${l}.w`) as tf.Tensor2D), p(params, `mlp.${l}.b`)),
    ) as tf.Tensor2D;
  }
  const deep = tf.add(
    matMul(h, p(params, 'mlp.out.w').reshape([-1, 1]) as tf.Tensor2D).reshape([n]),
    p(params, 'mlp.out.b'),
  );
  const dot = tf.sum(tf.mul(cp.slice([0, h0], [rowsC, k]), itemParts.slice([0, h0], [n, k])), 1);
  const scal = tf.add(
    cp.slice([0, h0 + k], [rowsC, 1]).reshape([rowsC]),
    itemParts.slice([0, h0 + k], [n, 1]).reshape([n]),
  );
  return tf.add(tf.add(deep, dot), scal) as tf.Tensor1D;
}

/** Copies rows `ids` of a [rows, width] table into one Float32Array (ids.length x width). */
export function gatherTableRows(
  table: Float32Array,
  width: number,
  ids: Int32Array,
  out = new Float32Array(ids.length * width),
): Float32Array {
  for (let i = 0; i < ids.length; i++) {
    const src = (ids[i] as number) * width;
    out.set(table.subarray(src, src + width), i * width);
  }
  return out;
}

/** Normalises numbers by running max |value|: returns values (0 where missing) and the presence mask. */
export function normaliseNumbers(
  values: Float32Array,
  max: Float32Array,
): { norm: Float32Array; mask: Float32Array } {
  const n = max.length;
  const norm = new Float32Array(values.length);
  const mask = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    if (Number.isNaN(x)) continue;
    norm[i] = x / (max[i % n] as number);
    mask[i] = 1;
  }
  return { norm, mask };
}

/** Builds the plain pass's input tensors from a packed batch (callers dispose them). */
export function headInputsFromRows(c: HeadConfig, params: TensorMap, rows: PackedRows): TfHeadInputs {
  const s: FeatureSpec = c.spec;
  const k1 = c.fmDim + 1;
  const table = (params.get('fm.table') as { data: Float32Array }).data;
  const B = rows.size;
  const ctx = normaliseNumbers(rows.contextNums, (params.get('num.ctx.max') as { data: Float32Array }).data);
  const item = normaliseNumbers(rows.itemNums, (params.get('num.item.max') as { data: Float32Array }).data);
  return {
    ctxVecs: tf.tensor3d(gatherTableRows(table, k1, rows.contextCats), [B, s.contextFields.length, k1]),
    itemVecs: tf.tensor3d(gatherTableRows(table, k1, rows.itemCats), [B, s.itemFields.length, k1]),
    emb: tf.tensor2d(rows.embeddings, [B, s.embeddingDim]),
    ctxNorm: tf.tensor2d(ctx.norm, [B, s.contextNumeric.length]),
    ctxMask: tf.tensor2d(ctx.mask, [B, s.contextNumeric.length]),
    itemNorm: tf.tensor2d(item.norm, [B, s.itemNumeric.length]),
    itemMask: tf.tensor2d(item.mask, [B, s.itemNumeric.length]),
  };
}

/** Disposes every tensor of an inputs object. */
export function disposeInputs(x: TfHeadInputs): void {
  for (const t of Object.values(x)) (t as tf.Tensor).dispose();
}
