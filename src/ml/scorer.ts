/**
 * The scoring step of the list-building cycle on one thread: a batch of list
 * requests (each one context and its candidates), packed into one binary
 * input, scored with the factorised head.
 *
 * Item parts (the item-only half of the head's first layer and FM term)
 * depend only on the item and the model version. Two ways to reuse them:
 * - `itemKeys` (the serving path): the request names each candidate's item
 *   side by a key; the scorer keeps parts per (version, key) in an
 *   ItemPartTable (in a ScoringPool: one table per version shared by all
 *   workers; requests then carry slot numbers, not floats) and computes only
 *   the keys it does not hold.
 * - `itemParts`: the caller caches the floats itself and sends them; parts
 *   computed for a request without either are returned for that purpose.
 */
import * as tf from '@tensorflow/tfjs';
import type { CtrModel } from './ctr-model.ts';
import { contextHiddenTf, crossLogitsTf, toTfParams, type TfParams } from './ctr-head-tf.ts';
import type { PackedRows } from './feature-spec.ts';
import { ClosedError, MlError, ShapeError } from './errors.ts';
import { ItemPartTable, type ItemPartTableOptions, type SlotPlan } from './item-part-table.ts';
import type { ItemPartView } from './item-part-view.ts';

/** One list request: one context, `count` candidate items. */
export interface ScoreRequest {
  /** The context's hashed fields and numbers (packContext). */
  context: { cats: Int32Array; nums: Float32Array };
  /** The candidates' item side, packed: count x Fi, count x Ni, count x embeddingDim. */
  items: { count: number; cats: Int32Array; nums: Float32Array; embeddings: Float32Array };
  /** Cached item parts (count x partSize) and the model version they belong to. */
  itemParts?: { version: string; parts: Float32Array };
  /**
   * One key per candidate naming its item side (cats, nums, embedding) as
   * packed for model `version`: equal keys promise equal rows. The scorer
   * keeps item parts per key for that version and computes only those it
   * does not hold. Ignored (every part computed, nothing kept) when another
   * version scores the request. Keys must change when an item's row
   * changes (e.g. include an epoch when the row holds the item's age).
   */
  itemKeys?: { version: string; keys: readonly string[] };
}

/** Scores of one request. */
export interface ScoreResult {
  /** The model version that produced the scores. */
  version: string;
  /** Click probabilities, one per candidate, in request order. */
  scores: Float32Array;
  /**
   * Item parts computed for this request, for a caller that caches them
   * itself: absent when the request carried `itemParts` of this version or
   * `itemKeys` (the scorer keeps those).
   */
  itemParts?: { version: string; parts: Float32Array };
}

/**
 * A request as a scoring thread runs it when its item parts live in a table:
 * rows are read from or written to slots by `plan`, and only the rows to
 * compute carry their item side.
 */
export interface PlannedRequest {
  context: { cats: Int32Array; nums: Float32Array };
  count: number;
  plan: SlotPlan;
  /** Item side of the rows in `plan.compute`, in that order. */
  items: { cats: Int32Array; nums: Float32Array; embeddings: Float32Array };
}

/** What a scoring thread receives: plain requests, or planned ones. */
export type WireRequest = ScoreRequest | PlannedRequest;

const NO_CATS = new Int32Array(0);
const NO_NUMS = new Float32Array(0);

/** `size` packed item rows with no context side, as HeadKernels.itemParts reads them. */
function itemRows(
  items: { cats: Int32Array; nums: Float32Array; embeddings: Float32Array },
  size: number,
): PackedRows {
  return {
    size,
    contextCats: NO_CATS,
    contextNums: NO_NUMS,
    itemCats: items.cats,
    itemNums: items.nums,
    embeddings: items.embeddings,
  };
}

function isPlanned(r: WireRequest): r is PlannedRequest {
  return (r as PlannedRequest).plan !== undefined;
}

/** How the cross part runs: hand-written Float32Array loops, or tfjs ops on the current backend. */
export type HeadEngine = 'js' | 'tfjs';

