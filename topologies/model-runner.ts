/**
 * The model as the pipeline's processors see it: embed items with the
 * current version's towers, score list requests with its head, and know the
 * version's OOV vector. Two implementations:
 *
 * - {@link InProcessModelRunner}: the model on this thread (unit tests, small
 *   tools). Embedding needs an initialised tfjs backend (initBackend).
 * - {@link PooledModelRunner}: the production path. Worker threads
 *   (ScoringPool, one model copy each) follow the registry's LATEST (hot
 *   reload); scoring requests from every task go through one Autobatcher, so
 *   a cycle's requests become a few large model calls and model math never
 *   blocks the event loop that heartbeats the consumer group. Embedding
 *   calls from every task go through a second autobatcher for the same
 *   reason: at 1,000 items/s over 4 partitions each task's batch holds only
 *   a handful of items, and a native tower call costs ~6 ms whatever its
 *   size (bench/cycle: 5-item calls cap the native towers near 1,000
 *   items/s; joined into one call per worker they do 10k+).
 */
import {
  Autobatcher,
  CtrModel,
  ModelRegistry,
  ScoringPool,
  requestRows,
  type BackendChoice,
  type FeatureSpec,
  type HeadEngine,
  type ItemContent,
  type ScoreRequest,
  type ScoreResult,
  type ItemPartTableStats,
  Scorer,
  initBackend,
  RegistryError,
  ClosedError,
} from '../src/ml/index.ts';

/** What a cycle needs to pack its inputs for one model version. */
export interface ModelSnapshot {
  version: string;
  /**
   * The version whose towers this one uses (the stamp its embeddings carry):
   * the version itself, or an ancestor when it was trained with frozen towers.
   * A cycle scores with embeddings of this version.
   */
  embeddingVersion: string;
  /** The version's learned OOV item embedding (spec.embeddingDim floats). */
  oov: Float32Array;
  spec: FeatureSpec;
  /** Side of the square RGB image the image tower reads, pixels. */
  imageSize: number;
}

export interface ModelRunner {
  /** The version new calls use; undefined before a model is loaded. */
  readonly version: string | undefined;
  /** The current version's embedding version (see ModelSnapshot.embeddingVersion); undefined before a model is loaded. */
  readonly embeddingVersion: string | undefined;
  /** The tensor backend that runs the model (e.g. `wasm`), for logs and the demo. */
  readonly backend: string;
  /** The current version's snapshot, or undefined before a model is loaded. */
  snapshot(): Promise<ModelSnapshot | undefined>;
  /**
   * Embeds items with the current version's towers.
   * @returns items.length x spec.embeddingDim floats and their embedding version (the version whose
   *   towers computed them: the stamp stored with each vector).
   * @throws ClosedError (src/ml) when no model is loaded yet.
   */
  embed(items: ItemContent[]): Promise<{ version: string; embeddings: Float32Array }>;
  /**
   * Scores list requests; each result names the version that scored it (it
   * may be newer than the snapshot the caller packed with: callers check).
   */
  score(requests: ScoreRequest[]): Promise<ScoreResult[]>;
  /** Counters of the current version's item-part table (keyed requests); undefined before the first. */
  itemPartStats?(): ItemPartTableStats | undefined;
  close(): Promise<void>;
}

/** A model on the calling thread; `setModel` switches versions (as a registry promotion would). */
export class InProcessModelRunner implements ModelRunner {
  private model: CtrModel | undefined;
  private current: string | undefined;
  private currentEmbedding: string | undefined;
  private scorer: Scorer | undefined;
  private readonly engine: HeadEngine;
  backend = 'js';

  constructor(model?: CtrModel, version?: string, engine: HeadEngine = 'js') {
    this.engine = engine;
    if (model && version) this.setModel(model, version);
  }

  get version(): string | undefined {
    return this.current;
  }

  get embeddingVersion(): string | undefined {
    return this.currentEmbedding;
  }

