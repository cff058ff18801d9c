/**
 * The metered layer (Kafka Streams' MeteredKeyValueStore): the typed face of
 * a store, and the only layer that knows serdes. It turns keys and values
 * into bytes for the layers below and times every operation into
 * the catalogue's `ctr.streams.store.operation.duration` histogram (seconds,
 * attributes `store` + `operation`).
 *
 * Serdes are called with the store's changelog topic name (even when logging
 * is off), so a schema-registry serde registers a stable subject per store.
 */
import type { Attributes } from '@opentelemetry/api';
import { histogram } from '../../telemetry/instruments.ts';
import { METRICS } from '../../telemetry/metric-names.ts';
import type { Serde } from '../serde/serde.ts';
import type { BytesStore } from './bytes-store.ts';
import { StoreClosedError } from './errors.ts';
import { prefixBounds, rangeBounds, type KeyBounds } from './key-bounds.ts';
import type { KeyValueStore, StateStoreContext } from './state-store.ts';
import { TypedStoreLayer } from './typed-store-layer.ts';

/** Operation names, as the metric catalogue spells them (`operation` attribute). */
type Operation =
  'get' | 'getMany' | 'put' | 'putAll' | 'delete' | 'range' | 'flush' | 'commit' | 'restore' | 'count';

const duration = histogram(METRICS.storeOperationDuration);

export class MeteredKeyValueStore<K, V>
  extends TypedStoreLayer<BytesStore, K, V>
  implements KeyValueStore<K, V>
{
  private readonly opAttributes = new Map<Operation, Attributes>();
  private opened = false;

  constructor(inner: BytesStore, keySerde: Serde<K>, valueSerde: Serde<V>) {
    super(inner, keySerde, valueSerde, 'store');
  }

  /** Records the seconds since `start` (a `performance.now()` reading). */
  private time(op: Operation, start: number): void {
    let attributes = this.opAttributes.get(op);
    if (attributes === undefined)
      this.opAttributes.set(op, (attributes = { store: this.name, operation: op }));
    duration.record((performance.now() - start) / 1000, attributes);
  }

  override async init(context: StateStoreContext): Promise<void> {
    await super.init(context);
    this.opened = true;
  }

  private async values(bytes: ReadonlyArray<Buffer | undefined>): Promise<(V | undefined)[]> {
    if (this.valueSerde.resolve !== undefined) {
      const present = bytes.filter((b): b is Buffer => b !== undefined);
      if (present.length > 0) await this.valueSerde.resolve(this.topic, present);
    }
    return bytes.map((b) =>
      b === undefined ? undefined : (this.valueSerde.deserialize(this.topic, b) ?? undefined),
    );
  }

  async get(key: K): Promise<V | undefined> {
    const start = performance.now();
    const bytes = await this.inner.get(this.keyBytes(key));
    const [value] = bytes === undefined ? [undefined] : await this.values([bytes]);
    this.time('get', start);
    return value;
  }

  async getMany(keys: readonly K[]): Promise<(V | undefined)[]> {
    const start = performance.now();
    const bytes = await this.inner.getMany(keys.map((key) => this.keyBytes(key)));
    const values = await this.values(bytes);
    this.time('getMany', start);
    return values;
  }

  async put(key: K, value: V | null): Promise<void> {
    const start = performance.now();
    await this.inner.put(this.keyBytes(key), this.valueBytes(value));
    this.time('put', start);
  }

  async putAll(entries: ReadonlyArray<readonly [K, V | null]>): Promise<void> {
    const start = performance.now();
    await this.inner.putAll(
      entries.map(([key, value]) => [this.keyBytes(key), this.valueBytes(value)] as const),
    );
    this.time('putAll', start);
  }

  async delete(key: K): Promise<V | undefined> {
    const start = performance.now();
    const bytes = await this.inner.delete(this.keyBytes(key));
    const [value] = bytes === undefined ? [undefined] : await this.values([bytes]);
    this.time('delete', start);
    return value;
  }

  range(from: K | undefined, to: K | undefined): AsyncIterable<readonly [K, V]> {
    return this.scan(
      rangeBounds(
        from === undefined ? undefined : this.keyBytes(from),
        to === undefined ? undefined : this.keyBytes(to),
      ),
    );
  }

  prefixScan(prefix: K): AsyncIterable<readonly [K, V]> {
    return this.scan(prefixBounds(this.keyBytes(prefix)));
  }

  all(): AsyncIterable<readonly [K, V]> {
    return this.scan({});
  }

  private async *scan(bounds: KeyBounds): AsyncGenerator<readonly [K, V]> {
    if (!this.opened)
      throw new StoreClosedError(`cannot scan store "${this.name}": it is not open`, { store: this.name });
    // time spent inside the store only, not in the caller's loop body between entries
    let spent = 0;
    const entries = this.inner.scan(bounds)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const start = performance.now();
        const step = await entries.next();
        if (step.done) break;
        const [keyBytes, valueBytes] = step.value;
        if (this.valueSerde.resolve !== undefined) await this.valueSerde.resolve(this.topic, [valueBytes]);
        const key = this.keySerde.deserialize(this.topic, keyBytes) as K;
        const value = this.valueSerde.deserialize(this.topic, valueBytes) as V;
        spent += performance.now() - start;
        yield [key, value] as const;
      }
    } finally {
      await entries.return?.();
      this.time('range', performance.now() - spent);
    }
  }

  async approximateNumEntries(): Promise<number> {
    const start = performance.now();
    const count = await this.inner.approximateNumEntries();
    this.time('count', start);
    return count;
  }

  override async flush(): Promise<void> {
    const start = performance.now();
    await this.inner.flush();
    this.time('flush', start);
  }

  override async commit(changelogNextOffset: string | undefined): Promise<void> {
    const start = performance.now();
    await this.inner.commit(changelogNextOffset);
    this.time('commit', start);
  }

  override async restoreBatch(
    records: ReadonlyArray<{ key: Buffer; value: Buffer | null }>,
    nextOffset: string,
  ): Promise<void> {
    const start = performance.now();
    await this.inner.restoreBatch(records, nextOffset);
    this.time('restore', start);
  }

  override async close(): Promise<void> {
    this.opened = false;
    await this.inner.close();
  }
}
