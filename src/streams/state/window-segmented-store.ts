/**
 * The persistent layer of window and session stores: entries live in
 * time segments (Kafka Streams' segmented bytes store). Segment `s` holds
 * entries with time in [s * interval, (s + 1) * interval) and is its own
 * byte store: a LevelDB database at `<taskDir>/<store>/<store>.<segment start>`
 * (or an in-memory map). Retention is then cheap: when stream time moves past
 * a segment's end + retention, the whole segment is closed and its directory
 * deleted, instead of deleting its entries one by one.
 *
 * Inside a segment each entry is written key-first (with the value) and
 * time-first (an index), see window-key-schema.ts, so a time range of one key
 * and a key range of one window are each one ordered scan per segment.
 *
 * Durability: every segment is a LevelDB store that writes its data and the
 * changelog position in one batch; a small meta store keeps the position too
 * (so a store with no live segment still knows it) and the observed stream
 * time. The store's position is the SMALLEST position of its parts: a crash
 * between two parts' commits replays a little more of the changelog, and
 * replaying is idempotent (a store key is written with the same value again).
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../telemetry/logger.ts';
import type { BytesStore } from './bytes-store.ts';
import { StoreClosedError, StoreIoError } from './errors.ts';
import { InMemoryKeyValueStore } from './in-memory-store.ts';
import { LevelDbKeyValueStore, type LevelDbStoreOptions } from './leveldb-store.ts';
import type { StateStoreContext } from './state-store.ts';
import {
  indexBounds,
  indexKeyOf,
  primaryBounds,
  primaryKeyOf,
  readTime,
  splitStoreKey,
  storeKeyOfIndex,
  TIME_BYTES,
} from './window-key-schema.ts';
import type { WindowBytesStore } from './window-store.ts';

const STREAM_TIME_KEY = Buffer.from('stream-time');
const EMPTY = Buffer.alloc(0);
/** Store keys fetched per getMany when a time-first scan resolves its values. */
const INDEX_BATCH = 256;
const MIN_SEGMENT_INTERVAL_MS = 60_000;

export interface SegmentedStoreOptions {
  /** Entries older than observed stream time - retention are dropped, ms > 0. */
  retentionMs: number;
  /** Length of a segment in ms; default max(retention / 2, 60 s) (Kafka Streams: retention / (segments - 1)). */
  segmentIntervalMs?: number;
  /** LevelDB segments (true) or in-memory ones. */
  persistent: boolean;
  /** Bytes after the time in a store key: 4 (window sequence number) or 8 (session start). */
  suffixBytes: number;
  leveldb?: LevelDbStoreOptions;
}

/** The default segment interval for a retention. */
export function defaultSegmentInterval(retentionMs: number): number {
  return Math.max(Math.ceil(retentionMs / 2), MIN_SEGMENT_INTERVAL_MS);
}

function minOffset(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return BigInt(a) <= BigInt(b) ? a : b;
}

export class SegmentedWindowBytesStore implements WindowBytesStore {
  readonly changelogTopic: string | undefined = undefined;
  readonly retentionMs: number;
  readonly segmentIntervalMs: number;
  private readonly segments = new Map<number, BytesStore>();
  /** Segment ids, ascending. */
  private segmentIds: number[] = [];
  private meta: BytesStore | undefined;
  private context: StateStoreContext | undefined;
  private dir: string | undefined;
  private observed = -1;
  private expired = 0;
  private readonly log = createLogger('state');

  constructor(
    readonly name: string,
    private readonly options: SegmentedStoreOptions,
  ) {
    if (!(options.retentionMs > 0))
      throw new RangeError(`store "${name}" needs a retention > 0 ms, got ${options.retentionMs}`);
    this.retentionMs = options.retentionMs;
    this.segmentIntervalMs = options.segmentIntervalMs ?? defaultSegmentInterval(options.retentionMs);
  }

  get persistent(): boolean {
    return this.options.persistent;
  }

  get observedStreamTimeMs(): number {
    return this.observed;
  }

  get expiredWrites(): number {
    return this.expired;
  }

  /** Ids of the live segments, ascending (for tests and metrics). */
  liveSegments(): readonly number[] {
    return this.segmentIds;
  }

  async init(context: StateStoreContext): Promise<void> {
    this.context = context;
    this.dir = join(context.taskDir, this.name);
    await this.openParts();
  }

  private segmentContext(): StateStoreContext {
    return { ...this.context!, taskDir: this.dir! };
  }

  private async openParts(): Promise<void> {
    this.observed = -1;
    if (!this.options.persistent) return;
    try {
      await mkdir(this.dir!, { recursive: true });
    } catch (err) {
      throw new StoreIoError(
        `cannot create the directory of store "${this.name}" at ${this.dir}: ${String(err)}`,
        this.dir,
        {
          cause: err,
          store: this.name,
        },
      );
    }
    const meta = new LevelDbKeyValueStore(`${this.name}.meta`, this.options.leveldb);
    await meta.init(this.segmentContext());
    this.meta = meta;
    const time = await meta.get(STREAM_TIME_KEY);
    if (time !== undefined && time.length === TIME_BYTES) this.observed = readTime(time, 0);
    const prefix = `${this.name}.`;
    for (const entry of await readdir(this.dir!)) {
      if (!entry.startsWith(prefix)) continue;
      const start = entry.slice(prefix.length);
      if (!/^\d+$/.test(start)) continue;
      await this.openSegment(Math.floor(Number(start) / this.segmentIntervalMs));
    }
  }

