/**
 * State stores: the public API of src/streams/state.
 *
 * Processors and topologies use `Stores` and the `KeyValueStore` interface;
 * the task/runtime use the `StateStore` lifecycle, `SharedCacheBudget` and
 * the typed errors. Layer classes are exported for tests and for code that
 * stacks stores by hand.
 */
export type {
  ChangelogCollector,
  StateStoreContext,
  StateStore,
  KeyValueStore,
  BytesKeyValueStore,
  StoreBuilder,
} from './state-store.ts';
export type { BytesStore } from './bytes-store.ts';
export { Stores } from './stores.ts';
export { KeyValueStoreBuilder, type KeyValueBytesStoreSupplier } from './store-builder.ts';
export {
  SharedCacheBudget,
  CACHE_ENTRY_OVERHEAD_BYTES,
  type CacheBudgetStats,
} from './shared-cache-budget.ts';
export { LevelDbKeyValueStore, type LevelDbStoreOptions } from './leveldb-store.ts';
export { InMemoryKeyValueStore } from './in-memory-store.ts';
export { ChangeLoggingKeyValueStore, changelogTopicFor } from './change-logging-store.ts';
export { CachingKeyValueStore, type CacheStats } from './caching-store.ts';
export { MeteredKeyValueStore } from './metered-store.ts';
export { WrappedBytesStore } from './wrapped-store.ts';
export { type KeyBounds, prefixBounds, rangeBounds, prefixUpperBound } from './key-bounds.ts';
export {
  STATE_ERROR_CODES,
  type StateErrorCode,
  StoreClosedError,
  StoreCorruptedError,
  StoreLockedError,
  StoreIoError,
} from './errors.ts';
export type { TimeWindow, Windowed, WindowStore, SessionStore, WindowBytesStore } from './window-store.ts';
export {
  WindowStores,
  WindowStoreBuilder,
  SessionStoreBuilder,
  type WindowStoreOptions,
  type SessionStoreOptions,
} from './window-store-builder.ts';
export { MeteredWindowStore } from './window-metered-store.ts';
export { MeteredSessionStore } from './session-store.ts';
export {
  SegmentedWindowBytesStore,
  defaultSegmentInterval,
  type SegmentedStoreOptions,
} from './window-segmented-store.ts';
export { ChangeLoggingWindowBytesStore } from './window-change-logging-store.ts';
