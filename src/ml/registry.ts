/**
 * The model registry: a directory of immutable versions and a "latest" pointer.
 *
 *   <root>/versions/<version>/model.bin       weights + config (no optimizer slots)
 *   <root>/versions/<version>/version.json    version, createdAt, parent, metrics, feature spec, sizes,
 *                                             and where its training source ended (trainedThrough)
 *   <root>/versions/<version>/checkpoint.bin  optional: weights + Adam slots, for resuming training
 *   <root>/LATEST                             the promoted version's name
 *
 * A version is written into a temporary directory and renamed into place, and
 * LATEST is replaced by rename, so a reader never sees a half-written version
 * or pointer. Serving processes `watch` LATEST and hot-reload (ScoringPool).
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CtrModel } from './ctr-model.ts';
import type { FeatureSpec } from './feature-spec.ts';
import { RegistryError } from './errors.ts';
import { createLogger } from '../telemetry/logger.ts';

const log = createLogger('ml-registry');

/**
 * Where a version's training read a topic up to: the next offset per
 * partition. Stored in the version itself, so a model and the position of
 * the examples it has seen can never disagree; the next continuous training
 * run resumes from its parent's position.
 */
export interface TrainingPosition {
  topic: string;
  /** Partition (decimal string) -> next offset to read (decimal string: Kafka offsets are 64-bit). */
  offsets: Record<string, string>;
}

/** What version.json says about a version. */
export interface VersionInfo {
  version: string;
  /** ISO-8601 creation time. */
  createdAt: string;
  /** Version this one was trained from (continuous training), if any. */
  parent?: string;
  /** Validation metrics recorded at training time (AUC, log loss, ECE ...). */
  metrics: Record<string, number>;
  featureSpec: FeatureSpec;
  examplesSeen: number;
  /** Bytes of model.bin (what serving loads). */
  modelBytes: number;
  /** Bytes of checkpoint.bin (model + optimizer slots), if stored. */
  checkpointBytes?: number;
  /** The topic position this version was trained through; undefined for a version trained from a file or generated data. */
  trainedThrough?: TrainingPosition;
  /** Free-form description of the training source (kind, counts of skipped records ...), for audits. */
  trainingSource?: Record<string, unknown>;
  /** sha256 of the towers' config and weights (CtrModel.towersDigest); absent in versions published before it existed. */
  towersDigest?: string;
  /**
   * The version whose towers this one uses: itself, or, when its towers are
   * identical to its parent's (trained with frozen towers), the parent's
   * embedding version. Embeddings are stamped with it, so a head-only
   * version reuses every stored embedding instead of re-embedding the
   * catalogue. Absent (older versions): the version itself.
   */
  embeddingVersion?: string;
}

/** The version whose embeddings `info`'s model uses (see VersionInfo.embeddingVersion). */
export function embeddingVersionOf(info: Pick<VersionInfo, 'version' | 'embeddingVersion'>): string {
  return info.embeddingVersion ?? info.version;
}

export interface PublishOptions {
  metrics?: Record<string, number>;
  parent?: string;
  /** A training checkpoint (CtrTrainer.checkpoint()) to keep next to the model. */
  checkpoint?: Uint8Array;
  /** Also make it "latest". Default true. */
  promote?: boolean;
  /** Stored as `trainedThrough` in version.json. */
  trainedThrough?: TrainingPosition;
  /** Stored as `trainingSource` in version.json. */
  trainingSource?: Record<string, unknown>;
}

const VERSION_RE = /^v[0-9]{8}T[0-9]{9}-[0-9a-f]{6}$/;

/** A new version name: sortable by creation time, unique by a random suffix. */
function newVersionName(now: Date): string {
  const iso = now.toISOString().replace(/[-:.Z]/g, ''); // 20261123T144511123
  return `v${iso}-${randomBytes(3).toString('hex')}`;
}

export class ModelRegistry {
  readonly root: string;

  /** @param root the registry directory (created on first publish). */
  constructor(root: string) {
    this.root = root;
  }

  private dir(version: string): string {
    if (!VERSION_RE.test(version))
      throw new RegistryError(`"${version}" is not a model version name`, { version });
    return join(this.root, 'versions', version);
  }

