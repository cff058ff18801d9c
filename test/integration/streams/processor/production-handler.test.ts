/**
 * The production exception handler on a real broker: a sink writes a record
 * larger than the output topic's max.message.bytes; the broker refuses it
 * (MESSAGE_TOO_LARGE), the Kafka record collector singles it out, and the
 * dead-letter handler sends its bytes to the DLQ (whose limit is larger)
 * while every other record reaches the output and the commit succeeds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KafkaProducer, readTopicToEnd } from '../../../../src/kafka/index.ts';
import { DLQ_HEADERS, exceptionHandlersFromConfig } from '../../../../src/streams/errors-handling/index.ts';
import { StreamTask, type RawRecord } from '../../../../src/streams/processor/index.ts';
import { KafkaRecordCollector } from '../../../../src/streams/runtime/kafka-record-collector.ts';
import { bytesSerde, stringSerde } from '../../../../src/streams/serde/index.ts';
import { SharedCacheBudget } from '../../../../src/streams/state/index.ts';
import { Topology } from '../../../../src/streams/topology/index.ts';
import { createTopics, testKafka, uniqueName, type TestKafka } from '../../../helpers/kafka.ts';

describe('production exception handler on a real broker', () => {
  let env: TestKafka;
  let producer: KafkaProducer;
  before(async () => {
    env = await testKafka();
    producer = new KafkaProducer(env.kafka);
    await producer.connect();
  });
  after(async () => producer?.disconnect());

  it('dead-letters the record the broker refuses as too large and writes and commits the rest', async () => {
    const app = uniqueName('prod-handler');
    const out = uniqueName('prod-handler-out');
    const dlq = `${app}-dlq`;
    await createTopics(env.kafka, [
      { name: out, partitions: 2, configs: { 'max.message.bytes': '10000' } },
      { name: dlq, partitions: 1, configs: { 'max.message.bytes': '1000000' } },
    ]);
    const { handlers, stats } = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'fail',
      'processing.exception.handler': 'fail',
      'default.production.exception.handler': 'dead-letter',
      'errors.dead.letter.queue.topic.name': dlq,
    });
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, bytesSerde)
      .addSink('sink', out, stringSerde, bytesSerde, 'src');
    const collector = new KafkaRecordCollector(producer, { taskId: '0_0' });
    const task = new StreamTask({
      applicationId: app,
      topology: topology.subtopology(0, app),
      partition: 0,
      collector,
      appStateDir: '/tmp/unused-prod-handler-dir',
      cacheBudget: new SharedCacheBudget(1 << 20),
      handlers,
    });
    await task.initialize();
    await task.completeRestoration();
    const big = Buffer.alloc(50_000, 7);
    const raw = (offset: number, key: string, value: Buffer): RawRecord => ({
      key: Buffer.from(key),
      value,
      timestamp: 1000 + offset,
      headers: {},
      topic: 'in',
      partition: 0,
      offset: String(offset),
    });
    await task.process([
      raw(0, 'a', Buffer.from('small-a')),
      raw(1, 'b', Buffer.from('small-b')),
      raw(2, 'big', big),
      raw(3, 'c', Buffer.from('small-c')),
    ]);
    const offsets = await task.commit();
    assert.deepEqual(offsets, new Map([['in:0', '4']]), 'the whole batch counts as handled');
    await task.closeClean();

    const written = await readTopicToEnd(env.kafka, out);
    assert.deepEqual(
      written.map((r) => String(r.key)).sort(),
      ['a', 'b', 'c'],
      'every small record reached the output (at-least-once: no loss)',
    );
    const dead = await readTopicToEnd(env.kafka, dlq);
    assert.equal(dead.length, 1);
    assert.equal(String(dead[0]!.key), 'big');
    assert.deepEqual(dead[0]!.value, big, 'the DLQ holds the refused bytes');
    assert.equal(String(dead[0]!.headers[DLQ_HEADERS.handler]), 'production');
    assert.equal(String(dead[0]!.headers[DLQ_HEADERS.sinkTopic]), out);
    assert.equal(stats.total({ handler: 'production', action: 'dead-letter' }), 1);
  });
});
