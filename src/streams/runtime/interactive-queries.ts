/**
 * Interactive queries (Kafka Streams' KafkaStreams#store / queryMetadataForKey):
 * read-only access to the stores a running instance holds, and where every
 * other key lives, so that an HTTP service on each instance can answer for
 * its own keys and redirect (or proxy) the others.
 *
 * Where a key lives: its partition is Kafka's default partitioner over the
 * serialized key and the partition count of the store's source topics (the
 * store is partitioned like them). Which instance runs that partition comes
 * from the consumer group: each instance announces its `application.server`
 * (host:port) in its group metadata, and the group coordinator reports every
 * member's metadata and current assignment (src/kafka/group-members.ts).
 * During a rebalance assignments are empty and lookups answer "unknown".
 *
 * ```ts
 * const iq = new InteractiveQueries(streams, topology);
 * const where = await iq.queryMetadataForKey('clicks-per-item', itemId, stringSerde);
 * if (where.local) return await iq.keyValueStore<string, number>('clicks-per-item').get(itemId);
 * else redirect(`http://${where.activeHost}/clicks/${itemId}`);
 * ```
 */
import { describeGroupMembers, KafkaAdmin, type Kafka, createKafka } from '../../kafka/index.ts';
import { StreamsError } from '../errors.ts';
import { defaultPartition } from '../processor/partitioner.ts';
import type { Serde } from '../serde/serde.ts';
import type { KeyValueStore } from '../state/state-store.ts';
import type { WindowStore, Windowed } from '../state/window-store.ts';
import type { Topology } from '../topology/topology.ts';
import type { KafkaStreams } from './kafka-streams.ts';

/** A store query that cannot be answered here (unknown store, key held by another instance, store restoring). */
export class StoreQueryError extends StreamsError {
  static readonly code = 'CTR_STORE_QUERY';
  constructor(message: string, store: string, partition?: number) {
    super(StoreQueryError.code, message, {
      store,
      ...(partition !== undefined ? { partition } : {}),
      retriable: true,
    });
  }
}

/** Where one key of one store lives. */
export interface KeyQueryMetadata {
  readonly store: string;
  readonly partition: number;
  /** `application.server` of the instance running that partition; undefined when unknown (rebalancing, or not announced). */
  readonly activeHost: string | undefined;
  /** True when THIS instance runs the partition now (query it locally). */
  readonly local: boolean;
}

/** One instance of the application, as the consumer group sees it. */
export interface StreamsMetadata {
  readonly host: string | undefined;
  readonly clientId: string;
  /** topic -> partitions the instance runs. */
  readonly topicPartitions: ReadonlyMap<string, readonly number[]>;
  /** Stores whose partitions the instance holds. */
  readonly stores: readonly string[];
}

/** The read-only face of a key-value store across this instance's partitions. */
export interface ReadOnlyKeyValueStore<K, V> {
  /** @throws StoreQueryError when the key's partition is not held (or not yet restored) here. */
  get(key: K): Promise<V | undefined>;
  /** Every entry of every local partition (partition by partition, each in key order). */
  all(): AsyncIterable<readonly [K, V]>;
  approximateNumEntries(): Promise<number>;
}

/** The read-only face of a window store across this instance's partitions. */
export interface ReadOnlyWindowStore<K, V> {
  /** @throws StoreQueryError when the key's partition is not held here. */
  fetch(key: K, fromMs: number, toMs: number): AsyncIterable<readonly [number, V]>;
  /** Every window with start in [fromMs, toMs] of every local partition. */
  fetchAll(fromMs: number, toMs: number): AsyncIterable<readonly [Windowed<K>, V]>;
}

export class InteractiveQueries {
  private readonly kafka: Kafka;
  private readonly partitionCounts = new Map<string, number>();

  /**
   * @param streams the running instance
   * @param topology the topology it runs (to find each store's source topics)
   */
  constructor(
    private readonly streams: KafkaStreams,
    private readonly topology: Topology,
    options: { kafka?: Kafka } = {},
  ) {
    this.kafka =
      options.kafka ??
      createKafka({
        bootstrapServers: streams.config['bootstrap.servers'],
        clientId: `${streams.config['client.id']}-iq`,
      });
  }

  private get applicationId(): string {
    return this.streams.config['application.id'];
  }

  /** The sub-topology holding `storeName` and its source topics (run-time names). */
  private storeSources(storeName: string): { sub: number; topics: string[] } {
    const sub = this.topology.subtopologies().find((s) => s.stores.includes(storeName));
    if (sub === undefined) {
      throw new StoreQueryError(
        `no store "${storeName}" in the topology (stores: ${
          this.topology
            .storeNames()
            .map((s) => `"${s}"`)
            .join(', ') || 'none'
        })`,
        storeName,
      );
    }
    return { sub: sub.id, topics: this.topology.sourceTopics(sub.id, this.applicationId) };
  }

