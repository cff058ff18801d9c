/**
 * Windowed grouped streams (`groupByKey().windowedBy(...)`): aggregations
 * per key and window, kept in window / session stores. Results are
 * WindowedKTables keyed by `Windowed<K>`; their updates flow on with
 * `toStream()`, or only final results with `suppress(untilWindowCloses)`.
 *
 * ```ts
 * clicks.groupByKey()
 *   .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
 *   .count(Materialized.as('clicks-per-minute'))
 *   .suppress(Suppressed.untilWindowCloses())
 *   .toStream()
 *   .to('clicks-per-minute', Produced.with(timeWindowedSerde(stringSerde, 60_000), countSerde));
 * ```
 *
 * Store retention is window size + grace (Kafka Streams' default): windows
 * are queryable until they can no longer change.
 */
import { TopologyError } from '../../errors.ts';
import type { Serde } from '../../serde/serde.ts';
import type { Windowed } from '../../state/window-store.ts';
import { WindowStores } from '../../state/window-store-builder.ts';
import { countSerde } from './count-serde.ts';
import type { InternalStreamsBuilder } from './internal-streams-builder.ts';
import type { Materialized } from './materialized.ts';
import type { Named } from './named.ts';
import {
  sessionAggregateProcessor,
  slidingWindowAggregateProcessor,
  timeWindowAggregateProcessor,
} from './window-processors.ts';
import { sessionWindowedSerde, timeWindowedSerde } from './windowed-serde.ts';
import { WindowedKTable } from './windowed-ktable.ts';
import { SlidingWindows, type SessionWindows, type TimeWindows } from './windows.ts';

/** Resolves the node that feeds the aggregation (a repartition source when the key changed upstream). */
export type ParentResolver = (baseName: string) => string;

function serdes<K, VA>(
  operator: string,
  storeName: string,
  materialized: Materialized<K, VA> | undefined,
  keySerde: Serde<K> | undefined,
  valueSerde: Serde<VA> | undefined,
): { key: Serde<K>; value: Serde<VA> } {
  const key = materialized?.keySerde ?? keySerde;
  const value = materialized?.valueSerde ?? valueSerde;
  if (key === undefined || value === undefined) {
    throw new TopologyError(
      `${operator} needs a ${key === undefined ? 'key' : 'value'} serde for window store "${storeName}": ` +
        'pass it with Materialized.with(...), or give the upstream stream serdes (Consumed.with, Grouped.with)',
      { store: storeName },
    );
  }
  return { key, value };
}

export class TimeWindowedKStream<K, V> {
  /** @internal use KGroupedStream.windowedBy */
  constructor(
    private readonly builder: InternalStreamsBuilder,
    private readonly parent: ParentResolver,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    readonly windows: TimeWindows | SlidingWindows,
  ) {}

  /** Counts records per key and window. */
  count(materialized?: Materialized<K, number>, named?: Named): WindowedKTable<K, number> {
    return this.build(
      'count',
      materialized,
      named,
      countSerde,
      () => 0,
      (_k, _v, n: number) => n + 1,
    );
  }

