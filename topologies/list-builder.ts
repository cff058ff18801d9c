/**
 * The list-building cycle's core, independent of Kafka and of the engine so
 * the benchmark runs exactly what production runs: for every context, look
 * up the candidates' embeddings, pack all features into one binary input per
 * context, score through the model runner (the autobatcher joins the
 * requests of all contexts and tasks into large model calls), keep the top K.
 *
 * Version policy (never mix versions silently): a cycle packs with ONE model
 * snapshot. A candidate whose embedding is missing, or was computed by
 * other towers than the snapshot's (its embedding version differs: a rollout
 * whose backfill has not reached it yet; a version trained with frozen
 * towers shares its parent's embedding version, so it needs no backfill),
 * is scored with THAT snapshot's learned OOV vector, flagged
 * `outOfVocabulary`, and reported as a miss (the caller sends one
 * `embedding-requests` record). A vector of another version is never fed to
 * a head of this version. If the runner switches versions while the cycle
 * scores (results name another version), the cycle is rebuilt once with the
 * new snapshot; every emitted list names the one version that scored it.
 *
 * Item parts: each candidate is sent with a key naming its item side for
 * this version (`itemKeys`); the model runner keeps the head's item parts
 * per key (in a ScoringPool: a table per version in memory shared by the
 * workers) and computes only the keys it does not hold, so an item's half
 * of the head is computed once per version and parts epoch, not once per
 * context. The key carries the epoch (`partsTtlMs`) because the row holds
 * the item's age, and when the stored vector was computed (an item
 * re-embedded with the same towers has a new vector); OOV candidates have
 * their own key (OOV vector, the item's own category and age).
 *
 * Memory: contexts are packed and scored in chunks (`chunkContexts`), a few
 * chunks in flight, so a cycle of 10,000 x 500 candidates never holds more
 * than a few chunks of packed rows.
 */
import {
  packContext,
  type FeatureSpec,
  type FeatureValues,
  type ScoreRequest,
  type ScoreResult,
} from '../src/ml/index.ts';
import { hashField } from '../src/ml/index.ts';
import type { Candidate } from './engagement.ts';
import type { EmbeddingLookup } from './embedding-table.ts';
import type { ModelRunner, ModelSnapshot } from './model-runner.ts';

/** A context to build a list for (the context fields and its candidates). */
export interface ListContextInput {
  contextId: string;
  publisher: string;
  placement: string;
  country: string;
  candidates: readonly Pick<Candidate, 'itemId'>[];
}

export interface ScoredItem {
  itemId: string;
  score: number;
  position: number;
  outOfVocabulary: boolean;
}

export interface BuiltList {
  contextId: string;
  items: ScoredItem[];
  /** Candidates scored. */
  candidates: number;
  /** Candidates scored with the OOV vector. */
  oov: number;
}

/** Where a cycle's time went, ms (main thread: lookup, pack, topK; scoreWait = waiting for the workers). */
export interface CycleTimings {
  lookupMs: number;
  packMs: number;
  scoreWaitMs: number;
  topKMs: number;
  totalMs: number;
  contexts: number;
  rows: number;
}

export interface CycleResult {
  /** The one model version that scored every list. */
  version: string;
  lists: BuiltList[];
  /** Items that missed (no vector of this version), each with the first context that asked. */
  misses: Map<string, string>;
  hits: number;
  timings: CycleTimings;
}

export interface ListBuilderOptions {
  /** Items per list. */
  k: number;
  /** Contexts per scoring chunk. Default 128. */
  chunkContexts?: number;
  /** Chunks scoring at once (packing overlaps scoring). Default 4. */
  inFlightChunks?: number;
  /**
   * Item parts are recomputed after this long, ms (they include the item's age): the epoch in each item
   * key. 0: every cycle. Default 600000.
   */
  partsTtlMs?: number;
}

/** Thrown inside a cycle when the runner moved to another version mid-cycle; the cycle restarts. */
class VersionMoved extends Error {}

interface PackedItem {
  itemId: string;
  cats: Int32Array;
  nums: Float32Array;
  vector: Float32Array;
  oov: boolean;
  /** The item-part key (item, OOV or not, when its stored vector was computed, parts epoch): built once per item per cycle. */
  key: string;
}