  private segmentName(id: number): string {
    return `${this.name}.${id * this.segmentIntervalMs}`;
  }

  private async openSegment(id: number): Promise<BytesStore> {
    const segment: BytesStore = this.options.persistent
      ? new LevelDbKeyValueStore(this.segmentName(id), this.options.leveldb)
      : new InMemoryKeyValueStore(this.segmentName(id));
    await segment.init(this.segmentContext());
    this.segments.set(id, segment);
    this.segmentIds = [...this.segments.keys()].sort((a, b) => a - b);
    return segment;
  }

  private segmentId(time: number): number {
    return Math.floor(time / this.segmentIntervalMs);
  }

  /** The smallest time still retained. */
  private minLiveTime(): number {
    return this.observed - this.retentionMs + 1;
  }

  private check(operation: string): void {
    if (this.context === undefined)
      throw new StoreClosedError(`cannot ${operation} store "${this.name}": it is not open`, {
        store: this.name,
      });
  }

  /** Groups entries per live segment (creating segments), dropping expired ones; advances stream time. */
  private async route(
    entries: ReadonlyArray<readonly [Buffer, Buffer | null]>,
  ): Promise<Map<BytesStore, Array<readonly [Buffer, Buffer | null]>>> {
    const out = new Map<BytesStore, Array<readonly [Buffer, Buffer | null]>>();
    const suffix = this.options.suffixBytes;
    for (const [storeKey, value] of entries) {
      const time = splitStoreKey(storeKey, suffix).time;
      if (time > this.observed) this.observed = time;
      if (time < this.minLiveTime()) {
        this.expired++;
        continue;
      }
      const id = this.segmentId(time);
      const segment = this.segments.get(id) ?? (await this.openSegment(id));
      let list = out.get(segment);
      if (list === undefined) out.set(segment, (list = []));
      const primary = primaryKeyOf(storeKey);
      const index = indexKeyOf(storeKey, suffix);
      list.push([primary, value], [index, value === null ? null : EMPTY]);
    }
    return out;
  }

  /** Closes and deletes the segments that ended before the retained time. */
  private async dropExpiredSegments(): Promise<void> {
    const minLive = this.minLiveTime();
    for (const id of this.segmentIds) {
      if ((id + 1) * this.segmentIntervalMs > minLive) break;
      const segment = this.segments.get(id)!;
      this.segments.delete(id);
      await segment.close();
      if (this.options.persistent)
        await rm(join(this.dir!, this.segmentName(id)), { recursive: true, force: true });
      this.log.debug({ store: this.name, segment: this.segmentName(id) }, 'dropped expired segment');
    }
    this.segmentIds = [...this.segments.keys()].sort((a, b) => a - b);
  }

