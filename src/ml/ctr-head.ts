/**
 * The CTR scoring head: DeepFM over hashed categorical fields, the item
 * embedding, and numeric features through a sparse linear layer with online
 * normalisation (value / running max |value|, plus a per-feature bias, as in
 * Twitter's sparse linear layer).
 *
 *   logit = bias + Σ first-order weights + numeric linear + FM(pairwise) + MLP(deep input)
 *
 * Know the compute graph: a list-building cycle scores ONE context against
 * hundreds of candidates. The MLP's first layer is a sum of a context-only
 * product and an item-only product, and the FM term is
 *   ½(‖Vc+Vi‖² − Sc − Si) = FMc + FMi + Vc·Vi
 * so each splits into a context part (once per context per cycle), an item
 * part (once per item and model version, cached with its embedding) and a
 * cheap cross part (per pair: an add, the rest of the MLP, a k-dot).
 *
 * Part layout (both context and item parts): [h1 (hidden[0]) | V (fmDim) | scalar].
 *
 * This file holds the parameter layout and the hand-written Float32Array
 * paths (plain and factorised); ctr-head-tf.ts holds the tfjs paths.
 */
import type { FeatureSpec, PackedRows } from './feature-spec.ts';
import { checkRows } from './feature-spec.ts';
import { ShapeError } from './errors.ts';
import { Random } from './random.ts';
import type { TensorMap } from './tensor-file.ts';

export interface HeadConfig {
  spec: FeatureSpec;
  /** FM factor size k. */
  fmDim: number;
  /** MLP hidden layer widths; at least one layer. */
  hidden: number[];
}

/** Parameter names and shapes of a head (the tensor file keys). */
export function headShapes(c: HeadConfig): [string, number[]][] {
  const s = c.spec;
  const k = c.fmDim;
  const h = c.hidden;
  if (h.length === 0) throw new ShapeError('head needs at least one hidden layer');
  const out: [string, number[]][] = [
    ['fm.table', [s.hashRows, k + 1]],
    ['fm.bias', [1]],
    ['item.fm', [s.embeddingDim, k]],
    ['item.linear', [s.embeddingDim]],
    ['num.ctx.w', [s.contextNumeric.length]],
    ['num.ctx.b', [s.contextNumeric.length]],
    ['num.item.w', [s.itemNumeric.length]],
    ['num.item.b', [s.itemNumeric.length]],
    ['mlp.0.wc', [contextInputSize(c), h[0] as number]],
    ['mlp.0.wi', [itemInputSize(c), h[0] as number]],
    ['mlp.0.b', [h[0] as number]],
  ];
  for (let l = 1; l < h.length; l++) {
    out.push([`mlp.${l}.w`, [h[l - 1] as number, h[l] as number]], [`mlp.${l}.b`, [h[l] as number]]);
  }
  out.push(['mlp.out.w', [h[h.length - 1] as number]], ['mlp.out.b', [1]]);
  return out;
}

/** Non-trainable state saved with the head: running max |value| per numeric feature. */
export function headStateShapes(c: HeadConfig): [string, number[]][] {
  return [
    ['num.ctx.max', [c.spec.contextNumeric.length]],
    ['num.item.max', [c.spec.itemNumeric.length]],
  ];
}

/** Deep input width of the context side: one FM vector per field plus normalised numbers. */
export function contextInputSize(c: HeadConfig): number {
  return c.spec.contextFields.length * c.fmDim + c.spec.contextNumeric.length;
}

/** Deep input width of the item side: FM vectors, the embedding, normalised numbers. */
export function itemInputSize(c: HeadConfig): number {
  return c.spec.itemFields.length * c.fmDim + c.spec.embeddingDim + c.spec.itemNumeric.length;
}

/** Floats per context part and per item part. */
export function partSize(c: HeadConfig): number {
  return (c.hidden[0] as number) + c.fmDim + 1;
}

/** Multiply-adds x2 per prediction of the plain head and of the factorised cross part. */
export function headFlops(c: HeadConfig): { plain: number; factorisedCross: number } {
  const h = c.hidden;
  let rest = 0;
  for (let l = 1; l < h.length; l++) rest += 2 * (h[l - 1] as number) * (h[l] as number);
  rest += 2 * (h[h.length - 1] as number);
  const first = 2 * (contextInputSize(c) + itemInputSize(c)) * (h[0] as number);
  const fields = c.spec.contextFields.length + c.spec.itemFields.length + 1;
  const fm = 3 * fields * c.fmDim + 2 * c.spec.embeddingDim * c.fmDim;
  return { plain: first + rest + fm, factorisedCross: (h[0] as number) * 2 + rest + 2 * c.fmDim };
}