  /** Writes a new immutable version; promotes it unless told not to. @returns its info. */
  async publish(model: CtrModel, opts: PublishOptions = {}): Promise<VersionInfo> {
    const version = newVersionName(new Date());
    const versions = join(this.root, 'versions');
    await mkdir(versions, { recursive: true });
    const tmp = join(versions, `.tmp-${version}`);
    await mkdir(tmp, { recursive: true });
    const modelBuf = model.toBuffer();
    const towersDigest = model.towersDigest();
    const embeddingVersion = opts.parent
      ? await this.sharedEmbeddingVersion(opts.parent, towersDigest)
      : undefined;
    const info: VersionInfo = {
      version,
      createdAt: new Date().toISOString(),
      ...(opts.parent ? { parent: opts.parent } : {}),
      metrics: opts.metrics ?? {},
      featureSpec: model.config.spec,
      examplesSeen: model.examplesSeen,
      modelBytes: modelBuf.length,
      ...(opts.checkpoint ? { checkpointBytes: opts.checkpoint.length } : {}),
      ...(opts.trainedThrough ? { trainedThrough: opts.trainedThrough } : {}),
      ...(opts.trainingSource ? { trainingSource: opts.trainingSource } : {}),
      towersDigest,
      embeddingVersion: embeddingVersion ?? version,
    };
    try {
      await writeFile(join(tmp, 'model.bin'), modelBuf);
      if (opts.checkpoint) await writeFile(join(tmp, 'checkpoint.bin'), opts.checkpoint);
      await writeFile(join(tmp, 'version.json'), `${JSON.stringify(info, null, 2)}\n`);
      await rename(tmp, this.dir(version));
    } catch (cause) {
      await rm(tmp, { recursive: true, force: true });
      throw new RegistryError(`cannot publish model version ${version} to ${this.root}: ${String(cause)}`, {
        cause,
        version,
      });
    }
    log.info({ version, modelBytes: info.modelBytes, metrics: info.metrics }, 'model version published');
    if (opts.promote ?? true) await this.promote(version);
    return info;
  }

  /** The parent's embedding version when its towers have this digest, else undefined. */
  private async sharedEmbeddingVersion(parent: string, towersDigest: string): Promise<string | undefined> {
    const p = await this.info(parent);
    // versions published before digests existed: hash the parent's towers now
    const parentDigest = p.towersDigest ?? (await this.load(parent)).towersDigest();
    return parentDigest === towersDigest ? embeddingVersionOf(p) : undefined;
  }

  /** Makes `version` the latest (atomically). @throws RegistryError if it does not exist. */
  async promote(version: string): Promise<void> {
    await this.info(version);
    const tmp = join(this.root, `.LATEST-${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, `${version}\n`);
    await rename(tmp, join(this.root, 'LATEST'));
    log.info({ version }, 'model version promoted to latest');
  }

  /** The latest version's name, or undefined when nothing was promoted yet. */
  async latest(): Promise<string | undefined> {
    try {
      const v = (await readFile(join(this.root, 'LATEST'), 'utf8')).trim();
      return v.length > 0 ? v : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new RegistryError(`cannot read ${join(this.root, 'LATEST')}: ${String(e)}`, { cause: e });
    }
  }

  /** All versions, oldest first. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(join(this.root, 'versions'))).filter((v) => VERSION_RE.test(v)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** A version's info. @throws RegistryError for an unknown version. */
  async info(version: string): Promise<VersionInfo> {
    const path = join(this.dir(version), 'version.json');
    try {
      return JSON.parse(await readFile(path, 'utf8')) as VersionInfo;
    } catch (cause) {
      throw new RegistryError(
        `model version ${version} is not in registry ${this.root} (${path}: ${String(cause)})`,
        { cause, version },
      );
    }
  }

  /** The bytes of a version's model.bin (what workers load). */
  async modelBytes(version: string): Promise<Buffer> {
    const path = join(this.dir(version), 'model.bin');
    try {
      return await readFile(path);
    } catch (cause) {
      throw new RegistryError(`cannot read model of version ${version} at ${path}: ${String(cause)}`, {
        cause,
        version,
      });
    }
  }

  /** Loads a version's model (without optimizer state). */
  async load(version: string): Promise<CtrModel> {
    return CtrModel.fromBuffer(await this.modelBytes(version), `${this.root} version ${version}`);
  }

  /** A version's training checkpoint, or undefined when it was published without one. */
  async checkpoint(version: string): Promise<Buffer | undefined> {
    const path = join(this.dir(version), 'checkpoint.bin');
    try {
      await stat(path);
    } catch {
      return undefined;
    }
    return readFile(path);
  }

  /**
   * Calls `onChange(version)` whenever LATEST names a new version (polling
   * every `intervalMs`; fs.watch misses renames on some filesystems). The
   * first call reports the current latest, if any. Errors go to the log.
   * @returns a handle whose close() stops watching.
   */
  watch(onChange: (version: string) => void | Promise<void>, intervalMs = 1000): { close(): void } {
    let last: string | undefined;
    let busy = false;
    let closed = false;
    const tick = async (): Promise<void> => {
      if (busy || closed) return;
      busy = true;
      try {
        const v = await this.latest();
        if (v !== undefined && v !== last) {
          last = v;
          await onChange(v);
        }
      } catch (err) {
        log.warn({ err: String(err), root: this.root }, 'registry watch failed; will retry');
      } finally {
        busy = false;
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), intervalMs);
    timer.unref();
    return {
      close: () => {
        closed = true;
        clearInterval(timer);
      },
    };
  }
}
