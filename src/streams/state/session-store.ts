/**
 * The typed face of a session store (Kafka Streams' MeteredSessionStore over
 * a segmented store): sessions are stored under `key | end | start`, in
 * segments by end time, so "the sessions of this key that end after T" is
 * one ordered scan from T.
 */
import { StreamsError } from '../errors.ts';
import type { Serde } from '../serde/serde.ts';
import { changelogTopicFor } from './change-logging-store.ts';
import type { StateStoreContext } from './state-store.ts';
import { readTime, SESSION_SUFFIX_BYTES, sessionStoreKey, splitStoreKey } from './window-key-schema.ts';
import type { SessionStore, WindowBytesStore, Windowed } from './window-store.ts';

export class MeteredSessionStore<K, V> implements SessionStore<K, V> {
  private topic: string;

  constructor(
    private readonly inner: WindowBytesStore,
    readonly keySerde: Serde<K>,
    readonly valueSerde: Serde<V>,
  ) {
    this.topic = inner.name;
  }

  get name(): string {
    return this.inner.name;
  }
  get persistent(): boolean {
    return this.inner.persistent;
  }
  get changelogTopic(): string | undefined {
    return this.inner.changelogTopic;
  }
  get retentionMs(): number {
    return this.inner.retentionMs;
  }
  /** The byte store below. */
  wrapped(): WindowBytesStore {
    return this.inner;
  }

  async init(context: StateStoreContext): Promise<void> {
    this.topic = changelogTopicFor(context.applicationId, this.name);
    await this.inner.init(context);
    await this.keySerde.prepare?.(this.topic, true);
    await this.valueSerde.prepare?.(this.topic, false);
  }

  private keyBytes(key: K): Buffer {
    const bytes = this.keySerde.serialize(this.topic, key);
    if (bytes === null)
      throw new StreamsError(
        'CTR_STREAMS',
        `session store "${this.name}": key serde "${this.keySerde.name}" turned a key into null`,
        { store: this.name },
      );
    return bytes;
  }

  private session(storeKey: Buffer, key?: K): Windowed<K> {
    const parts = splitStoreKey(storeKey, SESSION_SUFFIX_BYTES);
    return {
      key: key ?? (this.keySerde.deserialize(this.topic, parts.key) as K),
      window: { startMs: readTime(parts.suffix, 0), endMs: parts.time },
    };
  }

  private async decode(v: Buffer): Promise<V> {
    if (this.valueSerde.resolve !== undefined) await this.valueSerde.resolve(this.topic, [v]);
    return this.valueSerde.deserialize(this.topic, v) as V;
  }

  async findSessions(
    key: K,
    earliestEndMs: number,
    latestStartMs: number,
  ): Promise<Array<readonly [Windowed<K>, V]>> {
    const out: Array<readonly [Windowed<K>, V]> = [];
    for await (const [storeKey, v] of this.inner.fetchKey(
      this.keyBytes(key),
      earliestEndMs,
      Number.MAX_SAFE_INTEGER,
    )) {
      const session = this.session(storeKey, key);
      if (session.window.startMs > latestStartMs) continue;
      out.push([session, await this.decode(v)]);
    }
    return out;
  }

  async fetchSession(key: K, startMs: number, endMs: number): Promise<V | undefined> {
    const [bytes] = await this.inner.getMany([sessionStoreKey(this.keyBytes(key), startMs, endMs)]);
    return bytes === undefined ? undefined : this.decode(bytes);
  }

  async *fetch(key: K): AsyncGenerator<readonly [Windowed<K>, V]> {
    for await (const [storeKey, v] of this.inner.fetchKey(this.keyBytes(key), 0, Number.MAX_SAFE_INTEGER)) {
      yield [this.session(storeKey, key), await this.decode(v)];
    }
  }

  put(session: Windowed<K>, value: V | null): Promise<void> {
    return this.putAll([[session, value]]);
  }

  async putAll(entries: ReadonlyArray<readonly [Windowed<K>, V | null]>): Promise<void> {
    if (entries.length === 0) return;
    await this.inner.putAll(
      entries.map(
        ([s, value]) =>
          [
            sessionStoreKey(this.keyBytes(s.key), s.window.startMs, s.window.endMs),
            value === null ? null : this.valueSerde.serialize(this.topic, value),
          ] as const,
      ),
    );
  }

  remove(session: Windowed<K>): Promise<void> {
    return this.put(session, null);
  }

  async *all(): AsyncGenerator<readonly [Windowed<K>, V]> {
    for await (const [storeKey, v] of this.inner.fetchTimeRange(
      0,
      Number.MAX_SAFE_INTEGER,
      undefined,
      undefined,
    )) {
      yield [this.session(storeKey), await this.decode(v)];
    }
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
  close(): Promise<void> {
    return this.inner.close();
  }
  uncommittedBytes(): number {
    return this.inner.uncommittedBytes?.() ?? 0;
  }
}
