/**
 * The scoring step of the list-building cycle on one thread: a batch of list
 * requests (each one context and its candidates), packed into one binary
 * input, scored with the factorised head.
 *
 * Item parts (the item-only half of the head's first layer and FM term) are
 * cached by the caller with the item's embedding, per model version: a
 * request that carries parts of the version in use skips their computation;
 * otherwise they are computed here and returned, so the caller can cache them.
 */
import * as tf from '@tensorflow/tfjs';
import type { CtrModel } from './ctr-model.ts';
import { crossLogitsTf, toTfParams, type TfParams } from './ctr-head-tf.ts';
import type { PackedRows } from './feature-spec.ts';
import { ShapeError } from './errors.ts';

/** One list request: one context, `count` candidate items. */
export interface ScoreRequest {
  /** The context's hashed fields and numbers (packContext). */
  context: { cats: Int32Array; nums: Float32Array };
  /** The candidates' item side, packed: count x Fi, count x Ni, count x embeddingDim. */
  items: { count: number; cats: Int32Array; nums: Float32Array; embeddings: Float32Array };
  /** Cached item parts (count x partSize) and the model version they belong to. */
  itemParts?: { version: string; parts: Float32Array };
}

/** Scores of one request. */
export interface ScoreResult {
  /** The model version that produced the scores. */
  version: string;
  /** Click probabilities, one per candidate, in request order. */
  scores: Float32Array;
  /** Item parts computed for this request (absent when the cached ones were used): cache them with the embeddings. */
  itemParts?: { version: string; parts: Float32Array };
}

/** How the cross part runs: hand-written Float32Array loops, or tfjs ops on the current backend. */
export type HeadEngine = 'js' | 'tfjs';

/** Number of candidate rows of a request (the autobatcher's size measure). */
export function requestRows(r: ScoreRequest): number {
  return r.items.count;
}

export class Scorer {
  readonly model: CtrModel;
  readonly version: string;
  readonly engine: HeadEngine;
  private tfParams: TfParams | undefined;

  constructor(model: CtrModel, version: string, engine: HeadEngine = 'tfjs') {
    this.model = model;
    this.version = version;
    this.engine = engine;
    if (engine === 'tfjs')
      this.tfParams = toTfParams(model.weights, (n) => n.startsWith('mlp.') && !n.startsWith('mlp.0.'));
  }

  /** Scores a batch of requests with one cross-part call. @throws ShapeError for inconsistent arrays. */
  score(requests: readonly ScoreRequest[]): ScoreResult[] {
    const head = this.model.head;
    const c = this.model.config;
    const spec = c.spec;
    const P = head.partSize;
    let n = 0;
    for (const r of requests) n += r.items.count;
    const ctxParts = new Float32Array(requests.length * P);
    const itemParts = new Float32Array(n * P);
    const ctxIndex = new Int32Array(n);
    const computed: (Float32Array | undefined)[] = [];
    let o = 0;
    requests.forEach((r, i) => {
      const cnt = r.items.count;
      if (
        r.context.cats.length !== spec.contextFields.length ||
        r.context.nums.length !== spec.contextNumeric.length
      ) {
        throw new ShapeError(
          `request ${i}: context has ${r.context.cats.length} fields / ${r.context.nums.length} numbers, model expects ${spec.contextFields.length} / ${spec.contextNumeric.length}`,
        );
      }
      head.contextPart(r.context.cats, r.context.nums, ctxParts, i * P);
      ctxIndex.fill(i, o, o + cnt);
      if (r.itemParts && r.itemParts.version === this.version && r.itemParts.parts.length === cnt * P) {
        itemParts.set(r.itemParts.parts, o * P);
        computed.push(undefined);
      } else {
        const rows: PackedRows = {
          size: cnt,
          contextCats: new Int32Array(0),
          contextNums: new Float32Array(0),
          itemCats: r.items.cats,
          itemNums: r.items.nums,
          embeddings: r.items.embeddings,
        };
        const parts = itemParts.subarray(o * P, (o + cnt) * P);
        head.itemParts(rows, 0, cnt, parts);
        computed.push(parts.slice());
      }
      o += cnt;
    });
    const logits = this.crossLogits(ctxParts, requests.length, itemParts, n, ctxIndex);
    const out: ScoreResult[] = [];
    o = 0;
    requests.forEach((r, i) => {
      const cnt = r.items.count;
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

  /** The cross part on the chosen engine. */
  crossLogits(
    ctxParts: Float32Array,
    contexts: number,
    itemParts: Float32Array,
    n: number,
    ctxIndex: Int32Array,
  ): Float32Array {
    if (this.engine === 'js') return this.model.head.crossLogits(ctxParts, itemParts, n, ctxIndex);
    const P = this.model.head.partSize;
    const params = this.tfParams as TfParams;
    return tf.tidy(() => {
      const single = contexts === 1;
      const out = crossLogitsTf(
        this.model.headConfig,
        params,
        tf.tensor2d(ctxParts, [contexts, P]),
        tf.tensor2d(itemParts, [n, P]),
        single ? undefined : tf.tensor1d(ctxIndex, 'int32'),
      );
      return out.dataSync() as Float32Array;
    });
  }

  /** Frees tfjs tensors. */
  dispose(): void {
    this.tfParams?.forEach((t) => t.dispose());
    this.tfParams = undefined;
    this.model.dispose();
  }
}
