/**
 * A pool of scoring worker threads, one model copy per worker, with hot
 * reload, worker-side item-part tables and replacement of dead workers.
 *
 * Versions: `load(version, bytes)` loads a version into every worker and
 * only then makes it current, so no request ever meets a worker without its
 * model; requests already dispatched finish on the version they named; the
 * old version (and its item-part table) is dropped once its last request
 * returned. `follow(registry)` does this whenever the registry's LATEST
 * changes (hot reload without restart).
 *
 * Item parts: requests with `itemKeys` of the scoring version are planned
 * on that version's ItemPartTable on this thread (key -> slot, pins,
 * eviction) and reach the worker as slot numbers; the worker reads the parts
 * from shared memory, and computes and writes only the missing ones (only
 * their item rows are sent). A request's message is then O(candidates)
 * int32s instead of candidates x partSize floats, so the main thread stays
 * out of the way of N workers. A worker learns about a table's chunks by a
 * 'table' message sent before the first request that needs them.
 *
 * Dead workers: when a worker exits or errors (crash, OOM, terminate), its
 * in-flight calls fail with WorkerError (retriable) and each is retried once
 * on another worker (scoring and embedding are pure: a retry cannot double
 * an effect); a call whose retry fails too rejects with that WorkerError.
 * A replacement is spawned (after `respawnDelayMs`, doubling while workers
 * keep dying within a minute, at most 30 s), loads every version the pool
 * holds, and takes requests once it has; calls arriving while no worker is
 * ready wait for one (at most `readyTimeoutMs`). Logged, and counted in
 * `ctr.ml.worker.restarts`.
 *
 * Native threads: TensorFlow (tfjs-node) reads TF_NUM_INTRAOP_THREADS,
 * TF_NUM_INTEROP_THREADS and TF_OVERRIDE_GLOBAL_THREADPOOL with getenv() once
 * per process, when its first context starts. A worker's own `process.env`
 * is a copy invisible to native code, so the pool sets them on the process
 * environment before its first worker starts (the `nativeThreads` option
 * wins, then the operator's environment, then the default): by default each
 * worker gets its own intra-op pool of cores / workers threads, instead
 * of all workers sharing one process-wide pool sized for the whole machine.
 * Settings cannot change once TensorFlow started in the process (a second
 * pool in the same process inherits the first one's).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { ClosedError, MlError, WorkerError, type MlErrorCode } from './errors.ts';
import type { BackendChoice } from './backend.ts';
import {
  planRequests,
  usesTable,
  type HeadEngine,
  type ScoreRequest,
  type ScoreResult,
  type WireRequest,
} from './scorer.ts';
import { ItemPartTable, type ItemPartTableOptions, type ItemPartTableStats } from './item-part-table.ts';
import type { ItemContent } from './towers.ts';
import { embeddingVersionOf, type ModelRegistry } from './registry.ts';
import { createLogger } from '../telemetry/logger.ts';
import { METRICS, METRIC_ATTRIBUTES, counter, histogram } from '../telemetry/index.ts';

const log = createLogger('ml-scoring-pool');
const reloads = counter(METRICS.modelReloads);
const restarts = counter(METRICS.modelWorkerRestarts);
const inference = histogram(METRICS.modelInferenceDuration);

/** Native TensorFlow thread pools of each worker. */
export interface NativeThreads {
  /** Threads one op may use (TF_NUM_INTRAOP_THREADS). */
  intraOp: number;
  /** Ops run at once (TF_NUM_INTEROP_THREADS). */
  interOp: number;
}

export interface ScoringPoolOptions {
  /** Worker threads (default: available cores). */
  workers: number;
  /** Tensor backend in each worker (default auto). */
  backend: BackendChoice;
  /** Engine of the head's cross part (default tfjs). */
  engine: HeadEngine;
  /** Model name for metrics. */
  model: string;
  /** Bounds of each version's item-part table (default 256 MiB). */
  itemParts: Partial<ItemPartTableOptions>;
  /**
   * Native thread pools per worker. Default: TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS
   * from the environment if set, else intra-op max(1, cores / workers) and inter-op 1.
   */
  nativeThreads: NativeThreads | undefined;
  /** Delay before the first replacement of a dead worker, ms (default 100). */
  respawnDelayMs: number;
  /** Longest a call waits for a ready worker while all are (re)starting, ms (default 60000). */
  readyTimeoutMs: number;
}