  /** Switches to `model`; `embeddingVersion` names whose towers it uses (default: its own). */
  setModel(model: CtrModel, version: string, embeddingVersion = version): void {
    // not dispose(): that would also free the previous model's tower tensors, which tests may still hold
    this.model = model;
    this.current = version;
    this.currentEmbedding = embeddingVersion;
    this.scorer = undefined;
  }

  private getScorer(): Scorer {
    if (!this.model || !this.current) throw new ClosedError('no model loaded yet');
    this.scorer ??= new Scorer(this.model, this.current, this.engine);
    return this.scorer;
  }

  async snapshot(): Promise<ModelSnapshot | undefined> {
    if (!this.model || !this.current) return undefined;
    return {
      version: this.current,
      embeddingVersion: this.currentEmbedding ?? this.current,
      oov: this.model.oovEmbedding,
      spec: this.model.config.spec,
      imageSize: this.model.config.towers.image.size,
    };
  }

  async embed(items: ItemContent[]): Promise<{ version: string; embeddings: Float32Array }> {
    if (!this.model || !this.current) throw new ClosedError('no model loaded yet');
    this.backend = await initBackend();
    return {
      version: this.currentEmbedding ?? this.current,
      embeddings: this.model.embed(items).slice(),
    };
  }

  async score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    return this.getScorer().score(requests);
  }

  itemPartStats(): ItemPartTableStats | undefined {
    return this.scorer?.itemPartTable?.stats;
  }

  async close(): Promise<void> {
    this.scorer?.dispose();
  }
}

export interface PooledModelRunnerOptions {
  /** Worker threads. Default 2. */
  workers?: number;
  backend?: BackendChoice;
  engine?: HeadEngine;
  /** Rows per model call (the autobatcher's maxBatchSize). Default 16384. */
  maxBatchRows?: number;
  /** Longest a scoring request waits for its batch to fill, ms. Default 5. */
  maxWaitMs?: number;
  /** How often the registry's LATEST is polled, ms. Default 1000. */
  pollMs?: number;
  /** Items per tower call (the embedding autobatcher's maxBatchSize). Default 512. */
  maxEmbedBatch?: number;
  /** Longest an embedding request waits for its batch to fill, ms. Default 2. */
  maxEmbedWaitMs?: number;
}

/** One caller's items for the embedding autobatcher. */
type EmbedRequest = readonly ItemContent[];
interface EmbedResult {
  version: string;
  embeddings: Float32Array;
}

/** Worker threads following a model registry, scoring through one autobatcher. */
export class PooledModelRunner implements ModelRunner {
  readonly pool: ScoringPool;
  readonly batcher: Autobatcher<ScoreRequest, ScoreResult>;
  /** Joins the embedding calls of all tasks into tower calls of up to maxEmbedBatch items. */
  readonly embedBatcher: Autobatcher<EmbedRequest, EmbedResult>;
  private readonly registry: ModelRegistry;
  private readonly snapshots = new Map<string, Promise<ModelSnapshot>>();

  private constructor(registry: ModelRegistry, o: PooledModelRunnerOptions) {
    this.registry = registry;
    const workers = o.workers ?? 2;
    this.pool = new ScoringPool({
      workers,
      backend: o.backend ?? 'auto',
      engine: o.engine ?? 'tfjs',
      model: 'ctr',
    });
    this.batcher = new Autobatcher<ScoreRequest, ScoreResult>({
      run: (batch) => this.pool.score(batch),
      rows: requestRows,
      maxBatchSize: o.maxBatchRows ?? 16_384,
      maxWaitMs: o.maxWaitMs ?? 5,
      concurrency: workers,
      maxQueueRows: 64 * (o.maxBatchRows ?? 16_384),
      maxQueueWaitMs: 60_000,
      model: 'ctr',
    });
    const maxEmbed = o.maxEmbedBatch ?? 512;
    this.embedBatcher = new Autobatcher<EmbedRequest, EmbedResult>({
      run: (batch) => this.embedJoined(batch),
      rows: (req) => req.length,
      maxBatchSize: maxEmbed,
      maxWaitMs: o.maxEmbedWaitMs ?? 2,
      concurrency: workers,
      maxQueueRows: 64 * maxEmbed,
      maxQueueWaitMs: 60_000,
      model: 'towers',
    });
  }

