/**
 * The global thread (Kafka Streams' GlobalStreamThread): fills the global
 * stores (Topology.addGlobalStore, StreamsBuilder.globalTable) of one app
 * instance from ALL partitions of their topics.
 *
 * It runs the topology's global sub-topology as one StreamTask (the same
 * task code as every other task), fed by a consumer of its own: a group of
 * one member with a unique id (kafkajs needs a group to fetch), which never
 * commits, so every partition of every global topic is this member's.
 *
 * `start()` bootstraps: it resolves only when the stores hold every record
 * that was in the topics when it was called (the end offsets read then), so
 * KafkaStreams starts its tasks on complete global stores. The consumer then
 * keeps running and applies new records while the app runs; processors see
 * them at their next read.
 *
 * Global stores start empty on every start: their topic is their changelog
 * (no store of its own), and a global topic position per partition does not
 * fit the single changelog position a store keeps. Rebuilding costs one read
 * of the topic per start, which is what bootstrapping a new instance costs anyway.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { KafkaAdmin, KafkaConsumer, type Kafka } from '../../kafka/index.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { StreamsError } from '../errors.ts';
import type { TaskExceptionHandlers } from '../processor/exception-handlers.ts';
import type { ProcessorTopology } from '../processor/processor-topology.ts';
import type { RecordCollector } from '../processor/record-collector.ts';
import type { Headers } from '../processor/record.ts';
import { StreamTask } from '../processor/stream-task.ts';
import type { SharedCacheBudget } from '../state/shared-cache-budget.ts';
import type { StateStore } from '../state/state-store.ts';

const log = createLogger('global');

export interface GlobalStateUpdaterOptions {
  kafka: Kafka;
  applicationId: string;
  /** The global sub-topology (Topology.globalSubtopology). */
  topology: ProcessorTopology;
  /** `<state.dir>/<application.id>`: global stores live in `<appStateDir>/global/<task>/<store>`. */
  appStateDir: string;
  cacheBudget: SharedCacheBudget;
  handlers?: TaskExceptionHandlers;
  /** Gives up bootstrapping after this many ms. Default 300000. */
  bootstrapTimeoutMs?: number;
  /** Applied writes are committed to the stores at least this often, ms. Default 1000. */
  commitIntervalMs?: number;
}

/** A global update writes only stores (no changelog, no outputs): nothing is sent. */
class NoOutputCollector implements RecordCollector {
  send(topic: string): void {
    throw new StreamsError('CTR_STREAMS', `a global store must not log to a changelog (tried "${topic}")`);
  }
  sendRecord(
    topic: string,
    _partition: number | undefined,
    _key: Buffer | null,
    _value: Buffer | null,
    _headers: Headers,
    _timestamp: number,
  ): void {
    throw new StreamsError(
      'CTR_STREAMS',
      `a global store updater must not forward records (tried to write "${topic}")`,
    );
  }
  async partitionsFor(topic: string): Promise<number> {
    throw new StreamsError(
      'CTR_STREAMS',
      `a global store updater must not write topics (asked for "${topic}")`,
    );
  }
  async flush(): Promise<Map<string, string>> {
    return new Map();
  }
}

export class GlobalStateUpdater {
  private readonly task: StreamTask;
  private consumer: KafkaConsumer | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private applied = 0;
  private readonly topics: string[];

  constructor(private readonly options: GlobalStateUpdaterOptions) {
    this.task = new StreamTask({
      applicationId: options.applicationId,
      topology: options.topology,
      partition: 0,
      collector: new NoOutputCollector(),
      appStateDir: join(options.appStateDir, 'global'),
      cacheBudget: options.cacheBudget,
      ...(options.handlers ? { handlers: options.handlers } : {}),
    });
    const topics = new Set<string>();
    for (const node of options.topology.nodes.values())
      if (node.kind === 'source') for (const t of node.topics ?? []) topics.add(t);
    this.topics = [...topics];
  }

  /** The global stores by name (empty before `start`). */
  stores(): ReadonlyMap<string, StateStore> {
    return new Map(this.task.stores().map((s) => [s.name, s]));
  }

  /** Records applied since start. */
  get recordsApplied(): number {
    return this.applied;
  }

