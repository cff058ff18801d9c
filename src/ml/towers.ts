/**
 * The item towers (the EmbArk split: the slow part runs once per item and is
 * cached). Text tower: hashing tokenizer -> token embedding -> LSTM ->
 * additive self-attention pooling -> dense. Image tower: small CNN on decoded
 * pixels -> global average pool -> dense. The item embedding is the
 * concatenation [text | image], `text.out + image.out` floats (64 by default).
 *
 * Token-table rows are gathered in JS and enter as [U, T, d]: like the CTR
 * table, the table only ever sees per-row gradients (lazy Adam).
 */
import * as tf from '@tensorflow/tfjs';
import { matMul } from './tf-ops.ts';
import { tokenize } from './hashing.ts';
import { ShapeError } from './errors.ts';
import { Random } from './random.ts';
import type { TensorMap } from './tensor-file.ts';
import { gatherTableRows, type TfParams } from './ctr-head-tf.ts';

export interface TowerConfig {
  text: { vocabRows: number; tokens: number; dim: number; lstm: number; attention: number; out: number };
  image: { size: number; channels: number[]; out: number };
}

export const DEFAULT_TOWERS: TowerConfig = {
  text: { vocabRows: 1 << 14, tokens: 16, dim: 16, lstm: 32, attention: 16, out: 32 },
  image: { size: 16, channels: [8, 16], out: 32 },
};

/** What the towers read of an item. */
export interface ItemContent {
  title: string;
  description: string;
  /** size x size x 3 RGB bytes. */
  image: Uint8Array;
}

/** Floats per item embedding. */
export function embeddingDimOf(c: TowerConfig): number {
  return c.text.out + c.image.out;
}

export function towerShapes(c: TowerConfig): [string, number[]][] {
  const t = c.text;
  const out: [string, number[]][] = [
    ['text.table', [t.vocabRows, t.dim]],
    ['text.lstm.w', [t.dim + t.lstm, 4 * t.lstm]],
    ['text.lstm.b', [4 * t.lstm]],
    ['text.att.w', [t.lstm, t.attention]],
    ['text.att.b', [t.attention]],
    ['text.att.v', [t.attention]],
    ['text.out.w', [t.lstm, t.out]],
    ['text.out.b', [t.out]],
  ];
  let cin = 3;
  c.image.channels.forEach((ch, i) => {
    out.push([`image.conv${i}.w`, [3, 3, cin, ch]], [`image.conv${i}.b`, [ch]]);
    cin = ch;
  });
  out.push(['image.out.w', [cin, c.image.out]], ['image.out.b', [c.image.out]]);
  return out;
}

/** Fresh tower weights (Glorot-style), deterministic in `seed`; the LSTM's forget gate bias starts at 1. */
export function initTowers(c: TowerConfig, seed: number): TensorMap {
  const rng = new Random(seed);
  const out: TensorMap = new Map();
  for (const [name, shape] of towerShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name === 'text.table') for (let i = 0; i < n; i++) data[i] = rng.normal() * 0.1;
    else if (name === 'text.lstm.b') data.fill(1, c.text.lstm, 2 * c.text.lstm);
    else if (shape.length >= 2 || name === 'text.att.v') {
      const fanIn = shape.length === 4 ? 9 * (shape[2] as number) : (shape[0] as number);
      const fanOut = shape[shape.length - 1] as number;
      const sd = Math.sqrt(2 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) data[i] = rng.normal() * sd;
    }
    out.set(name, { shape, data });
  }
  return out;
}

/** Tower inputs of a batch of items: token ids (for the table gather) and pixels. */
export interface TowerBatch {
  size: number;
  /** size x tokens token rows (0 = padding). */
  tokens: Int32Array;
  /** size x size x size x 3 pixels scaled to [-0.5, 0.5]. */
  pixels: Float32Array;
}

/** Tokenises and decodes a batch of items. @throws ShapeError for an image of the wrong size. */
export function towerBatch(c: TowerConfig, items: readonly ItemContent[]): TowerBatch {
  const T = c.text.tokens;
  const s = c.image.size;
  const tokens = new Int32Array(items.length * T);
  const pixels = new Float32Array(items.length * s * s * 3);
  const buf = new Int32Array(T);
  items.forEach((it, i) => {
    tokens.set(tokenize(`${it.title} ${it.description}`, c.text.vocabRows, T, buf), i * T);
    if (it.image.length !== s * s * 3) {
      throw new ShapeError(
        `item ${i}: image has ${it.image.length} bytes, the image tower expects ${s}x${s}x3 = ${s * s * 3}`,
      );
    }
    const o = i * s * s * 3;
    for (let j = 0; j < it.image.length; j++) pixels[o + j] = (it.image[j] as number) / 255 - 0.5;
  });
  return { size: items.length, tokens, pixels };
}

