/**
 * The in-memory byte store: a sorted map, nothing durable. Used for tests and
 * for small state that is cheaper to restore from its changelog than to keep
 * on disk. It never stores a changelog position, so a restart always
 * restores it fully.
 */
import { StoreClosedError } from './errors.ts';
import { prefixBounds, rangeBounds, type KeyBounds } from './key-bounds.ts';
import { SortedBytesMap } from './sorted-bytes-map.ts';
import type { BytesStore } from './bytes-store.ts';
import type { StateStoreContext } from './state-store.ts';

export class InMemoryKeyValueStore implements BytesStore {
  readonly persistent = false;
  readonly changelogTopic: string | undefined = undefined;
  private readonly map = new SortedBytesMap<Buffer>();
  private open = false;
  private taskId: string | undefined;

  constructor(readonly name: string) {}

  async init(context: StateStoreContext): Promise<void> {
    this.taskId = context.taskId;
    this.open = true;
  }

  private check(operation: string): void {
    if (!this.open) {
      throw new StoreClosedError(`cannot ${operation} store "${this.name}": it is not open`, {
        store: this.name,
        taskId: this.taskId,
      });
    }
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.check('get from');
    return this.map.get(key);
  }

  async getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]> {
    this.check('get from');
    return keys.map((key) => this.map.get(key));
  }

  async put(key: Buffer, value: Buffer | null): Promise<void> {
    this.check('put into');
    if (value === null) this.map.delete(key);
    else this.map.set(key, value);
  }

  async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    this.check('put into');
    for (const [key, value] of entries) {
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
  }

  async delete(key: Buffer): Promise<Buffer | undefined> {
    this.check('delete from');
    const previous = this.map.get(key);
    this.map.delete(key);
    return previous;
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

  async *scan(bounds: KeyBounds): AsyncGenerator<readonly [Buffer, Buffer]> {
    this.check('scan');
    for (const entry of this.map.scan(bounds)) {
      yield entry;
      this.check('scan');
    }
  }

  async approximateNumEntries(): Promise<number> {
    this.check('count');
    return this.map.size;
  }

  async flush(): Promise<void> {
    this.check('flush');
  }

  async commit(_changelogNextOffset: string | undefined): Promise<void> {
    this.check('commit');
  }

  /** Always undefined: an in-memory store starts empty and restores fully. */
  async committedPosition(): Promise<string | undefined> {
    return undefined;
  }

  async restoreBatch(
    records: ReadonlyArray<{ key: Buffer; value: Buffer | null }>,
    _nextOffset: string,
  ): Promise<void> {
    this.check('restore');
    for (const { key, value } of records) {
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
  }

  async wipe(): Promise<void> {
    this.map.clear();
  }

  async close(): Promise<void> {
    this.open = false;
    this.map.clear();
  }

  uncommittedBytes(): number {
    return 0;
  }
}
