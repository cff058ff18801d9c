/**
 * The typed face of a window store (Kafka Streams' MeteredWindowStore): the
 * only layer that knows serdes. It builds store keys (`key | start | seq`),
 * numbers duplicates when the store keeps them (the stream-stream join's
 * buffers: two records with the same key and timestamp are two entries), and
 * turns bytes back into keys, windows and values.
 */
import { randomInt } from 'node:crypto';
import type { Serde } from '../serde/serde.ts';
import type { StateStoreContext } from './state-store.ts';
import { TypedStoreLayer } from './typed-store-layer.ts';
import { splitStoreKey, WINDOW_SUFFIX_BYTES, windowStoreKey } from './window-key-schema.ts';
import type { WindowBytesStore, WindowStore, Windowed } from './window-store.ts';

export class MeteredWindowStore<K, V>
  extends TypedStoreLayer<WindowBytesStore, K, V>
  implements WindowStore<K, V>
{
  /**
   * Sequence numbers of duplicates. It starts at a random point so that
   * entries written before a restart are not overwritten by new ones with
   * the same key and timestamp (the counter is not persisted).
   */
  private seq = 0;

  constructor(
    inner: WindowBytesStore,
    keySerde: Serde<K>,
    valueSerde: Serde<V>,
    readonly windowSizeMs: number,
    readonly retainDuplicates: boolean,
  ) {
    super(inner, keySerde, valueSerde, 'window store');
  }

  get retentionMs(): number {
    return this.inner.retentionMs;
  }
  get observedStreamTimeMs(): number {
    return this.inner.observedStreamTimeMs;
  }
  /** Writes dropped because they were older than retention. */
  get expiredWrites(): number {
    return this.inner.expiredWrites;
  }

  override async init(context: StateStoreContext): Promise<void> {
    this.seq = randomInt(0, 2 ** 31);
    await super.init(context);
  }

  private value(bytes: Buffer): V {
    return this.valueSerde.deserialize(this.topic, bytes) as V;
  }

  private windowed(storeKey: Buffer): Windowed<K> {
    const parts = splitStoreKey(storeKey, WINDOW_SUFFIX_BYTES);
    return {
      key: this.keySerde.deserialize(this.topic, parts.key) as K,
      window: { startMs: parts.time, endMs: parts.time + this.windowSizeMs },
    };
  }

  private nextSeq(): number {
    if (!this.retainDuplicates) return 0;
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  put(key: K, value: V | null, windowStartMs: number): Promise<void> {
    return this.putAll([[key, value, windowStartMs]]);
  }

  async putAll(entries: ReadonlyArray<readonly [K, V | null, number]>): Promise<void> {
    if (entries.length === 0) return;
    const bytes = entries.map(
      ([key, value, start]) =>
        [windowStoreKey(this.keyBytes(key), start, this.nextSeq()), this.valueBytes(value)] as const,
    );
    await this.inner.putAll(bytes);
  }

  async fetch(key: K, windowStartMs: number): Promise<V | undefined> {
    return (await this.fetchMany([[key, windowStartMs]]))[0];
  }

  async fetchMany(windows: ReadonlyArray<readonly [K, number]>): Promise<(V | undefined)[]> {
    if (this.retainDuplicates) {
      // duplicates have unknown sequence numbers: one scan per window
      const out: (V | undefined)[] = [];
      for (const [key, start] of windows) {
        let found: V | undefined;
        for await (const [, v] of this.fetchRange(key, start, start)) {
          found = v;
          break;
        }
        out.push(found);
      }
      return out;
    }
    const values = await this.inner.getMany(
      windows.map(([key, start]) => windowStoreKey(this.keyBytes(key), start, 0)),
    );
    if (this.valueSerde.resolve !== undefined) {
      const present = values.filter((b): b is Buffer => b !== undefined);
      if (present.length > 0) await this.valueSerde.resolve(this.topic, present);
    }
    return values.map((b) => (b === undefined ? undefined : this.value(b)));
  }

  async *fetchRange(key: K, fromMs: number, toMs: number): AsyncGenerator<readonly [number, V]> {
    for await (const [storeKey, v] of this.inner.fetchKey(this.keyBytes(key), fromMs, toMs)) {
      yield [splitStoreKey(storeKey, WINDOW_SUFFIX_BYTES).time, await this.decode(v)];
    }
  }

  async *fetchKeyRange(
    keyFrom: K | undefined,
    keyTo: K | undefined,
    fromMs: number,
    toMs: number,
  ): AsyncGenerator<readonly [Windowed<K>, V]> {
    const from = keyFrom === undefined ? undefined : this.keyBytes(keyFrom);
    const to = keyTo === undefined ? undefined : this.keyBytes(keyTo);
    for await (const [storeKey, v] of this.inner.fetchTimeRange(fromMs, toMs, from, to)) {
      yield [this.windowed(storeKey), await this.decode(v)];
    }
  }

  fetchAll(fromMs: number, toMs: number): AsyncIterable<readonly [Windowed<K>, V]> {
    return this.fetchKeyRange(undefined, undefined, fromMs, toMs);
  }

  all(): AsyncIterable<readonly [Windowed<K>, V]> {
    return this.fetchKeyRange(undefined, undefined, 0, Number.MAX_SAFE_INTEGER);
  }

  approximateNumEntries(): Promise<number> {
    return this.inner.approximateNumEntries();
  }
}
