/**
 * TopologyTestDriver: runs a {@link Topology} in-process, without a broker,
 * through the SAME StreamTask code the runtime uses.
 *
 * ## Tutorial
 *
 * Build the topology as usual, then create a driver for it:
 *
 * ```ts
 * import { StreamsBuilder, TopologyTestDriver, stringSerde, jsonSerde } from 'ctr-streams';
 *
 * const builder = new StreamsBuilder();
 * builder
 *   .stream('clicks', Consumed.with(stringSerde, stringSerde))
 *   .filter((itemId) => itemId !== 'spam')
 *   .groupByKey()
 *   .count(Materialized.as('click-counts'))
 *   .toStream()
 *   .to('click-counts-out', Produced.with(stringSerde, countSerde));
 *
 * const driver = new TopologyTestDriver(builder.build(), { applicationId: 'clicks-app' });
 * ```
 *
 * Create input and output topics with the serdes to write and read them.
 * An input topic may have several partitions: the driver then runs one task
 * per partition (Kafka Streams' driver cannot, KIP-1238), places each record
 * by Kafka's default partitioner (murmur2 of the key bytes) and keeps
 * per-key order, so partition-dependent bugs show up in unit tests:
 *
 * ```ts
 * const clicks = driver.createInputTopic('clicks', stringSerde, stringSerde, { partitions: 4 });
 * const counts = driver.createOutputTopic('click-counts-out', stringSerde, countSerde);
 * ```
 *
 * Pipe records (each call returns when the topology has processed them and
 * everything they caused, including records written to topics the topology
 * reads again), then read the outputs in the order they were written:
 *
 * ```ts
 * await clicks.pipeInput('item-1', 'ctx-a', 1_000);
 * await clicks.pipeRecordList([{ key: 'item-2', value: 'ctx-b', timestamp: 2_000 }, ...]);
 * assert.deepEqual(counts.readKeyValuesToList(), [['item-1', 1], ['item-2', 1], ...]);
 * ```
 *
 * `pipeRecordList` delivers the list as one fetch would: per partition one
 * batch, so a batch-aware processor (a model step) sees the records together.
 *
 * Time: STREAM_TIME punctuators fire as piped timestamps advance;
 * WALL_CLOCK_TIME ones fire on `advanceWallClockTime(ms)`, which moves the
 * driver's mock clock (the processors' `currentSystemTimeMs`). Every
 * `commit.interval.ms` of mock time the driver commits all tasks (flush
 * stores, "ack" the sends, commit store positions), as the runtime would;
 * `commit()` commits on demand.
 *
 * Stores: `await driver.getKeyValueStore('click-counts', partition)` returns
 * the typed store of the task of that partition (default 0; a global store
 * has one instance). By default a persistent store of the topology runs as
 * an in-memory store with the same serdes, caching and changelog, so tests
 * are fast and leave nothing on disk; `{ storeType: 'persistent' }` runs the
 * real LevelDB stores under `stateDir` (default: a fresh temp dir that
 * `close()` removes; pass your own to reopen the same state in a new driver).
 * Changelog records land in `<applicationId>-<store>-changelog`, readable
 * with `createOutputTopic` like any topic.
 *
 * Global stores (Topology.addGlobalStore) are filled from every partition
 * of their topic before any task processes the records piped after them.
 *
 * Always `await driver.close()` at the end: it closes the tasks cleanly
 * (a final commit) and removes the temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IllegalStateError, TopologyError } from '../errors.ts';
import type { Serde } from '../serde/serde.ts';
import { SharedCacheBudget } from '../state/shared-cache-budget.ts';
import type { KeyValueStore, StateStore, StoreBuilder } from '../state/state-store.ts';
import { KeyValueStoreBuilder } from '../state/store-builder.ts';
import { Stores } from '../state/stores.ts';
import type { ProcessorTopology } from '../processor/processor-topology.ts';
import type { TaskExceptionHandlers } from '../processor/exception-handlers.ts';
import { defaultPartition } from '../processor/partitioner.ts';
import { StreamTask } from '../processor/stream-task.ts';
import type { Topology } from '../topology/topology.ts';
import type { InternalTopicSpec } from '../topology/internal-topics.ts';
import { InMemoryRecordCollector } from './in-memory-record-collector.ts';
import {
  TestInputTopic,
  type InputBytesRecord,
  type InputTopicHost,
  type InputTopicOptions,
} from './test-input-topic.ts';
import { TestOutputTopic } from './test-output-topic.ts';
import { TopicLog } from './topic-log.ts';

export interface TopologyTestDriverOptions {
  /** `application.id` (default `topology-test-driver`): prefixes changelog and repartition topics. */
  applicationId?: string;
  /** The mock wall clock's start, ms since the epoch (default `Date.now()` at construction). */
  initialWallClockTimeMs?: number;
  /** Commit every this many ms of mock wall time (default 30000, Kafka Streams' default); 0 = after every advance. */
  commitIntervalMs?: number;
  /** Partition count of topics not declared with `{ partitions }` (default 1). */
  defaultPartitions?: number;
  /** At most this many records per batch handed to a task (default 1000). */
  maxBatchRecords?: number;
  /** `state.dir` for persistent stores (default: a temp dir removed by `close()`). */
  stateDir?: string;
  /** `statestore.cache.max.bytes` of the shared cache budget (default 10 MiB). */
  cacheMaxBytes?: number;
  /** Error policies (default: every error fails). */
  handlers?: TaskExceptionHandlers;
  /**
   * `'in-memory'` (default): persistent key-value stores of the topology are
   * swapped for in-memory ones with the same serdes, caching and logging
   * (fast, nothing on disk); `'persistent'`: the topology's own stores
   * (real LevelDB under `stateDir`).
   */
  storeType?: 'in-memory' | 'persistent';
}

