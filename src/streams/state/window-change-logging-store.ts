/**
 * The change-logging layer of window and session stores (Kafka Streams'
 * ChangeLoggingWindowBytesStore): every write is also sent to
 * `<application.id>-<store>-changelog` on the task's partition, keyed by the
 * store key (`key | time | suffix`), so restoring is replaying the writes.
 * Restored records do not pass through here.
 */
import { changelogTopicFor } from './change-logging-store.ts';
import { StoreClosedError } from './errors.ts';
import type { ChangelogCollector, StateStoreContext } from './state-store.ts';
import type { WindowBytesStore } from './window-store.ts';

export class ChangeLoggingWindowBytesStore implements WindowBytesStore {
  private topic: string | undefined;
  private partition = 0;
  private collector: ChangelogCollector | undefined;
  private timestamp: () => number = Date.now;

  constructor(private readonly inner: WindowBytesStore) {}

  get name(): string {
    return this.inner.name;
  }
  get persistent(): boolean {
    return this.inner.persistent;
  }
  get changelogTopic(): string | undefined {
    return this.topic;
  }
  get retentionMs(): number {
    return this.inner.retentionMs;
  }
  get observedStreamTimeMs(): number {
    return this.inner.observedStreamTimeMs;
  }
  get expiredWrites(): number {
    return this.inner.expiredWrites;
  }

  async init(context: StateStoreContext): Promise<void> {
    this.topic = changelogTopicFor(context.applicationId, this.name);
    this.partition = context.partition;
    this.collector = context.collector;
    this.timestamp = context.currentTimestamp ?? Date.now;
    await this.inner.init(context);
  }

  async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    const collector = this.collector;
    if (collector === undefined)
      throw new StoreClosedError(`cannot write to store "${this.name}": it is not open`, {
        store: this.name,
      });
    await this.inner.putAll(entries);
    const timestamp = this.timestamp();
    for (const [key, value] of entries) collector.send(this.topic!, this.partition, key, value, timestamp);
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
  async close(): Promise<void> {
    this.collector = undefined;
    await this.inner.close();
  }
  uncommittedBytes(): number {
    return this.inner.uncommittedBytes?.() ?? 0;
  }
}
