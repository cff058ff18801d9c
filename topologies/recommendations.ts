/**
 * The recommendations topology: partitioned by list context; every
 * `cycleIntervalMs` of wall-clock time each task rebuilds the lists of its
 * active contexts (ListBuilder: look up embeddings in the global table, pack,
 * score through the autobatcher, keep the top K) and emits one record per
 * context to `recommendations`.
 *
 *   context-candidates ──► build-lists (store `candidates`; wall-clock cycle) ─┬─► recommendations
 *                                                                              └─► embedding-requests (misses)
 *
 * A miss (no embedding of the current model version) is scored with the OOV
 * vector and flagged; its item gets one `embedding-requests` record, repeated
 * at most every `requestRetryMs` while it keeps missing (the embeddings
 * topology answers at once if it knows the item, else when the item arrives).
 *
 * `cycleId` is `floor(generatedAt / cycleIntervalMs)`: it increases by one per
 * cycle and is the same for every task and instance in one period, so a
 * consumer can tell which lists belong together.
 */
import { Stores, type KeyValueStore } from '../src/streams/state/index.ts';
import { Topology } from '../src/streams/topology/index.ts';
import type { Processor, ProcessorContext, StreamRecord } from '../src/streams/processor/index.ts';
import { jsonSerde } from '../src/streams/serde/index.ts';
import {
  counter,
  createLogger,
  histogram,
  METRICS,
  METRIC_ATTRIBUTES,
  traceHeadersOf,
} from '../src/telemetry/index.ts';
import type { EmbeddingRequestEvent, PipelineSerdes, RecommendationEvent } from './events.ts';
import type { CandidateSet } from './engagement.ts';
import type { EmbeddingLookup } from './embedding-table.ts';
import { ListBuilder, type CycleResult } from './list-builder.ts';
import type { ModelRunner } from './model-runner.ts';
import type { PipelineStats } from './pipeline-stats.ts';
import type { PipelineTopics } from './topics.ts';

const log = createLogger('recommendations');
const cycleDuration = histogram(METRICS.cycleDuration);
const cycleContexts = counter(METRICS.cycleContexts);
const lookups = counter(METRICS.embeddingLookups);

export const RECOMMENDATION_STORES = { candidates: 'candidates' } as const;

export interface RecommendationsOptions {
  topics: PipelineTopics;
  serdes: PipelineSerdes;
  model: ModelRunner;
  embeddings: EmbeddingLookup;
  /** Wall-clock time between cycles, ms. Default 300000 (5 min); the demo uses seconds. */
  cycleIntervalMs?: number;
  /** Items per list. Default 10. */
  k?: number;
  /** A context is active when its candidates changed within this many ms of the task's stream time. Default 86400000. */
  activeContextTtlMs?: number;
  /** A missing item is requested again after this many ms. Default 30000. */
  requestRetryMs?: number;
  /** Contexts per scoring chunk (ListBuilder). Default 128. */
  chunkContexts?: number;
  inMemoryStores?: boolean;
  stats?: PipelineStats;
  /** Told about every finished cycle (demo status, ground-truth evaluation, benchmarks). */
  onCycle?: (result: CycleResult, candidates: ReadonlyMap<string, CandidateSet>, taskId: string) => void;
}

class BuildLists implements Processor<
  string,
  CandidateSet,
  string,
  RecommendationEvent | EmbeddingRequestEvent
