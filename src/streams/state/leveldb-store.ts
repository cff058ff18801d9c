/**
 * The persistent byte store: one LevelDB database per store per task, at
 * `<taskDir>/<store name>`. It only talks to the database; caching and
 * change-logging are other layers.
 *
 * Writes do not go to LevelDB one by one. They land in an in-memory sorted
 * write buffer (reads merge it over the database: read-your-writes), and
 * `commit(position)` writes the whole buffer AND the changelog position in
 * ONE LevelDB batch. LevelDB applies a batch atomically (one log record), so
 * after a crash the data on disk is exactly the data the stored position
 * covers: restore resumes from that position and never replays onto writes
 * it does not know about (the KIP-892 / KIP-1035 idea; Quix Streams writes
 * data and changelog offset the same way). A crash (close without commit)
 * loses the buffer, which the changelog and the uncommitted input replay.
 *
 * Key space: every data key is prefixed with DATA_PREFIX; store metadata
 * (format version, changelog position) lives under META_PREFIX, below every
 * data key, so scans, which are bounded to the data prefix, never see it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { IllegalStateError } from '../errors.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { StoreClosedError, StoreCorruptedError, StoreIoError, StoreLockedError } from './errors.ts';
import {
  boundsAfter,
  compareBytes,
  isEmptyRange,
  prefixBounds,
  rangeBounds,
  type KeyBounds,
} from './key-bounds.ts';
import { SortedBytesMap } from './sorted-bytes-map.ts';
import type { BytesStore } from './bytes-store.ts';
import type { StateStoreContext } from './state-store.ts';

const META_PREFIX = 0x00;
const DATA_PREFIX = 0x01;
const DATA_START = Buffer.from([DATA_PREFIX]);
const DATA_END = Buffer.from([DATA_PREFIX + 1]);
const FORMAT_KEY = Buffer.from([META_PREFIX, ...Buffer.from('format')]);
const POSITION_KEY = Buffer.from([META_PREFIX, ...Buffer.from('changelog-position')]);
/** Bump when the on-disk layout changes; an unknown format is treated as corrupted (wipe + restore). */
const FORMAT_VERSION = '1';
/** Entries fetched from LevelDB per iterator step. */
const SCAN_BATCH = 256;
/** Below this many bytes on disk (plus the memtable), approximateNumEntries counts exactly. */
const EXACT_COUNT_MAX_BYTES = 8 * 1024 * 1024;
/** Up to this many buffered keys, approximateNumEntries checks each against the database. */
const EXACT_BUFFER_CHECK_MAX = 10_000;
const OFFSET_PATTERN = /^\d+$/;

type Db = Level<Buffer, Buffer>;
/** classic-level's approximateSize, which level's typings leave out. */
type SizedDb = { approximateSize(start: Buffer, end: Buffer): Promise<number> };
/** The part of a LevelDB iterator the scans use, typed for buffer keys and values. */
type DbIterator = { nextv(size: number): Promise<Array<[Buffer, Buffer]>>; close(): Promise<void> };
type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

function dataKey(key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(key.length + 1);
  out[0] = DATA_PREFIX;
  key.copy(out, 1);
  return out;
}