/** The gathered token vectors [U, T, d] and padding mask [U, T] of a tower batch. */
export function textInputs(
  c: TowerConfig,
  table: Float32Array,
  b: TowerBatch,
): { vecs: Float32Array; mask: Float32Array } {
  const mask = new Float32Array(b.tokens.length);
  for (let i = 0; i < b.tokens.length; i++) mask[i] = b.tokens[i] === 0 ? 0 : 1;
  return { vecs: gatherTableRows(table, c.text.dim, b.tokens), mask };
}

function p(params: TfParams, name: string): tf.Tensor {
  const t = params.get(name);
  if (!t) throw new Error(`tower parameter "${name}" is missing`);
  return t;
}

/** Text tower: [U, T, d] token vectors + [U, T] mask -> [U, text.out]. */
export function textTowerTf(
  c: TowerConfig,
  params: TfParams,
  vecs: tf.Tensor3D,
  mask: tf.Tensor2D,
): tf.Tensor2D {
  const [U, T] = [vecs.shape[0], vecs.shape[1]];
  const H = c.text.lstm;
  const w = p(params, 'text.lstm.w') as tf.Tensor2D;
  const b = p(params, 'text.lstm.b');
  let h = tf.zeros([U, H]) as tf.Tensor2D;
  let cell = tf.zeros([U, H]) as tf.Tensor2D;
  const steps = tf.unstack(vecs, 1) as tf.Tensor2D[];
  const masks = tf.unstack(mask.expandDims(2), 1) as tf.Tensor2D[];
  const hs: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const z = tf.add(matMul(tf.concat([steps[t] as tf.Tensor2D, h], 1), w), b);
    const [i, f, g, o] = tf.split(z, 4, 1) as tf.Tensor2D[];
    const c2 = tf.add(
      tf.mul(tf.sigmoid(f as tf.Tensor), cell),
      tf.mul(tf.sigmoid(i as tf.Tensor), tf.tanh(g as tf.Tensor)),
    );
    const h2 = tf.mul(tf.sigmoid(o as tf.Tensor), tf.tanh(c2));
    // padding steps keep the previous state, so trailing padding changes nothing
    const m = masks[t] as tf.Tensor2D;
    cell = tf.add(tf.mul(m, c2), tf.mul(tf.sub(1, m), cell)) as tf.Tensor2D;
    h = tf.add(tf.mul(m, h2), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
    hs.push(h);
  }
  const Hs = tf.stack(hs, 1) as tf.Tensor3D; // [U, T, H]
  // additive self-attention pooling: score_t = v . tanh(W h_t + b), softmax over real tokens
  const a = c.text.attention;
  const proj = tf.tanh(
    tf.add(matMul(Hs.reshape([U * T, H]), p(params, 'text.att.w') as tf.Tensor2D), p(params, 'text.att.b')),
  );
  const scores = matMul(proj as tf.Tensor2D, p(params, 'text.att.v').reshape([a, 1]) as tf.Tensor2D).reshape([
    U,
    T,
  ]);
  const alpha = tf.softmax(tf.add(scores, tf.mul(tf.sub(1, mask), -1e9)));
  const pooled = tf.sum(tf.mul(Hs, alpha.expandDims(2)), 1) as tf.Tensor2D;
  return tf.tanh(
    tf.add(matMul(pooled, p(params, 'text.out.w') as tf.Tensor2D), p(params, 'text.out.b')),
  ) as tf.Tensor2D;
}

/**
 * 3x3 convolution, stride 2, 'same' padding (TensorFlow's: for an even side,
 * one row/column of zeros at the bottom/right), written as im2col + matMul
 * where im2col is one tf.gather from the flattened input plus a zero row.
 * Why not tf.conv2d: the wasm backend has no Conv2DBackpropFilter kernel, so
 * conv2d cannot be trained there, and its forward pass is slow for these
 * small shapes. The gather's gradient is UnsortedSegmentSum, which
 * backend.ts provides as one linear pass. Input sides must be even.
 */
