/**
 * KafkaStreams: runs a topology on a real Kafka cluster (Kafka Streams'
 * KafkaStreams + StreamThread + TaskManager, in one event loop).
 *
 * One consumer group per `application.id`; a StreamTask per (sub-topology,
 * partition), the co-partitioned sources of a sub-topology in one task
 * (the group uses a co-partitioning, sticky assignor: partition p of every
 * source topic goes to one member). Records flow like this:
 *
 *   kafkajs fetch -> onBatch: cut into chunks of max.poll.records, buffered
 *   per task and topic (fetching pauses above buffered.records.per.partition)
 *   -> the task's loop: ONE chunk in flight per task (`await task.process`)
 *   -> sinks/changelogs -> KafkaRecordCollector -> idempotent producer.
 *
 * Tasks do not wait for each other: each has its own loop, and a task whose
 * stores are restoring buffers (then pauses) while the others keep going.
 *
 * Commit (at-least-once), per task between two batches (never during one):
 * task.commit() = flush stores -> collector flush (await acks of outputs and
 * changelog records) -> store.commit(acked changelog offset) -> then the
 * consumer offsets are committed. Every commit.interval.ms, when a processor
 * asks, when a task's uncommitted store bytes exceed
 * statestore.uncommitted.max.bytes, before a rejoin when we see the rebalance
 * first, and on close.
 *
 * ## Rebalancing with kafkajs (its limits, and what we do)
 *
 * kafkajs (eager protocol) has no ConsumerRebalanceListener: nothing runs
 * between "the group is rebalancing" and "this member rejoined". What we use:
 *
 * 1. Commit before rejoin, when we see it first. onBatch sends the heartbeat
 *    itself (kafkajs's own heartbeat after the batch then finds it is not due).
 *    When that heartbeat says REBALANCE_IN_PROGRESS, the member is still in
 *    the old generation and the group is PreparingRebalance, where the broker
 *    still accepts offset commits. We stop every task loop, commit every task
 *    and its offsets, then rethrow so kafkajs rejoins. Revoked tasks then have
 *    nothing uncommitted and close clean after the join.
 * 2. When kafkajs sees it first (its heartbeat on an empty fetch, or a fetch
 *    error) it emits REBALANCING and rejoins at once. We stop every loop
 *    (the batch in flight finishes). After the join, a revoked task that has
 *    uncommitted work is closed DIRTY: its uncommitted writes are dropped and
 *    its offsets are not committed. Committing after the join would be
 *    accepted by the broker (it does not check ownership) but would race the
 *    new owner, which may already be restoring the changelog: our late
 *    changelog records would land behind its restore point (zombie writes).
 *    Dropping is at-least-once safe: the new owner starts from the last
 *    committed offset and reprocesses what we dropped. The cost is
 *    duplicates bounded by one commit interval, which is the at-least-once
 *    contract anyway.
 * 3. After every join, kafkajs restarts kept partitions from the COMMITTED
 *    offset, so it re-delivers what we already buffered or processed; each
 *    task remembers the next offset it expects per topic and drops the rest.
 * 4. New tasks are created at GROUP_JOIN (fetching waits for that); each
 *    restores in the background and starts processing when done.
 *
 * Limits: a member that stalls longer than session.timeout.ms (a blocked
 * event loop) is removed from the group without knowing it; its next
 * heartbeat or commit fails with a rebalancing error, it rejoins, and the
 * tasks it lost are closed as in 2 (kept ones continue). Until it notices, it
 * may still write to changelogs another member now owns (a zombie; Kafka
 * Streams under at_least_once has the same window). Only exactly-once (a
 * transactional producer per task, fencing zombies) closes it; it is reserved
 * (processing.guarantee).
 *
 * A restore retries retriable failures (leader changes, timeouts, lost
 * connections) for up to task.timeout.ms and wipes a store whose changelog
 * position is out of range (store-restorer.ts); only what remains is fatal.
 *
 * A fatal error (a task that fails, a restore that fails) moves the instance
 * to ERROR, closes its tasks dirty and leaves the group at once, so the other
 * instances take its partitions (Kafka Streams' SHUTDOWN_CLIENT); close()
 * then finishes the shutdown.
 *
 * ## Heartbeats
 *
 * kafkajs heartbeats from the same event loop, between fetches and batches.
 * Processing runs in task loops decoupled from the fetch loop, so a slow task
 * never holds the fetcher; but synchronous CPU work blocks everything. Before
 * each batch a task loop yields (setImmediate) when the event loop has not
 * had a turn for task.yield.interval.ms; the mark is shared by all task
 * loops, so the loop is blocked at most about one batch at a time (measured:
 * 250 ms of CPU per batch on 2 tasks -> ~280 ms max event-loop delay, no
 * rebalance over 2 x session.timeout.ms; one 7.5 s step with a 6 s session ->
 * removed and rejoined). Chunks are at most max.poll.records; model math
 * belongs in worker threads (src/ml's autobatcher). Keep any single
 * synchronous step well under session.timeout.ms (default 45 s).
 * test/integration/streams/heartbeat.test.ts measures this.
 *
 * ## Metrics
 *
 * The catalogue's engine metrics (src/telemetry/metric-names.ts), each
 * recorded once per fetch, batch, commit, rebalance or phase change, never
 * per record: records consumed, batch size and process duration per batch;
 * consumer lag per source partition after each fetch and batch (the fetch's
 * high watermark minus the next offset to process, so buffered records count;
 * a paused partition keeps the watermark of its last fetch); commit duration
 * per commit; rebalances per applied assignment; tasks by state on every
 * phase change; restore records/remaining/duration in store-restorer.ts.
 * Gauges keep their last value in every scrape, so a closed task's
 * partitions are set to lag 0 and a finished or abandoned restore to 0.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  createKafka,
  isRebalancingError,
  KafkaAdmin,
  KafkaConsumer,
  KafkaProducer,
  type Assignment,
  type FetchedBatch,
  type Kafka,
  type TopicSpec,
} from '../../kafka/index.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { counter, gauge, histogram } from '../../telemetry/instruments.ts';
import { METRIC_ATTRIBUTES, METRICS } from '../../telemetry/metric-names.ts';
import { linksFromHeaders } from '../../telemetry/trace-context.ts';
import { loadStreamsConfig, type StreamsConfig, type StreamsConfigInput } from '../config.ts';
import { StreamsError, TopologyError } from '../errors.ts';
import { exceptionHandlersFromConfig } from '../errors-handling/index.ts';
import type { TaskExceptionHandlers } from '../processor/exception-handlers.ts';
import type { ProcessorTopology } from '../processor/processor-topology.ts';
import type { RawRecord } from '../processor/raw-record.ts';
import { StreamTask } from '../processor/stream-task.ts';
import { SharedCacheBudget } from '../state/shared-cache-budget.ts';
import type { StateStore } from '../state/state-store.ts';
import { AppStateMachine, type KafkaStreamsState, type StateListener } from './app-state.ts';
import { TaskFailedError } from './errors.ts';
import { KafkaRecordCollector } from './kafka-record-collector.ts';
import { StateDirectory } from './state-directory.ts';
import {
  restoreTaskStores,
  type RestoreFaults,
  type RestoreResult,
  type StateRestoreListener,
} from './store-restorer.ts';
import { TaskHandle } from './task-handle.ts';
import { GlobalStateUpdater } from './global-state-updater.ts';

const log = createLogger('kafka-streams');
// The catalogue's metrics (src/telemetry/metric-names.ts), which docs/operations.md and the
// alert rules in deploy/prometheus use. Each is recorded once per batch, fetch, commit or
// rebalance, never per record. Restore metrics are recorded by store-restorer.ts.
const consumedRecords = counter(METRICS.recordsConsumed);
const batchSizes = histogram(METRICS.batchSize);
const processDurations = histogram(METRICS.processDuration);
const commitDurations = histogram(METRICS.commitDuration);
const consumerLag = gauge(METRICS.consumerLag);
const rebalances = counter(METRICS.rebalances);
const taskCounts = gauge(METRICS.tasks);
const tracer = trace.getTracer('ctr-streams');

/**
 * Started, not yet stopped instances of this process. `ctr.streams.tasks` is one
 * series per state for the whole process (the catalogue has no instance label),
 * so it counts the tasks of all of them: several instances in one process
 * (tests, a CLI running two apps) would otherwise overwrite each other's count.
 */
