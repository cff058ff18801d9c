/**
 * The typed face of a session store (Kafka Streams' MeteredSessionStore over
 * a segmented store): sessions are stored under `key | end | start`, in
 * segments by end time, so "the sessions of this key that end after T" is
 * one ordered scan from T.
 */
import type { Serde } from '../serde/serde.ts';
import { TypedStoreLayer } from './typed-store-layer.ts';
import { readTime, SESSION_SUFFIX_BYTES, sessionStoreKey, splitStoreKey } from './window-key-schema.ts';
import type { SessionStore, WindowBytesStore, Windowed } from './window-store.ts';

export class MeteredSessionStore<K, V>
  extends TypedStoreLayer<WindowBytesStore, K, V>
  implements SessionStore<K, V>
{
  constructor(inner: WindowBytesStore, keySerde: Serde<K>, valueSerde: Serde<V>) {
    super(inner, keySerde, valueSerde, 'session store');
  }

  get retentionMs(): number {
    return this.inner.retentionMs;
  }

  private session(storeKey: Buffer, key?: K): Windowed<K> {
    const parts = splitStoreKey(storeKey, SESSION_SUFFIX_BYTES);
    return {
      key: key ?? (this.keySerde.deserialize(this.topic, parts.key) as K),
      window: { startMs: readTime(parts.suffix, 0), endMs: parts.time },
    };
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
            this.valueBytes(value),
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
}