/** Number of candidate rows of a request (the autobatcher's size measure). */
export function requestRows(r: ScoreRequest): number {
  return r.items.count;
}

/** Whether `r` names its items by keys usable with `version`'s table. */
export function usesTable(r: ScoreRequest, version: string): boolean {
  return (
    r.itemKeys !== undefined && r.itemKeys.version === version && r.itemKeys.keys.length === r.items.count
  );
}

/**
 * Plans keyed requests on `table` (which must be of the scoring version):
 * requests that {@link usesTable} become PlannedRequests carrying only the
 * item rows to compute; others pass through unchanged. Call
 * `table.settle(plans, ok)` when the batch is done.
 */
export function planRequests(
  table: ItemPartTable,
  requests: readonly ScoreRequest[],
  spec: { itemFields: readonly string[]; itemNumeric: readonly string[]; embeddingDim: number },
): { wire: WireRequest[]; plans: SlotPlan[] } {
  const keyed: (readonly string[])[] = [];
  for (const r of requests) if (usesTable(r, table.version)) keyed.push(r.itemKeys!.keys);
  const plans = keyed.length > 0 ? table.reserve(keyed) : [];
  let k = 0;
  const fi = spec.itemFields.length;
  const ni = spec.itemNumeric.length;
  const d = spec.embeddingDim;
  const wire = requests.map((r): WireRequest => {
    if (!usesTable(r, table.version)) return r;
    const plan = plans[k++] as SlotPlan;
    const m = plan.compute.length;
    let items: PlannedRequest['items'];
    if (m === r.items.count)
      items = r.items; // every row computed, in order: send the rows as they are
    else {
      items = {
        cats: new Int32Array(m * fi),
        nums: new Float32Array(m * ni),
        embeddings: new Float32Array(m * d),
      };
      for (let j = 0; j < m; j++) {
        const row = plan.compute[j] as number;
        items.cats.set(r.items.cats.subarray(row * fi, row * fi + fi), j * fi);
        items.nums.set(r.items.nums.subarray(row * ni, row * ni + ni), j * ni);
        items.embeddings.set(r.items.embeddings.subarray(row * d, row * d + d), j * d);
      }
    }
    return { context: r.context, count: r.items.count, plan, items };
  });
  return { wire, plans };
}

export interface ScorerOptions {
  /** Bounds of the in-thread item-part table (keyed requests scored by `score`). */
  itemParts?: Partial<ItemPartTableOptions>;
  /**
   * 'tfjs' only: the fewest contexts in a call for which their first layer runs as one product on
   * the backend rather than per context in JS. Default: 4 on the native 'tensorflow' backend, 2
   * elsewhere (see {@link defaultBatchContextsFrom}). `Infinity` keeps it in JS always.
   */
  batchContextsFrom?: number;
}

/**
 * Where a product of the contexts' first layer starts to pay, by backend.
 * Measured (default head, 129 inputs x 128, 2-vCPU EPYC, load ~2.4): the JS
 * `contextPart` costs ~28-30 us per context on any backend; the batched
 * path costs ~22 us per call for 1 context, 19 us for 8 and 67 us for 48
 * on wasm, but ~85 us for 1-8 and 134 us for 48 on tensorflow (its eager
 * op dispatch is the fixed cost). So: from 2 contexts on wasm (1 would gain
 * ~8 us, not worth a second backend call on the single-request path), from
 * 4 on tensorflow.
 */
export function defaultBatchContextsFrom(backend: string): number {
  return backend === 'tensorflow' ? 4 : 2;
}