function dbRange(bounds: KeyBounds): { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } {
  const range: { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer } = {};
  if (bounds.gt !== undefined) range.gt = dataKey(bounds.gt);
  else range.gte = bounds.gte !== undefined ? dataKey(bounds.gte) : DATA_START;
  if (bounds.lt !== undefined) range.lt = dataKey(bounds.lt);
  else if (bounds.lte !== undefined) range.lte = dataKey(bounds.lte);
  else range.lt = DATA_END;
  return range;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function causeCode(err: unknown): string | undefined {
  return errorCode((err as { cause?: unknown } | undefined)?.cause);
}

/** Options of the LevelDB store; the defaults suit most stores. */
export interface LevelDbStoreOptions {
  /** LevelDB memtable size in bytes (default 4 MiB, LevelDB's own default). */
  writeBufferSize?: number;
  /** LevelDB block cache size in bytes (default 8 MiB). */
  cacheSize?: number;
  /** Snappy-compress blocks (default true). */
  compression?: boolean;
  /**
   * Most files LevelDB keeps open (default 1000, LevelDB's). Lower it when an instance holds many
   * stores and the process's file descriptor limit is tight: each store may use up to this many.
   */
  maxOpenFiles?: number;
  /** Size of an SST file before LevelDB starts a new one, in bytes (default 2 MiB). */
  maxFileSize?: number;
}

export class LevelDbKeyValueStore implements BytesStore {
  readonly persistent = true;
  readonly changelogTopic: string | undefined = undefined;
  private db: Db | undefined;
  private location: string | undefined;
  private taskId: string | undefined;
  /** Uncommitted writes; `null` is a buffered delete. */
  private buffer = new SortedBytesMap<Buffer | null>();
  private bufferBytes = 0;
  private position: string | undefined;
  /**
   * Bumped whenever data moves into or out of LevelDB (commit, restore, wipe):
   * an open scan then re-seeks, because its LevelDB snapshot no longer shows
   * entries that just left the write buffer.
   */
  private generation = 0;
  private commitChain: Promise<void> = Promise.resolve();
  private commitsInFlight = 0;
  private readonly log = createLogger('state');

  constructor(
    readonly name: string,
    private readonly options: LevelDbStoreOptions = {},
  ) {}

  /** The database directory (known after `init`). */
  get path(): string | undefined {
    return this.location;
  }

  async init(context: StateStoreContext): Promise<void> {
    if (this.db !== undefined) {
      throw new IllegalStateError(`store "${this.name}" of task ${context.taskId} is already open`, {
        store: this.name,
        taskId: context.taskId,
      });
    }
    this.taskId = context.taskId;
    this.location = join(context.taskDir, this.name);
    await this.openDb();
  }

  private async openDb(): Promise<void> {
    const location = this.location!;
    try {
      await mkdir(location, { recursive: true });
    } catch (err) {
      throw new StoreIoError(
        `cannot create the directory of store "${this.name}" at ${location}: ${String(err)}`,
        location,
        {
          cause: err,
          store: this.name,
          taskId: this.taskId,
        },
      );
    }
    const db: Db = new Level<Buffer, Buffer>(location, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing: true,
      writeBufferSize: this.options.writeBufferSize ?? 4 * 1024 * 1024,
      cacheSize: this.options.cacheSize ?? 8 * 1024 * 1024,
      compression: this.options.compression ?? true,
      ...(this.options.maxOpenFiles !== undefined ? { maxOpenFiles: this.options.maxOpenFiles } : {}),
      ...(this.options.maxFileSize !== undefined ? { maxFileSize: this.options.maxFileSize } : {}),
    } as ConstructorParameters<typeof Level<Buffer, Buffer>>[1]);
    try {
      await db.open();
    } catch (err) {
      const code = causeCode(err) ?? errorCode(err);
      const detail = (err as { cause?: { message?: string } }).cause?.message ?? String(err);
      if (code === 'LEVEL_LOCKED') {
        throw new StoreLockedError(
          `cannot open store "${this.name}" at ${location}: locked by another process or store (${detail})`,
          location,
          {
            cause: err,
            store: this.name,
            taskId: this.taskId,
          },
        );
      }
      // any other failure to open means the files cannot be used as they are: wipe and restore
      throw new StoreCorruptedError(`cannot open store "${this.name}" at ${location}: ${detail}`, location, {
        cause: err,
        store: this.name,
        taskId: this.taskId,
      });
    }
    try {
      const format = await db.get(FORMAT_KEY);
      if (format === undefined) {
        await db.put(FORMAT_KEY, Buffer.from(FORMAT_VERSION));
      } else if (format.toString() !== FORMAT_VERSION) {
        throw new StoreCorruptedError(
          `cannot open store "${this.name}" at ${location}: unknown on-disk format "${format.toString()}" (expected ${FORMAT_VERSION})`,
          location,
          { store: this.name, taskId: this.taskId },
        );
      }
      this.position = this.parsePosition(await db.get(POSITION_KEY));
    } catch (err) {
      await db.close().catch(() => undefined);
      throw this.translate(err, 'open');
    }
    this.db = db;
    this.buffer.clear();
    this.bufferBytes = 0;
    this.generation++;
  }

  private parsePosition(raw: Buffer | undefined): string | undefined {
    if (raw === undefined) return undefined;
    const text = raw.toString();
    if (!OFFSET_PATTERN.test(text)) {
      throw new StoreCorruptedError(
        `cannot read the changelog position of store "${this.name}" at ${this.location}: "${text}" is not an offset`,
        this.location!,
        { store: this.name, taskId: this.taskId },
      );
    }
    return text;
  }

  /** Maps a LevelDB error to the store's typed errors, naming the store and path. */
  private translate(err: unknown, operation: string): Error {
    if (err instanceof StoreCorruptedError || err instanceof StoreClosedError || err instanceof StoreIoError)
      return err;
    const code = errorCode(err);
    const cause = causeCode(err);
    const context = { cause: err, store: this.name, taskId: this.taskId };
    const detail = err instanceof Error ? err.message : String(err);
    if (code === 'LEVEL_CORRUPTION' || cause === 'LEVEL_CORRUPTION') {
      return new StoreCorruptedError(
        `cannot ${operation} store "${this.name}" at ${this.location}: ${detail}`,
        this.location!,
        context,
      );
    }
    if (code === 'LEVEL_DATABASE_NOT_OPEN' || code === 'LEVEL_ITERATOR_NOT_OPEN') {
      return new StoreClosedError(`cannot ${operation} store "${this.name}": it is not open`, context);
    }
    return new StoreIoError(
      `cannot ${operation} store "${this.name}" at ${this.location}: ${detail}`,
      this.location,
      context,
    );
  }

  private open(operation: string): Db {
    if (this.db === undefined) {
      throw new StoreClosedError(`cannot ${operation} store "${this.name}": it is not open`, {
        store: this.name,
        taskId: this.taskId,
      });
    }
    return this.db;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    const db = this.open('get from');
    const buffered = this.buffer.get(key);
    // null is a buffered delete
    if (buffered !== undefined) return buffered ?? undefined;
    try {
      return await db.get(dataKey(key));
    } catch (err) {
      throw this.translate(err, 'get from');
    }
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    const db = this.open('get from');
    const out: (Buffer | undefined)[] = new Array(keys.length);
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const buffered = this.buffer.get(keys[i]!);
      if (buffered !== undefined) out[i] = buffered ?? undefined;
      else missing.push(i);
    }
    if (missing.length > 0) {
      let found: (Buffer | undefined)[];
      try {
        found = await db.getMany(missing.map((i) => dataKey(keys[i]!)));
      } catch (err) {
        throw this.translate(err, 'get from');
      }
      for (let j = 0; j < missing.length; j++) out[missing[j]!] = found[j] ?? undefined;
    }
    return out;
  }

  private bufferWrite(key: Buffer, value: Buffer | null): void {
    const previous = this.buffer.set(key, value);
    if (previous === undefined) this.bufferBytes += key.length + (value?.length ?? 0);
    else this.bufferBytes += (value?.length ?? 0) - (previous?.length ?? 0);
  }

  // put/putAll stay synchronous up to the buffer write: the layers above rely
  // on a write being visible as soon as the call returns its promise.
  async put(key: Buffer, value: Buffer | null): Promise<void> {
    this.open('put into');
    this.bufferWrite(key, value);
  }

  async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    this.open('put into');
    for (const [key, value] of entries) this.bufferWrite(key, value);
  }

  async delete(key: Buffer): Promise<Buffer | undefined> {
    this.open('delete from');
    // buffer the delete before awaiting the read, so that the write order of callers holds
    const buffered = this.buffer.get(key);
    this.bufferWrite(key, null);
    if (buffered !== undefined) return buffered ?? undefined;
    try {
      return await this.db!.get(dataKey(key));
    } catch (err) {
      throw this.translate(err, 'delete from');
    }
  }

  range(from: Buffer | undefined, to: Buffer | undefined): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.scan(rangeBounds(from, to));
  }

  prefixScan(prefix: Buffer): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.scan(prefixBounds(prefix));
  }

  all(): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.scan({});
  }

  /**
   * Merges the write buffer over LevelDB, in key order. Weakly consistent:
   * writes made during the scan show up when their key is still ahead.
   */
  async *scan(bounds: KeyBounds): AsyncGenerator<readonly [Buffer, Buffer]> {
    this.open('scan');
    if (isEmptyRange(bounds)) return;
    let last: Buffer | undefined;
    let generation = -1;
    let iterator: DbIterator | undefined;
    let dbBatch: Array<[Buffer, Buffer]> = [];
    let dbPos = 0;
    let dbDone = false;
    let bufBatch: Array<[Buffer, Buffer | null]> = [];
    let bufPos = 0;
    let bufDone = false;
    let bufLast: Buffer | undefined;
    try {
      for (;;) {
        const db = this.open('scan');
        if (generation !== this.generation) {
          // (re)seek both sources just after the last key returned
          if (iterator !== undefined) await iterator.close().catch(() => undefined);
          generation = this.generation;
          iterator = db.iterator(dbRange(boundsAfter(bounds, last))) as unknown as DbIterator;
          dbBatch = [];
          dbPos = 0;
          dbDone = false;
          bufBatch = [];
          bufPos = 0;
          bufDone = false;
          bufLast = last;
        }
        if (dbPos === dbBatch.length && !dbDone) {
          try {
            dbBatch = await iterator!.nextv(SCAN_BATCH);
          } catch (err) {
            throw this.translate(err, 'scan');
          }
          dbPos = 0;
          if (dbBatch.length === 0) dbDone = true;
          if (generation !== this.generation) continue;
        }
        if (bufPos === bufBatch.length && !bufDone) {
          bufBatch = this.buffer.collect(boundsAfter(bounds, bufLast), SCAN_BATCH);
          bufPos = 0;
          if (bufBatch.length < SCAN_BATCH) bufDone = true;
          if (bufBatch.length > 0) bufLast = bufBatch[bufBatch.length - 1]![0];
        }
        const dbHead = dbPos < dbBatch.length ? dbBatch[dbPos]! : undefined;
        const bufHead = bufPos < bufBatch.length ? bufBatch[bufPos]! : undefined;
        if (dbHead === undefined && bufHead === undefined) return;
        const dbKey = dbHead?.[0].subarray(1);
        let key: Buffer;
        let value: Buffer | null;
        if (bufHead !== undefined && (dbKey === undefined || compareBytes(bufHead[0], dbKey) <= 0)) {
          // the buffer is newer than the database: on equal keys it wins
          if (dbKey !== undefined && compareBytes(bufHead[0], dbKey) === 0) dbPos++;
          bufPos++;
          [key, value] = bufHead;
        } else {
          dbPos++;
          key = dbKey!;
          value = dbHead![1];
        }
        if (last !== undefined && compareBytes(key, last) <= 0) continue;
        last = key;
        if (value !== null) yield [key, value] as const;
      }
    } finally {
      if (iterator !== undefined) await iterator.close().catch(() => undefined);
    }
  }

  async approximateNumEntries(): Promise<number> {
    const db = this.open('count');
    let onDisk: number;
    try {
      const bytes = await (db as unknown as SizedDb).approximateSize(DATA_START, DATA_END);
      if (bytes <= EXACT_COUNT_MAX_BYTES) {
        // small enough (LevelDB's size estimate ignores the memtable, which is bounded too): count exactly
        onDisk = 0;
        const keys = db.keys({ gte: DATA_START, lt: DATA_END });
        try {
          for (;;) {
            const batch = await keys.nextv(1024);
            if (batch.length === 0) break;
            onDisk += batch.length;
          }
        } finally {
          await keys.close();
        }
      } else {
        // estimate from the on-disk size and the mean size of a sample of entries
        const sample = (await db
          .iterator({ gte: DATA_START, lt: DATA_END, limit: 1000 })
          .all()) as unknown as Array<[Buffer, Buffer]>;
        const mean =
          sample.reduce((sum, [k, v]) => sum + k.length + v.length, 0) / Math.max(1, sample.length);
        onDisk = Math.round(bytes / Math.max(1, mean));
      }
    } catch (err) {
      throw this.translate(err, 'count');
    }
    let delta = 0;
    if (this.buffer.size <= EXACT_BUFFER_CHECK_MAX) {
      const entries = [...this.buffer.entries()];
      const existing = await db.getMany(entries.map(([k]) => dataKey(k)));
      entries.forEach(([, value], i) => {
        const exists = existing[i] !== undefined;
        if (value === null && exists) delta--;
        else if (value !== null && !exists) delta++;
      });
    } else {
      for (const [, value] of this.buffer.entries()) delta += value === null ? -1 : 1;
    }
    return Math.max(0, onDisk + delta);
  }

  /** Nothing to do: the layers above flush into this store's buffer; durability comes with commit. */
  async flush(): Promise<void> {
    this.open('flush');
  }

  async commit(changelogNextOffset: string | undefined): Promise<void> {
    // one commit at a time: a second caller waits for the first batch to land. Without
    // one in flight, commitNow starts now, so the batch holds exactly the writes made
    // before this call (not those made while awaiting).
    const run =
      this.commitsInFlight === 0
        ? this.commitNow(changelogNextOffset)
        : this.commitChain.then(() => this.commitNow(changelogNextOffset));
    this.commitsInFlight++;
    const settled = run.then(
      () => void this.commitsInFlight--,
      () => void this.commitsInFlight--,
    );
    this.commitChain = settled;
    return run;
  }

  private async commitNow(changelogNextOffset: string | undefined): Promise<void> {
    const db = this.open('commit');
    if (changelogNextOffset !== undefined && !OFFSET_PATTERN.test(changelogNextOffset)) {
      throw new IllegalStateError(
        `cannot commit store "${this.name}" at position "${changelogNextOffset}": not an offset`,
        {
          store: this.name,
          taskId: this.taskId,
        },
      );
    }
    const entries = [...this.buffer.entries()];
    const positionChanged = changelogNextOffset !== undefined && changelogNextOffset !== this.position;
    if (entries.length === 0 && !positionChanged) return;
    const ops: BatchOp[] = entries.map(([key, value]) =>
      value === null ? { type: 'del', key: dataKey(key) } : { type: 'put', key: dataKey(key), value },
    );
    if (positionChanged)
      ops.push({ type: 'put', key: POSITION_KEY, value: Buffer.from(changelogNextOffset) });
    try {
      await db.batch(ops);
    } catch (err) {
      throw this.translate(err, 'commit');
    }
    // writes that arrived while the batch was in flight stay buffered for the next commit
    for (const [key, value] of entries) {
      if (this.buffer.get(key) === value && this.buffer.delete(key))
        this.bufferBytes -= key.length + (value?.length ?? 0);
    }
    if (positionChanged) this.position = changelogNextOffset;
    this.generation++;
  }

  async committedPosition(): Promise<string | undefined> {
    this.open('read the position of');
    return this.position;
  }

  async restoreBatch(
    records: ReadonlyArray<{ key: Buffer; value: Buffer | null }>,
    nextOffset: string,
  ): Promise<void> {
    const db = this.open('restore');
    if (!OFFSET_PATTERN.test(nextOffset)) {
      throw new IllegalStateError(
        `cannot restore store "${this.name}" up to "${nextOffset}": not an offset`,
        {
          store: this.name,
          taskId: this.taskId,
        },
      );
    }
    if (this.buffer.size > 0) {
      // restored records would land under buffered writes they should precede
      throw new IllegalStateError(
        `cannot restore store "${this.name}" of task ${this.taskId}: it holds ${this.buffer.size} uncommitted writes`,
        { store: this.name, taskId: this.taskId },
      );
    }
    const ops: BatchOp[] = records.map(({ key, value }) =>
      value === null ? { type: 'del', key: dataKey(key) } : { type: 'put', key: dataKey(key), value },
    );
    ops.push({ type: 'put', key: POSITION_KEY, value: Buffer.from(nextOffset) });
    try {
      await db.batch(ops);
    } catch (err) {
      throw this.translate(err, 'restore');
    }
    this.position = nextOffset;
    this.generation++;
  }

  /** Closes the database, deletes its directory and opens it again empty (works on a store whose init failed). */
  async wipe(): Promise<void> {
    if (this.location === undefined) {
      throw new StoreClosedError(`cannot wipe store "${this.name}": it was never initialised`, {
        store: this.name,
      });
    }
    await this.closeDb();
    this.log.info({ store: this.name, taskId: this.taskId, path: this.location }, 'wiping store');
    try {
      await rm(this.location, { recursive: true, force: true });
    } catch (err) {
      throw new StoreIoError(
        `cannot wipe store "${this.name}" at ${this.location}: ${String(err)}`,
        this.location,
        {
          cause: err,
          store: this.name,
          taskId: this.taskId,
        },
      );
    }
    this.position = undefined;
    await this.openDb();
  }

  /** Closes without committing: buffered writes are dropped (commit first for a clean close). */
  async close(): Promise<void> {
    await this.commitChain;
    await this.closeDb();
  }

  private async closeDb(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.buffer.clear();
    this.bufferBytes = 0;
    this.generation++;
    if (db !== undefined) {
      try {
        await db.close();
      } catch (err) {
        throw this.translate(err, 'close');
      }
    }
  }

  uncommittedBytes(): number {
    return this.bufferBytes;
  }

  /** Number of uncommitted (buffered) writes. */
  uncommittedCount(): number {
    return this.buffer.size;
  }
}