export function conv3x3Stride2(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [U, H, W, C] = x.shape;
  if (H % 2 !== 0 || W % 2 !== 0) throw new ShapeError(`conv3x3Stride2 needs even sides, got ${H}x${W}`);
  const Ho = H / 2;
  const Wo = W / 2;
  const flat = tf.concat([x.reshape([U * H * W, C]), tf.zeros([1, C])], 0) as tf.Tensor2D;
  const cols = tf
    .gather(flat, tf.tensor1d(im2colIndex(U, H, W), 'int32'))
    .reshape([U * Ho * Wo, 9 * C]) as tf.Tensor2D;
  const cout = kernel.shape[3];
  // cols are in (dy, dx, c) order, the kernel's row-major order
  return matMul(cols, kernel.reshape([9 * C, cout]) as tf.Tensor2D).reshape([U, Ho, Wo, cout]) as tf.Tensor4D;
}

const im2colCache = new Map<string, Int32Array>();

/** Row of the flattened input for every (image, out row, out col, dy, dx); out-of-bounds rows name the zero row U*H*W. */
function im2colIndex(U: number, H: number, W: number): Int32Array {
  const key = `${U}x${H}x${W}`;
  let idx = im2colCache.get(key);
  if (idx) return idx;
  const Ho = H / 2;
  const Wo = W / 2;
  const zero = U * H * W;
  idx = new Int32Array(U * Ho * Wo * 9);
  let n = 0;
  for (let u = 0; u < U; u++) {
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        for (let dy = 0; dy < 3; dy++) {
          for (let dx = 0; dx < 3; dx++) {
            const r = 2 * i + dy;
            const c = 2 * j + dx;
            idx[n++] = r < H && c < W ? u * H * W + r * W + c : zero;
          }
        }
      }
    }
  }
  if (im2colCache.size > 64) im2colCache.clear();
  im2colCache.set(key, idx);
  return idx;
}

/** Image tower: [U, S, S, 3] pixels -> [U, image.out]. */
export function imageTowerTf(c: TowerConfig, params: TfParams, pixels: tf.Tensor4D): tf.Tensor2D {
  let x: tf.Tensor4D = pixels;
  c.image.channels.forEach((_, i) => {
    x = tf.relu(
      tf.add(conv3x3Stride2(x, p(params, `image.conv${i}.w`) as tf.Tensor4D), p(params, `image.conv${i}.b`)),
    ) as tf.Tensor4D;
  });
  const pooled = tf.mean(x, [1, 2]) as tf.Tensor2D;
  return tf.tanh(
    tf.add(matMul(pooled, p(params, 'image.out.w') as tf.Tensor2D), p(params, 'image.out.b')),
  ) as tf.Tensor2D;
}

/** Both towers: the item embeddings [U, text.out + image.out]. */
export function itemEmbeddingTf(
  c: TowerConfig,
  params: TfParams,
  textVecs: tf.Tensor3D,
  textMask: tf.Tensor2D,
  pixels: tf.Tensor4D,
): tf.Tensor2D {
  return tf.concat(
    [textTowerTf(c, params, textVecs, textMask), imageTowerTf(c, params, pixels)],
    1,
  ) as tf.Tensor2D;
}

/**
 * Embeds items with given tower weights (inference). Returns U x dim floats.
 * Runs on the current tfjs backend; call from a worker to keep an event loop free.
 */
export function embedItems(
  c: TowerConfig,
  weights: TensorMap,
  tfParams: TfParams,
  items: readonly ItemContent[],
): Float32Array {
  if (items.length === 0) return new Float32Array(0);
  const b = towerBatch(c, items);
  const table = weights.get('text.table');
  if (!table) throw new ShapeError('tower weights have no "text.table"');
  const t = textInputs(c, table.data, b);
  const s = c.image.size;
  return tf.tidy(() => {
    const out = itemEmbeddingTf(
      c,
      tfParams,
      tf.tensor3d(t.vecs, [b.size, c.text.tokens, c.text.dim]),
      tf.tensor2d(t.mask, [b.size, c.text.tokens]),
      tf.tensor4d(b.pixels, [b.size, s, s, 3]),
    );
    return out.dataSync() as Float32Array;
  });
}
