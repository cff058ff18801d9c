/**
 * What integration tests use to reach the real broker: the one named by
 * CTR_KAFKA_BOOTSTRAP (set by test/run.ts), else the development broker on
 * 127.0.0.1:9092, started if needed. Every test names its own topics and
 * groups with `uniqueName`, so tests never see each other's data.
 */
import { randomBytes } from 'node:crypto';
import {
  createKafka,
  KafkaAdmin,
  KafkaProducer,
  readTopicToEnd,
  type Kafka,
  type OutgoingRecord,
  type TopicSpec,
} from '../../src/kafka/index.ts';
import { startLocalBroker } from '../../src/kafka/local-broker/index.ts';

export interface TestKafka {
  bootstrap: string;
  kafka: Kafka;
}

let cached: Promise<TestKafka> | undefined;

export function testKafka(): Promise<TestKafka> {
  cached ??= (async () => {
    let bootstrap = process.env.CTR_KAFKA_BOOTSTRAP;
    if (!bootstrap) bootstrap = (await startLocalBroker({ port: 9092 })).bootstrap;
    return { bootstrap, kafka: createKafka({ bootstrapServers: bootstrap, clientId: 'ctr-streams-test' }) };
  })();
  return cached;
}

/** `<prefix>-<12 hex chars>`: unique per call, valid as topic, group and application id. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/**
 * Creates topics (unique names expected) and returns their names. Retried: right after a fresh
 * broker starts, creation can fail with a retriable UNKNOWN_TOPIC_OR_PARTITION while metadata
 * propagates.
 */
export async function createTopics(kafka: Kafka, specs: TopicSpec[]): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      await withAdmin(kafka, (admin) => admin.createTopics(specs));
      return specs.map((s) => s.name);
    } catch (error) {
      const retriable = (error as { cause?: { retriable?: boolean } }).cause?.retriable === true;
      if (!retriable || attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** Runs `fn` with a connected admin client and disconnects it afterwards. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Polls `check` every `intervalMs` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Sends `records` with one producer, `perSend` per request (a request's records per partition form one record batch). */
export async function produceRecords(
  kafka: Kafka,
  records: readonly OutgoingRecord[],
  perSend = 5000,
): Promise<void> {
  const producer = new KafkaProducer(kafka);
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += perSend) await producer.send(records.slice(i, i + perSend));
  } finally {
    await producer.disconnect();
  }
}

/** Waits until the group has committed the end offset of every partition of `topic`. */
export async function waitForCommittedToEnd(
  kafka: Kafka,
  groupId: string,
  topic: string,
  timeoutMs = 45_000,
): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const ends = await admin.topicOffsets(topic);
    await eventually(
      `group ${groupId} to commit the end of ${topic}`,
      async () => {
        const committed = await admin.groupOffsets(groupId, [topic]);
        return ends.every((e) => committed.find((c) => c.partition === e.partition)?.offset === e.high);
      },
      timeoutMs,
      200,
    );
  });
}

/** The last value per key of a topic (as strings). */
export async function latestByKey(kafka: Kafka, topic: string): Promise<Map<string, string>> {
  const records = await readTopicToEnd(kafka, topic);
  const out = new Map<string, string>();
  for (const r of records) if (r.key) out.set(r.key.toString(), r.value?.toString() ?? '');
  return out;
}

/**
 * Deletes every topic whose name starts with one of `prefixes` (a test's own, from uniqueName).
 * Best effort: cleanup never fails a test.
 */
export async function deleteTopicsStartingWith(kafka: Kafka, prefixes: readonly string[]): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => prefixes.some((p) => t.startsWith(p)));
    if (topics.length > 0) await admin.deleteTopics(topics);
  }).catch(() => undefined);
}
