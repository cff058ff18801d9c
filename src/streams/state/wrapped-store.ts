/**
 * The base of every store layer that wraps another byte store (Kafka Streams'
 * WrappedStateStore): it delegates everything, so a layer overrides only the
 * operations its one concern touches.
 */
import type { BytesStore } from './bytes-store.ts';
import { prefixBounds, rangeBounds, type KeyBounds } from './key-bounds.ts';
import type { StateStoreContext } from './state-store.ts';

export abstract class WrappedBytesStore implements BytesStore {
  constructor(protected readonly inner: BytesStore) {}

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
  wrapped(): BytesStore {
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