/**
 * Scores batches of list requests with one model version on the current
 * tfjs backend ('tfjs') or in JS ('js').
 *
 * Per call on 'tfjs', a batch costs at most two backend calls whatever its
 * size: one product for the first layer of every context of the batch
 * (from `batchContextsFrom` contexts on; fewer are cheaper in JS than a
 * second backend call), and one for the cross part. Per-request work
 * in JS is kept to copies: at 6000 requests/s a worker has ~170 us per
 * request, and the per-request JS first layer (~36 us) and a wasm
 * tf.gather of context rows (~190 us per call) were each as large as the
 * per-call cost the autobatcher exists to amortise.
 *
 * The weights the backend needs are uploaded once, by the constructor;
 * `dispose` frees them. Not thread-safe (one per thread and version).
 */
export class Scorer {
  readonly model: CtrModel;
  readonly version: string;
  readonly engine: HeadEngine;
  private tfParams: TfParams | undefined;
  /** The context half of the first layer on the backend ('tfjs' only). */
  private ctxLayer: { weights: tf.Tensor2D; bias: tf.Tensor1D } | undefined;
  private readonly tableOptions: Partial<ItemPartTableOptions>;
  /** Contexts per call from which their first layer is one backend product (Infinity on 'js'). */
  readonly batchContextsFrom: number;
  private ownTable: ItemPartTable | undefined;
  /**
   * Inputs of the last call, reused (their tensors are disposed before a call returns): item parts
   * (n x P), context parts expanded to one row per pair (n x P), context input rows (C x D).
   */
  private scratch = new Float32Array(0);
  private expandScratch = new Float32Array(0);
  private inputScratch = new Float32Array(0);

  constructor(model: CtrModel, version: string, engine: HeadEngine = 'tfjs', options: ScorerOptions = {}) {
    this.model = model;
    this.version = version;
    this.engine = engine;
    this.tableOptions = options.itemParts ?? {};
    this.batchContextsFrom =
      engine === 'tfjs' ? (options.batchContextsFrom ?? defaultBatchContextsFrom(tf.getBackend())) : Infinity;
    if (engine === 'tfjs') {
      this.tfParams = toTfParams(model.weights, (n) => n.startsWith('mlp.') && !n.startsWith('mlp.0.'));
      const head = model.head;
      const { weights, bias } = head.contextFirstLayer();
      this.ctxLayer = {
        weights: tf.tensor2d(weights, [head.contextInputSize, bias.length]),
        bias: tf.tensor1d(bias),
      };
    }
  }

  /** Live tfjs tensors this scorer holds (the uploaded weights; 0 for 'js' or once disposed). */
  get tensorCount(): number {
    return (this.tfParams?.size ?? 0) + (this.ctxLayer ? 2 : 0);
  }

  /** The in-thread item-part table of keyed requests (created by the first one). */
  get itemPartTable(): ItemPartTable | undefined {
    return this.ownTable;
  }

  /**
   * Scores a batch of requests with one cross-part call. Keyed requests of
   * this version use the scorer's own item-part table.
   * @throws ShapeError for inconsistent arrays; ClosedError once disposed ('tfjs', a non-empty batch).
   */
  score(requests: readonly ScoreRequest[]): ScoreResult[] {
    if (!requests.some((r) => usesTable(r, this.version))) return this.scoreWire(requests);
    this.ownTable ??= new ItemPartTable(this.version, this.model.head.partSize, this.tableOptions);
    const { wire, plans } = planRequests(this.ownTable, requests, this.model.config.spec);
    let ok = false;
    try {
      const out = this.scoreWire(wire, this.ownTable.view);
      ok = true;
      return out;
    } finally {
      this.ownTable.settle(plans, ok);
    }
  }

