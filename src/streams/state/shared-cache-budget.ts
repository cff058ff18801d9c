/**
 * One memory budget shared by every caching layer of an app instance
 * (Kafka Streams' statestore.cache.max.bytes / ThreadCache). Placeholder
 * signature committed first so that others compile; the implementation follows.
 */
export class SharedCacheBudget {
  /** @param maxBytes the bound, in bytes, on the sum of all cached entries; 0 disables caching. */
  constructor(readonly maxBytes: number) {}
}
