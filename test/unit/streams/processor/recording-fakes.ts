/** A store and a collector that record every call in one shared log, to check call order. */
import type { Headers } from '../../../../src/streams/processor/record.ts';
import type { RecordCollector } from '../../../../src/streams/processor/record-collector.ts';
import type {
  StateStore,
  StateStoreContext,
  StoreBuilder,
} from '../../../../src/streams/state/state-store.ts';

export class RecordingStore implements StateStore {
  readonly persistent = true;
  changelogTopic: string | undefined;
  context: StateStoreContext | undefined;
  readonly data = new Map<string, string>();
  committedOffset: string | undefined;

  constructor(
    readonly name: string,
    private readonly events: string[],
    private readonly logging = true,
  ) {}

  async init(context: StateStoreContext): Promise<void> {
    this.context = context;
    this.changelogTopic = this.logging ? `${context.applicationId}-${this.name}-changelog` : undefined;
    this.events.push(`init ${this.name}`);
  }

  /** Writes and change-logs at once (the test drives it from a processor). */
  write(key: string, value: string): void {
    this.data.set(key, value);
    if (this.changelogTopic)
      this.context!.collector.send(
        this.changelogTopic,
        this.context!.partition,
        Buffer.from(key),
        Buffer.from(value),
        0,
      );
  }

  async flush(): Promise<void> {
    this.events.push(`flush ${this.name}`);
  }
  async commit(offset: string | undefined): Promise<void> {
    this.committedOffset = offset;
    this.events.push(`commit ${this.name} ${offset ?? 'undefined'}`);
  }
  async committedPosition(): Promise<string | undefined> {
    return this.committedOffset;
  }
  async restoreBatch(): Promise<void> {}
  async wipe(): Promise<void> {}
  async close(): Promise<void> {
    this.events.push(`close ${this.name}`);
  }
}

export function recordingStoreBuilder(
  name: string,
  events: string[],
  stores: RecordingStore[],
  logging = true,
): StoreBuilder<StateStore> {
  return {
    name,
    loggingEnabled: logging,
    logConfig: {},
    build() {
      const store = new RecordingStore(name, events, logging);
      stores.push(store);
      return store;
    },
  };
}

export interface SentRecord {
  topic: string;
  partition: number | undefined;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  timestamp: number;
}

export class RecordingCollector implements RecordCollector {
  readonly sent: SentRecord[] = [];
  private readonly next = new Map<string, number>();

  constructor(private readonly events: string[]) {}

  send(topic: string, partition: number, key: Buffer, value: Buffer | null, timestamp: number): void {
    this.events.push(`send ${topic}`);
    this.sent.push({ topic, partition, key, value, headers: {}, timestamp });
    this.next.set(`${topic}:${partition}`, (this.next.get(`${topic}:${partition}`) ?? 0) + 1);
  }

  sendRecord(
    topic: string,
    partition: number | undefined,
    key: Buffer | null,
    value: Buffer | null,
    headers: Headers,
    timestamp: number,
  ): void {
    this.events.push(`send ${topic}`);
    this.sent.push({ topic, partition, key, value, headers, timestamp });
    const p = partition ?? 0;
    this.next.set(`${topic}:${p}`, (this.next.get(`${topic}:${p}`) ?? 0) + 1);
  }

  async partitionsFor(): Promise<number> {
    return 4;
  }

  async flush(): Promise<Map<string, string>> {
    this.events.push('collector flush (acks)');
    return new Map([...this.next].map(([k, v]) => [k, String(v)]));
  }
}