/** Runs a Topology in-process; see the module documentation for a tutorial. */
export class TopologyTestDriver {
  readonly applicationId: string;
  private readonly topology: Topology;
  private readonly commitIntervalMs: number;
  private readonly defaultPartitions: number;
  private readonly maxBatchRecords: number;
  private readonly stateDir: string;
  private readonly ownsStateDir: boolean;
  private readonly cacheBudget: SharedCacheBudget;
  private readonly handlers: TaskExceptionHandlers;
  private readonly storeType: 'in-memory' | 'persistent';
  private readonly collector: InMemoryRecordCollector;
  private readonly logs = new Map<string, TopicLog>();
  private readonly declaredPartitions = new Map<string, number>();
  /** Next offset to process, per `"topic:partition"` the topology reads. */
  private readonly positions = new Map<string, number>();
  /** Task per `"<subtopology>_<partition>"` (the global task, when there is one, included). */
  private readonly tasks = new Map<string, StreamTask>();
  /** Runs every global store's source and updater, fed from all partitions of the global topics. */
  private globalTask: StreamTask | undefined;
  private globalStores: Map<string, StateStore> | undefined;
  private readonly committed = new Map<string, string>();
  private wallClockMs: number;
  private internalTopicSpecs: InternalTopicSpec[] | undefined;
  private lastCommitMs: number;
  private closed = false;
  /** Serialises the async entry points: a task never runs two batches at once. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(topology: Topology, options: TopologyTestDriverOptions = {}) {
    this.topology = topology;
    this.applicationId = options.applicationId ?? 'topology-test-driver';
    this.commitIntervalMs = options.commitIntervalMs ?? 30_000;
    this.defaultPartitions = options.defaultPartitions ?? 1;
    this.maxBatchRecords = options.maxBatchRecords ?? 1000;
    this.wallClockMs = options.initialWallClockTimeMs ?? Date.now();
    this.lastCommitMs = this.wallClockMs;
    this.handlers = options.handlers ?? {};
    this.storeType = options.storeType ?? 'in-memory';
    this.cacheBudget = new SharedCacheBudget(options.cacheMaxBytes ?? 10 * 1024 * 1024);
    if (options.stateDir !== undefined) {
      this.stateDir = options.stateDir;
      this.ownsStateDir = false;
    } else {
      this.stateDir = mkdtempSync(join(tmpdir(), 'ctr-ttd-'));
      this.ownsStateDir = true;
    }
    // fail now, not at the first record, when the topology is not runnable
    topology.subtopologies();
    this.collector = new InMemoryRecordCollector((topic) => this.log(topic));
  }

  /** The mock wall-clock time, ms since the epoch. */
  get currentWallClockTimeMs(): number {
    return this.wallClockMs;
  }