  /** Folds the records of each key and window, starting from `initializer()`. */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    materialized?: Materialized<K, VA>,
    named?: Named,
  ): WindowedKTable<K, VA> {
    return this.build('aggregate', materialized, named, undefined, initializer, aggregator);
  }

  /** Combines the values of each key and window. */
  reduce(
    reducer: (aggregate: V, value: V) => V,
    materialized?: Materialized<K, V>,
    named?: Named,
  ): WindowedKTable<K, V> {
    // a reduce is an aggregate whose first value is the first record's
    const none = Symbol('none') as unknown as V;
    return this.build(
      'reduce',
      materialized,
      named,
      this.valueSerde,
      () => none,
      (_k, value, aggregate) => (aggregate === none ? value : reducer(aggregate, value)),
    );
  }

  private build<VA>(
    operator: string,
    materialized: Materialized<K, VA> | undefined,
    named: Named | undefined,
    defaultValueSerde: Serde<VA> | undefined,
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
  ): WindowedKTable<K, VA> {
    const storeName = materialized?.storeName ?? this.builder.newStoreName('KSTREAM-AGGREGATE-');
    const { key, value } = serdes(
      `windowed ${operator}`,
      storeName,
      materialized,
      this.keySerde,
      defaultValueSerde,
    );
    const sizeMs =
      this.windows instanceof SlidingWindows ? this.windows.timeDifferenceMs : this.windows.sizeMs;
    const graceMs = this.windows.graceMs;
    const persistent = (materialized?.storeType ?? 'persistent') === 'persistent';
    const logged = !(materialized && !materialized.loggingEnabled);
    const store = WindowStores.windowStoreBuilder(storeName, key, value, {
      retentionMs: sizeMs + graceMs + 1,
      windowSizeMs: sizeMs,
      persistent,
    });
    if (logged) store.withLoggingEnabled({ ...(materialized?.logConfig ?? {}) });
    else store.withLoggingDisabled();
    const parent = this.parent(storeName);
    const name = named?.name ?? this.builder.newName('KSTREAM-AGGREGATE-');
    const label = `windowed ${operator} "${name}"`;
    if (this.windows instanceof SlidingWindows) {
      if (this.valueSerde === undefined)
        throw new TopologyError(
          `${label} over sliding windows buffers the records and needs their value serde: give the stream one (Consumed.with, Grouped.with)`,
        );
      const bufferName = `${storeName}-records`;
      const buffer = WindowStores.windowStoreBuilder(bufferName, key, this.valueSerde, {
        retentionMs: 2 * sizeMs + graceMs + 2,
        windowSizeMs: 0,
        retainDuplicates: true,
        persistent,
      });
      if (!logged) buffer.withLoggingDisabled();
      this.builder.topology.addProcessor(
        name,
        slidingWindowAggregateProcessor<K, V, VA>({
          storeName,
          bufferStoreName: bufferName,
          timeDifferenceMs: sizeMs,
          graceMs,
          initializer,
          aggregator,
          operator: label,
        }),
        parent,
      );
      this.builder.topology.addStateStore(buffer, name);
    } else {
      this.builder.topology.addProcessor(
        name,
        timeWindowAggregateProcessor<K, V, VA>({
          storeName,
          windows: this.windows,
          keySerde: key,
          step: (k, v, current) => aggregator(k, v, current === undefined ? initializer() : current),
          coalesce: materialized?.cachingEnabled ?? true,
          operator: label,
        }),
        parent,
      );
    }
    this.builder.topology.addStateStore(store, name);
    return new WindowedKTable<K, VA>(
      this.builder,
      name,
      timeWindowedSerde(key, sizeMs),
      value,
      storeName,
      // a time window [start, end) is final at end + grace; a sliding window includes its end
      this.windows instanceof SlidingWindows ? graceMs + 1 : graceMs,
    );
  }
}

export class SessionWindowedKStream<K, V> {
  /** @internal use KGroupedStream.windowedBy */
  constructor(
    private readonly builder: InternalStreamsBuilder,
    private readonly parent: ParentResolver,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    readonly windows: SessionWindows,
  ) {}

  /** Counts records per key and session. */
  count(materialized?: Materialized<K, number>, named?: Named): WindowedKTable<K, number | null> {
    return this.build(
      'count',
      materialized,
      named,
      countSerde,
      () => 0,
      (_k, _v, agg: number) => agg + 1,
      (_k, a: number, b: number) => a + b,
    );
  }

  /**
   * Folds the records of each session; `merger` combines two sessions' aggregates when a record bridges them.
   */
  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, left: VA, right: VA) => VA,
    materialized?: Materialized<K, VA>,
    named?: Named,
  ): WindowedKTable<K, VA | null> {
    return this.build('aggregate', materialized, named, undefined, initializer, aggregator, merger);
  }

  private build<VA>(
    operator: string,
    materialized: Materialized<K, VA> | undefined,
    named: Named | undefined,
    defaultValueSerde: Serde<VA> | undefined,
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, left: VA, right: VA) => VA,
  ): WindowedKTable<K, VA | null> {
    const storeName = materialized?.storeName ?? this.builder.newStoreName('KSTREAM-AGGREGATE-');
    const { key, value } = serdes(
      `session ${operator}`,
      storeName,
      materialized,
      this.keySerde,
      defaultValueSerde,
    );
    const store = WindowStores.sessionStoreBuilder(storeName, key, value, {
      retentionMs: this.windows.inactivityGapMs + this.windows.graceMs,
      persistent: (materialized?.storeType ?? 'persistent') === 'persistent',
    });
    if (materialized && !materialized.loggingEnabled) store.withLoggingDisabled();
    else store.withLoggingEnabled({ ...(materialized?.logConfig ?? {}) });
    const parent = this.parent(storeName);
    const name = named?.name ?? this.builder.newName('KSTREAM-AGGREGATE-');
    this.builder.topology.addProcessor(
      name,
      sessionAggregateProcessor<K, V, VA>({
        storeName,
        windows: this.windows,
        initializer,
        aggregator,
        merger,
        operator: `session ${operator} "${name}"`,
      }),
      parent,
    );
    this.builder.topology.addStateStore(store, name);
    return new WindowedKTable<K, VA | null>(
      this.builder,
      name,
      sessionWindowedSerde(key),
      value as Serde<VA | null>,
      storeName,
      // a record up to `gap` after the session's end still extends it, unless it is late
      this.windows.inactivityGapMs + this.windows.graceMs + 1,
    );
  }
}

export type { Windowed };
