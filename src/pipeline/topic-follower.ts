/**
 * Follows a whole topic (every partition) from its beginning and keeps
 * following it: the Kafka side of a global table. Each follower is the only
 * member of its own throwaway consumer group (so every instance reads every
 * partition) and never commits: a restart re-reads the compacted topic,
 * which is the table's restore.
 *
 * Used for the item-embedding table of the recommendations topology and for
 * the lookup API's latest lists.
 */
import { randomUUID } from 'node:crypto';
import { KafkaAdmin, KafkaConsumer, type ConsumedRecord, type Kafka } from '../kafka/index.ts';
import { createLogger } from '../telemetry/index.ts';

const log = createLogger('topic-follower');

export interface TopicFollowerOptions {
  /** Prefix of the throwaway group id (the group is deleted on close). */
  groupPrefix?: string;
}

export class TopicFollower {
  private consumer: KafkaConsumer | undefined;
  private readonly groupId: string;
  private readonly positions = new Map<number, bigint>();
  private closed = false;

  /**
   * @param onRecords called with each fetched batch of one partition, in offset order; must not throw
   *   (a record it cannot read is its business: log and skip it).
   */
  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly onRecords: (records: readonly ConsumedRecord[]) => void,
    options: TopicFollowerOptions = {},
  ) {
    this.groupId = `${options.groupPrefix ?? 'ctr-follower'}-${topic}-${randomUUID()}`;
  }

  /** Starts following. Resolves once the consumer runs (not when it caught up: see `caughtUp`). */
  async start(): Promise<void> {
    const consumer = new KafkaConsumer(this.kafka, {
      groupId: this.groupId,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      maxWaitTimeMs: 100,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe([this.topic], true);
    await consumer.run({
      eachBatch: async (batch) => {
        this.onRecords(batch.records);
        const last = batch.records[batch.records.length - 1];
        if (last) this.positions.set(batch.partition, BigInt(last.offset) + 1n);
      },
    });
  }

  /**
   * Resolves when every partition has been read up to the end offset it had
   * when this was called (what a global table waits for before serving).
   * @throws Error after `timeoutMs` naming the partitions behind.
   */
  async caughtUp(timeoutMs = 60_000): Promise<void> {
    const admin = new KafkaAdmin(this.kafka);
    await admin.connect();
    let ends;
    try {
      ends = await admin.topicOffsets(this.topic);
    } finally {
      await admin.disconnect();
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = ends.filter(
        (e) =>
          BigInt(e.high) > BigInt(e.low) &&
          (this.positions.get(e.partition) ?? BigInt(e.low)) < BigInt(e.high),
      );
      if (behind.length === 0) return;
      if (Date.now() > deadline || this.closed) {
        throw new Error(
          `${this.topic}: not caught up after ${timeoutMs} ms (behind: ${behind.map((e) => `[${e.partition}] at ${this.positions.get(e.partition) ?? e.low} of ${e.high}`).join(', ')})`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.consumer
      ?.disconnect()
      .catch((err) => log.warn({ topic: this.topic, err: String(err) }, 'follower disconnect failed'));
    const admin = new KafkaAdmin(this.kafka);
    try {
      await admin.connect();
      await admin.deleteGroups([this.groupId]);
    } catch {
      // a leftover empty group is harmless; the broker expires it
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
