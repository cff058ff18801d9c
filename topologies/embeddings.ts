/**
 * The embeddings topology (EmbArk's split: slow towers run once per item and
 * version; everyone else reads the cached vector).
 *
 *   item-created ──► embed-new-items ─────────┐
 *                     (catalogue, towers)      ├─► item-embeddings (compacted topic)
 *   embedding-requests ──► serve-requests ─────┘
 *                     (embed if known, else keep the request until the item arrives)
 *
 * Stores (LevelDB, changelogged; all keyed by item id):
 * - `item-catalogue`: the item's content (title, description, image, category),
 *   so an item can be (re-)embedded at any time without its producer;
 * - `item-embeddings`: the latest vector and the model version that computed it;
 * - `pending-embedding-requests`: requests for items not seen yet;
 * - `embedding-backfill`: per task, which model version the backfill has
 *   reached and how far (the last item id), so a restarted task resumes.
 *
 * Model versions: every vector carries its embedding version, the version
 * whose towers computed it (a version trained with frozen towers keeps its
 * parent's: see VersionInfo.embeddingVersion). When the model runner's
 * embedding version changes (the registry promoted a model with new towers),
 * a wall-clock punctuator re-embeds every catalogue item of the task whose
 * vector is of another embedding version, a chunk per tick (so records keep
 * flowing between chunks), logging progress. A head-only version re-embeds
 * nothing. Scorers never mix versions: see recommendations.ts.
 */
import { Stores, type KeyValueStore } from '../src/streams/state/index.ts';
import { Topology } from '../src/streams/topology/index.ts';
import type { Processor, ProcessorContext, StreamRecord } from '../src/streams/processor/index.ts';
import { jsonSerde } from '../src/streams/serde/index.ts';
import { counter, createLogger, METRICS, METRIC_ATTRIBUTES } from '../src/telemetry/index.ts';
import type { ItemContent } from '../src/ml/index.ts';
import {
  vectorBytes,
  type EmbeddingRequestEvent,
  type ItemCreatedEvent,
  type ItemEmbeddingEvent,
  type PipelineSerdes,
} from './events.ts';
import type { ModelRunner } from './model-runner.ts';
import { avroStoreSerde } from './store-serdes.ts';
import type { PipelineStats } from './pipeline-stats.ts';
import type { PipelineTopics } from './topics.ts';

const log = createLogger('embeddings');
const computed = counter(METRICS.embeddingsComputed);

export const EMBEDDING_STORES = {
  catalogue: 'item-catalogue',
  embeddings: 'item-embeddings',
  pending: 'pending-embedding-requests',
  backfill: 'embedding-backfill',
} as const;

export interface EmbeddingsOptions {
  topics: PipelineTopics;
  serdes: PipelineSerdes;
  model: ModelRunner;
  /** Items per tower call. Default 256. */
  maxEmbedBatch?: number;
  /** How often the backfill checks for a new model version and embeds one chunk, ms. Default 250. */
  backfillIntervalMs?: number;
  /** Items re-embedded per backfill tick. Default 512. */
  backfillChunk?: number;
  /** In-memory stores instead of LevelDB (tests). Default false. */
  inMemoryStores?: boolean;
  /** Live counters for the demo's status line. */
  stats?: PipelineStats;
}

/** Backfill progress of one task. */
export interface BackfillState {
  version: string;
  /** Last item id re-embedded (key order); '' before the first. */
  after: string;
  done: boolean;
  embedded: number;
  startedAt: number;
}

/** What the towers read of an item-created record (a missing image is a blank one). */
export function itemContentOf(item: ItemCreatedEvent, imageSize: number): ItemContent {
  const pixels = item.image?.pixels;
  const want = imageSize * imageSize * 3;
  const image =
    pixels && pixels.length === want
      ? new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length)
      : new Uint8Array(want).fill(127);
  return { title: item.title, description: item.description, image };
}