/**
 * Fresh head parameters: small random weights (He-style scaling for the
 * MLP), zero biases, running max 1. Deterministic in `seed`.
 */
export function initHead(c: HeadConfig, seed: number): TensorMap {
  const rng = new Random(seed);
  const out: TensorMap = new Map();
  for (const [name, shape] of headShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    let sd = 0;
    if (name === 'fm.table') sd = 0.01;
    else if (name === 'item.fm' || name === 'item.linear') sd = 0.05;
    else if (
      name.startsWith('mlp.') &&
      (name.endsWith('.w') || name.endsWith('.wc') || name.endsWith('.wi'))
    ) {
      const fanIn =
        name === 'mlp.out.w'
          ? n
          : name.startsWith('mlp.0.')
            ? contextInputSize(c) + itemInputSize(c)
            : (shape[0] as number);
      sd = Math.sqrt(2 / fanIn) * (name === 'mlp.out.w' ? 0.5 : 1);
    }
    if (sd > 0) for (let i = 0; i < n; i++) data[i] = rng.normal() * sd;
    out.set(name, { shape, data });
  }
  for (const [name, shape] of headStateShapes(c))
    out.set(name, { shape, data: new Float32Array(shape[0] as number).fill(1) });
  return out;
}

function get(params: TensorMap, name: string): Float32Array {
  const t = params.get(name);
  if (!t) throw new ShapeError(`head parameter "${name}" is missing`);
  return t.data;
}

/**
 * The head with its weights resolved to Float32Arrays: the hand-written
 * scoring paths. Construct once per model version; methods are pure and
 * allocation-light, safe to call from any thread that owns the instance.
 */
export class HeadKernels {
  readonly config: HeadConfig;
  readonly partSize: number;
  private readonly k: number;
  private readonly h0: number;
  private readonly table: Float32Array;
  private readonly bias: number;
  private readonly itemFm: Float32Array;
  private readonly itemLinear: Float32Array;
  private readonly ctxW: Float32Array;
  private readonly ctxB: Float32Array;
  private readonly ctxMax: Float32Array;
  private readonly itemW: Float32Array;
  private readonly itemB: Float32Array;
  private readonly itemMax: Float32Array;
  private readonly w0c: Float32Array;
  private readonly w0i: Float32Array;
  private readonly b0: Float32Array;
  private readonly layers: { w: Float32Array; b: Float32Array; n: number; m: number }[] = [];
  private readonly outW: Float32Array;
  private readonly outB: number;

  constructor(config: HeadConfig, params: TensorMap) {
    this.config = config;
    this.k = config.fmDim;
    this.h0 = config.hidden[0] as number;
    this.partSize = partSize(config);
    this.table = get(params, 'fm.table');
    this.bias = get(params, 'fm.bias')[0] as number;
    this.itemFm = get(params, 'item.fm');
    this.itemLinear = get(params, 'item.linear');
    this.ctxW = get(params, 'num.ctx.w');
    this.ctxB = get(params, 'num.ctx.b');
    this.ctxMax = get(params, 'num.ctx.max');
    this.itemW = get(params, 'num.item.w');
    this.itemB = get(params, 'num.item.b');
    this.itemMax = get(params, 'num.item.max');
    this.w0c = get(params, 'mlp.0.wc');
    this.w0i = get(params, 'mlp.0.wi');
    this.b0 = get(params, 'mlp.0.b');
    for (let l = 1; l < config.hidden.length; l++) {
      this.layers.push({
        w: get(params, `mlp.${l}.w`),
        b: get(params, `mlp.${l}.b`),
        n: config.hidden[l - 1] as number,
        m: config.hidden[l] as number,
      });
    }
    this.outW = get(params, 'mlp.out.w');
    this.outB = get(params, 'mlp.out.b')[0] as number;
  }

