/**
 * A dead-lettered record's offset is committed only after the DLQ has it:
 * when the DLQ refuses the record, the app stops without committing past it,
 * and once the DLQ can take it, a restarted app dead-letters it and commits
 * to the end. Nothing is skipped silently.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KafkaAdmin, KafkaProducer, readTopicToEnd } from '../../../src/kafka/index.ts';
import { loadStreamsConfig } from '../../../src/streams/config.ts';
import { DLQ_HEADERS, exceptionHandlersFromConfig } from '../../../src/streams/errors-handling/index.ts';
import { KafkaStreams } from '../../../src/streams/runtime/index.ts';
import {
  AvroSerde,
  LocalSchemaRegistry,
  jsonSerde,
  loadAvroSchemaFile,
  stringSerde,
} from '../../../src/streams/serde/index.ts';
import { Topology } from '../../../src/streams/topology/topology.ts';
import {
  createTopics,
  eventually,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  withAdmin,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { appConfig, tempStateDirs } from '../../helpers/streams.ts';

const clickSchema = loadAvroSchemaFile(new URL('../../../schemas/click.avsc', import.meta.url));

describe('dead-letter acknowledgement and offset commits', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-dlq-ack-');
  let stateDir: string;
  before(async () => {
    env = await testKafka();
    stateDir = dirs.make();
  });
  after(() => dirs.cleanup());

  it('does not commit past a bad record the DLQ refused, and dead-letters it after a restart', async () => {
    const applicationId = uniqueName('dlq-ack-app');
    const input = uniqueName('dlq-ack-in');
    const output = uniqueName('dlq-ack-out');
    const dlqTopic = `${applicationId}-dlq`;
    // the DLQ takes nothing over 200 bytes: the 2 KB bad record cannot be dead-lettered
    await createTopics(env.kafka, [
      { name: input, partitions: 1 },
      { name: output, partitions: 1 },
      { name: dlqTopic, partitions: 1, configs: { 'max.message.bytes': '200' } },
    ]);
    const registry = new LocalSchemaRegistry();
    const clicks = new AvroSerde(clickSchema, { registry });
    const good = (i: number) => ({
      topic: input,
      key: `k${i}`,
      value: clicks.serialize(input, { impressionId: `imp-${i}`, itemId: 'x', timestamp: i })!,
    });
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    try {
      await producer.send([
        good(0),
        good(1),
        { topic: input, key: 'bad', value: Buffer.alloc(2048, 0xee) },
        good(3),
        good(4),
      ]);
    } finally {
      await producer.disconnect();
    }
    const BAD_OFFSET = 2n;

    const config = loadStreamsConfig({
      overrides: appConfig(env, applicationId, stateDir, {
        'commit.interval.ms': 200,
        'default.deserialization.exception.handler': 'dead-letter',
      }),
    });
    const topology = () =>
      new Topology()
        .addSource('src', input, stringSerde, new AvroSerde(clickSchema, { registry }))
        .addSink('out', output, stringSerde, jsonSerde(), 'src');

    const first = new KafkaStreams(topology(), config, {
      handlers: exceptionHandlersFromConfig(config).handlers,
    });
    const errors: Error[] = [];
    first.onError((e) => errors.push(e));
    try {
      await first.start();
      await eventually(
        'the app to fail on the refused DLQ send',
        () => errors.length > 0 || first.state === 'ERROR',
        45_000,
      );
      assert.match(
        errors.map((e) => `${e.message} ${String((e as { cause?: unknown }).cause)}`).join('\n'),
        new RegExp(dlqTopic),
      );
    } finally {
      await first.close();
    }
    const committed = await withAdmin(env.kafka, (admin: KafkaAdmin) =>
      admin.groupOffsets(applicationId, [input]),
    );
    const offset = committed.find((c) => c.partition === 0)?.offset;
    assert.ok(
      offset === undefined || BigInt(offset) < 0n || BigInt(offset) <= BAD_OFFSET,
      `committed ${offset}, past the bad record at ${BAD_OFFSET}`,
    );
    assert.equal((await readTopicToEnd(env.kafka, dlqTopic)).length, 0);

    // make room in the DLQ (recreate it without the limit), restart: the record is dead-lettered and the group reaches the end
    await withAdmin(env.kafka, (admin: KafkaAdmin) => admin.deleteTopics([dlqTopic]));
    await eventually(
      'the DLQ topic to be recreated',
      async () => {
        try {
          await createTopics(env.kafka, [{ name: dlqTopic, partitions: 1 }]);
          return true;
        } catch {
          return false;
        }
      },
      30_000,
      500,
    );
    const second = new KafkaStreams(topology(), config, {
      handlers: exceptionHandlersFromConfig(config).handlers,
    });
    try {
      await second.start();
      await waitForCommittedToEnd(env.kafka, applicationId, input, 45_000);
    } finally {
      await second.close();
    }
    const dead = await readTopicToEnd(env.kafka, dlqTopic);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.key?.toString(), 'bad');
    assert.equal(dead[0]!.headers[DLQ_HEADERS.offset]?.toString(), String(BAD_OFFSET));
    assert.deepEqual(dead[0]!.value, Buffer.alloc(2048, 0xee));
    const out = await readTopicToEnd(env.kafka, output);
    assert.deepEqual([...new Set(out.map((r) => r.key!.toString()))].sort(), ['k0', 'k1', 'k3', 'k4']);
  });
});