const liveInstances = new Map<KafkaStreams, ReadonlyMap<string, TaskHandle>>();

/** Records `ctr.streams.tasks` by state over every live instance; call on each phase change. */
function recordTaskCounts(): void {
  let restoring = 0;
  let running = 0;
  for (const tasks of liveInstances.values()) {
    for (const { phase } of tasks.values()) {
      if (phase === 'restoring') restoring++;
      else if (phase === 'running') running++;
    }
  }
  taskCounts.record(restoring, { [METRIC_ATTRIBUTES.taskState]: 'restoring' });
  taskCounts.record(running, { [METRIC_ATTRIBUTES.taskState]: 'running' });
}

/** The part of Topology (src/streams/topology) the runtime uses. */
export interface TopologyLike {
  subtopologies(): ReadonlyArray<{ readonly id: number }>;
  /** The compiled sub-topology with internal topic names resolved for `applicationId`. */
  subtopology(id: number, applicationId: string): ProcessorTopology;
  /** The global stores' sub-topology (Topology.globalSubtopology), undefined when there is none. */
  globalSubtopology?(applicationId: string): ProcessorTopology | undefined;
  /** Changelog and repartition topics to create; `partitionsFrom` names the topics whose (max) partition count they take. */
  internalTopics?(applicationId: string): ReadonlyArray<{
    readonly name: string;
    readonly partitionsFrom: readonly string[];
    readonly config: Readonly<Record<string, string>>;
  }>;
}

/** What the app can run: a Topology, or compiled sub-topologies (tests, hand-built graphs). */
export type RunnableTopology = TopologyLike | readonly ProcessorTopology[];

export interface KafkaStreamsOptions {
  /** A kafkajs client to reuse; default one built from bootstrap.servers and client.id. */
  kafka?: Kafka;
  /** Told about every store restore (start, batches, retries, end). */
  restoreListener?: StateRestoreListener;
  /**
   * Fault injection into store restores (tests of the retry, wipe and fatal paths on a real
   * broker): a hook that throws acts as a failed changelog read. Undefined in production.
   */
  restoreFaults?: RestoreFaults;
  /**
   * Exception-handling policies handed to every task. Default: the handlers the config names
   * (default.deserialization.exception.handler etc., built by src/streams/errors-handling).
   */
  handlers?: TaskExceptionHandlers;
  /** Read CTR_* env vars into the config (default false when a config object is given). */
  env?: NodeJS.ProcessEnv;
  /**
   * A bounded run (`ctr-streams replay`): per `topic:partition` of a source, the
   * offset at which processing stops; records at or after it are not processed
   * (the committed offset then stays at the bound). Undefined = unbounded.
   */
  stopOffsets?: ReadonlyMap<string, bigint>;
}