/** Shared by both processors: embed a list of catalogue items, store and forward the vectors. */
class EmbeddingWriter {
  constructor(
    private readonly o: EmbeddingsOptions,
    private readonly ctx: ProcessorContext<string, ItemEmbeddingEvent>,
    private readonly embeddings: KeyValueStore<string, ItemEmbeddingEvent>,
    private readonly imageSize: () => Promise<number>,
  ) {}

  /**
   * Embeds `items` in tower batches with the model's current version.
   * @returns how many were embedded (0 when no model is loaded yet: the backfill picks them up later).
   */
  async embedAndEmit(
    items: readonly ItemCreatedEvent[],
    reason: string,
    receivedAt?: ReadonlyMap<string, number>,
  ): Promise<number> {
    if (items.length === 0 || this.o.model.embeddingVersion === undefined) return 0;
    const size = await this.imageSize();
    const max = this.o.maxEmbedBatch ?? 256;
    const chunks: ItemCreatedEvent[][] = [];
    for (let i = 0; i < items.length; i += max) chunks.push(items.slice(i, i + max));
    // all chunks at once: the pooled runner joins them with other tasks' calls and runs them on
    // every worker, instead of one tower call at a time while this task waits (a backlog after a
    // restart, a backfill chunk); vectors are still stored and sent in the items' order
    const results = chunks.map((chunk) => this.o.model.embed(chunk.map((it) => itemContentOf(it, size))));
    // every call is awaited below; if one fails the others' rejections must not go unhandled
    for (const r of results) r.catch(() => undefined);
    let n = 0;
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c] as ItemCreatedEvent[];
      const { version, embeddings } = await (results[c] as (typeof results)[number]);
      const dim = embeddings.length / chunk.length;
      const now = this.ctx.currentSystemTimeMs;
      const out: ItemEmbeddingEvent[] = chunk.map((it, j) => ({
        itemId: it.itemId,
        modelVersion: version,
        dimension: dim,
        vector: vectorBytes(embeddings.subarray(j * dim, (j + 1) * dim)),
        computedAt: now,
        category: it.category,
        createdAt: it.createdAt,
      }));
      await this.embeddings.putAll(out.map((e) => [e.itemId, e] as const));
      this.ctx.forward(out.map((e) => ({ key: e.itemId, value: e, timestamp: now, headers: {} })));
      computed.add(out.length, { [METRIC_ATTRIBUTES.modelVersion]: version });
      if (this.o.stats) {
        this.o.stats.itemsEmbedded += out.length;
        // latency from the item-created record's timestamp (when it was published) to the stored vector
        if (receivedAt)
          for (const it of chunk)
            this.o.stats.embedLatencyMs.push(Math.max(0, now - (receivedAt.get(it.itemId) ?? now)));
      }
      n += out.length;
    }
    log.debug({ task: this.ctx.taskId, items: n, reason }, 'items embedded');
    return n;
  }
}

async function imageSizeOf(model: ModelRunner): Promise<number> {
  return (await model.snapshot())?.imageSize ?? 16;
}

class EmbedNewItems implements Processor<string, ItemCreatedEvent, string, ItemEmbeddingEvent> {
  private ctx!: ProcessorContext<string, ItemEmbeddingEvent>;
  private catalogue!: KeyValueStore<string, ItemCreatedEvent>;
  private embeddings!: KeyValueStore<string, ItemEmbeddingEvent>;
  private pending!: KeyValueStore<string, EmbeddingRequestEvent>;
  private backfill!: KeyValueStore<string, BackfillState>;
  private writer!: EmbeddingWriter;
  private backfilling = false;

  constructor(private readonly o: EmbeddingsOptions) {}

  init(ctx: ProcessorContext<string, ItemEmbeddingEvent>): void {
    this.ctx = ctx;
    this.catalogue = ctx.getStateStore(EMBEDDING_STORES.catalogue);
    this.embeddings = ctx.getStateStore(EMBEDDING_STORES.embeddings);
    this.pending = ctx.getStateStore(EMBEDDING_STORES.pending);
    this.backfill = ctx.getStateStore(EMBEDDING_STORES.backfill);
    this.writer = new EmbeddingWriter(this.o, ctx, this.embeddings, () => imageSizeOf(this.o.model));
    ctx.schedule(this.o.backfillIntervalMs ?? 250, 'WALL_CLOCK_TIME', () => this.backfillTick());
  }

