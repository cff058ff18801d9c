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

/** Writes as a change-logging layer logs them: `[store key, value]`, a null value is a tombstone. */
export type ChangelogLogger = (entries: ReadonlyArray<readonly [Buffer, Buffer | null]>) => void;

/**
 * The changelog of one store on one task, shared by the key-value and the
 * window change-logging layers: `<application.id>-<store>-changelog` on the
 * task's partition, through the task's collector, stamped with the timestamp
 * of the record being processed. Open from `open` (the layer's init) to
 * `close`.
 */
export class StoreChangelog {
  private topicName: string | undefined;
  private partition = 0;
  private collector: ChangelogCollector | undefined;
  private timestamp: () => number = Date.now;

  constructor(private readonly store: string) {}

  /** The changelog topic; undefined before `open`. */
  get topic(): string | undefined {
    return this.topicName;
  }

  open(context: StateStoreContext): void {
    this.topicName = changelogTopicFor(context.applicationId, this.store);
    this.partition = context.partition;
    this.collector = context.collector;
    this.timestamp = context.currentTimestamp ?? Date.now;
  }

  close(): void {
    this.collector = undefined;
  }

  /**
   * A logger bound to the open collector; take it before writing, so a write to a closed store
   * changes nothing.
   * @throws StoreClosedError when the store is not open
   */
  logger(): ChangelogLogger {
    const collector = this.collector;
    if (collector === undefined)
      throw new StoreClosedError(`cannot write to store "${this.store}": it is not open`, {
        store: this.store,
      });
    const topic = this.topicName!;
    return (entries) => {
      const timestamp = this.timestamp();
      for (const [key, value] of entries) collector.send(topic, this.partition, key, value, timestamp);
    };
  }
}

export class ChangeLoggingKeyValueStore extends WrappedBytesStore {
  private readonly changelog: StoreChangelog;

  constructor(inner: BytesStore) {
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

  override async close(): Promise<void> {
    this.changelog.close();
    await this.inner.close();
  }

  // Each write starts the inner write (whose synchronous part applies it),
  // then logs, then awaits: the changelog order is the call order even when
  // writes to the same store overlap (cache evictions from other tasks).

  override async put(key: Buffer, value: Buffer | null): Promise<void> {
    const log = this.changelog.logger();
    const write = this.inner.put(key, value);
    try {
      log([[key, value]]);
    } finally {
      await write;
    }
  }

  override async putAll(entries: ReadonlyArray<readonly [Buffer, Buffer | null]>): Promise<void> {
    const log = this.changelog.logger();
    const write = this.inner.putAll(entries);
    try {
      log(entries);
    } finally {
      await write;
    }
  }

  override async delete(key: Buffer): Promise<Buffer | undefined> {
    const log = this.changelog.logger();
    const write = this.inner.delete(key);
    try {
      log([[key, null]]);
    } finally {
      await write;
    }
    return write;
  }
}