/** A fatal error's listener (Kafka Streams' uncaught exception handler, which here always shuts down). */
export type ErrorListener = (error: Error) => void;

function subtopologiesOf(topology: RunnableTopology, applicationId: string): readonly ProcessorTopology[] {
  if (Array.isArray(topology)) return topology as readonly ProcessorTopology[];
  const t = topology as TopologyLike;
  return t.subtopologies().map((info) => t.subtopology(info.id, applicationId));
}

function sourceTopicsOf(sub: ProcessorTopology): string[] {
  const topics = new Set<string>();
  for (const node of sub.nodes.values()) {
    if (node.kind !== 'source') continue;
    if (!node.topics)
      throw new TopologyError(`source "${node.name}" subscribes by pattern: the runtime needs fixed topics`);
    for (const t of node.topics) topics.add(t);
  }
  return [...topics];
}

export class KafkaStreams {
  readonly config: StreamsConfig;
  private readonly topology: RunnableTopology;
  private readonly subtopologies: readonly ProcessorTopology[];
  private readonly subOfTopic = new Map<string, ProcessorTopology>();
  private readonly lifecycle = new AppStateMachine();
  private readonly options: KafkaStreamsOptions;
  private readonly kafka: Kafka;
  private readonly stateDir: StateDirectory;
  private readonly cacheBudget: SharedCacheBudget;
  private readonly handlers: TaskExceptionHandlers;
  /** The dead-letter topic when a configured handler dead-letters (created at start). */
  private readonly deadLetterTopic: string | undefined;
  private readonly tasks = new Map<string, TaskHandle>();
  private readonly errorListeners: ErrorListener[] = [];
  private readonly restoreResults: RestoreResult[] = [];
  private readonly pausedPartitions = new Set<string>();
  private producer: KafkaProducer | undefined;
  /** Fills the global stores; bootstrapped before any task starts. */
  private globalUpdater: GlobalStateUpdater | undefined;
  private consumer: KafkaConsumer | undefined;
  private assignmentChain: Promise<void> = Promise.resolve();
  /** True from "a rebalance started" until its new assignment is applied: task loops hold. */
  private rebalancing = false;
  private commitTimer: NodeJS.Timeout | undefined;
  private punctuateTimer: NodeJS.Timeout | undefined;
  private committingAll = false;
  private fatal: Error | undefined;
  private closing: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private generation = 0;
  private signalHandler: (() => void) | undefined;
  /** When a task loop last came back from yielding to the event loop (performance.now() ms). */
  private lastTurnMs = performance.now();

  /**
   * @param topology the compiled sub-topologies (Topology from src/streams/topology, or an array)
   * @param config a validated StreamsConfig, or raw settings (validated here)
   * @throws ConfigError listing every bad setting; TopologyError when a source uses a pattern
   */
  constructor(
    topology: RunnableTopology,
    config: StreamsConfig | StreamsConfigInput,
    options: KafkaStreamsOptions = {},
  ) {
    this.config = loadStreamsConfig({
      overrides: config as StreamsConfigInput,
      ...(options.env ? { env: options.env } : {}),
    });
    this.options = options;
    this.topology = topology;
    this.subtopologies = subtopologiesOf(topology, this.config['application.id']);
    for (const sub of this.subtopologies) {
      for (const topic of sourceTopicsOf(sub)) {
        const other = this.subOfTopic.get(topic);
        if (other && other !== sub)
          throw new TopologyError(
            `topic "${topic}" is a source of sub-topologies ${other.id} and ${sub.id}; a topic may feed one sub-topology`,
          );
        this.subOfTopic.set(topic, sub);
      }
    }
    this.kafka =
      options.kafka ??
      createKafka({ bootstrapServers: this.config['bootstrap.servers'], clientId: this.config['client.id'] });
    this.stateDir = new StateDirectory(this.config['state.dir'], this.config['application.id']);
    this.cacheBudget = new SharedCacheBudget(this.config['statestore.cache.max.bytes']);
    if (options.handlers) {
      this.handlers = options.handlers;
      this.deadLetterTopic = undefined;
    } else {
      const fromConfig = exceptionHandlersFromConfig(this.config);
      this.handlers = fromConfig.handlers;
      this.deadLetterTopic = fromConfig.deadLetterTopic;
    }
  }

  get state(): KafkaStreamsState {
    return this.lifecycle.state;
  }

  /** Called on every state change with (newState, oldState). */
  onStateChange(listener: StateListener): void {
    this.lifecycle.onChange(listener);
  }

  /** Called once when a fatal error moves the app to ERROR (it then closes its tasks dirty). */
  onError(listener: ErrorListener): void {
    this.errorListeners.push(listener);
  }