  async process(records: ReadonlyArray<StreamRecord<string, ItemCreatedEvent>>): Promise<void> {
    // the last record per item wins within a batch (an update of the same item)
    const byId = new Map<string, ItemCreatedEvent>();
    const receivedAt = new Map<string, number>();
    for (const r of records) {
      if (!r.value) continue;
      byId.set(r.value.itemId, r.value);
      receivedAt.set(r.value.itemId, r.timestamp);
    }
    const items = [...byId.values()];
    if (this.o.stats) this.o.stats.itemsCreated += items.length;
    await this.catalogue.putAll(items.map((it) => [it.itemId, it] as const));
    await this.writer.embedAndEmit(items, 'item-created', receivedAt);
    // requests that waited for these items are answered by the vectors just sent
    const waiting = await this.pending.getMany(items.map((it) => it.itemId));
    const answered = items.filter((_, i) => waiting[i] !== undefined).map((it) => [it.itemId, null] as const);
    if (answered.length > 0 && this.o.model.embeddingVersion !== undefined)
      await this.pending.putAll(answered);
  }

  /**
   * One chunk of the re-embedding of every item whose vector is of another
   * embedding version. A version trained with frozen towers shares its
   * parent's embedding version: promoting it re-embeds nothing.
   */
  private async backfillTick(): Promise<void> {
    const version = this.o.model.embeddingVersion;
    if (version === undefined || this.backfilling) return;
    this.backfilling = true;
    try {
      let state = await this.backfill.get('state');
      if (state?.version === version && state.done) return;
      if (state?.version !== version) {
        state = { version, after: '', done: false, embedded: 0, startedAt: this.ctx.currentSystemTimeMs };
        log.info(
          { task: this.ctx.taskId, version, items: await this.catalogue.approximateNumEntries() },
          'embedding version changed (new towers): re-embedding every item of this task',
        );
      }
      const chunk = this.o.backfillChunk ?? 512;
      const todo: ItemCreatedEvent[] = [];
      let last = state.after;
      let scanned = 0;
      for await (const [id, item] of this.catalogue.range(
        state.after === '' ? undefined : state.after,
        undefined,
      )) {
        if (id === state.after) continue;
        last = id;
        scanned++;
        todo.push(item);
        if (todo.length >= chunk) break;
      }
      const current = await this.embeddings.getMany(todo.map((t) => t.itemId));
      const stale = todo.filter((_, i) => current[i]?.modelVersion !== version);
      const n = await this.writer.embedAndEmit(stale, 'backfill');
      state = { ...state, after: last, embedded: state.embedded + n, done: scanned < chunk };
      if (this.o.stats && n > 0) this.o.stats.backfilled += n;
      await this.backfill.put('state', state);
      if (n > 0 || state.done) {
        log.info(
          {
            task: this.ctx.taskId,
            version,
            embedded: state.embedded,
            after: state.after,
            done: state.done,
            ms: this.ctx.currentSystemTimeMs - state.startedAt,
          },
          state.done ? 'backfill done' : 'backfill progress',
        );
      }
    } finally {
      this.backfilling = false;
    }
  }
}

class ServeEmbeddingRequests implements Processor<string, EmbeddingRequestEvent, string, ItemEmbeddingEvent> {
  private ctx!: ProcessorContext<string, ItemEmbeddingEvent>;
  private catalogue!: KeyValueStore<string, ItemCreatedEvent>;
  private embeddings!: KeyValueStore<string, ItemEmbeddingEvent>;
  private pending!: KeyValueStore<string, EmbeddingRequestEvent>;
  private writer!: EmbeddingWriter;

  constructor(private readonly o: EmbeddingsOptions) {}

