/**
 * The bases of every store layer that wraps another store (Kafka Streams'
 * WrappedStateStore): they delegate everything, so a layer overrides only the
 * operations its one concern touches.
 *
 * `WrappedStateStore` delegates the lifecycle every layer shares;
 * `WrappedBytesStore` adds the key-value byte operations and
 * `WrappedWindowBytesStore` the window byte operations. Typed faces
 * (typed-store-layer.ts) extend `WrappedStateStore` directly: their data
 * operations take keys and values, not bytes, so they write their own.
 */
import type { BytesStore } from './bytes-store.ts';
import { prefixBounds, rangeBounds, type KeyBounds } from './key-bounds.ts';
import type { StateStore, StateStoreContext } from './state-store.ts';
import type { WindowBytesStore } from './window-store.ts';

export abstract class WrappedStateStore<S extends StateStore> implements StateStore {
  constructor(protected readonly inner: S) {}

  get name(): string {
    return this.inner.name;
  }

  get persistent(): boolean {
    return this.inner.persistent;
  }

  get changelogTopic(): string | undefined {
    return this.inner.changelogTopic;
  }

  /** The wrapped store (the next layer down). */
  wrapped(): S {
    return this.inner;
  }

  init(context: StateStoreContext): Promise<void> {
    return this.inner.init(context);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  commit(changelogNextOffset: string | undefined): Promise<void> {
    return this.inner.commit(changelogNextOffset);
  }

  committedPosition(): Promise<string | undefined> {
    return this.inner.committedPosition();
  }

  restoreBatch(
    records: ReadonlyArray<{ key: Buffer; value: Buffer | null }>,
    nextOffset: string,
  ): Promise<void> {
    return this.inner.restoreBatch(records, nextOffset);
  }

  wipe(): Promise<void> {
    return this.inner.wipe();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  uncommittedBytes(): number {
    return this.inner.uncommittedBytes?.() ?? 0;
  }
}

export abstract class WrappedBytesStore extends WrappedStateStore<BytesStore> implements BytesStore {
  get(key: Buffer): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }

  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    return this.inner.getMany(keys);
  }

  put(key: Buffer, value: Buffer | null): Promise<void> {
    return this.inner.put(key, value);
  }

  putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    return this.inner.putAll(entries);
  }

  delete(key: Buffer): Promise<Buffer | undefined> {
    return this.inner.delete(key);
  }

  scan(bounds: KeyBounds): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.inner.scan(bounds);
  }

  // range, prefixScan and all go through scan, so a layer that changes scans overrides only scan

  range(from: Buffer | undefined, to: Buffer | undefined): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.scan(rangeBounds(from, to));
  }

  prefixScan(prefix: Buffer): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.scan(prefixBounds(prefix));
  }

  all(): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.scan({});
  }

  approximateNumEntries(): Promise<number> {
    return this.inner.approximateNumEntries();
  }
}

export abstract class WrappedWindowBytesStore
  extends WrappedStateStore<WindowBytesStore>
  implements WindowBytesStore
{
  get retentionMs(): number {
    return this.inner.retentionMs;
  }

  get observedStreamTimeMs(): number {
    return this.inner.observedStreamTimeMs;
  }

  get expiredWrites(): number {
    return this.inner.expiredWrites;
  }

  putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    return this.inner.putAll(entries);
  }

  getMany(storeKeys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    return this.inner.getMany(storeKeys);
  }

  fetchKey(key: Buffer, fromMs: number, toMs: number): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.inner.fetchKey(key, fromMs, toMs);
  }

  fetchTimeRange(
    fromMs: number,
    toMs: number,
    keyFrom: Buffer | undefined,
    keyTo: Buffer | undefined,
  ): AsyncIterable<readonly [Buffer, Buffer]> {
    return this.inner.fetchTimeRange(fromMs, toMs, keyFrom, keyTo);
  }

  approximateNumEntries(): Promise<number> {
    return this.inner.approximateNumEntries();
  }
}
