/**
 * Adam over Float32Array parameters, with two ways to update an embedding
 * table:
 *  - `lazy` (sparse; TensorFlow's LazyAdamOptimizer, the Zemanta seed): only
 *    the rows a batch touched get their moments and values updated; cost is
 *    proportional to the touched rows, not the table.
 *  - `dense`: what tfjs' Adam does with a gather gradient: every row's moments
 *    decay and every row moves, each step, touched or not.
 * Both use the global step for bias correction, so on a step where all slots
 * start equal, the touched rows get identical updates in both modes.
 *
 * Slots (m, v) are the optimizer state that a training checkpoint keeps and
 * an exported model drops.
 */
import type { TensorMap } from './tensor-file.ts';

export type TableUpdate = 'lazy' | 'dense';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM: AdamOptions = { learningRate: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

export class Adam {
  readonly options: AdamOptions;
  /** Completed steps (the bias-correction clock). */
  step = 0;
  private readonly slots = new Map<string, { m: Float32Array; v: Float32Array }>();
  private lrT = 0;

  constructor(options: Partial<AdamOptions> = {}) {
    this.options = { ...DEFAULT_ADAM, ...options };
  }

  /** Advances the step; call once per batch before the updates of that batch. */
  beginStep(): void {
    this.step++;
    const { beta1, beta2, learningRate } = this.options;
    this.lrT = (learningRate * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
  }

  private slot(name: string, n: number): { m: Float32Array; v: Float32Array } {
    let s = this.slots.get(name);
    if (!s) {
      s = { m: new Float32Array(n), v: new Float32Array(n) };
      this.slots.set(name, s);
    }
    return s;
  }

  /** Dense update of a whole parameter with its full gradient. */
  updateDense(name: string, param: Float32Array, grad: Float32Array): void {
    const s = this.slot(name, param.length);
    this.apply(param, grad, s.m, s.v, 0, 0, param.length);
  }

  /**
   * Update of an embedding table [rows, width] given gradients of the
   * `rows` (unique, any order) the batch touched, `grads` rows.length x width.
   */
  updateTable(
    name: string,
    table: Float32Array,
    width: number,
    rows: Int32Array,
    grads: Float32Array,
    mode: TableUpdate,
  ): void {
    const s = this.slot(name, table.length);
    if (mode === 'lazy') {
      for (let i = 0; i < rows.length; i++)
        this.apply(table, grads, s.m, s.v, (rows[i] as number) * width, i * width, width);
      return;
    }
    const full = new Float32Array(table.length);
    for (let i = 0; i < rows.length; i++)
      full.set(grads.subarray(i * width, i * width + width), (rows[i] as number) * width);
    this.apply(table, full, s.m, s.v, 0, 0, table.length);
  }

  private apply(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    po: number,
    go: number,
    n: number,
  ): void {
    const { beta1, beta2, epsilon } = this.options;
    const lr = this.lrT;
    for (let j = 0; j < n; j++) {
      const gj = g[go + j] as number;
      const mj = beta1 * (m[po + j] as number) + (1 - beta1) * gj;
      const vj = beta2 * (v[po + j] as number) + (1 - beta2) * gj * gj;
      m[po + j] = mj;
      v[po + j] = vj;
      p[po + j] = (p[po + j] as number) - (lr * mj) / (Math.sqrt(vj) + epsilon);
    }
  }

  /** The slots as tensors named `adam.m/<param>`, `adam.v/<param>` (for checkpoints). */
  slotTensors(shapes: ReadonlyMap<string, number[]>): TensorMap {
    const out: TensorMap = new Map();
    for (const [name, s] of this.slots) {
      const shape = shapes.get(name) ?? [s.m.length];
      out.set(`adam.m/${name}`, { shape, data: s.m });
      out.set(`adam.v/${name}`, { shape, data: s.v });
    }
    return out;
  }

  /** Restores slots written by slotTensors. */
  loadSlots(tensors: TensorMap, step: number): void {
    this.step = step;
    for (const [key, t] of tensors) {
      const m = /^adam\.m\/(.+)$/.exec(key);
      if (!m) continue;
      const v = tensors.get(`adam.v/${m[1]}`);
      if (v) this.slots.set(m[1] as string, { m: t.data, v: v.data });
    }
  }

  /** Bytes held by the slots. */
  slotBytes(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.m.byteLength + s.v.byteLength;
    return n;
  }
}