  /**
   * An input topic. Declare partitions before the first record reaches the
   * topic (the partition count of a topic is fixed once it has a log).
   * @throws TopologyError when the topic already exists with another partition count.
   */
  createInputTopic<K, V>(
    name: string,
    keySerde: Serde<K> | undefined,
    valueSerde: Serde<V> | undefined,
    options: InputTopicOptions = {},
  ): TestInputTopic<K, V> {
    this.checkOpen();
    if (options.partitions !== undefined) this.declarePartitions(name, options.partitions);
    const host: InputTopicHost = {
      appendInput: (topic, records) => this.serialised(() => this.appendInput(topic, records)),
    };
    return new TestInputTopic(
      name,
      keySerde,
      valueSerde,
      host,
      options.startTimestampMs ?? this.wallClockMs,
      options.autoAdvanceMs ?? 0,
    );
  }

  /**
   * An output topic: reads what the topology writes to `name`, from the beginning.
   * @throws TopologyError when the topic already exists with another partition count.
   */
  createOutputTopic<K, V>(
    name: string,
    keySerde: Serde<K> | undefined,
    valueSerde: Serde<V> | undefined,
    options: { partitions?: number } = {},
  ): TestOutputTopic<K, V> {
    this.checkOpen();
    if (options.partitions !== undefined) this.declarePartitions(name, options.partitions);
    return new TestOutputTopic(name, keySerde, valueSerde, () => this.log(name));
  }

  /** Creates the tasks for every partition known so far (the pipe and advance calls do it too). */
  async init(): Promise<void> {
    await this.serialised(() => this.ensureTasks());
  }