  /** One tower call for the requests of a batch; each gets its rows of the result (one version for all). */
  private async embedJoined(batch: EmbedRequest[]): Promise<EmbedResult[]> {
    const all = batch.length === 1 ? (batch[0] as EmbedRequest) : batch.flat();
    const { embeddingVersion: version, embeddings } = await this.pool.embed(all as ItemContent[]);
    const dim = all.length === 0 ? 0 : embeddings.length / all.length;
    const out: EmbedResult[] = [];
    let at = 0;
    for (const req of batch) {
      // a copy, not a view: each caller owns its vectors (and the joined buffer can be dropped)
      out.push({ version, embeddings: embeddings.slice(at * dim, (at + req.length) * dim) });
      at += req.length;
    }
    return out;
  }

  /**
   * Starts the workers and waits until they hold the registry's latest version.
   * @throws RegistryError when the registry has no version yet.
   */
  static async start(registry: ModelRegistry, o: PooledModelRunnerOptions = {}): Promise<PooledModelRunner> {
    const latest = await registry.latest();
    if (latest === undefined) {
      throw new RegistryError(`model registry ${registry.root} has no version yet: train one first`);
    }
    const runner = new PooledModelRunner(registry, o);
    await runner.pool.follow(registry, o.pollMs ?? 1000);
    return runner;
  }

  get version(): string | undefined {
    return this.pool.version;
  }

  get embeddingVersion(): string | undefined {
    return this.pool.embeddingVersion;
  }

  get backend(): string {
    return this.pool.backend ?? 'unknown';
  }

  snapshot(): Promise<ModelSnapshot | undefined> {
    const version = this.pool.version;
    const embeddingVersion = this.pool.embeddingVersion;
    if (version === undefined || embeddingVersion === undefined) return Promise.resolve(undefined);
    let s = this.snapshots.get(version);
    if (!s) {
      // the OOV vector lives in the model file: read it once per version on this thread
      s = this.registry.load(version).then((m) => ({
        version,
        embeddingVersion,
        oov: m.oovEmbedding.slice(),
        spec: m.config.spec,
        imageSize: m.config.towers.image.size,
      }));
      s.catch(() => this.snapshots.delete(version));
      this.snapshots.set(version, s);
    }
    return s;
  }

  async embed(items: ItemContent[]): Promise<{ version: string; embeddings: Float32Array }> {
    const max = this.embedBatcher.maxBatchSize;
    if (items.length <= max) return this.embedBatcher.submit(items);
    // larger than one tower call: split, and keep one version for all (a hot reload may land between parts)
    const parts: Promise<EmbedResult>[] = [];
    for (let i = 0; i < items.length; i += max) parts.push(this.embedBatcher.submit(items.slice(i, i + max)));
    const done = await Promise.all(parts);
    const version = (done[0] as EmbedResult).version;
    if (done.some((d) => d.version !== version)) return this.embed(items);
    const embeddings = new Float32Array(done.reduce((n, d) => n + d.embeddings.length, 0));
    let at = 0;
    for (const d of done) {
      embeddings.set(d.embeddings, at);
      at += d.embeddings.length;
    }
    return { version, embeddings };
  }

  async score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    // refuse before submitting any: submits left behind by a throw would be orphans, and a later
    // rejection of one would be unhandled
    const tooLarge = requests.find((r) => r.items.count > this.batcher.maxBatchSize);
    if (tooLarge)
      throw new RangeError(
        `a list request of ${tooLarge.items.count} candidates exceeds the batch size ${this.batcher.maxBatchSize}`,
      );
    // one submit per request: the autobatcher joins them (with other tasks' requests) into model calls
    return Promise.all(requests.map((r) => this.batcher.submit(r)));
  }

  itemPartStats(): ItemPartTableStats | undefined {
    return this.pool.itemPartStats();
  }

  async close(): Promise<void> {
    await Promise.all([this.batcher.close(), this.embedBatcher.close()]);
    await this.pool.close();
  }
}