  private async partitionCount(storeName: string): Promise<{ topic: string; count: number }> {
    const { topics } = this.storeSources(storeName);
    const topic = topics[0]!;
    let count = this.partitionCounts.get(topic);
    if (count === undefined) {
      const admin = new KafkaAdmin(this.kafka);
      await admin.connect();
      try {
        count = (await admin.describeTopics([topic], { withConfigs: false }))[0]?.partitions.length;
      } finally {
        await admin.disconnect();
      }
      if (count === undefined)
        throw new StoreQueryError(
          `cannot find the partition count of "${topic}" (source of store "${storeName}")`,
          storeName,
        );
      this.partitionCounts.set(topic, count);
    }
    return { topic, count };
  }

  /** The partition of `key` in `storeName` (Kafka's default partitioner over the serialized key). */
  async partitionFor<K>(storeName: string, key: K, keySerde: Serde<K>): Promise<number> {
    const { topic, count } = await this.partitionCount(storeName);
    const bytes = keySerde.serialize(topic, key);
    if (bytes === null)
      throw new StoreQueryError(`key serde "${keySerde.name}" turned the key into null`, storeName);
    return defaultPartition(bytes, count);
  }

  /** Every instance of the application with what it runs now. */
  async allMetadata(): Promise<StreamsMetadata[]> {
    const members = await describeGroupMembers(this.kafka, this.applicationId);
    const subs = this.topology.subtopologies();
    return members.map((m) => {
      const stores = new Set<string>();
      for (const sub of subs) {
        const topics = this.topology.sourceTopics(sub.id, this.applicationId);
        if (topics.some((t) => (m.assignment.get(t)?.length ?? 0) > 0))
          for (const s of sub.stores) stores.add(s);
      }
      return { host: m.server, clientId: m.clientId, topicPartitions: m.assignment, stores: [...stores] };
    });
  }

  /**
   * Which instance holds `key` of `storeName`.
   * @throws StoreQueryError when there is no such store.
   */
  async queryMetadataForKey<K>(storeName: string, key: K, keySerde: Serde<K>): Promise<KeyQueryMetadata> {
    const partition = await this.partitionFor(storeName, key, keySerde);
    const local = this.streams.store(storeName, partition) !== undefined;
    const { topics } = this.storeSources(storeName);
    const members = await describeGroupMembers(this.kafka, this.applicationId);
    const owner = members.find((m) => topics.some((t) => m.assignment.get(t)?.includes(partition)));
    const self = this.streams.config['application.server'] || undefined;
    return { store: storeName, partition, activeHost: owner?.server ?? (local ? self : undefined), local };
  }

  /** Read-only access to a key-value store's local partitions. */
  keyValueStore<K, V>(storeName: string, keySerde: Serde<K>): ReadOnlyKeyValueStore<K, V> {
    const local = (): Array<KeyValueStore<K, V>> => this.localStores<KeyValueStore<K, V>>(storeName);
    return {
      get: async (key) => (await this.storeForKey<KeyValueStore<K, V>>(storeName, key, keySerde)).get(key),
      all: async function* () {
        for (const store of local()) yield* store.all();
      },
      approximateNumEntries: async () => {
        let n = 0;
        for (const store of local()) n += await store.approximateNumEntries();
        return n;
      },
    };
  }

  /** Read-only access to a window store's local partitions. */
  windowStore<K, V>(storeName: string, keySerde: Serde<K>): ReadOnlyWindowStore<K, V> {
    const forKey = (key: K): Promise<WindowStore<K, V>> =>
      this.storeForKey<WindowStore<K, V>>(storeName, key, keySerde);
    const local = (): Array<WindowStore<K, V>> => this.localStores<WindowStore<K, V>>(storeName);
    return {
      fetch: async function* (key, fromMs, toMs) {
        yield* (await forKey(key)).fetchRange(key, fromMs, toMs);
      },
      fetchAll: async function* (fromMs, toMs) {
        for (const store of local()) yield* store.fetchAll(fromMs, toMs);
      },
    };
  }

  private async storeForKey<S>(storeName: string, key: unknown, keySerde: Serde<unknown>): Promise<S> {
    const partition = await this.partitionFor(storeName, key, keySerde);
    const store = this.streams.store(storeName, partition);
    if (store === undefined) {
      throw new StoreQueryError(
        `store "${storeName}" partition ${partition} is not running on this instance (held elsewhere, restoring, or rebalancing): ask queryMetadataForKey`,
        storeName,
        partition,
      );
    }
    return store as S;
  }

  /** The running stores `storeName` of this instance, one per local partition. */
  private localStores<S>(storeName: string): S[] {
    const { sub } = this.storeSources(storeName);
    const out: S[] = [];
    for (const id of this.streams.activeTaskIds()) {
      const [s, p] = id.split('_').map(Number);
      if (s !== sub) continue;
      const store = this.streams.store(storeName, p!);
      if (store !== undefined) out.push(store as S);
    }
    return out;
  }
}