> {
  private ctx!: ProcessorContext<string, RecommendationEvent | EmbeddingRequestEvent>;
  private store!: KeyValueStore<string, CandidateSet>;
  private readonly builder: ListBuilder;
  private readonly requested = new Map<string, number>();
  private running = false;
  /** Trace headers of the latest candidate set per context (in memory: after a restart, lists start new traces). */
  private readonly traces = new Map<string, Record<string, Buffer | string>>();

  constructor(private readonly o: RecommendationsOptions) {
    this.builder = new ListBuilder(o.model, o.embeddings, {
      k: o.k ?? 10,
      ...(o.chunkContexts ? { chunkContexts: o.chunkContexts } : {}),
    });
  }

  init(ctx: ProcessorContext<string, RecommendationEvent | EmbeddingRequestEvent>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(RECOMMENDATION_STORES.candidates);
    ctx.schedule(this.o.cycleIntervalMs ?? 300_000, 'WALL_CLOCK_TIME', (now) => this.cycle(now));
  }

  async process(records: ReadonlyArray<StreamRecord<string, CandidateSet>>): Promise<void> {
    // the latest set per context wins (the topic is a changelog of candidate sets)
    const latest = new Map<string, CandidateSet | null>();
    for (const r of records) {
      latest.set(r.key, r.value);
      // the list built for this context next cycle continues the trace of its latest event
      const trace = traceHeadersOf(r.headers);
      if (r.value === null) this.traces.delete(r.key);
      else if (Object.keys(trace).length > 0) this.traces.set(r.key, trace);
    }
    await this.store.putAll([...latest]);
  }

  /** One list-building cycle over this task's active contexts. */
  async cycle(now: number): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const ttl = this.o.activeContextTtlMs ?? 86_400_000;
      const horizon = (this.ctx.currentStreamTimeMs < 0 ? now : this.ctx.currentStreamTimeMs) - ttl;
      const sets = new Map<string, CandidateSet>();
      for await (const [id, set] of this.store.all())
        if (set.updatedAt >= horizon && set.candidates.length > 0) sets.set(id, set);
      if (sets.size === 0) return;
      const result = await this.builder.build([...sets.values()], now);
      if (!result) {
        log.debug({ task: this.ctx.taskId }, 'no model loaded yet: cycle skipped');
        return;
      }
      const p0 = performance.now();
      const cycleId = Math.floor(now / (this.o.cycleIntervalMs ?? 300_000));
      this.ctx.forward(
        result.lists.map((l) => ({
          key: l.contextId,
          value: {
            contextId: l.contextId,
            cycleId,
            modelVersion: result.version,
            generatedAt: now,
            items: l.items,
          } satisfies RecommendationEvent,
          timestamp: now,
          headers: { ...this.traces.get(l.contextId) },
        })),
        'to-recommendations',
      );
      const requests: StreamRecord<string, EmbeddingRequestEvent>[] = [];
      for (const [itemId, contextId] of result.misses) {
        const last = this.requested.get(itemId);
        if (last !== undefined && now - last < (this.o.requestRetryMs ?? 30_000)) continue;
        this.requested.set(itemId, now);
        requests.push({
          key: itemId,
          value: { itemId, requestedAt: now, reason: 'CACHE_MISS', requestedBy: contextId },
          timestamp: now,
          headers: {},
        });
      }
      for (const itemId of this.requested.keys())
        if (!result.misses.has(itemId)) this.requested.delete(itemId);
      if (requests.length > 0) this.ctx.forward(requests, 'to-embedding-requests');
      const produceMs = performance.now() - p0;
      const ms = result.timings.totalMs + produceMs;
      cycleDuration.record(ms / 1000);
      cycleContexts.add(result.lists.length);
      lookups.add(result.hits, { [METRIC_ATTRIBUTES.result]: 'hit' });
      lookups.add(result.timings.rows - result.hits, { [METRIC_ATTRIBUTES.result]: 'miss' });
      const s = this.o.stats;
      if (s) {
        s.cycles++;
        s.listsEmitted += result.lists.length;
        s.lastCycleMs = ms;
        s.lastCycleContexts = result.lists.length;
        s.embeddingHits += result.hits;
        s.embeddingMisses += result.timings.rows - result.hits;
      }
      log.debug(
        {
          task: this.ctx.taskId,
          cycleId,
          contexts: result.lists.length,
          rows: result.timings.rows,
          misses: result.misses.size,
          ms: Math.round(ms),
          version: result.version,
        },
        'cycle done',
      );
      this.o.onCycle?.(result, sets, this.ctx.taskId);
    } finally {
      this.running = false;
    }
  }
}

/**
 * Builds the recommendations topology. Source: `context-candidates` (by
 * context id). Sinks: `recommendations` (by context id), `embedding-requests` (by item id).
 */
export function recommendationsTopology(o: RecommendationsOptions): Topology {
  const t = o.topics;
  const s = o.serdes;
  const supplier = o.inMemoryStores
    ? Stores.inMemoryKeyValueStore(RECOMMENDATION_STORES.candidates)
    : Stores.persistentKeyValueStore(RECOMMENDATION_STORES.candidates);
  const candidateSerde = jsonSerde<CandidateSet>();
  return new Topology()
    .addSource('context-candidates', t.contextCandidates, s.key, candidateSerde)
    .addProcessor('build-lists', () => new BuildLists(o), 'context-candidates')
    .addStateStore(Stores.keyValueStoreBuilder(supplier, s.key, candidateSerde), 'build-lists')
    .addSink('to-recommendations', t.recommendations, s.key, s.recommendation, 'build-lists')
    .addSink('to-embedding-requests', t.embeddingRequests, s.key, s.embeddingRequest, 'build-lists');
}
