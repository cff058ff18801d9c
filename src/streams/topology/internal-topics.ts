/**
 * The topics an application owns and must create before it runs: a
 * compacted changelog per logged store, and repartition topics.
 */

export interface InternalTopicSpec {
  /** The run-time name, e.g. `my-app-counts-changelog`. */
  readonly name: string;
  readonly kind: 'changelog' | 'repartition';
  /** The sub-topology that owns the store (changelog) or reads the topic (repartition); -1 when none reads it. */
  readonly subtopology: number;
  /** The store a changelog belongs to. */
  readonly store?: string;
  /**
   * The topics whose partition count this topic must have: the maximum of
   * their counts (they are co-partitioned, so normally all equal). Always
   * user topics: a repartition topic in the way is resolved to the topics
   * its writers read, so every internal topic can be sized before any
   * exists. Empty when the sub-topology reads only patterns: the runtime
   * resolves the pattern.
   */
  readonly partitionsFrom: readonly string[];
  /** Topic configs to create it with (a changelog always has cleanup.policy=compact). */
  readonly config: Readonly<Record<string, string>>;
}