  /** The error that stopped the updates, if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /**
   * Opens the stores (empty), reads every global topic to the end offsets it
   * has now, and keeps applying new records in the background.
   * @throws StreamsError when a global topic is missing, or bootstrapping fails or times out.
   */
  async start(onError: (error: Error) => void): Promise<void> {
    await this.task.initialize();
    for (const store of this.task.stores()) await store.wipe();
    await this.task.completeRestoration();

    const admin = new KafkaAdmin(this.options.kafka);
    await admin.connect();
    const remaining = new Map<string, bigint>();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = this.topics.filter((t) => !existing.has(t));
      if (missing.length > 0)
        throw new StreamsError(
          'CTR_STREAMS',
          `global topic(s) ${missing.map((t) => `"${t}"`).join(', ')} do not exist; create them first`,
        );
      for (const topic of this.topics) {
        for (const p of await admin.topicOffsets(topic))
          if (BigInt(p.high) > BigInt(p.low)) remaining.set(`${topic}:${p.partition}`, BigInt(p.high));
      }
    } finally {
      await admin.disconnect();
    }
    const total = remaining.size;
    log.info({ topics: this.topics, partitionsToBootstrap: total }, 'bootstrapping global stores');

    let bootstrapped!: () => void;
    let bootstrapFailed!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      bootstrapped = resolve;
      bootstrapFailed = reject;
    });
    let booting = true;
    const fail = (error: unknown): void => {
      const err = error instanceof Error ? error : new Error(String(error));
      if (this.failure || this.closed) return;
      this.failure = err;
      if (booting) bootstrapFailed(err);
      else onError(err);
    };
    if (remaining.size === 0) bootstrapped();

    const consumer = new KafkaConsumer(this.options.kafka, {
      groupId: `${this.options.applicationId}-global-${randomUUID()}`,
      maxWaitTimeMs: 200,
    });
    this.consumer = consumer;
    consumer.onCrash((error, willRestart) => {
      if (!willRestart) fail(error);
    });
    await consumer.connect();
    await consumer.subscribe(this.topics, true);
    await consumer.run({
      eachBatch: async (batch) => {
        if (this.closed || this.failure) return;
        // applies run one after another: the task takes one batch at a time
        const work = this.chain.then(async () => {
          await this.task.process(
            batch.records.map((r) => ({
              key: r.key,
              value: r.value,
              timestamp: r.timestamp,
              headers: r.headers,
              topic: r.topic,
              partition: r.partition,
              offset: r.offset,
            })),
          );
          this.applied += batch.records.length;
          const key = `${batch.topic}:${batch.partition}`;
          const end = remaining.get(key);
          const last = batch.records[batch.records.length - 1];
          if (end !== undefined && last !== undefined && BigInt(last.offset) + 1n >= end) {
            remaining.delete(key);
            if (remaining.size === 0 && booting) {
              await this.task.commit();
              booting = false;
              log.info({ records: this.applied, partitions: total }, 'global stores bootstrapped');
              bootstrapped();
            }
          }
        });
        this.chain = work.catch(fail);
        await work.catch(() => undefined);
      },
    });
    const timeoutMs = this.options.bootstrapTimeoutMs ?? 300_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new StreamsError(
                  'CTR_STREAMS',
                  `global stores did not bootstrap within ${timeoutMs} ms; still behind: ${[...remaining.keys()].map((k) => k.replace(/:(\d+)$/, '[$1]')).join(', ')}`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    booting = false;
    this.commitTimer = setInterval(() => {
      this.chain = this.chain
        .then(async () => {
          if (!this.closed && this.task.commitNeeded) await this.task.commit();
        })
        .catch(fail);
    }, this.options.commitIntervalMs ?? 1000);
  }

  /** Stops the consumer and closes the stores. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.commitTimer);
    await this.consumer
      ?.disconnect()
      .catch((error: unknown) => log.warn({ err: error }, 'global consumer disconnect failed'));
    await this.chain.catch(() => undefined);
    if (this.task.state === 'CLOSED') return;
    if (this.failure) await this.task.closeDirty();
    else await this.task.closeClean().catch(() => this.task.closeDirty());
  }
}
