/**
 * WindowedKTable: the result of a windowed aggregation, a table keyed by
 * `Windowed<K>` held in a window store. Beyond KTable it offers
 * `suppress(Suppressed.untilWindowCloses())` for final results.
 */
import { TopologyError } from '../../errors.ts';
import { bytesSerde } from '../../serde/bytes-serde.ts';
import type { Serde } from '../../serde/serde.ts';
import { Stores } from '../../state/stores.ts';
import type { Windowed } from '../../state/window-store.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import { KTable } from './ktable.ts';
import type { Suppressed } from './suppressed.ts';
import { suppressProcessor } from './window-processors.ts';

export class WindowedKTable<K, V> extends KTable<Windowed<K>, V> {
  /** @internal made by TimeWindowedKStream / SessionWindowedKStream */
  constructor(
    private readonly internal: InternalStreamsBuilder,
    nodeName: string,
    keySerde: Serde<Windowed<K>> | undefined,
    valueSerde: Serde<V> | undefined,
    queryableStoreName: string,
    /**
     * ms after a window's end at which it is final (no record can change it):
     * grace for time windows, grace + 1 for sliding windows (their end is
     * inclusive), gap + grace + 1 for sessions (a record within the gap extends one).
     */
    readonly graceMs: number,
  ) {
    super(internal, nodeName, keySerde, valueSerde, queryableStoreName);
  }

  /**
   * Holds back updates until each window closes, then emits its final result once.
   * @throws TopologyError when the table has no value serde (pass one with Materialized) for the buffer.
   */
  suppress(suppressed: Suppressed): KTable<Windowed<K>, V> {
    if (this.keySerde === undefined || this.valueSerde === undefined) {
      throw new TopologyError(
        `suppress() buffers results and needs the ${this.keySerde === undefined ? 'key' : 'value'} serde of the windowed table "${this.queryableStoreName}": pass it with Materialized.with(...)`,
        { store: this.queryableStoreName },
      );
    }
    const name = suppressed.name ?? this.internal.newName('KTABLE-SUPPRESS-');
    const storeName = suppressed.name
      ? `${suppressed.name}-store`
      : this.internal.newStoreName('KTABLE-SUPPRESS-');
    const store = Stores.keyValueStoreBuilder(
      Stores.persistentKeyValueStore(storeName),
      bytesSerde,
      bytesSerde,
    ).withLoggingEnabled();
    this.internal.topology.addProcessor(
      name,
      suppressProcessor<K, V>({
        bufferStoreName: storeName,
        windowedKeySerde: this.keySerde,
        valueSerde: this.valueSerde,
        graceMs: this.graceMs,
      }),
      this.nodeName,
    );
    this.internal.topology.addStateStore(store, name);
    return new KTable<Windowed<K>, V>(
      this.internal,
      name,
      this.keySerde,
      this.valueSerde,
      this.queryableStoreName,
    );
  }
}