interface Pending {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

interface WorkerSlot {
  /** Position in the pool (a replacement takes its predecessor's). */
  index: number;
  /** 0 for the first worker at this position, +1 per replacement. */
  generation: number;
  worker: Worker;
  state: 'starting' | 'ready' | 'dead';
  inFlight: number;
  pending: Map<number, Pending>;
  /** Item-part table chunks this worker holds, per version. */
  chunksSent: Map<string, number>;
}

/** What the pool needs of a version to plan its item-part table without parsing the model. */
interface VersionShape {
  partSize: number;
  spec: { itemFields: string[]; itemNumeric: string[]; embeddingDim: number };
}

/** A worker's reply to 'load' (scoring-worker.ts). */
interface LoadReply extends VersionShape {
  backend: string;
}

/** What the pool keeps of a loaded version: its bytes (for replacements) and, once a worker loaded it, its shape. */
interface VersionEntry {
  bytes: Uint8Array;
  /** The version whose towers this one uses (VersionInfo.embeddingVersion): the stamp of its embeddings. */
  embeddingVersion: string;
  shape?: VersionShape;
  table?: ItemPartTable;
}

/**
 * Starts the worker module that sits next to this file: .js when built;
 * under tsx (tests, benchmarks, `npm run` scripts) the .ts source, through a
 * small bootstrap that registers tsx in the worker first, because loader
 * hooks given with --import do not reach worker threads.
 */
function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./scoring-worker.js', import.meta.url), { workerData });
  const target = new URL('./scoring-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
  return new Worker(code, { eval: true, workerData });
}

let threadsLogged = false;

/**
 * Puts the native thread settings into the process environment (where
 * TensorFlow's getenv() reads them) unless already set; logs the result once
 * per process. @returns the settings in effect.
 */
function applyNativeThreads(workers: number, wanted: NativeThreads | undefined): NativeThreads {
  const want = wanted ?? {
    intraOp: Math.max(1, Math.floor(availableParallelism() / workers)),
    interOp: 1,
  };
  const env = process.env;
  // precedence: the pool's explicit option, then the operator's environment, then cores / workers
  const source = wanted ? 'option' : env.TF_NUM_INTRAOP_THREADS !== undefined ? 'environment' : 'default';
  if (wanted) {
    env.TF_NUM_INTRAOP_THREADS = String(want.intraOp);
    env.TF_NUM_INTEROP_THREADS = String(want.interOp);
  } else {
    env.TF_NUM_INTRAOP_THREADS ??= String(want.intraOp);
    env.TF_NUM_INTEROP_THREADS ??= String(want.interOp);
  }
  // one intra-op pool per worker: by default TensorFlow shares one pool across every context of the process
  env.TF_OVERRIDE_GLOBAL_THREADPOOL ??= '1';
  const inEffect = {
    intraOp: Number(env.TF_NUM_INTRAOP_THREADS),
    interOp: Number(env.TF_NUM_INTEROP_THREADS),
  };
  if (!threadsLogged) {
    threadsLogged = true;
    log.info(
      {
        workers,
        cores: availableParallelism(),
        intraOpThreads: inEffect.intraOp,
        interOpThreads: inEffect.interOp,
        perWorkerPool: process.env.TF_OVERRIDE_GLOBAL_THREADPOOL === '1',
        source,
      },
      'native TensorFlow threads per scoring worker (read once per process, when TensorFlow starts)',
    );
  }
  return inEffect;
}

export class ScoringPool {
  readonly options: ScoringPoolOptions;
  /** Native thread settings in effect for the workers (only matter on the tensorflow backend). */
  readonly nativeThreads: NativeThreads;
  private readonly slots: WorkerSlot[] = [];
  private nextId = 1;
  private current: string | undefined;
  private backendName: string | undefined;
  private readonly versions = new Map<string, VersionEntry>();
  private readonly versionUse = new Map<string, number>();
  private readonly retiring = new Set<string>();
  private closed = false;
  private watcher: { close(): void } | undefined;
  private waiters: (() => void)[] = [];
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private deaths: number[] = [];
  private restartCount = 0;

