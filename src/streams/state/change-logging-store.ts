/**
 * The change-logging layer (Kafka Streams' ChangeLoggingKeyValueBytesStore):
 * every write to the store below is also handed to the task's collector as a
 * record of the compacted topic `<application.id>-<store>-changelog`, on the
 * task's partition; a delete becomes a tombstone. The changelog is what makes
 * state survive the loss of a machine and follow a partition to another one.
 *
 * Restored records do not pass through here (they come from the changelog).
 */
import { StoreClosedError } from './errors.ts';
import type { BytesStore } from './bytes-store.ts';
import type { ChangelogCollector, StateStoreContext } from './state-store.ts';
import { WrappedBytesStore } from './wrapped-store.ts';

/** The changelog topic name of a store (Kafka Streams' convention). */
export function changelogTopicFor(applicationId: string, storeName: string): string {
  return `${applicationId}-${storeName}-changelog`;
}

export class ChangeLoggingKeyValueStore extends WrappedBytesStore {
  private topic: string | undefined;
  private partition = 0;
  private collector: ChangelogCollector | undefined;
  private timestamp: () => number = Date.now;

  constructor(inner: BytesStore) {
    super(inner);
  }

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

  override async close(): Promise<void> {
    this.collector = undefined;
    await this.inner.close();
  }

  private logger(): ChangelogCollector {
    if (this.collector === undefined) {
      throw new StoreClosedError(`cannot write to store "${this.name}": it is not open`, {
        store: this.name,
      });
    }
    return this.collector;
  }

  // Each write starts the inner write (whose synchronous part applies it),
  // then logs, then awaits: the changelog order is the call order even when
  // writes to the same store overlap (cache evictions from other tasks).

  override async put(key: Buffer, value: Buffer | null): Promise<void> {
    const collector = this.logger();
    const write = this.inner.put(key, value);
    try {
      collector.send(this.topic!, this.partition, key, value, this.timestamp());
    } finally {
      await write;
    }
  }

  override async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    const collector = this.logger();
    const write = this.inner.putAll(entries);
    try {
      const timestamp = this.timestamp();
      for (const [key, value] of entries) collector.send(this.topic!, this.partition, key, value, timestamp);
    } finally {
      await write;
    }
  }

  override async delete(key: Buffer): Promise<Buffer | undefined> {
    const collector = this.logger();
    const write = this.inner.delete(key);
    try {
      collector.send(this.topic!, this.partition, key, null, this.timestamp());
    } finally {
      await write;
    }
    return write;
  }
}