  /**
   * Context part of one context: [h1c + b1 | Vc | bias + first-order + numeric + FMc],
   * all in JS (the first layer as one axpy per non-zero input). The reference
   * path: the 'js' engine runs it, and the batched path ({@link contextInput}
   * plus one product per batch) must equal it.
   * @throws nothing; a caller passes Fc cats and Nc numbers (unchecked here: the hot path).
   * @param cats the context's hashed field rows (Fc), @param nums its numbers (Nc, NaN = missing).
   */
  contextPart(
    cats: Int32Array,
    nums: Float32Array,
    out = new Float32Array(this.partSize),
    outOffset = 0,
  ): Float32Array {
    const k = this.k;
    const h0 = this.h0;
    const fc = cats.length;
    const vs = new Float32Array(k);
    let scalar = this.bias;
    let sq = 0;
    out.set(this.b0, outOffset);
    for (let f = 0; f < fc; f++) {
      const row = (cats[f] as number) * (k + 1);
      for (let d = 0; d < k; d++) {
        const v = this.table[row + d] as number;
        vs[d] = (vs[d] as number) + v;
        sq += v * v;
        // first layer: the deep input's (f, d) entry times its row of W0c
        if (v !== 0) axpy(out, outOffset, v, this.w0c, (f * k + d) * h0, h0);
      }
      scalar += this.table[row + k] as number;
    }
    for (let j = 0; j < nums.length; j++) {
      const x = nums[j] as number;
      if (Number.isNaN(x)) continue;
      const n = x / (this.ctxMax[j] as number);
      scalar += (this.ctxW[j] as number) * n + (this.ctxB[j] as number);
      if (n !== 0) axpy(out, outOffset, n, this.w0c, (fc * k + j) * h0, h0);
    }
    let vv = 0;
    for (let d = 0; d < k; d++) {
      out[outOffset + h0 + d] = vs[d] as number;
      vv += (vs[d] as number) * (vs[d] as number);
    }
    out[outOffset + h0 + k] = scalar + 0.5 * (vv - sq);
    return out;
  }

  /**
   * Floats per context input row of {@link contextInput}: the context side of
   * the deep input (one FM vector per field, then the normalised numbers).
   */
  get contextInputSize(): number {
    return this.w0c.length / this.h0;
  }

  /**
   * The context half of the MLP's first layer, for callers that run it as one
   * product over many contexts (rows of {@link contextInput} times `weights`,
   * plus `bias`, gives each context part's first `hidden[0]` floats). The
   * arrays are the model's own weights: read them, never write them.
   */
  contextFirstLayer(): {
    /** contextInputSize x hidden[0], row-major. */
    weights: Float32Array;
    /** hidden[0] floats. */
    bias: Float32Array;
  } {
    return { weights: this.w0c, bias: this.b0 };
  }

  /**
   * The context part of one context split for a batched first layer: writes
   * its deep input row (contextInputSize floats: FM vectors of the fields,
   * then numbers / running max, 0 where missing) at `row[rowOffset..]` and
   * the non-MLP floats of its part (Vc at `part[partOffset + hidden[0]..]`,
   * then the scalar) — everything of {@link contextPart} except the first
   * `hidden[0]` floats, which are left as they are (the caller's product
   * fills them). Every float of the input row is written, so rows need no
   * zeroing.
   * @param cats the context's hashed field rows (Fc), @param nums its numbers (Nc, NaN = missing).
   * @throws ShapeError when `cats` / `nums` are not Fc / Nc long.
   */
  contextInput(
    cats: Int32Array,
    nums: Float32Array,
    row: Float32Array,
    rowOffset: number,
    part: Float32Array,
    partOffset: number,
  ): void {
    const spec = this.config.spec;
    if (cats.length !== spec.contextFields.length || nums.length !== spec.contextNumeric.length)
      throw new ShapeError(
        `context has ${cats.length} fields / ${nums.length} numbers, head expects ${spec.contextFields.length} / ${spec.contextNumeric.length}`,
      );
    const k = this.k;
    const h0 = this.h0;
    const fc = cats.length;
    let scalar = this.bias;
    let sq = 0;
    const vo = partOffset + h0;
    for (let d = 0; d < k; d++) part[vo + d] = 0;
    for (let f = 0; f < fc; f++) {
      const t = (cats[f] as number) * (k + 1);
      const ro = rowOffset + f * k;
      for (let d = 0; d < k; d++) {
        const v = this.table[t + d] as number;
        row[ro + d] = v;
        part[vo + d] = (part[vo + d] as number) + v;
        sq += v * v;
      }
      scalar += this.table[t + k] as number;
    }
    const no = rowOffset + fc * k;
    for (let j = 0; j < nums.length; j++) {
      const x = nums[j] as number;
      if (Number.isNaN(x)) {
        row[no + j] = 0;
        continue;
      }
      const n = x / (this.ctxMax[j] as number);
      row[no + j] = n;
      scalar += (this.ctxW[j] as number) * n + (this.ctxB[j] as number);
    }
    let vv = 0;
    for (let d = 0; d < k; d++) vv += (part[vo + d] as number) * (part[vo + d] as number);
    part[vo + k] = scalar + 0.5 * (vv - sq);
  }