  /**
   * Scores plain and planned requests (a worker's entry point). Planned
   * rows are written to `view` before any is read, so a later request of
   * the batch may read what an earlier one wrote.
   * @throws ShapeError for inconsistent arrays; MlError CTR_ML_WORKER when a planned slot does not hold its stamp; ClosedError once disposed ('tfjs').
   */
  scoreWire(requests: readonly WireRequest[], view?: ItemPartView): ScoreResult[] {
    // no context part to broadcast: the backend would refuse an empty [1, P] context tensor
    if (requests.length === 0) return [];
    const head = this.model.head;
    const spec = this.model.config.spec;
    const P = head.partSize;
    const counts = requests.map((r) => (isPlanned(r) ? r.count : r.items.count));
    let n = 0;
    for (const c of counts) n += c;
    const C = requests.length;
    const ctxParts = new Float32Array(C * P);
    // enough contexts for the backend: their first layer as one product after the loop below, which
    // writes each context's input row and the rest of its part
    const batchCtx = C >= this.batchContextsFrom && C > 0;
    const D = head.contextInputSize;
    if (batchCtx && this.inputScratch.length < C * D) this.inputScratch = new Float32Array(C * D);
    const ctxInputs = this.inputScratch.subarray(0, batchCtx ? C * D : 0);
    // every row is overwritten below (computed, read or copied): a reused buffer needs no zeroing, and a
    // worker does not allocate (and collect) n x partSize floats per call
    if (this.scratch.length < n * P) this.scratch = new Float32Array(n * P);
    const itemParts = this.scratch.subarray(0, n * P);
    const ctxIndex = new Int32Array(n);
    const computed: (Float32Array | undefined)[] = [];
    const reads: [PlannedRequest, number, number][] = [];
    let o = 0;
    requests.forEach((r, i) => {
      const cnt = counts[i] as number;
      if (
        r.context.cats.length !== spec.contextFields.length ||
        r.context.nums.length !== spec.contextNumeric.length
      ) {
        throw new ShapeError(
          `request ${i}: context has ${r.context.cats.length} fields / ${r.context.nums.length} numbers, model expects ${spec.contextFields.length} / ${spec.contextNumeric.length}`,
        );
      }
      if (batchCtx) head.contextInput(r.context.cats, r.context.nums, ctxInputs, i * D, ctxParts, i * P);
      else head.contextPart(r.context.cats, r.context.nums, ctxParts, i * P);
      ctxIndex.fill(i, o, o + cnt);
      if (isPlanned(r)) {
        const { plan } = r;
        if (plan.slots.length !== cnt || plan.stamps.length !== cnt)
          throw new ShapeError(`request ${i}: ${cnt} candidates but a plan of ${plan.slots.length} slots`);
        const m = plan.compute.length;
        if (m > 0) {
          const fresh = head.itemParts(itemRows(r.items, m), 0, m);
          for (let j = 0; j < m; j++) {
            const row = plan.compute[j] as number;
            itemParts.set(fresh.subarray(j * P, j * P + P), (o + row) * P);
            const s = plan.slots[row] as number;
            if (s < 0) continue;
            if (!view)
              throw new MlError(
                'CTR_ML_WORKER',
                `request ${i} writes item-part slots of ${this.version} but this thread holds no table`,
              );
            view.write(s, plan.stamps[row] as number, fresh, j * P);
          }
        }
        if (m < cnt) reads.push([r, o, i]);
        computed.push(undefined);
      } else if (
        r.itemParts &&
        r.itemParts.version === this.version &&
        r.itemParts.parts.length === cnt * P
      ) {
        itemParts.set(r.itemParts.parts, o * P);
        computed.push(undefined);
      } else {
        const parts = itemParts.subarray(o * P, (o + cnt) * P);
        head.itemParts(itemRows(r.items, cnt), 0, cnt, parts);
        // keyed requests scored by another version: the caller does not cache floats, do not copy them
        computed.push(r.itemKeys ? undefined : parts.slice());
      }
      o += cnt;
    });
    // every write of the batch is done: now the reads (a row may read a slot an earlier request wrote)
    for (const [r, at, i] of reads) {
      const { plan } = r;
      const mark = new Uint8Array(r.count);
      for (const row of plan.compute) mark[row] = 1;
      for (let row = 0; row < r.count; row++) {
        if (mark[row] === 1) continue;
        if (!view)
          throw new MlError(
            'CTR_ML_WORKER',
            `request ${i} reads item-part slots of ${this.version} but this thread holds no table`,
          );
        view.read(plan.slots[row] as number, plan.stamps[row] as number, itemParts, (at + row) * P);
      }
    }
    if (batchCtx) this.contextHidden(ctxInputs, C, ctxParts);
    const logits = this.crossLogits(ctxParts, C, itemParts, n, ctxIndex);
    const out: ScoreResult[] = [];
    o = 0;
    requests.forEach((_, i) => {
      const cnt = counts[i] as number;
      const scores = new Float32Array(cnt);
      for (let j = 0; j < cnt; j++) scores[j] = 1 / (1 + Math.exp(-(logits[o + j] as number)));
      const parts = computed[i];
      out.push(
        parts
          ? { version: this.version, scores, itemParts: { version: this.version, parts } }
          : { version: this.version, scores },
      );
      o += cnt;
    });
    return out;
  }

