/**
 * Builders of window and session stores (Kafka Streams'
 * Stores.windowStoreBuilder / sessionStoreBuilder), stacking
 *
 *   metered (serdes, store keys)
 *     -> change-logging (when logging is on, the default)
 *       -> segmented store (LevelDB segments, or in-memory ones)
 *
 * ```ts
 * const builder = WindowStores.windowStoreBuilder('clicks-per-minute', stringSerde, countSerde, {
 *   retentionMs: 3_600_000,
 *   windowSizeMs: 60_000,
 * });
 * ```
 */
import { TopologyError } from '../errors.ts';
import type { Serde } from '../serde/serde.ts';
import type { LevelDbStoreOptions } from './leveldb-store.ts';
import { MeteredSessionStore } from './session-store.ts';
import type { StoreBuilder } from './state-store.ts';
import { ChangeLoggingWindowBytesStore } from './window-change-logging-store.ts';
import { SESSION_SUFFIX_BYTES, WINDOW_SUFFIX_BYTES } from './window-key-schema.ts';
import { MeteredWindowStore } from './window-metered-store.ts';
import { SegmentedWindowBytesStore } from './window-segmented-store.ts';
import type { WindowBytesStore } from './window-store.ts';

const STORE_NAME = /^[a-zA-Z0-9._-]{1,200}$/;
/** Kept in a window store's changelog beyond the store's retention (Kafka Streams' default: 1 day). */
const CHANGELOG_ADDITIONAL_RETENTION_MS = 24 * 3_600_000;

export interface WindowStoreOptions {
  /** How long windows are kept, ms (>= windowSizeMs; for windowed aggregations size + grace). */
  retentionMs: number;
  /** The window size, ms (0 for the point-in-time buffers of stream-stream joins). */
  windowSizeMs: number;
  /** Keep every put as its own entry (stream-stream join buffers). Default false. */
  retainDuplicates?: boolean;
  /** LevelDB segments (default) or in-memory ones. */
  persistent?: boolean;
  /** Segment length, ms; default max(retention / 2, 60 s). */
  segmentIntervalMs?: number;
  leveldb?: LevelDbStoreOptions;
}

export interface SessionStoreOptions {
  /** How long sessions are kept after they end, ms (>= inactivity gap + grace). */
  retentionMs: number;
  persistent?: boolean;
  segmentIntervalMs?: number;
  leveldb?: LevelDbStoreOptions;
}

function checkName(name: string): void {
  if (!STORE_NAME.test(name) || name === '.' || name === '..')
    throw new TopologyError(
      `store name "${name}" is not valid: use 1-200 characters of a-z, A-Z, 0-9, '.', '_', '-'`,
      { store: name },
    );
}

abstract class SegmentedStoreBuilder {
  private logging = true;
  private topicConfig: Record<string, string> = {};

  /** @param kind how errors name the store (`window store`, `session store`) */
  constructor(
    readonly name: string,
    kind: string,
    options: SessionStoreOptions,
  ) {
    checkName(name);
    if (!(options.retentionMs > 0))
      throw new TopologyError(`${kind} "${name}" needs retentionMs > 0, got ${options.retentionMs}`, {
        store: name,
      });
  }

  get loggingEnabled(): boolean {
    return this.logging;
  }

  /**
   * Changelog topic configs. Every window has its own changelog key, so
   * compaction alone would keep expired windows forever: the changelog is
   * `compact,delete` with retention.ms = store retention + 1 day (Kafka
   * Streams' windowstore.changelog.additional.retention.ms), unless overridden.
   */
  get logConfig(): Record<string, string> {
    return {
      'cleanup.policy': 'compact,delete',
      'retention.ms': String(this.retentionMs + CHANGELOG_ADDITIONAL_RETENTION_MS),
      ...this.topicConfig,
    };
  }

  /** How long the store keeps entries, ms. */
  abstract get retentionMs(): number;

  withLoggingEnabled(topicConfig: Record<string, string> = {}): this {
    this.logging = true;
    this.topicConfig = { ...topicConfig };
    return this;
  }

  withLoggingDisabled(): this {
    this.logging = false;
    this.topicConfig = {};
    return this;
  }

  /** The byte layers below the typed face: the segmented store, under change-logging when it is on. */
  protected bytesStore(options: SessionStoreOptions, suffixBytes: number): WindowBytesStore {
    const inner = new SegmentedWindowBytesStore(this.name, {
      retentionMs: options.retentionMs,
      persistent: options.persistent ?? true,
      suffixBytes,
      ...(options.segmentIntervalMs !== undefined ? { segmentIntervalMs: options.segmentIntervalMs } : {}),
      ...(options.leveldb ? { leveldb: options.leveldb } : {}),
    });
    return this.logging ? new ChangeLoggingWindowBytesStore(inner) : inner;
  }
}

export class WindowStoreBuilder<K, V>
  extends SegmentedStoreBuilder
  implements StoreBuilder<MeteredWindowStore<K, V>>
{
  constructor(
    name: string,
    readonly keySerde: Serde<K>,
    readonly valueSerde: Serde<V>,
    readonly options: WindowStoreOptions,
  ) {
    super(name, 'window store', options);
    if (!(options.windowSizeMs >= 0))
      throw new TopologyError(`window store "${name}" needs windowSizeMs >= 0, got ${options.windowSizeMs}`, {
        store: name,
      });
  }

  get retentionMs(): number {
    return this.options.retentionMs;
  }

  build(): MeteredWindowStore<K, V> {
    return new MeteredWindowStore(
      this.bytesStore(this.options, WINDOW_SUFFIX_BYTES),
      this.keySerde,
      this.valueSerde,
      this.options.windowSizeMs,
      this.options.retainDuplicates ?? false,
    );
  }
}

export class SessionStoreBuilder<K, V>
  extends SegmentedStoreBuilder
  implements StoreBuilder<MeteredSessionStore<K, V>>
{
  constructor(
    name: string,
    readonly keySerde: Serde<K>,
    readonly valueSerde: Serde<V>,
    readonly options: SessionStoreOptions,
  ) {
    super(name, 'session store', options);
  }

  build(): MeteredSessionStore<K, V> {
    return new MeteredSessionStore(
      this.bytesStore(this.options, SESSION_SUFFIX_BYTES),
      this.keySerde,
      this.valueSerde,
    );
  }

  get retentionMs(): number {
    return this.options.retentionMs;
  }
}

/** The factory of window and session store builders (the window half of Kafka Streams' `Stores`). */
export const WindowStores = {
  windowStoreBuilder<K, V>(
    name: string,
    keySerde: Serde<K>,
    valueSerde: Serde<V>,
    options: WindowStoreOptions,
  ): WindowStoreBuilder<K, V> {
    return new WindowStoreBuilder(name, keySerde, valueSerde, options);
  },
  sessionStoreBuilder<K, V>(
    name: string,
    keySerde: Serde<K>,
    valueSerde: Serde<V>,
    options: SessionStoreOptions,
  ): SessionStoreBuilder<K, V> {
    return new SessionStoreBuilder(name, keySerde, valueSerde, options);
  },
} as const;