/** The request-independent context values of a list (segment/device unknown: a list is for every user). */
export function listContextValues(c: ListContextInput, nowMs: number): FeatureValues {
  return {
    contextId: c.contextId,
    publisher: c.publisher,
    placement: c.placement,
    country: c.country,
    segment: '',
    device: '',
    position: 0,
    hour: new Date(nowMs).getUTCHours(),
  };
}

/** Keeps the K best of `scores` (ties: earlier index first). @returns indices, best first. */
export function topK(scores: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (idx.length === k && s <= (scores[idx[k - 1] as number] as number)) continue;
    let j = idx.length < k ? idx.length : k - 1;
    if (idx.length < k) idx.push(i);
    while (j > 0 && (scores[idx[j - 1] as number] as number) < s) {
      idx[j] = idx[j - 1] as number;
      j--;
    }
    idx[j] = i;
  }
  return idx;
}

export class ListBuilder {
  readonly o: Required<ListBuilderOptions>;
  constructor(
    private readonly model: ModelRunner,
    private readonly table: EmbeddingLookup,
    options: ListBuilderOptions,
  ) {
    this.o = { chunkContexts: 128, inFlightChunks: 4, partsTtlMs: 600_000, ...options };
    if (!(this.o.k >= 1)) throw new RangeError(`list size k must be >= 1, got ${this.o.k}`);
    if (!(this.o.partsTtlMs >= 0)) throw new RangeError(`partsTtlMs must be >= 0, got ${this.o.partsTtlMs}`);
  }

  /**
   * Builds one list per context with one model version.
   * @returns undefined when no model is loaded yet.
   */
  async build(contexts: readonly ListContextInput[], nowMs: number): Promise<CycleResult | undefined> {
    for (let attempt = 0; ; attempt++) {
      const snap = await this.model.snapshot();
      if (!snap) return undefined;
      try {
        return await this.buildWith(snap, contexts, nowMs);
      } catch (e) {
        if (!(e instanceof VersionMoved) || attempt >= 2) throw e;
      }
    }
  }

  private async buildWith(
    snap: ModelSnapshot,
    contexts: readonly ListContextInput[],
    nowMs: number,
  ): Promise<CycleResult> {
    const t0 = performance.now();
    const spec = snap.spec;
    // the parts hold the item's age (a feature): a new key (and parts) every epoch; the same epoch for every task.
    // partsTtlMs 0: a new epoch every cycle (nowMs / 0 would be one epoch, Infinity, forever)
    const ttl = this.o.partsTtlMs;
    const epoch = ttl > 0 ? Math.floor(nowMs / ttl) : nowMs;
    const timings: CycleTimings = {
      lookupMs: 0,
      packMs: 0,
      scoreWaitMs: 0,
      topKMs: 0,
      totalMs: 0,
      contexts: contexts.length,
      rows: 0,
    };
    const items = new Map<string, PackedItem>();
    const misses = new Map<string, string>();
    let hits = 0;
    const lists: BuiltList[] = [];
    const inFlight: {
      chunk: readonly ListContextInput[];
      packed: PackedItem[][];
      oov: Uint8Array[];
      results: Promise<ScoreResult[]>;
    }[] = [];

    const finish = async (): Promise<void> => {
      const f = inFlight.shift();
      if (!f) return;
      const w0 = performance.now();
      let results: ScoreResult[];
      try {
        results = await f.results;
      } catch (err) {
        // the runner moved to another version while this chunk was in flight
        if (this.model.version !== snap.version) throw new VersionMoved();
        throw err;
      }
      timings.scoreWaitMs += performance.now() - w0;
      const k0 = performance.now();
      results.forEach((r, i) => {
        if (r.version !== snap.version) throw new VersionMoved();
        const ctx = f.chunk[i] as ListContextInput;
        const oov = f.oov[i] as Uint8Array;
        const best = topK(r.scores, this.o.k);
        let oovCount = 0;
        for (let j = 0; j < oov.length; j++) oovCount += oov[j] as number;
        lists.push({
          contextId: ctx.contextId,
          candidates: r.scores.length,
          oov: oovCount,
          items: best.map((j, position) => ({
            itemId: (ctx.candidates[j] as Candidate).itemId,
            score: r.scores[j] as number,
            position,
            outOfVocabulary: oov[j] === 1,
          })),
        });
      });
      timings.topKMs += performance.now() - k0;
    };

    for (let c0 = 0; c0 < contexts.length; c0 += this.o.chunkContexts) {
      const chunk = contexts.slice(c0, c0 + this.o.chunkContexts).filter((c) => c.candidates.length > 0);
      const requests: ScoreRequest[] = [];
      const oovFlags: Uint8Array[] = [];
      const packedLists: PackedItem[][] = [];
      for (const ctx of chunk) {
        const l0 = performance.now();
        const packed: PackedItem[] = [];
        for (const cand of ctx.candidates) {
          let p = items.get(cand.itemId);
          if (!p) {
            p = this.packItem(spec, snap, cand.itemId, nowMs, epoch);
            items.set(cand.itemId, p);
          }
          if (p.oov) {
            if (!misses.has(cand.itemId)) misses.set(cand.itemId, ctx.contextId);
          } else hits++;
          packed.push(p);
        }
        const p0 = performance.now();
        timings.lookupMs += p0 - l0;
        requests.push(this.packRequest(spec, snap.version, ctx, packed, nowMs));
        packedLists.push(packed);
        oovFlags.push(Uint8Array.from(packed, (p) => (p.oov ? 1 : 0)));
        timings.rows += packed.length;
        timings.packMs += performance.now() - p0;
      }
      if (requests.length === 0) continue;
      inFlight.push({ chunk, packed: packedLists, oov: oovFlags, results: this.model.score(requests) });
      // a rejected chunk must not go unobserved while earlier chunks are awaited
      inFlight[inFlight.length - 1]?.results.catch(() => undefined);
      if (inFlight.length >= this.o.inFlightChunks) await finish();
    }
    while (inFlight.length > 0) await finish();
    timings.totalMs = performance.now() - t0;
    return { version: snap.version, lists, misses, hits, timings };
  }

