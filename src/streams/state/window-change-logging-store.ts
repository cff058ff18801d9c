/**
 * The change-logging layer of window and session stores (Kafka Streams'
 * ChangeLoggingWindowBytesStore): every write is also sent to
 * `<application.id>-<store>-changelog` on the task's partition, keyed by the
 * store key (`key | time | suffix`), so restoring is replaying the writes.
 * Restored records do not pass through here.
 */
import { StoreChangelog } from './change-logging-store.ts';
import type { StateStoreContext } from './state-store.ts';
import type { WindowBytesStore } from './window-store.ts';
import { WrappedWindowBytesStore } from './wrapped-store.ts';

export class ChangeLoggingWindowBytesStore extends WrappedWindowBytesStore {
  private readonly changelog: StoreChangelog;

  constructor(inner: WindowBytesStore) {
    super(inner);
    this.changelog = new StoreChangelog(inner.name);
  }

  override get changelogTopic(): string | undefined {
    return this.changelog.topic;
  }

  override async init(context: StateStoreContext): Promise<void> {
    this.changelog.open(context);
    await this.inner.init(context);
  }

  override async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    const log = this.changelog.logger();
    await this.inner.putAll(entries);
    log(entries);
  }

  override async close(): Promise<void> {
    this.changelog.close();
    await this.inner.close();
  }
}
