/**
 * What integration tests use to reach the real broker: the one named by
 * CTR_KAFKA_BOOTSTRAP (set by test/run.ts), else the development broker on
 * 127.0.0.1:9092, started if needed. Every test names its own topics and
 * groups with `uniqueName`, so tests never see each other's data.
 */
import { randomBytes } from 'node:crypto';
import { createKafka, KafkaAdmin, type Kafka, type TopicSpec } from '../../src/kafka/index.ts';
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

/** Creates topics (unique names expected) and returns their names. */
export async function createTopics(kafka: Kafka, specs: TopicSpec[]): Promise<string[]> {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  try {
    await admin.createTopics(specs);
  } finally {
    await admin.disconnect();
  }
  return specs.map((s) => s.name);
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