  /** Ids of the tasks this instance runs now (restoring or running), sorted. */
  activeTaskIds(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /** How many group assignments this instance has applied (1 after the first join; each rejoin adds one). */
  get assignmentsApplied(): number {
    return this.generation;
  }

  /** Records fetched but not yet processed, per task id (bounded by buffered.records.per.partition plus one fetch). */
  bufferedRecords(): Map<string, number> {
    return new Map([...this.tasks].map(([id, h]) => [id, h.totalBuffered()]));
  }

  /** Every store restore this instance did, in order. */
  restores(): readonly RestoreResult[] {
    return this.restoreResults;
  }

  /**
   * A store of the task that runs `partition` of the sub-topology holding it
   * (for queries and tests; reads see committed and uncommitted writes).
   * @returns undefined when this instance does not run that task now.
   */
  store<S extends StateStore = StateStore>(name: string, partition: number): S | undefined {
    for (const handle of this.tasks.values()) {
      if (handle.partition !== partition || handle.phase !== 'running') continue;
      const store = handle.task.stores().find((s) => s.name === name);
      if (store) return store as S;
    }
    return undefined;
  }

  /**
   * Creates the internal topics, joins the group and starts processing.
   * Resolves once the first assignment is applied (restores continue in the background).
   * @throws StateDirLockedError when another live instance uses the same state.dir
   * @throws StreamsError when a source topic is missing or co-partitioned sources differ in partition count
   */
  async start(): Promise<void> {
    if (this.lifecycle.state !== 'CREATED')
      throw new StreamsError(
        'CTR_ILLEGAL_STATE',
        `KafkaStreams can start only once (state ${this.lifecycle.state})`,
      );
    this.stateDir.lockInstance();
    try {
      this.lifecycle.moveTo('REBALANCING');
      await this.createInternalTopics();
      await this.startGlobalStores();
      this.producer = new KafkaProducer(this.kafka, { idempotent: true });
      await this.producer.connect();
      const consumer = new KafkaConsumer(this.kafka, {
        groupId: this.config['application.id'],
        sessionTimeoutMs: this.config['session.timeout.ms'],
        heartbeatIntervalMs: this.config['heartbeat.interval.ms'],
        rebalanceTimeoutMs: this.config['max.poll.interval.ms'],
        maxBytes: this.config['fetch.max.bytes'],
        maxBytesPerPartition: this.config['max.partition.fetch.bytes'],
        maxWaitTimeMs: this.config['fetch.max.wait.ms'],
        ownedPartitions: () => [...new Set([...this.tasks.values()].map((h) => h.partition))],
        ...(this.config['application.server']
          ? { applicationServer: this.config['application.server'] }
          : {}),
      });
      this.consumer = consumer;
      consumer.onRebalancing(() => this.onRebalanceStarted());
      consumer.onAssigned((assignment) => {
        this.assignmentChain = this.assignmentChain
          .then(() => this.applyAssignment(assignment))
          .catch((error) => this.fail(error));
      });
      consumer.onCrash((error, willRestart) => {
        if (!willRestart) this.fail(error);
        // kafkajs left the group and will rejoin after a backoff; say so, or a
        // member that lost its partitions for a while looks silently idle
        else
          log.warn(
            { applicationId: this.config['application.id'], err: error.message },
            'consumer crashed; kafkajs restarts it',
          );
      });
      await consumer.connect();
      await consumer.subscribe([...this.subOfTopic.keys()], true);
      liveInstances.set(this, this.tasks);
      await consumer.run({ eachBatch: (batch) => this.onBatch(batch) });
      await this.assignmentChain;
      const interval = this.config['commit.interval.ms'];
      if (interval > 0) this.commitTimer = setInterval(() => this.markCommitDue(), interval);
      this.punctuateTimer = setInterval(() => this.punctuateAll(), this.config['punctuation.interval.ms']);
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  /**
   * Closes on SIGTERM/SIGINT: commit, close stores, leave the group; then
   * `process.exit(0)` (or 1 when the close failed) unless `exit` is false.
   */
  closeOnSignals(options: { exit?: boolean } = {}): void {
    if (this.signalHandler) return;
    this.signalHandler = () => {
      log.info({ applicationId: this.config['application.id'] }, 'signal received: closing');
      this.close().then(
        () => options.exit !== false && process.exit(0),
        () => options.exit !== false && process.exit(1),
      );
    };
    process.once('SIGTERM', this.signalHandler);
    process.once('SIGINT', this.signalHandler);
  }

  /**
   * Graceful shutdown: stop the task loops, commit every task, close the
   * stores, leave the group (so its partitions move at once). Idempotent.
   * Waits at most shutdown.timeout.ms for the commit, then closes dirty.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.lifecycle.state === 'NOT_RUNNING') return;
    const wasCreated = this.lifecycle.state === 'CREATED';
    if (this.lifecycle.state !== 'PENDING_SHUTDOWN') this.lifecycle.moveTo('PENDING_SHUTDOWN');
    this.stopTimers();
    if (this.signalHandler) {
      process.off('SIGTERM', this.signalHandler);
      process.off('SIGINT', this.signalHandler);
    }
    if (!wasCreated) await (this.stopping ??= this.stopEverything());
    this.stateDir.unlockAll();
    this.lifecycle.moveTo('NOT_RUNNING');
  }

  /**
   * Stops the task loops, closes every task (clean: commit first; after a
   * fatal error: dirty), then the global stores, the consumer (leaving the
   * group, so the partitions move at once) and the producer. Runs once: on
   * close(), or right after a fatal error so a failed instance does not hold
   * its partitions (Kafka Streams' SHUTDOWN_CLIENT).
   */
  private async stopEverything(): Promise<void> {
    await this.assignmentChain.catch(() => undefined);
    const timeout = this.config['shutdown.timeout.ms'];
    let timer: NodeJS.Timeout | undefined;
    const handles = [...this.tasks.values()];
    const clean = this.fatal === undefined;
    const closeAll = async (): Promise<void> => {
      const offsets = new Map<string, string>();
      await Promise.all(
        handles.map(async (h) => {
          const o = await this.closeTask(h, clean);
          for (const [k, v] of o) offsets.set(k, v);
        }),
      );
      if (clean) await this.commitOffsets(offsets);
    };
    try {
      await Promise.race([
        closeAll(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new StreamsError(
                  'CTR_STREAMS',
                  `close did not finish within shutdown.timeout.ms (${timeout} ms)`,
                ),
              ),
            timeout,
          );
        }),
      ]);
    } catch (error) {
      log.error({ err: error }, 'graceful close failed: closing tasks dirty');
      await Promise.all(handles.map((h) => this.closeTask(h, false).catch(() => undefined)));
    } finally {
      clearTimeout(timer);
    }
    this.tasks.clear();
    liveInstances.delete(this);
    recordTaskCounts();
    await this.globalUpdater?.close().catch((error) => log.warn({ err: error }, 'global store close failed'));
    await this.consumer
      ?.disconnect()
      .catch((error) => log.warn({ err: error }, 'consumer disconnect failed'));
    await this.producer
      ?.disconnect()
      .catch((error) => log.warn({ err: error }, 'producer disconnect failed'));
  }