  /**
   * The first `hidden[0]` floats of `contexts` context parts (P floats each in `ctxParts`) from
   * their input rows (`inputs`, contextInputSize floats each): one product on the backend.
   */
  private contextHidden(inputs: Float32Array, contexts: number, ctxParts: Float32Array): void {
    if (!this.ctxLayer)
      throw new ClosedError(`scorer of ${this.version} is disposed`, { version: this.version });
    const { weights, bias } = this.ctxLayer;
    const D = weights.shape[0];
    const h0 = weights.shape[1];
    const P = this.model.head.partSize;
    const out = tf.tidy(() => contextHiddenTf(tf.tensor2d(inputs, [contexts, D]), weights, bias));
    try {
      const h = out.dataSync() as Float32Array;
      for (let c = 0; c < contexts; c++) ctxParts.set(h.subarray(c * h0, c * h0 + h0), c * P);
    } finally {
      out.dispose();
    }
  }

  /**
   * The cross part on the chosen engine: logits of `n` pairs, pair i of context part
   * `ctxIndex[i]` of `contexts` (P floats each in `ctxParts`) and item part i of `itemParts`.
   * @throws ClosedError (CTR_ML_CLOSED) once the scorer is disposed ('tfjs').
   */
  private crossLogits(
    ctxParts: Float32Array,
    contexts: number,
    itemParts: Float32Array,
    n: number,
    ctxIndex: Int32Array,
  ): Float32Array {
    if (this.engine === 'js') return this.model.head.crossLogits(ctxParts, itemParts, n, ctxIndex);
    if (!this.tfParams)
      throw new ClosedError(`scorer of ${this.version} is disposed`, { version: this.version });
    const P = this.model.head.partSize;
    const params = this.tfParams;
    // several contexts: one copied row per pair here rather than tf.gather on the backend (wasm's
    // gather kernel took ~190 us per call, more than the rest of the cross part at serving sizes)
    let ctx = ctxParts.subarray(0, P);
    if (contexts > 1) {
      if (this.expandScratch.length < n * P) this.expandScratch = new Float32Array(n * P);
      ctx = this.expandScratch.subarray(0, n * P);
      for (let r = 0; r < n; r++) {
        const c = (ctxIndex[r] as number) * P;
        ctx.set(ctxParts.subarray(c, c + P), r * P);
      }
    }
    // tidy returns the tensor, not its data: tidy walks a returned typed array element by element
    // (5% of a worker's time at batch 1024 in a profile)
    const out = tf.tidy(() =>
      crossLogitsTf(
        this.model.headConfig,
        params,
        tf.tensor2d(ctx, [contexts > 1 ? n : 1, P]),
        tf.tensor2d(itemParts, [n, P]),
      ),
    );
    try {
      return out.dataSync() as Float32Array;
    } finally {
      out.dispose();
    }
  }

  /** Frees the tfjs tensors this scorer uploaded and those of its model; the scorer is unusable after. */
  dispose(): void {
    this.tfParams?.forEach((t) => t.dispose());
    this.tfParams = undefined;
    this.ctxLayer?.weights.dispose();
    this.ctxLayer?.bias.dispose();
    this.ctxLayer = undefined;
    this.model.dispose();
  }
}
