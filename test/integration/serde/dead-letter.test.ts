/**
 * Bad input on a real broker, through the real KafkaStreams runtime and a
 * real schema registry: 10,000 bad records of every kind interleaved with
 * 10,000 valid clicks. Every valid record must come out, every bad one must
 * be in `<application.id>-dlq` with its original bytes and correct headers,
 * the app must keep running, and the committed offsets must reach the end of
 * the input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KafkaProducer, readTopicToEnd, type OutgoingRecord } from '../../../src/kafka/index.ts';
import { loadStreamsConfig } from '../../../src/streams/config.ts';
import { DLQ_HEADERS, exceptionHandlersFromConfig } from '../../../src/streams/errors-handling/index.ts';
import type { ProcessorContext } from '../../../src/streams/processor/processor.ts';
import type { StreamRecord } from '../../../src/streams/processor/record.ts';
import { KafkaStreams } from '../../../src/streams/runtime/index.ts';
import {
  AvroSerde,
  ConfluentSchemaRegistry,
  loadAvroSchemaFile,
  nonNullSerde,
  stringSerde,
} from '../../../src/streams/serde/index.ts';
import { Topology } from '../../../src/streams/topology/topology.ts';
import {
  createTopics,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { testSchemaRegistry } from '../../helpers/schema-registry.ts';
import { appConfig, tempStateDirs } from '../../helpers/streams.ts';

interface Click {
  impressionId: string;
  itemId: string;
  timestamp: number;
}
const clickSchema = loadAvroSchemaFile(new URL('../../../schemas/click.avsc', import.meta.url));
const impressionSchema = loadAvroSchemaFile(new URL('../../../schemas/impression.avsc', import.meta.url));

const VALID = 10_000;
const BAD = 10_000;
const PARTITIONS = 4;
const BIG_VALUES = 3; // 1 MB each: enough to prove the path, small enough for CI
const BAD_KINDS = [
  'random-bytes',
  'empty',
  'truncated-avro',
  'wrong-magic',
  'unknown-schema-id',
  'null-key',
  'null-value',
  'json-instead-of-avro',
  'wrong-record-type',
] as const;
type BadKind = (typeof BAD_KINDS)[number] | 'one-megabyte';
/** What the DLQ must say about each kind: the handler that caught it and the error code. */
const EXPECTED_CODE: Record<BadKind, string> = {
  'random-bytes': 'CTR_SERDE_WIRE_FORMAT|CTR_SERDE_UNKNOWN_SCHEMA', // random bytes starting with 0 read as a frame with a random id
  empty: 'CTR_SERDE_WIRE_FORMAT',
  'truncated-avro': 'CTR_SERDE_DESERIALIZE',
  'wrong-magic': 'CTR_SERDE_WIRE_FORMAT',
  'unknown-schema-id': 'CTR_SERDE_UNKNOWN_SCHEMA',
  'null-key': 'CTR_SERDE_DESERIALIZE',
  'null-value': 'CTR_SERDE_DESERIALIZE',
  'json-instead-of-avro': 'CTR_SERDE_WIRE_FORMAT',
  'wrong-record-type': 'CTR_SERDE_INCOMPATIBLE_SCHEMA',
  'one-megabyte': 'CTR_SERDE_WIRE_FORMAT|CTR_SERDE_UNKNOWN_SCHEMA',
};