  init(ctx: ProcessorContext<string, ItemEmbeddingEvent>): void {
    this.ctx = ctx;
    this.catalogue = ctx.getStateStore(EMBEDDING_STORES.catalogue);
    this.embeddings = ctx.getStateStore(EMBEDDING_STORES.embeddings);
    this.pending = ctx.getStateStore(EMBEDDING_STORES.pending);
    this.writer = new EmbeddingWriter(this.o, ctx, this.embeddings, () => imageSizeOf(this.o.model));
  }

  async process(records: ReadonlyArray<StreamRecord<string, EmbeddingRequestEvent>>): Promise<void> {
    const byId = new Map<string, EmbeddingRequestEvent>();
    for (const r of records) if (r.value) byId.set(r.value.itemId, r.value);
    const ids = [...byId.keys()];
    if (this.o.stats) this.o.stats.embeddingRequests += ids.length;
    const [items, vectors] = await Promise.all([this.catalogue.getMany(ids), this.embeddings.getMany(ids)]);
    const version = this.o.model.embeddingVersion;
    const toEmbed: ItemCreatedEvent[] = [];
    const resend: ItemEmbeddingEvent[] = [];
    const keep: (readonly [string, EmbeddingRequestEvent])[] = [];
    ids.forEach((id, i) => {
      const item = items[i];
      const vec = vectors[i];
      if (!item) keep.push([id, byId.get(id) as EmbeddingRequestEvent]);
      else if (vec && vec.modelVersion === version) resend.push(vec);
      else toEmbed.push(item);
    });
    // the requester missed a vector that exists (it read the topic before it was written): send it again
    if (resend.length > 0)
      this.ctx.forward(
        resend.map((e) => ({
          key: e.itemId,
          value: e,
          timestamp: this.ctx.currentSystemTimeMs,
          headers: {},
        })),
      );
    await this.writer.embedAndEmit(toEmbed, 'embedding-request');
    if (keep.length > 0) await this.pending.putAll(keep);
  }
}

/**
 * Builds the embeddings topology.
 * Sources: `item-created`, `embedding-requests` (co-partitioned by item id). Sink: `item-embeddings`.
 */
export function embeddingsTopology(o: EmbeddingsOptions): Topology {
  const t = o.topics;
  const s = o.serdes;
  const supplier = (name: string) =>
    o.inMemoryStores ? Stores.inMemoryKeyValueStore(name) : Stores.persistentKeyValueStore(name);
  const catalogue = Stores.keyValueStoreBuilder(
    supplier(EMBEDDING_STORES.catalogue),
    s.key,
    avroStoreSerde<ItemCreatedEvent>('item-created.avsc'),
  );
  const embeddings = Stores.keyValueStoreBuilder(
    supplier(EMBEDDING_STORES.embeddings),
    s.key,
    avroStoreSerde<ItemEmbeddingEvent>('item-embedding.avsc'),
  );
  const pending = Stores.keyValueStoreBuilder(
    supplier(EMBEDDING_STORES.pending),
    s.key,
    avroStoreSerde<EmbeddingRequestEvent>('embedding-request.avsc'),
  );
  const backfill = Stores.keyValueStoreBuilder(
    supplier(EMBEDDING_STORES.backfill),
    s.key,
    jsonSerde<BackfillState>(),
  );
  return new Topology()
    .addSource('item-created', t.itemCreated, s.key, s.itemCreated)
    .addSource('embedding-requests', t.embeddingRequests, s.key, s.embeddingRequest)
    .addProcessor('embed-new-items', () => new EmbedNewItems(o), 'item-created')
    .addProcessor('serve-embedding-requests', () => new ServeEmbeddingRequests(o), 'embedding-requests')
    .addStateStore(catalogue, 'embed-new-items', 'serve-embedding-requests')
    .addStateStore(embeddings, 'embed-new-items', 'serve-embedding-requests')
    .addStateStore(pending, 'embed-new-items', 'serve-embedding-requests')
    .addStateStore(backfill, 'embed-new-items')
    .addSink(
      'item-embeddings-out',
      t.itemEmbeddings,
      s.key,
      s.itemEmbedding,
      'embed-new-items',
      'serve-embedding-requests',
    );
}