  constructor(options: Partial<ScoringPoolOptions> = {}) {
    this.options = {
      workers: availableParallelism(),
      backend: 'auto',
      engine: 'tfjs',
      model: 'ctr',
      itemParts: {},
      nativeThreads: undefined,
      respawnDelayMs: 100,
      readyTimeoutMs: 60_000,
      ...options,
    };
    if (!(this.options.workers >= 1))
      throw new RangeError(`scoring pool: workers must be >= 1, got ${this.options.workers}`);
    this.nativeThreads = applyNativeThreads(this.options.workers, this.options.nativeThreads);
    for (let i = 0; i < this.options.workers; i++) this.slots.push(this.spawn(i, 0));
  }

  private spawn(index: number, generation: number): WorkerSlot {
    const worker = startWorker({ backend: this.options.backend, engine: this.options.engine });
    const slot: WorkerSlot = {
      index,
      generation,
      worker,
      state: 'starting',
      inFlight: 0,
      pending: new Map(),
      chunksSent: new Map(),
    };
    worker.on('message', (m: { id: number; ok: boolean; error?: { code: string; message: string } }) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.ok) p.resolve(m);
      else
        p.reject(
          new MlError(
            (m.error?.code ?? 'CTR_ML_WORKER') as MlErrorCode,
            `scoring worker ${index}: ${m.error?.message}`,
          ),
        );
    });
    const fail = (err: Error): void => {
      if (slot.state === 'dead') return;
      slot.state = 'dead';
      const failures = [...slot.pending.values()];
      slot.pending.clear();
      for (const p of failures)
        p.reject(new WorkerError(`scoring worker ${index} died: ${err.message}`, { cause: err }));
      this.notify();
      if (this.closed) return;
      log.error(
        { worker: index, generation, inFlight: failures.length, err: err.message },
        'scoring worker died; its calls are retried on another worker, a replacement starts',
      );
      this.scheduleRespawn(slot, err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    void this.bringUp(slot);
    return slot;
  }

  /** Loads every version the pool holds into a (new) worker, then lets it take requests. */
  private async bringUp(slot: WorkerSlot): Promise<void> {
    try {
      for (const [version, entry] of [...this.versions]) {
        if (!this.versions.has(version)) continue; // dropped meanwhile
        await this.call(slot, { type: 'load', version, bytes: entry.bytes });
      }
    } catch (err) {
      if (slot.state !== 'dead') {
        log.error({ worker: slot.index, err: String(err) }, 'replacement worker could not load the models');
        void slot.worker.terminate(); // counts as a death: retried with backoff
      }
      return;
    }
    if (slot.state !== 'starting') return;
    slot.state = 'ready';
    if (slot.generation > 0)
      log.info(
        { worker: slot.index, generation: slot.generation, versions: [...this.versions.keys()] },
        'replacement scoring worker ready',
      );
    this.notify();
  }

  private scheduleRespawn(dead: WorkerSlot, err: Error): void {
    const now = Date.now();
    this.deaths = this.deaths.filter((t) => now - t < 60_000);
    this.deaths.push(now);
    const delay = Math.min(30_000, this.options.respawnDelayMs * 2 ** (this.deaths.length - 1));
    restarts.add(1, {
      [METRIC_ATTRIBUTES.model]: this.options.model,
      [METRIC_ATTRIBUTES.reason]: /exited with code/.test(err.message) ? 'exit' : 'error',
    });
    this.restartCount++;
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer);
      if (this.closed || this.slots[dead.index] !== dead) return;
      this.slots[dead.index] = this.spawn(dead.index, dead.generation + 1);
    }, delay);
    this.respawnTimers.add(timer);
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private call<T>(slot: WorkerSlot, msg: Record<string, unknown>): Promise<T> {
    if (slot.state === 'dead')
      return Promise.reject(new WorkerError(`scoring worker ${slot.index} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...msg, id });
    });
  }

  /** The version new requests are scored with (undefined before the first load). */
  get version(): string | undefined {
    return this.current;
  }

  /** The embedding version of the current version (whose towers it uses); undefined before a model is loaded. */
  get embeddingVersion(): string | undefined {
    return this.current === undefined ? undefined : this.versions.get(this.current)?.embeddingVersion;
  }

  /** The tensor backend the workers run (after the first load). */
  get backend(): string | undefined {
    return this.backendName;
  }

  /** Workers that died and were (or are being) replaced since the pool started. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Counters of `version`'s item-part table (default: the current version); undefined before its first keyed request. */
  itemPartStats(version = this.current): ItemPartTableStats | undefined {
    return version === undefined ? undefined : this.versions.get(version)?.table?.stats;
  }

  /**
   * Loads `version` into every worker, then makes it current. The previous
   * version is dropped when its in-flight requests have finished. A worker
   * that dies meanwhile does not fail the load: its replacement loads the
   * version before it takes requests.
   * @throws ModelFormatError / MlError when a worker cannot load it (the current version stays);
   *   WorkerError when no worker is left to load it.
   */
  async load(version: string, bytes: Uint8Array, embeddingVersion = version): Promise<void> {
    if (this.closed) throw new ClosedError('scoring pool is closed');
    if (version === this.current) return;
    const known = this.versions.get(version);
    if (!known) this.versions.set(version, { bytes, embeddingVersion });
    // a rollback to a version still retiring (its last calls in flight): its end would drop it from the
    // workers while it loads and becomes current again
    const wasRetiring = this.retiring.delete(version);
    const targets = this.slots.filter((s) => s.state !== 'dead');
    const replies = await Promise.allSettled(
      targets.map((s) => this.call<LoadReply>(s, { type: 'load', version, bytes })),
    );
    const failed = replies.find(
      (r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof WorkerError),
    );
    const loaded = replies.find((r): r is PromiseFulfilledResult<LoadReply> => r.status === 'fulfilled');
    if (failed || !loaded) {
      if (!known) this.versions.delete(version);
      else if (wasRetiring) {
        this.retiring.add(version);
        this.maybeDrop(version);
      }
      throw failed
        ? (failed.reason as Error)
        : new WorkerError(`cannot load model version ${version}: no scoring worker is running`, { version });
    }
    const reply = loaded.value;
    this.backendName = reply.backend;
    const entry = this.versions.get(version) as VersionEntry;
    entry.shape = { partSize: reply.partSize, spec: reply.spec };
    const old = this.current;
    this.current = version;
    log.info(
      {
        version,
        previous: old,
        backend: this.backendName,
        workers: this.slots.length,
        engine: this.options.engine,
      },
      'model version loaded',
    );
    if (old !== undefined) {
      this.retiring.add(old);
      this.maybeDrop(old);
    }
  }

  private maybeDrop(version: string): void {
    if (!this.retiring.has(version) || (this.versionUse.get(version) ?? 0) > 0) return;
    this.retiring.delete(version);
    this.versions.delete(version);
    for (const s of this.slots) {
      s.chunksSent.delete(version);
      this.call(s, { type: 'drop', version }).catch(() => undefined);
    }
  }

  /** Follows the registry's LATEST: loads each newly promoted version (hot reload). */
  follow(registry: ModelRegistry, intervalMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      let first = true;
      this.watcher = registry.watch(async (version) => {
        try {
          const [bytes, info] = await Promise.all([registry.modelBytes(version), registry.info(version)]);
          await this.load(version, bytes, embeddingVersionOf(info));
          reloads.add(1, { [METRIC_ATTRIBUTES.model]: this.options.model, [METRIC_ATTRIBUTES.result]: 'ok' });
        } catch (err) {
          reloads.add(1, {
            [METRIC_ATTRIBUTES.model]: this.options.model,
            [METRIC_ATTRIBUTES.result]: 'error',
          });
          log.error({ version, err: String(err) }, 'hot reload failed; keeping the current version');
        }
        if (first) {
          first = false;
          resolve();
        }
      }, intervalMs);
    });
  }

  /** The least-busy ready worker, or undefined when none is ready. */
  private readySlot(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const s of this.slots) if (s.state === 'ready' && (!best || s.inFlight < best.inFlight)) best = s;
    return best;
  }

  /** Waits for a ready worker while none is (all starting or respawning), at most readyTimeoutMs. */
  private async waitForSlot(): Promise<WorkerSlot> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    for (;;) {
      if (this.closed) throw new ClosedError('scoring pool is closed');
      const best = this.readySlot();
      if (best) return best;
      const wait = deadline - Date.now();
      if (wait <= 0)
        throw new WorkerError(
          `no scoring worker became ready within ${this.options.readyTimeoutMs} ms (${this.slots.length} workers, ${this.restartCount} restarts)`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(wait, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Runs `f` on a ready worker with the current version; retries once on another worker if the first one dies. */
  private async withVersion<T>(
    f: (slot: WorkerSlot, version: string) => Promise<T>,
    retry = true,
  ): Promise<T> {
    if (this.closed) throw new ClosedError('scoring pool is closed');
    if (this.current === undefined) throw new ClosedError('scoring pool has no model loaded yet');
    // synchronous when a worker is ready: calls issued together must see each other's inFlight
    const slot = this.readySlot() ?? (await this.waitForSlot());
    const version = this.current;
    slot.inFlight++;
    this.versionUse.set(version, (this.versionUse.get(version) ?? 0) + 1);
    try {
      return await f(slot, version);
    } catch (err) {
      // only a death is retried: a worker's own error reply would fail again anywhere
      if (!retry || !(err instanceof WorkerError) || slot.state !== 'dead' || this.closed) throw err;
      log.warn({ worker: slot.index, err: err.message }, 'retrying a call of a dead scoring worker once');
      return this.withVersion(f, false);
    } finally {
      slot.inFlight--;
      this.versionUse.set(version, (this.versionUse.get(version) ?? 1) - 1);
      this.maybeDrop(version);
    }
  }

  /** Sends `slot` the chunks of `table` it does not hold yet (before the request that needs them: ports keep order). */
  private shareChunks(slot: WorkerSlot, table: ItemPartTable): void {
    const sent = slot.chunksSent.get(table.version) ?? 0;
    const all = table.chunks;
    if (sent === all.length) return;
    slot.worker.postMessage({
      type: 'table',
      version: table.version,
      partSize: table.partSize,
      chunkSlots: table.chunkSlots,
      chunks: all.slice(sent),
    });
    slot.chunksSent.set(table.version, all.length);
  }

  /**
   * Scores a batch of requests on the least-busy worker with the current
   * version. Requests with `itemKeys` of that version use its item-part
   * table (see the file comment); results name the version.
   * @throws WorkerError (retriable) when the worker died and so did the retry's; MlError for a worker-side failure.
   */
  score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    return this.withVersion(async (slot, version) => {
      const t0 = process.hrtime.bigint();
      const entry = this.versions.get(version) as VersionEntry;
      let wire: WireRequest[] = requests;
      let plans: ReturnType<typeof planRequests>['plans'] = [];
      let table: ItemPartTable | undefined;
      if (entry.shape && requests.some((r) => usesTable(r, version))) {
        table = entry.table ??= new ItemPartTable(version, entry.shape.partSize, this.options.itemParts);
        ({ wire, plans } = planRequests(table, requests, entry.shape.spec));
      }
      let ok = false;
      try {
        if (table) this.shareChunks(slot, table);
        const r = await this.call<{ results: ScoreResult[] }>(slot, {
          type: 'score',
          version,
          requests: wire,
        });
        ok = true;
        inference.recordSince(t0, {
          [METRIC_ATTRIBUTES.model]: this.options.model,
          [METRIC_ATTRIBUTES.modelVersion]: version,
          [METRIC_ATTRIBUTES.backend]: this.backendName ?? 'unknown',
        });
        return r.results;
      } finally {
        table?.settle(plans, ok);
      }
    });
  }

  /**
   * Embeds items with the current version's towers: items.length x embeddingDim floats, the
   * version that ran, and its embedding version (the stamp the vectors carry).
   */
  embed(
    items: ItemContent[],
  ): Promise<{ version: string; embeddingVersion: string; embeddings: Float32Array }> {
    return this.withVersion(async (slot, version) => {
      const r = await this.call<{ embeddings: Float32Array }>(slot, { type: 'embed', version, items });
      const embeddingVersion = this.versions.get(version)?.embeddingVersion ?? version;
      return { version, embeddingVersion, embeddings: r.embeddings };
    });
  }

  /** Workers running (ready or starting). */
  get size(): number {
    return this.slots.filter((s) => s.state !== 'dead').length;
  }

  /** Workers ready to take requests. */
  get readyWorkers(): number {
    return this.slots.filter((s) => s.state === 'ready').length;
  }

  /**
   * Kills worker `index` on purpose (fault drills and tests): `terminate`
   * stops it from outside, `throw` makes it throw an uncaught exception,
   * `exit` makes it call process.exit. The pool treats it as any death.
   */
  killWorker(index: number, how: 'terminate' | 'throw' | 'exit' = 'terminate'): void {
    const slot = this.slots[index];
    if (!slot) throw new RangeError(`scoring pool has no worker ${index} (size ${this.slots.length})`);
    if (how === 'terminate') void slot.worker.terminate();
    else slot.worker.postMessage({ type: 'crash', how });
  }

  /** Stops following the registry and terminates the workers; pending calls reject with WorkerError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    this.notify();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