  /**
   * A global store of this instance (every instance holds all of it), for
   * queries; undefined when the topology has no such global store.
   */
  globalStore<S extends StateStore = StateStore>(name: string): S | undefined {
    return this.globalUpdater?.stores().get(name) as S | undefined;
  }

  /** Bootstraps the global stores (global-state-updater.ts) before any task is created. */
  private async startGlobalStores(): Promise<void> {
    const global = Array.isArray(this.topology)
      ? undefined
      : (this.topology as TopologyLike).globalSubtopology?.(this.config['application.id']);
    if (global === undefined) return;
    this.globalUpdater = new GlobalStateUpdater({
      kafka: this.kafka,
      applicationId: this.config['application.id'],
      topology: global,
      appStateDir: this.stateDir.appDir,
      cacheBudget: this.cacheBudget,
      handlers: this.handlers,
    });
    await this.globalUpdater.start((error) => this.fail(error));
  }

  // ---- internal topics --------------------------------------------------------------------------

  private async createInternalTopics(): Promise<void> {
    const admin = new KafkaAdmin(this.kafka);
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const specs: TopicSpec[] = [];
      const rf = this.config['replication.factor'];
      const applicationId = this.config['application.id'];
      const declared = Array.isArray(this.topology)
        ? undefined
        : (this.topology as TopologyLike).internalTopics?.(applicationId);
      const partitionCounts = new Map<string, number>();
      for (const sub of this.subtopologies) {
        const declaredNames = new Set((declared ?? []).map((t) => t.name));
        // repartition topics are sources we create ourselves
        const sources = sourceTopicsOf(sub).filter((t) => !declaredNames.has(t) || existing.has(t));
        if (sources.length === 0) continue;
        const missing = sources.filter((t) => !existing.has(t));
        if (missing.length > 0) {
          throw new StreamsError(
            'CTR_STREAMS',
            `source topic(s) ${missing.map((t) => `"${t}"`).join(', ')} of sub-topology ${sub.id} do not exist; create them first`,
          );
        }
        const described = await admin.describeTopics(sources, { withConfigs: false });
        const counts = new Map(described.map((d) => [d.name, d.partitions.length]));
        for (const [t, n] of counts) partitionCounts.set(t, n);
        const distinct = new Set(counts.values());
        if (distinct.size > 1) {
          const list = [...counts].map(([t, n]) => `"${t}" (${n})`).join(', ');
          throw new StreamsError(
            'CTR_STREAMS',
            `co-partitioned source topics of sub-topology ${sub.id} differ in partition count: ${list}`,
          );
        }
        const partitions = [...distinct][0]!;
        if (declared) continue;
        for (const builder of sub.storeBuilders.values()) {
          if (!builder.loggingEnabled) continue;
          specs.push({
            name: `${this.config['application.id']}-${builder.name}-changelog`,
            partitions,
            compacted: true,
            configs: builder.logConfig,
            ...(rf > 0 ? { replicationFactor: rf } : {}),
          });
        }
      }
      for (const topic of declared ?? []) {
        const counts = topic.partitionsFrom
          .map((t) => partitionCounts.get(t))
          .filter((n): n is number => n !== undefined);
        if (counts.length === 0)
          throw new StreamsError(
            'CTR_STREAMS',
            `cannot size internal topic "${topic.name}": none of ${topic.partitionsFrom.join(', ')} is a known source topic`,
          );
        specs.push({
          name: topic.name,
          partitions: Math.max(...counts),
          compacted: topic.config['cleanup.policy'] === 'compact',
          configs: { ...topic.config },
          ...(rf > 0 ? { replicationFactor: rf } : {}),
        });
      }
      if (this.deadLetterTopic !== undefined && !existing.has(this.deadLetterTopic)) {
        // as many partitions as the widest source, so dead letters spread like the input
        const widest = Math.max(1, ...partitionCounts.values());
        specs.push({
          name: this.deadLetterTopic,
          partitions: widest,
          ...(rf > 0 ? { replicationFactor: rf } : {}),
        });
      }
      if (specs.length > 0) {
        const created = await admin.createTopics(specs);
        if (created.length > 0) log.info({ topics: created }, 'created internal topics');
      }
    } finally {
      await admin.disconnect();
    }
  }

  // ---- fetching and buffering -----------------------------------------------------------------

  private async onBatch(batch: FetchedBatch): Promise<void> {
    await this.assignmentChain;
    if (this.fatal || this.closing) return;
    try {
      // our own heartbeat: if the group is rebalancing we learn it here, still in the old
      // generation, and can commit before kafkajs rejoins (see the header comment)
      await batch.heartbeat();
    } catch (error) {
      if (isRebalancingError(error)) {
        await this.commitBeforeRejoin();
      }
      throw error;
    }
    const sub = this.subOfTopic.get(batch.topic);
    const handle = sub ? this.tasks.get(`${sub.id}_${batch.partition}`) : undefined;
    if (!handle || handle.phase === 'closing' || handle.phase === 'closed') return;
    handle.noteHighWatermark(batch.topic, batch.highWatermark);
    const stopAt = this.options.stopOffsets?.get(`${batch.topic}:${batch.partition}`);
    const inBounds =
      stopAt === undefined ? batch.records : batch.records.filter((r) => BigInt(r.offset) < stopAt);
    if (inBounds.length === 0) return;
    const records: RawRecord[] = inBounds.map((r) => ({
      key: r.key,
      value: r.value,
      timestamp: r.timestamp,
      headers: r.headers,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
    }));
    const buffered = handle.enqueue(batch.topic, records, this.config['max.poll.records']);
    this.recordLag(handle, batch.topic);
    if (buffered >= this.config['buffered.records.per.partition'])
      this.pausePartition(batch.topic, batch.partition);
  }

  private pausePartition(topic: string, partition: number): void {
    const key = `${topic}:${partition}`;
    if (this.pausedPartitions.has(key)) return;
    this.pausedPartitions.add(key);
    this.consumer?.pause(topic, [partition]);
  }

  private resumePartition(topic: string, partition: number): void {
    const key = `${topic}:${partition}`;
    if (!this.pausedPartitions.delete(key)) return;
    this.consumer?.resume(topic, [partition]);
  }

  // ---- the task loop ----------------------------------------------------------------------------

  private async runLoop(handle: TaskHandle): Promise<void> {
    const limit = this.config['buffered.records.per.partition'];
    const yieldAfter = this.config['task.yield.interval.ms'];
    const commitEveryBatch = this.config['commit.interval.ms'] === 0;
    while (handle.phase === 'running' && !this.fatal) {
      if (this.rebalancing) {
        await handle.waitForWork();
        continue;
      }
      if (handle.commitDue || handle.task.commitRequested || this.uncommittedTooLarge(handle)) {
        handle.commitDue = false;
        await this.commitTasks([handle]);
        continue;
      }
      if (performance.now() - this.lastTurnMs > yieldAfter) {
        // the event loop has not had a turn for a while (this or another task kept it busy):
        // let heartbeats, fetches and timers run before the next batch. The mark is shared by
        // all task loops, so two CPU-heavy tasks cannot run their batches back to back.
        await yieldToEventLoop();
        this.lastTurnMs = performance.now();
        continue;
      }
      const next = handle.takeNext();
      if (!next) {
        await handle.waitForWork();
        this.lastTurnMs = performance.now();
        continue;
      }
      const subtopology = handle.id.slice(0, handle.id.indexOf('_'));
      const batchStarted = performance.now();
      // one span per batch per task, linked to the producer span of each record in it (W3C headers)
      await tracer.startActiveSpan(
        `process ${next.topic}`,
        {
          kind: SpanKind.CONSUMER,
          links: linksFromHeaders(
            next.records.map((r) => r.headers as Record<string, Buffer | string | undefined>),
          ),
          attributes: {
            'messaging.system': 'kafka',
            'messaging.destination.name': next.topic,
            'messaging.batch.message_count': next.records.length,
            'ctr.task.id': handle.id,
          },
        },
        async (span) => {
          try {
            await handle.mutex.run(async () => {
              if (handle.phase !== 'running') return;
              await handle.task.process(next.records);
            });
          } catch (error) {
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            throw error;
          } finally {
            span.end();
          }
        },
      );
      handle.markProcessed(next.topic, next.records);
      this.recordLag(handle, next.topic);
      consumedRecords.add(next.records.length, { topic: next.topic });
      batchSizes.record(next.records.length, { subtopology });
      processDurations.record((performance.now() - batchStarted) / 1000, { subtopology });
      if (handle.buffered(next.topic) < limit) this.resumePartition(next.topic, handle.partition);
      if (commitEveryBatch) handle.commitDue = true;
      // bound what the producer holds for this task: wait for in-flight sends when they pile up
      if (handle.collector.unackedRecords() > 4 * limit) await handle.collector.drainInFlight();
    }
  }

  /** Records `ctr.streams.consumer.lag` of one source partition of a task (after a fetch or a batch). */
  private recordLag(handle: TaskHandle, topic: string): void {
    const lag = handle.lag(topic);
    if (lag !== undefined)
      consumerLag.record(lag, {
        [METRIC_ATTRIBUTES.topic]: topic,
        [METRIC_ATTRIBUTES.partition]: handle.partition,
      });
  }

  private startLoop(handle: TaskHandle): void {
    handle.loop = this.runLoop(handle).catch((error) =>
      this.fail(
        new TaskFailedError(`task ${handle.id} failed: ${(error as Error).message}`, {
          cause: error,
          taskId: handle.id,
        }),
      ),
    );
  }

  private uncommittedTooLarge(handle: TaskHandle): boolean {
    const max = this.config['statestore.uncommitted.max.bytes'];
    let bytes = 0;
    for (const store of handle.task.stores()) bytes += store.uncommittedBytes?.() ?? 0;
    return bytes > max;
  }

  // ---- commits ----------------------------------------------------------------------------------

  private markCommitDue(): void {
    for (const handle of this.tasks.values()) {
      if (handle.phase !== 'running') continue;
      handle.commitDue = true;
      handle.wake();
    }
  }

  /** Commits the given running tasks (each under its mutex), then their consumer offsets in one request. */
  private async commitTasks(handles: readonly TaskHandle[]): Promise<void> {
    const offsets = new Map<string, string>();
    const generation = this.generation;
    const started = process.hrtime.bigint();
    let committed = 0;
    await Promise.all(
      handles.map((h) =>
        h.mutex.run(async () => {
          if (h.phase !== 'running' || !h.task.commitNeeded) return;
          const o = await h.task.commit();
          committed++;
          h.lastCommitMs = Date.now();
          for (const [k, v] of o) offsets.set(k, v);
        }),
      ),
    );
    // a rebalance completed meanwhile: these partitions may belong to another member now
    if (generation === this.generation) await this.commitOffsets(offsets);
    // one observation per commit (all its tasks and their offsets), none when nothing needed one;
    // a commit that threw is not a commit, and the error reaches the task loop instead
    if (committed > 0) commitDurations.recordSince(started);
  }

  private async commitOffsets(offsets: ReadonlyMap<string, string>): Promise<void> {
    if (offsets.size === 0 || !this.consumer) return;
    const list = [...offsets].map(([tp, offset]) => {
      const i = tp.lastIndexOf(':');
      return { topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), offset };
    });
    try {
      await this.consumer.commit(list);
    } catch (error) {
      if (isRebalancingError(error)) {
        // the offsets stay uncommitted: at-least-once, the next owner reprocesses from the last commit
        log.warn(
          { err: error },
          'offset commit rejected by a rebalance; records since the last commit may be reprocessed',
        );
        return;
      }
      throw error;
    }
  }

  /** Stops every loop and commits every task while this member is still in the old generation. */
  private async commitBeforeRejoin(): Promise<void> {
    if (this.committingAll) return;
    this.committingAll = true;
    this.rebalancing = true;
    try {
      const running = [...this.tasks.values()].filter((h) => h.phase === 'running');
      await this.commitTasks(running);
      log.info({ tasks: running.map((h) => h.id) }, 'committed all tasks before rejoining the group');
    } catch (error) {
      log.warn(
        { err: error },
        'commit before rejoin failed; uncommitted work of revoked tasks will be dropped',
      );
    } finally {
      this.committingAll = false;
    }
  }

  // ---- rebalancing --------------------------------------------------------------------------------

  private onRebalanceStarted(): void {
    this.rebalancing = true;
    if (this.lifecycle.state === 'RUNNING') this.lifecycle.moveTo('REBALANCING');
  }

  private async applyAssignment(assignment: Assignment): Promise<void> {
    if (this.closing || this.fatal) return;
    this.generation++;
    rebalances.add(1);
    this.rebalancing = true;
    if (this.lifecycle.state === 'RUNNING') this.lifecycle.moveTo('REBALANCING');
    const wanted = new Map<string, { sub: ProcessorTopology; partition: number }>();
    for (const [topic, partitions] of assignment) {
      const sub = this.subOfTopic.get(topic);
      if (!sub) continue;
      for (const p of partitions) wanted.set(`${sub.id}_${p}`, { sub, partition: p });
    }
    const revoked = [...this.tasks.values()].filter((h) => !wanted.has(h.id));
    const added = [...wanted].filter(([id]) => !this.tasks.has(id));
    log.info(
      {
        generation: this.generation,
        assigned: [...wanted.keys()].sort(),
        revoked: revoked.map((h) => h.id),
        added: added.map(([id]) => id),
      },
      'assignment changed',
    );
    await Promise.all(
      revoked.map(async (h) => {
        // nothing uncommitted (committed before rejoin, or idle): a clean close costs nothing;
        // otherwise drop it rather than write behind the new owner's back (header comment, point 2)
        const clean = !h.task.commitNeeded;
        await this.closeTask(h, clean);
        this.tasks.delete(h.id);
        // kafkajs keeps a partition's pause across rejoins: clear ours so it fetches if it comes back
        for (const topic of h.sourceTopics) this.resumePartition(topic, h.partition);
      }),
    );
    for (const [id, { sub, partition }] of added) {
      const handle = await this.createTask(sub, partition);
      handle.sourceTopics = sourceTopicsOf(sub);
      this.tasks.set(id, handle);
      void this.restoreInBackground(handle);
    }
    this.rebalancing = false;
    recordTaskCounts();
    for (const handle of this.tasks.values()) handle.wake();
    this.maybeRunning();
  }

  private async createTask(sub: ProcessorTopology, partition: number): Promise<TaskHandle> {
    const id = `${sub.id}_${partition}`;
    this.stateDir.lock(id);
    for (let attempt = 0; ; attempt++) {
      const collector = new KafkaRecordCollector(this.producer!, { taskId: id });
      const task = new StreamTask({
        applicationId: this.config['application.id'],
        topology: sub,
        partition,
        collector,
        appStateDir: this.stateDir.appDir,
        cacheBudget: this.cacheBudget,
        handlers: this.handlers,
        ...(this.globalUpdater ? { globalStores: this.globalUpdater.stores() } : {}),
      });
      try {
        await task.initialize();
        return new TaskHandle(task, collector);
      } catch (error) {
        if ((error as { code?: string }).code === 'CTR_STORE_CORRUPTED' && attempt === 0) {
          // a damaged store cannot be trusted: start the task from scratch, the changelog has everything
          log.warn(
            { taskId: id, err: error },
            'store damaged: wiping the task directory and restoring from the changelog',
          );
          this.stateDir.wipeTask(id);
          continue;
        }
        this.stateDir.unlock(id);
        throw error;
      }
    }
  }

  private async restoreInBackground(handle: TaskHandle): Promise<void> {
    try {
      const results = await restoreTaskStores({
        kafka: this.kafka,
        taskId: handle.id,
        partition: handle.partition,
        stores: handle.task.stores(),
        listener: this.options.restoreListener,
        batchMaxRecords: this.config['restore.batch.max.records'],
        // retriable failures are retried inside, for up to task.timeout.ms; the task stays
        // RESTORING meanwhile, other tasks keep processing and the consumer keeps heartbeating
        taskTimeoutMs: this.config['task.timeout.ms'],
        faults: this.options.restoreFaults,
        isCancelled: () =>
          handle.phase !== 'restoring' || this.closing !== undefined || this.fatal !== undefined,
      });
      if (handle.phase !== 'restoring' || this.closing) return;
      for (const r of results) handle.restoredRecords += r.restored;
      this.restoreResults.push(...results);
      await handle.mutex.run(() => handle.task.completeRestoration());
      handle.phase = 'running';
      recordTaskCounts();
      this.startLoop(handle);
      this.maybeRunning();
    } catch (error) {
      if (handle.phase === 'restoring' && !this.closing) this.fail(error);
    }
  }

  private maybeRunning(): void {
    if (this.rebalancing || this.lifecycle.state !== 'REBALANCING') return;
    for (const h of this.tasks.values()) if (h.phase === 'restoring') return;
    this.lifecycle.moveTo('RUNNING');
  }

  /**
   * Stops a task's loop (the batch in flight finishes) and closes it.
   * @returns the consumer offsets to commit (empty for a dirty close)
   */
  private async closeTask(handle: TaskHandle, clean: boolean): Promise<Map<string, string>> {
    if (handle.phase === 'closed') return new Map();
    handle.phase = 'closing';
    recordTaskCounts();
    handle.wake();
    await handle.loop;
    handle.clearBuffers();
    let offsets = new Map<string, string>();
    try {
      if (clean) {
        offsets = await handle.mutex.run(() => handle.task.closeClean());
      } else {
        await handle.mutex.run(() => handle.task.closeDirty());
      }
    } catch (error) {
      log.warn({ taskId: handle.id, err: error }, 'task close failed: closing dirty');
      await handle.task.closeDirty().catch(() => undefined);
      offsets = new Map();
    } finally {
      handle.phase = 'closed';
      this.stateDir.unlock(handle.id);
      // the partition's next owner reports its lag now; our last value would linger in every
      // scrape (an OpenTelemetry gauge keeps it) and be counted twice by sum/max over instances
      for (const topic of handle.sourceTopics)
        consumerLag.record(0, {
          [METRIC_ATTRIBUTES.topic]: topic,
          [METRIC_ATTRIBUTES.partition]: handle.partition,
        });
    }
    return offsets;
  }

  // ---- punctuation --------------------------------------------------------------------------------

  private punctuateAll(): void {
    if (this.rebalancing || this.fatal || this.closing) return;
    const now = Date.now();
    for (const handle of this.tasks.values()) {
      // a busy task catches up at the next tick; queueing ticks behind a slow batch would burst them
      if (handle.phase !== 'running' || handle.mutex.busy) continue;
      handle.mutex
        .run(async () => {
          if (handle.phase === 'running') await handle.task.punctuate(now);
        })
        .catch((error) =>
          this.fail(
            new TaskFailedError(
              `task ${handle.id} failed in a wall-clock punctuator: ${(error as Error).message}`,
              { cause: error, taskId: handle.id },
            ),
          ),
        );
    }
  }

  // ---- failure ------------------------------------------------------------------------------------

  private stopTimers(): void {
    clearInterval(this.commitTimer);
    clearInterval(this.punctuateTimer);
    this.commitTimer = undefined;
    this.punctuateTimer = undefined;
  }

  /** A fatal error: ERROR state, listeners told; close() then closes every task dirty. */
  private fail(error: unknown): void {
    if (this.fatal) return;
    const err = error instanceof Error ? error : new Error(String(error));
    this.fatal = err;
    log.error({ err }, 'fatal error: the instance stops processing');
    this.stopTimers();
    if (this.lifecycle.canMoveTo('ERROR')) this.lifecycle.moveTo('ERROR');
    for (const listener of this.errorListeners) {
      try {
        listener(err);
      } catch {
        // a listener's bug must not hide the error
      }
    }
    for (const handle of this.tasks.values()) handle.wake();
    // release the partitions at once (close tasks dirty, leave the group); close() then finishes
    if (this.lifecycle.state === 'ERROR') this.stopping ??= this.stopEverything();
  }

  /** The error that stopped the instance, if any. */
  get error(): Error | undefined {
    return this.fatal;
  }

  /** Deletes this application's local state directory (all tasks). Only when not running. */
  static cleanUp(stateDir: string, applicationId: string): void {
    rmSync(join(stateDir, applicationId), { recursive: true, force: true });
  }
}