  async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    this.check('put into');
    const routed = await this.route(entries);
    for (const [segment, list] of routed) await segment.putAll(list);
    await this.dropExpiredSegments();
  }

  async getMany(storeKeys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    this.check('get from');
    const out: (Buffer | undefined)[] = new Array(storeKeys.length).fill(undefined);
    const bySegment = new Map<BytesStore, number[]>();
    for (let i = 0; i < storeKeys.length; i++) {
      const segment = this.segments.get(
        this.segmentId(splitStoreKey(storeKeys[i]!, this.options.suffixBytes).time),
      );
      if (segment === undefined) continue;
      let list = bySegment.get(segment);
      if (list === undefined) bySegment.set(segment, (list = []));
      list.push(i);
    }
    for (const [segment, indexes] of bySegment) {
      const values = await segment.getMany(indexes.map((i) => primaryKeyOf(storeKeys[i]!)));
      for (let j = 0; j < indexes.length; j++) out[indexes[j]!] = values[j];
    }
    return out;
  }

  private segmentsIn(fromMs: number, toMs: number): number[] {
    const first = this.segmentId(Math.max(0, fromMs));
    const last = this.segmentId(Math.max(0, toMs));
    return this.segmentIds.filter((id) => id >= first && id <= last);
  }

  async *fetchKey(key: Buffer, fromMs: number, toMs: number): AsyncGenerator<readonly [Buffer, Buffer]> {
    this.check('fetch from');
    if (toMs < fromMs) return;
    const suffix = this.options.suffixBytes;
    const expectedLength = 1 + key.length + TIME_BYTES + suffix;
    const bounds = primaryBounds(key, Math.max(0, fromMs), toMs, suffix);
    for (const id of this.segmentsIn(fromMs, toMs)) {
      const segment = this.segments.get(id);
      if (segment === undefined) continue;
      for await (const [k, v] of segment.scan(bounds)) {
        // a longer key that starts with `key` can sort inside the bounds: drop it
        if (k.length !== expectedLength || key.compare(k, 1, 1 + key.length) !== 0) continue;
        yield [k.subarray(1), v];
      }
    }
  }

  async *fetchTimeRange(
    fromMs: number,
    toMs: number,
    keyFrom: Buffer | undefined,
    keyTo: Buffer | undefined,
  ): AsyncGenerator<readonly [Buffer, Buffer]> {
    this.check('fetch from');
    if (toMs < fromMs) return;
    const suffix = this.options.suffixBytes;
    const bounds = indexBounds(Math.max(0, fromMs), toMs, keyFrom, keyTo);
    for (const id of this.segmentsIn(fromMs, toMs)) {
      const segment = this.segments.get(id);
      if (segment === undefined) continue;
      let pending: Buffer[] = [];
      const resolve = async function* (keys: Buffer[]): AsyncGenerator<readonly [Buffer, Buffer]> {
        const values = await segment.getMany(keys.map(primaryKeyOf));
        for (let i = 0; i < keys.length; i++) if (values[i] !== undefined) yield [keys[i]!, values[i]!];
      };
      for await (const [indexKey] of segment.scan(bounds)) {
        const storeKey = storeKeyOfIndex(indexKey, suffix);
        const keyEnd = storeKey.length - TIME_BYTES - suffix;
        if (keyFrom !== undefined && Buffer.compare(storeKey.subarray(0, keyEnd), keyFrom) < 0) continue;
        if (keyTo !== undefined && Buffer.compare(storeKey.subarray(0, keyEnd), keyTo) > 0) continue;
        pending.push(storeKey);
        if (pending.length >= INDEX_BATCH) {
          yield* resolve(pending);
          pending = [];
        }
      }
      if (pending.length > 0) yield* resolve(pending);
    }
  }

  async approximateNumEntries(): Promise<number> {
    let n = 0;
    for (const segment of this.segments.values()) n += await segment.approximateNumEntries();
    // every entry is written twice (key-first and time-first)
    return Math.round(n / 2);
  }

  async flush(): Promise<void> {
    for (const segment of this.segments.values()) await segment.flush();
  }

  async commit(changelogNextOffset: string | undefined): Promise<void> {
    for (const segment of this.segments.values()) await segment.commit(changelogNextOffset);
    if (this.meta !== undefined) {
      if (this.observed >= 0) {
        const time = Buffer.allocUnsafe(TIME_BYTES);
        time.writeUInt32BE(Math.floor(this.observed / 2 ** 32), 0);
        time.writeUInt32BE(this.observed >>> 0, 4);
        await this.meta.put(STREAM_TIME_KEY, time);
      }
      await this.meta.commit(changelogNextOffset);
    }
  }

  async committedPosition(): Promise<string | undefined> {
    if (this.meta === undefined) return undefined;
    const metaPosition = await this.meta.committedPosition();
    if (metaPosition === undefined) return undefined;
    let position: string | undefined = metaPosition;
    for (const segment of this.segments.values())
      position = minOffset(position, await segment.committedPosition());
    return position;
  }

  async restoreBatch(
    records: ReadonlyArray<{ key: Buffer; value: Buffer | null }>,
    nextOffset: string,
  ): Promise<void> {
    this.check('restore');
    const routed = await this.route(records.map((r) => [r.key, r.value] as const));
    for (const [segment, list] of routed) {
      await segment.restoreBatch(
        list.map(([key, value]) => ({ key, value })),
        nextOffset,
      );
    }
    // segments this batch did not touch are also up to date at nextOffset (a position-only write):
    // else the smallest position would lag and the next restore replay more than it must
    for (const segment of this.segments.values())
      if (!routed.has(segment)) await segment.restoreBatch([], nextOffset);
    if (this.meta !== undefined) {
      const time = Buffer.allocUnsafe(TIME_BYTES);
      time.writeUInt32BE(Math.floor(Math.max(0, this.observed) / 2 ** 32), 0);
      time.writeUInt32BE(Math.max(0, this.observed) >>> 0, 4);
      await this.meta.restoreBatch(
        this.observed >= 0 ? [{ key: STREAM_TIME_KEY, value: time }] : [],
        nextOffset,
      );
    }
    await this.dropExpiredSegments();
  }

  async wipe(): Promise<void> {
    if (this.context === undefined)
      throw new StoreClosedError(`cannot wipe store "${this.name}": it was never initialised`, {
        store: this.name,
      });
    await this.closeParts();
    if (this.options.persistent) await rm(this.dir!, { recursive: true, force: true });
    await this.openParts();
  }

  async close(): Promise<void> {
    await this.closeParts();
    this.context = undefined;
  }

  private async closeParts(): Promise<void> {
    const errors: unknown[] = [];
    for (const segment of this.segments.values()) await segment.close().catch((e: unknown) => errors.push(e));
    this.segments.clear();
    this.segmentIds = [];
    await this.meta?.close().catch((e: unknown) => errors.push(e));
    this.meta = undefined;
    if (errors.length > 0) throw errors[0];
  }

  uncommittedBytes(): number {
    let n = 0;
    for (const segment of this.segments.values()) n += segment.uncommittedBytes?.() ?? 0;
    return n;
  }
}