  /** Item parts of rows [from, to) of a packed batch (context side ignored): (to-from) x partSize floats. */
  itemParts(
    rows: PackedRows,
    from = 0,
    to = rows.size,
    out = new Float32Array((to - from) * this.partSize),
  ): Float32Array {
    const spec = this.config.spec;
    // only the item side is read: callers may pass rows without context arrays
    checkRows(
      { ...spec, contextFields: [], contextNumeric: [] },
      { ...rows, contextCats: new Int32Array(0), contextNums: new Float32Array(0) },
    );
    const k = this.k;
    const h0 = this.h0;
    const fi = spec.itemFields.length;
    const e = spec.embeddingDim;
    const ni = spec.itemNumeric.length;
    const vs = new Float32Array(k);
    for (let r = from; r < to; r++) {
      const o = (r - from) * this.partSize;
      vs.fill(0);
      let scalar = 0;
      let sq = 0;
      for (let j = 0; j < h0; j++) out[o + j] = 0;
      for (let f = 0; f < fi; f++) {
        const row = (rows.itemCats[r * fi + f] as number) * (k + 1);
        for (let d = 0; d < k; d++) {
          const v = this.table[row + d] as number;
          vs[d] = (vs[d] as number) + v;
          sq += v * v;
          if (v !== 0) axpy(out, o, v, this.w0i, (f * k + d) * h0, h0);
        }
        scalar += this.table[row + k] as number;
      }
      // the embedding: its FM vector (projection), first-order term, and deep input
      const eo = r * e;
      for (let d = 0; d < k; d++) {
        let v = 0;
        for (let t = 0; t < e; t++)
          v += (rows.embeddings[eo + t] as number) * (this.itemFm[t * k + d] as number);
        vs[d] = (vs[d] as number) + v;
        sq += v * v;
      }
      for (let t = 0; t < e; t++) {
        const x = rows.embeddings[eo + t] as number;
        scalar += x * (this.itemLinear[t] as number);
        if (x !== 0) axpy(out, o, x, this.w0i, (fi * k + t) * h0, h0);
      }
      for (let j = 0; j < ni; j++) {
        const x = rows.itemNums[r * ni + j] as number;
        if (Number.isNaN(x)) continue;
        const n = x / (this.itemMax[j] as number);
        scalar += (this.itemW[j] as number) * n + (this.itemB[j] as number);
        if (n !== 0) axpy(out, o, n, this.w0i, (fi * k + e + j) * h0, h0);
      }
      let vv = 0;
      for (let d = 0; d < k; d++) {
        out[o + h0 + d] = vs[d] as number;
        vv += (vs[d] as number) * (vs[d] as number);
      }
      out[o + h0 + k] = scalar + 0.5 * (vv - sq);
    }
    return out;
  }

