/**
 * A pool of scoring worker threads, one model copy per worker, and hot reload.
 *
 * `load(version, bytes)` loads a version into every worker and only then
 * makes it current, so no request ever meets a worker without its model;
 * requests already dispatched finish on the version they named; the old
 * version is dropped once its last request returned. `follow(registry)`
 * does this whenever the registry's LATEST changes (hot reload without restart).
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { ClosedError, MlError, WorkerError, type MlErrorCode } from './errors.ts';
import type { BackendChoice } from './backend.ts';
import type { HeadEngine, ScoreRequest, ScoreResult } from './scorer.ts';
import type { ItemContent } from './towers.ts';
import type { ModelRegistry } from './registry.ts';
import { createLogger } from '../telemetry/logger.ts';
import { METRICS, METRIC_ATTRIBUTES, counter, histogram } from '../telemetry/index.ts';

const log = createLogger('ml-scoring-pool');
const reloads = counter(METRICS.modelReloads);
const inference = histogram(METRICS.modelInferenceDuration);

export interface ScoringPoolOptions {
  /** Worker threads (default: available cores). */
  workers: number;
  /** Tensor backend in each worker (default auto). */
  backend: BackendChoice;
  /** Engine of the head's cross part (default tfjs). */
  engine: HeadEngine;
  /** Model name for metrics. */
  model: string;
}

interface Pending {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  inFlight: number;
  pending: Map<number, Pending>;
  dead: boolean;
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

export class ScoringPool {
  readonly options: ScoringPoolOptions;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private current: string | undefined;
  private backendName: string | undefined;
  private readonly versionUse = new Map<string, number>();
  private readonly retiring = new Set<string>();
  private closed = false;
  private watcher: { close(): void } | undefined;

  constructor(options: Partial<ScoringPoolOptions> = {}) {
    this.options = {
      workers: availableParallelism(),
      backend: 'auto',
      engine: 'tfjs',
      model: 'ctr',
      ...options,
    };
    for (let i = 0; i < this.options.workers; i++) this.slots.push(this.spawn(i));
  }

  private spawn(index: number): Slot {
    const worker = startWorker({ backend: this.options.backend, engine: this.options.engine });
    const slot: Slot = { worker, inFlight: 0, pending: new Map(), dead: false };
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
      slot.dead = true;
      for (const p of slot.pending.values())
        p.reject(new WorkerError(`scoring worker ${index} failed: ${err.message}`, { cause: err }));
      slot.pending.clear();
      if (!this.closed) log.error({ worker: index, err: err.message }, 'scoring worker died');
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!slot.dead) fail(new Error(`exited with code ${code}`));
    });
    return slot;
  }

  private call<T>(slot: Slot, msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (slot.dead) return Promise.reject(new WorkerError('scoring worker is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /** The version new requests are scored with (undefined before the first load). */
  get version(): string | undefined {
    return this.current;
  }

  /** The tensor backend the workers run (after the first load). */
  get backend(): string | undefined {
    return this.backendName;
  }

  /**
   * Loads `version` into every worker, then makes it current. The previous
   * version is dropped when its in-flight requests have finished.
   * @throws WorkerError / ModelFormatError when a worker cannot load it (the current version stays).
   */
  async load(version: string, bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new ClosedError('scoring pool is closed');
    if (version === this.current) return;
    const replies = await Promise.all(
      this.slots.map((s) => this.call<{ backend: string }>(s, { type: 'load', version, bytes })),
    );
    this.backendName = replies[0]?.backend;
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
    for (const s of this.slots) this.call(s, { type: 'drop', version }).catch(() => undefined);
  }

  /** Follows the registry's LATEST: loads each newly promoted version (hot reload). */
  follow(registry: ModelRegistry, intervalMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      let first = true;
      this.watcher = registry.watch(async (version) => {
        try {
          await this.load(version, await registry.modelBytes(version));
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

  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (!s.dead && (!best || s.inFlight < best.inFlight)) best = s;
    if (!best) throw new WorkerError('no scoring worker is running');
    return best;
  }

  private async withVersion<T>(f: (slot: Slot, version: string) => Promise<T>): Promise<T> {
    if (this.closed) throw new ClosedError('scoring pool is closed');
    const version = this.current;
    if (version === undefined) throw new ClosedError('scoring pool has no model loaded yet');
    const slot = this.pick();
    slot.inFlight++;
    this.versionUse.set(version, (this.versionUse.get(version) ?? 0) + 1);
    try {
      return await f(slot, version);
    } finally {
      slot.inFlight--;
      this.versionUse.set(version, (this.versionUse.get(version) ?? 1) - 1);
      this.maybeDrop(version);
    }
  }

  /** Scores a batch of requests on the least-busy worker with the current version. */
  score(requests: ScoreRequest[]): Promise<ScoreResult[]> {
    return this.withVersion(async (slot, version) => {
      const t0 = process.hrtime.bigint();
      const r = await this.call<{ results: ScoreResult[] }>(slot, { type: 'score', version, requests });
      inference.recordSince(t0, {
        [METRIC_ATTRIBUTES.model]: this.options.model,
        [METRIC_ATTRIBUTES.modelVersion]: version,
        [METRIC_ATTRIBUTES.backend]: this.backendName ?? 'unknown',
      });
      return r.results;
    });
  }

  /** Embeds items with the current version's towers: items.length x embeddingDim floats + the version. */
  embed(items: ItemContent[]): Promise<{ version: string; embeddings: Float32Array }> {
    return this.withVersion(async (slot, version) => {
      const r = await this.call<{ embeddings: Float32Array }>(slot, { type: 'embed', version, items });
      return { version, embeddings: r.embeddings };
    });
  }

  /** Worker count (live). */
  get size(): number {
    return this.slots.filter((s) => !s.dead).length;
  }

  /** Stops following the registry and terminates the workers; pending calls reject with WorkerError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
