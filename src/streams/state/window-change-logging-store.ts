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
import { WrappedWindowBytesStore } from './wrapped-store.ts';

export class ChangeLoggingWindowBytesStore extends WrappedWindowBytesStore {
  private topic: string | undefined;
  private partition = 0;
  private collector: ChangelogCollector | undefined;
  private timestamp: () => number = Date.now;

  override get changelogTopic(): string | undefined {
    return this.topic;
  }

  override async init(context: StateStoreContext): Promise<void> {
    this.topic = changelogTopicFor(context.applicationId, this.name);
    this.partition = context.partition;
    this.collector = context.collector;
    this.timestamp = context.currentTimestamp ?? Date.now;
    await this.inner.init(context);
  }

  override async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    const collector = this.collector;
    if (collector === undefined)
      throw new StoreClosedError(`cannot write to store "${this.name}": it is not open`, {
        store: this.name,
      });
    await this.inner.putAll(entries);
    const timestamp = this.timestamp();
    for (const [key, value] of entries) collector.send(this.topic!, this.partition, key, value, timestamp);
  }

  override async close(): Promise<void> {
    this.collector = undefined;
    await this.inner.close();
  }
}