  /**
   * The cross part: logits of `n` (context, item) pairs from their parts.
   * `ctxIndex[i]` names the context part of pair i (omit it when all pairs
   * share context 0).
   */
  crossLogits(
    ctxParts: Float32Array,
    itemParts: Float32Array,
    n: number,
    ctxIndex?: Int32Array,
    out = new Float32Array(n),
  ): Float32Array {
    const P = this.partSize;
    const h0 = this.h0;
    const k = this.k;
    let widest = h0;
    for (const l of this.layers) widest = Math.max(widest, l.m);
    // four pairs at a time: each weight row loaded from memory serves four
    // multiply-adds instead of one (the MLP is memory-bound row by row)
    const R = 4;
    let A = [0, 1, 2, 3].map(() => new Float32Array(widest));
    let B = [0, 1, 2, 3].map(() => new Float32Array(widest));
    for (let i0 = 0; i0 < n; i0 += R) {
      const rows = Math.min(R, n - i0);
      for (let r = 0; r < R; r++) {
        const a = A[r] as Float32Array;
        if (r >= rows) {
          a.fill(0, 0, h0);
          continue;
        }
        const i = i0 + r;
        const co = (ctxIndex ? (ctxIndex[i] as number) : 0) * P;
        const io = i * P;
        for (let j = 0; j < h0; j++) {
          const v = (ctxParts[co + j] as number) + (itemParts[io + j] as number);
          a[j] = v > 0 ? v : 0;
        }
      }
      let width = h0;
      for (const l of this.layers) {
        denseRelu4(A, width, l.w, l.b, l.m, B);
        const t = A;
        A = B;
        B = t;
        width = l.m;
      }
      for (let r = 0; r < rows; r++) {
        const a = A[r] as Float32Array;
        const i = i0 + r;
        const co = (ctxIndex ? (ctxIndex[i] as number) : 0) * P;
        const io = i * P;
        let logit = this.outB;
        for (let j = 0; j < width; j++) logit += (a[j] as number) * (this.outW[j] as number);
        let dot = 0;
        for (let d = 0; d < k; d++)
          dot += (ctxParts[co + h0 + d] as number) * (itemParts[io + h0 + d] as number);
        out[i] = logit + dot + (ctxParts[co + h0 + k] as number) + (itemParts[io + h0 + k] as number);
      }
    }
    return out;
  }

  /** Plain (unfactorised) logits of every row of a packed batch: the reference the factorised path must equal. */
  plainLogits(rows: PackedRows, out = new Float32Array(rows.size)): Float32Array {
    checkRows(this.config.spec, rows);
    const spec = this.config.spec;
    const fc = spec.contextFields.length;
    const nc = spec.contextNumeric.length;
    const ctx = new Float32Array(this.partSize);
    const item = new Float32Array(this.partSize);
    // The plain head computes every term per row, including the full first layer over
    // the concatenated deep input; it reuses the part routines row by row (one context, one item).
    for (let r = 0; r < rows.size; r++) {
      this.contextPart(
        rows.contextCats.subarray(r * fc, r * fc + fc),
        rows.contextNums.subarray(r * nc, r * nc + nc),
        ctx,
      );
      this.itemParts(rows, r, r + 1, item);
      this.crossLogits(ctx, item, 1, undefined, out.subarray(r, r + 1));
    }
    return out;
  }
}

/** out[o..o+n) += a * w[wo..wo+n) */
function axpy(out: Float32Array, o: number, a: number, w: Float32Array, wo: number, n: number): void {
  for (let j = 0; j < n; j++) out[o + j] = (out[o + j] as number) + a * (w[wo + j] as number);
}

/**
 * out[r] = relu(x[r][0..n) · W[n x m] + b) for four rows r at once; skips a
 * weight row when all four inputs are zero (ReLU zeroes about half of them).
 */
function denseRelu4(
  x: Float32Array[],
  n: number,
  w: Float32Array,
  b: Float32Array,
  m: number,
  out: Float32Array[],
): void {
  const [x0, x1, x2, x3] = x as [Float32Array, Float32Array, Float32Array, Float32Array];
  const [o0, o1, o2, o3] = out as [Float32Array, Float32Array, Float32Array, Float32Array];
  for (let j = 0; j < m; j++) {
    const bj = b[j] as number;
    o0[j] = bj;
    o1[j] = bj;
    o2[j] = bj;
    o3[j] = bj;
  }
  for (let p = 0; p < n; p++) {
    const a0 = x0[p] as number;
    const a1 = x1[p] as number;
    const a2 = x2[p] as number;
    const a3 = x3[p] as number;
    if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
    const wo = p * m;
    for (let j = 0; j < m; j++) {
      const wj = w[wo + j] as number;
      o0[j] = (o0[j] as number) + a0 * wj;
      o1[j] = (o1[j] as number) + a1 * wj;
      o2[j] = (o2[j] as number) + a2 * wj;
      o3[j] = (o3[j] as number) + a3 * wj;
    }
  }
  for (let j = 0; j < m; j++) {
    if ((o0[j] as number) < 0) o0[j] = 0;
    if ((o1[j] as number) < 0) o1[j] = 0;
    if ((o2[j] as number) < 0) o2[j] = 0;
    if ((o3[j] as number) < 0) o3[j] = 0;
  }
}

/** Logistic function, elementwise in place. */
export function sigmoidInPlace(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-(x[i] as number)));
  return x;
}