  /** Looks up and packs the item side of one candidate (once per item per cycle). */
  private packItem(
    spec: FeatureSpec,
    snap: ModelSnapshot,
    itemId: string,
    nowMs: number,
    epoch: number,
  ): PackedItem {
    const e = this.table.get(itemId);
    // embeddings are stamped with the version whose towers computed them: a head-only version shares its parent's
    const usable =
      e !== undefined && e.version === snap.embeddingVersion && e.vector.length === spec.embeddingDim;
    const cats = new Int32Array(spec.itemFields.length);
    const nums = new Float32Array(spec.itemNumeric.length).fill(Number.NaN);
    const values: Record<string, string | number> = {};
    if (e?.category) values.category = e.category;
    if (e?.createdAt != null) values.itemAgeHours = Math.max(0, (nowMs - e.createdAt) / 3_600_000);
    spec.itemFields.forEach((f, i) => (cats[i] = hashField(f, String(values[f] ?? ''), spec.hashRows)));
    spec.itemNumeric.forEach((f, i) => {
      const v = values[f];
      if (typeof v === 'number' && Number.isFinite(v)) nums[i] = v;
    });
    const oov = !usable;
    return {
      itemId,
      cats,
      nums,
      vector: usable ? e.vector : snap.oov,
      oov,
      // the stored vector's computedAt: a re-embedded item (changed content, same towers) gets new parts
      key: `${itemId}\u0000${oov ? 'oov' : 'emb'}\u0000${e?.computedAt ?? '-'}\u0000${epoch}`,
    };
  }

  private packRequest(
    spec: FeatureSpec,
    version: string,
    ctx: ListContextInput,
    packed: readonly PackedItem[],
    nowMs: number,
  ): ScoreRequest {
    const n = packed.length;
    const context = packContext(spec, listContextValues(ctx, nowMs));
    const fi = spec.itemFields.length;
    const ni = spec.itemNumeric.length;
    const d = spec.embeddingDim;
    const cats = new Int32Array(n * fi);
    const nums = new Float32Array(n * ni);
    const embeddings = new Float32Array(n * d);
    packed.forEach((p, j) => {
      cats.set(p.cats, j * fi);
      nums.set(p.nums, j * ni);
      embeddings.set(p.vector, j * d);
    });
    return {
      context,
      items: { count: n, cats, nums, embeddings },
      itemKeys: { version, keys: packed.map((p) => p.key) },
    };
  }
}