  /**
   * Moves the mock wall clock forward: fires due WALL_CLOCK_TIME punctuators
   * in every task (processing what they write to topics the topology reads),
   * then commits when `commitIntervalMs` of mock time has passed.
   * @param ms >= 0.
   */
  async advanceWallClockTime(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advanceWallClockTime takes ms >= 0, got ${ms}`);
    await this.serialised(async () => {
      await this.ensureTasks();
      this.wallClockMs += ms;
      for (const task of this.tasks.values()) await task.punctuate(this.wallClockMs);
      await this.runUntilIdle();
      if (this.wallClockMs - this.lastCommitMs >= this.commitIntervalMs) await this.commitAll();
    });
  }

  /** Commits every task now (flush stores, acks, store positions). */
  async commit(): Promise<void> {
    await this.serialised(async () => {
      await this.ensureTasks();
      await this.commitAll();
    });
  }

  /** The consumer offsets the last commits returned (next offset per `"topic:partition"`). */
  committedOffsets(): Map<string, string> {
    return new Map(this.committed);
  }

  /**
   * The typed key-value store `name` of the task for `partition`.
   * @param partition the partition of the store's sub-topology (default 0).
   * @throws TopologyError when there is no such store or partition.
   */
  async getKeyValueStore<K, V>(name: string, partition = 0): Promise<KeyValueStore<K, V>> {
    return (await this.getStateStore(name, partition)) as KeyValueStore<K, V>;
  }

  /** Like {@link getKeyValueStore}, for any store type. */
  async getStateStore(name: string, partition = 0): Promise<StateStore> {
    return this.serialised(async () => {
      await this.ensureTasks();
      const global = this.globalStores?.get(name);
      if (global !== undefined) return global;
      const sub = this.topology.subtopologies().find((s) => s.stores.includes(name));
      if (sub === undefined) {
        throw new TopologyError(
          `the topology has no store "${name}" (stores: ${
            this.topology
              .storeNames()
              .map((s) => `"${s}"`)
              .join(', ') || 'none'
          })`,
          {
            store: name,
          },
        );
      }
      const task = this.tasks.get(`${sub.id}_${partition}`);
      const store = task?.stores().find((s) => s.name === name);
      if (store === undefined) {
        throw new TopologyError(
          `store "${name}" has no partition ${partition} (sub-topology ${sub.id} has ${this.subtopologyPartitions(sub.id)})`,
          {
            store: name,
            partition,
          },
        );
      }
      return store;
    });
  }

  /** The tasks, by id (`<subtopology>_<partition>`): for tests that look at task state. */
  taskIds(): string[] {
    return [...this.tasks.keys()];
  }

  /** Topics written so far (outputs, changelogs, repartition topics, inputs). */
  producedTopicNames(): string[] {
    return [...this.logs.keys()];
  }

  /** Closes every task cleanly (a final commit) and removes the temp state dir. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.serialised(async () => {
      this.closed = true;
      let first: unknown;
      for (const task of this.tasks.values()) {
        try {
          const offsets = await task.closeClean();
          for (const [k, v] of offsets) this.committed.set(k, v);
        } catch (error) {
          first ??= error;
          await task.closeDirty();
        }
      }
      if (this.ownsStateDir) rmSync(this.stateDir, { recursive: true, force: true });
      if (first !== undefined) throw first;
    });
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      this.checkOpen();
      return work();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private checkOpen(): void {
    if (this.closed) throw new IllegalStateError('the TopologyTestDriver is closed');
  }

  private declarePartitions(topic: string, partitions: number): void {
    if (!Number.isInteger(partitions) || partitions < 1)
      throw new RangeError(`topic "${topic}" needs partitions >= 1, got ${partitions}`);
    const existing = this.logs.get(topic)?.partitionCount ?? this.declaredPartitions.get(topic);
    if (existing !== undefined && existing !== partitions) {
      throw new TopologyError(
        `topic "${topic}" already has ${existing} partition(s); cannot declare ${partitions}`,
        { topic },
      );
    }
    this.declaredPartitions.set(topic, partitions);
  }

  private partitionsOf(topic: string): number {
    const existing = this.logs.get(topic);
    if (existing) return existing.partitionCount;
    const declared = this.declaredPartitions.get(topic);
    if (declared !== undefined) return declared;
    // internal topics get their partition count from the topics they follow, as the runtime creates them:
    // a changelog from its sub-topology's sources, a repartition topic from its writers' sources
    this.internalTopicSpecs ??= this.topology.internalTopics(this.applicationId);
    const spec = this.internalTopicSpecs.find((t) => t.name === topic);
    if (spec !== undefined && spec.partitionsFrom.length > 0) {
      return Math.max(...spec.partitionsFrom.map((t) => this.partitionsOf(t)));
    }
    return this.defaultPartitions;
  }

  private log(topic: string): TopicLog {
    let log = this.logs.get(topic);
    if (log === undefined) {
      log = new TopicLog(topic, this.partitionsOf(topic));
      this.logs.set(topic, log);
    }
    return log;
  }

  private subtopologyPartitions(id: number): number {
    const sub = this.topology.subtopologies()[id]!;
    const topics = this.topology.sourceTopics(id, this.applicationId);
    for (const p of sub.sourcePatterns) for (const t of this.logs.keys()) if (p.test(t)) topics.push(t);
    for (const p of sub.sourcePatterns)
      for (const t of this.declaredPartitions.keys()) if (p.test(t)) topics.push(t);
    if (topics.length === 0) return 0;
    const counts = new Map(topics.map((t) => [t, this.partitionsOf(t)]));
    const distinct = new Set(counts.values());
    if (distinct.size > 1) {
      throw new TopologyError(
        `sub-topology ${id} reads topics that are not co-partitioned: ${[...counts].map(([t, n]) => `${t} (${n})`).join(', ')}; give them equal partition counts`,
      );
    }
    return [...distinct][0]!;
  }

  private async ensureTasks(): Promise<void> {
    if (this.globalStores === undefined) {
      // the global task first: every other task reads its stores
      const global = this.topology.globalSubtopology(this.applicationId);
      if (global !== undefined) {
        const task = this.newTask(global, 0, undefined);
        await task.initialize();
        await task.completeRestoration();
        this.globalTask = task;
        this.tasks.set(task.id, task);
      }
      this.globalStores = new Map((this.globalTask?.stores() ?? []).map((s) => [s.name, s]));
    }
    for (const sub of this.topology.subtopologies()) {
      const count = this.subtopologyPartitions(sub.id);
      for (let partition = 0; partition < count; partition++) {
        const id = `${sub.id}_${partition}`;
        if (this.tasks.has(id)) continue;
        const task = this.newTask(
          this.topology.subtopology(sub.id, this.applicationId),
          partition,
          this.globalStores,
        );
        await task.initialize();
        // nothing to restore: the driver's changelogs start empty
        await task.completeRestoration();
        this.tasks.set(id, task);
      }
    }
  }

  private newTask(
    topology: ProcessorTopology,
    partition: number,
    globalStores: ReadonlyMap<string, StateStore> | undefined,
  ): StreamTask {
    return new StreamTask({
      applicationId: this.applicationId,
      topology: this.withStoreType(topology),
      partition,
      collector: this.collector,
      appStateDir: join(this.stateDir, this.applicationId),
      cacheBudget: this.cacheBudget,
      time: () => this.wallClockMs,
      handlers: this.handlers,
      ...(globalStores && globalStores.size > 0 ? { globalStores } : {}),
    });
  }

  /** Swaps persistent key-value stores for in-memory ones with the same layers, unless persistent stores are asked for. */
  private withStoreType(topology: ProcessorTopology): ProcessorTopology {
    if (this.storeType === 'persistent') return topology;
    const storeBuilders = new Map<string, StoreBuilder<StateStore>>();
    for (const [name, builder] of topology.storeBuilders) {
      if (builder instanceof KeyValueStoreBuilder && builder.persistent) {
        const memory = Stores.keyValueStoreBuilder(
          Stores.inMemoryKeyValueStore(name),
          builder.keySerde,
          builder.valueSerde,
        );
        if (builder.cachingEnabled) memory.withCachingEnabled();
        if (builder.loggingEnabled) memory.withLoggingEnabled(builder.logConfig);
        else memory.withLoggingDisabled();
        storeBuilders.set(name, memory);
      } else {
        storeBuilders.set(name, builder);
      }
    }
    return { ...topology, storeBuilders };
  }

  private async appendInput(topic: string, records: ReadonlyArray<InputBytesRecord>): Promise<void> {
    const log = this.log(topic);
    for (const r of records) {
      const partition = r.partition ?? (r.key !== null ? defaultPartition(r.key, log.partitionCount) : 0);
      log.append(partition, r.key, r.value, r.headers, r.timestamp);
    }
    await this.ensureTasks();
    await this.runUntilIdle();
  }

  /**
   * Processes every unprocessed record of every topic the topology reads,
   * including what processing writes to such topics, until none is left.
   * The next batch comes from the partition whose head record is oldest, as
   * Kafka Streams' PartitionGroup picks.
   */
  private async runUntilIdle(): Promise<void> {
    for (;;) {
      // global topics first: processors must see the global stores up to date
      if (this.globalTask !== undefined && (await this.processGlobalRecords(this.globalTask))) continue;
      let best:
        { log: TopicLog; partition: number; sub: number; position: number; headTs: number } | undefined;
      for (const log of this.logs.values()) {
        if (this.topology.isGlobalTopic(log.name)) continue;
        const sub = this.topology.subtopologyForTopic(log.name, this.applicationId);
        if (sub === undefined) continue;
        for (let p = 0; p < log.partitionCount; p++) {
          const position = this.positions.get(`${log.name}:${p}`) ?? 0;
          const head = log.partitions[p]![position];
          if (head === undefined) continue;
          if (best === undefined || head.timestamp < best.headTs)
            best = { log, partition: p, sub, position, headTs: head.timestamp };
        }
      }
      if (best === undefined) return;
      await this.ensureTasks();
      const task = this.tasks.get(`${best.sub}_${best.partition}`);
      if (task === undefined)
        throw new TopologyError(
          `no task ${best.sub}_${best.partition} for ${best.log.name}[${best.partition}]`,
        );
      const batch = best.log.partitions[best.partition]!.slice(
        best.position,
        best.position + this.maxBatchRecords,
      );
      this.positions.set(`${best.log.name}:${best.partition}`, best.position + batch.length);
      await task.process(batch);
      if (task.commitRequested) this.committedFrom(await task.commit());
    }
  }

  /** Feeds the global task one pending batch of a global topic; false when none is pending. */
  private async processGlobalRecords(task: StreamTask): Promise<boolean> {
    for (const log of this.logs.values()) {
      if (!this.topology.isGlobalTopic(log.name)) continue;
      for (let p = 0; p < log.partitionCount; p++) {
        const key = `${log.name}:${p}`;
        const position = this.positions.get(key) ?? 0;
        if (position >= log.endOffset(p)) continue;
        const batch = log.partitions[p]!.slice(position, position + this.maxBatchRecords);
        this.positions.set(key, position + batch.length);
        await task.process(batch);
        return true;
      }
    }
    return false;
  }

  private async commitAll(): Promise<void> {
    for (const task of this.tasks.values()) {
      if (task.state === 'RUNNING' || task.state === 'SUSPENDED') this.committedFrom(await task.commit());
    }
    this.lastCommitMs = this.wallClockMs;
  }

  private committedFrom(offsets: Map<string, string>): void {
    for (const [k, v] of offsets) this.committed.set(k, v);
  }
}