/** Deterministic PRNG so that a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clickTopology(input: string, output: string, clicks: AvroSerde<Click>): Topology {
  return new Topology()
    .addSource('clicks-source', input, nonNullSerde(stringSerde, 'key'), nonNullSerde(clicks))
    .addProcessor(
      'to-impression-id',
      () => {
        let context!: ProcessorContext<string, string>;
        return {
          init: (c: ProcessorContext<string, string>) => void (context = c),
          process: (records: ReadonlyArray<StreamRecord<string, Click>>) =>
            context.forward(records.map((r) => ({ ...r, value: r.value.impressionId }))),
        };
      },
      'clicks-source',
    )
    .addSink('out', output, stringSerde, stringSerde, 'to-impression-id');
}

describe('bad records on a real broker', () => {
  let env: TestKafka;
  let registryUrl: string;
  const dirs = tempStateDirs('ctr-dlq-');
  let stateDir: string;
  before(async () => {
    env = await testKafka();
    registryUrl = (await testSchemaRegistry()).url;
    stateDir = dirs.make();
  });
  after(() => dirs.cleanup());

  it('processes 10,000 valid clicks and dead-letters 10,000 bad records without stopping', async () => {
    const applicationId = uniqueName('dlq-app');
    const input = uniqueName('dlq-clicks');
    const output = uniqueName('dlq-out');
    const dlqTopic = `${applicationId}-dlq`;
    await createTopics(env.kafka, [
      { name: input, partitions: PARTITIONS },
      { name: output, partitions: PARTITIONS },
      { name: dlqTopic, partitions: 2 },
    ]);

    // the producers' side: register the click schema under <input>-value, and an impression under another subject
    const writer = new AvroSerde<Click>(clickSchema, {
      registry: new ConfluentSchemaRegistry({ url: registryUrl }),
    });
    await writer.prepare(input, false);
    const impressions = new AvroSerde(impressionSchema, {
      registry: new ConfluentSchemaRegistry({ url: registryUrl }),
    });
    await impressions.prepare(`${input}-impressions`, false);
    const validFrame = (i: number) =>
      writer.serialize(input, {
        impressionId: `imp-${i}`,
        itemId: `item-${i % 97}`,
        timestamp: 1767225600000 + i,
      })!;

    const random = rng(42);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    const records: Array<OutgoingRecord & { id: string }> = [];
    for (let i = 0; i < VALID; i++)
      records.push({ id: `valid:${i}`, topic: input, key: `k-${i}`, value: validFrame(i) });
    const kinds: BadKind[] = [
      ...Array.from({ length: BIG_VALUES }, () => 'one-megabyte' as const),
      ...Array.from({ length: BAD - BIG_VALUES }, (_, i) => BAD_KINDS[i % BAD_KINDS.length]!),
    ];
    kinds.forEach((kind, i) => {
      const frame = validFrame(100_000 + i);
      let key: string | null = `bad-${i}`;
      let value: Buffer | null;
      switch (kind) {
        case 'random-bytes':
          value = bytes(1 + Math.floor(random() * 300));
          break;
        case 'empty':
          value = Buffer.alloc(0);
          break;
        case 'truncated-avro':
          value = frame.subarray(0, 5 + Math.floor(random() * (frame.length - 5)));
          break;
        case 'wrong-magic':
          value = Buffer.from(frame);
          value[0] = 1 + Math.floor(random() * 255);
          break;
        case 'unknown-schema-id':
          value = Buffer.from(frame);
          value.writeInt32BE(2_000_000_000 + (i % 5), 1);
          break;
        case 'null-key':
          key = null;
          value = frame;
          break;
        case 'null-value':
          value = null;
          break;
        case 'json-instead-of-avro':
          value = Buffer.from(JSON.stringify({ impressionId: `imp-b${i}`, itemId: 'x', timestamp: 1 }));
          break;
        case 'wrong-record-type':
          value = impressions.serialize(`${input}-impressions`, {
            impressionId: `imp-b${i}`,
            context: { contextId: 'c', publisher: 'p', placement: 's' },
            userSegment: 's',
            device: 'd',
            country: 'SI',
            pageDepth: null,
            items: [],
            timestamp: 1,
          })!;
          break;
        case 'one-megabyte':
          value = Buffer.concat([Buffer.from([9]), bytes(1024 * 1024)]);
          break;
      }
      records.push({ id: `${kind}:${i}`, topic: input, key, value });
    });
    // interleave valid and bad deterministically
    for (let i = records.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [records[i], records[j]] = [records[j]!, records[i]!];
    }
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    try {
      for (let i = 0; i < records.length; i += 2000) {
        await producer.send(
          records.slice(i, i + 2000).map(({ id, ...r }) => ({
            ...r,
            partition: Number.parseInt(id.split(':')[1]!, 10) % PARTITIONS,
            headers: { 'test.id': id },
          })),
        );
      }
    } finally {
      await producer.disconnect();
    }

    // the app's side: its own registry client, handlers from the config
    const config = loadStreamsConfig({
      overrides: appConfig(env, applicationId, stateDir, {
        'commit.interval.ms': 500,
        'default.deserialization.exception.handler': 'dead-letter',
        'processing.exception.handler': 'dead-letter',
        'default.production.exception.handler': 'dead-letter',
      }),
    });
    const built = exceptionHandlersFromConfig(config);
    assert.equal(built.deadLetterTopic, dlqTopic);
    const reader = new AvroSerde<Click>(clickSchema, {
      registry: new ConfluentSchemaRegistry({ url: registryUrl }),
    });
    const app = new KafkaStreams(clickTopology(input, output, reader), config, { handlers: built.handlers });
    const errors: Error[] = [];
    app.onError((e) => errors.push(e));
    try {
      await app.start();
      await waitForCommittedToEnd(env.kafka, applicationId, input, 60_000);
      assert.equal(app.state, 'RUNNING');
      assert.deepEqual(errors, []);
    } finally {
      await app.close();
    }

    // every valid record was processed (at least once)
    const out = await readTopicToEnd(env.kafka, output);
    const processed = new Set(out.map((r) => r.key!.toString()));
    assert.equal(processed.size, VALID);
    for (let i = 0; i < VALID; i++)
      assert.ok(processed.has(`k-${i}`), `valid record k-${i} was not processed`);
    assert.ok(out.every((r) => r.value!.toString() === `imp-${r.key!.toString().slice(2)}`));

    // every bad record is in the DLQ, once per delivery, with its source coordinates and original bytes
    const source = await readTopicToEnd(env.kafka, input);
    const byId = new Map(source.map((r) => [r.headers['test.id']!.toString(), r]));
    const dead = await readTopicToEnd(env.kafka, dlqTopic);
    const deadById = new Map(dead.map((r) => [r.headers['test.id']?.toString() ?? '(none)', r]));
    assert.equal(deadById.size, BAD, `distinct dead-lettered records (of ${dead.length} DLQ records)`);
    const wrong: string[] = [];
    for (const [id, record] of deadById) {
      const [kind] = id.split(':') as [BadKind];
      const original = byId.get(id);
      const h = (name: string) => record.headers[name]?.toString();
      const problems = [
        !original && 'not a produced record',
        kind === ('valid' as BadKind) && 'a valid record was dead-lettered',
        original && h(DLQ_HEADERS.topic) !== input && `topic ${h(DLQ_HEADERS.topic)}`,
        original &&
          h(DLQ_HEADERS.partition) !== String(original.partition) &&
          `partition ${h(DLQ_HEADERS.partition)} != ${original.partition}`,
        original &&
          h(DLQ_HEADERS.offset) !== original.offset &&
          `offset ${h(DLQ_HEADERS.offset)} != ${original.offset}`,
        original &&
          h(DLQ_HEADERS.timestamp) !== String(original.timestamp) &&
          `timestamp ${h(DLQ_HEADERS.timestamp)}`,
        h(DLQ_HEADERS.handler) !== 'deserialization' && `handler ${h(DLQ_HEADERS.handler)}`,
        h(DLQ_HEADERS.processor) !== 'clicks-source' && `processor ${h(DLQ_HEADERS.processor)}`,
        h(DLQ_HEADERS.applicationId) !== applicationId && `application id ${h(DLQ_HEADERS.applicationId)}`,
        h(DLQ_HEADERS.exception) !== 'SerdeError' && `exception ${h(DLQ_HEADERS.exception)}`,
        !EXPECTED_CODE[kind]?.split('|').includes(h(DLQ_HEADERS.code) ?? '') &&
          `code ${h(DLQ_HEADERS.code)} for ${kind}`,
        !h(DLQ_HEADERS.message) && 'no message',
        original && !sameBytes(record.key, original.key) && 'key bytes differ',
        original && !sameBytes(record.value, original.value) && 'value bytes differ',
      ].filter(Boolean);
      if (problems.length) wrong.push(`${id}: ${problems.join(', ')}`);
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} DLQ records are wrong`);
    assert.equal(built.stats.total({ handler: 'deserialization', action: 'dead-letter' }), dead.length);
    const kindsSeen = new Set([...deadById.keys()].map((id) => id.split(':')[0]));
    assert.deepEqual([...kindsSeen].sort(), [...BAD_KINDS, 'one-megabyte'].sort());
  });
});

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}
