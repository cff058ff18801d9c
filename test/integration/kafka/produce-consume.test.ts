import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import {
  KafkaConsumer,
  KafkaProducer,
  readTopicToEnd,
  topicPartitionKey,
  type ConsumedRecord,
} from '../../../src/kafka/index.ts';
import { createTopics, testKafka, uniqueName, withAdmin, type TestKafka } from '../../helpers/kafka.ts';

describe('src/kafka on a real broker', () => {
  let t: TestKafka;
  before(async () => {
    t = await testKafka();
  });

  it('delivers 10,000 keyed records to a group, all of them, in order within each partition', async () => {
    const topic = uniqueName('keyed');
    await createTopics(t.kafka, [{ name: topic, partitions: 4 }]);
    const producer = new KafkaProducer(t.kafka);
    await producer.connect();
    const total = 10_000;
    const keys = 50;
    // each key's values count up, so order within a key (hence within a partition) is checkable
    const sent: { key: string; seq: number }[] = [];
    const nextSeq = new Map<string, number>();
    const acked = new Map<string, bigint>();
    for (let start = 0; start < total; start += 1000) {
      const batch = [];
      for (let i = start; i < start + 1000; i++) {
        const key = `k${i % keys}`;
        const seq = nextSeq.get(key) ?? 0;
        nextSeq.set(key, seq + 1);
        sent.push({ key, seq });
        batch.push({ topic, key, value: JSON.stringify({ key, seq, i }) });
      }
      for (const [tp, next] of await producer.send(batch)) acked.set(tp, BigInt(next));
    }
    await producer.disconnect();
    // the producer's reported next offsets equal the high watermarks
    const ends = await withAdmin(t.kafka, (admin) => admin.topicOffsets(topic));
    assert.equal(
      ends.reduce((sum, e) => sum + Number(e.high), 0),
      total,
    );
    for (const e of ends)
      assert.equal(
        acked.get(topicPartitionKey(topic, e.partition)),
        BigInt(e.high),
        `next offset of partition ${e.partition}`,
      );

    const group = uniqueName('group');
    const consumer = new KafkaConsumer(t.kafka, {
      groupId: group,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
    });
    await consumer.connect();
    await consumer.subscribe([topic]);
    const received: ConsumedRecord[] = [];
    const assignments: number[][] = [];
    consumer.onAssigned((a) => assignments.push(a.get(topic) ?? []));
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async (batch) => {
          received.push(...batch.records);
          const last = batch.records[batch.records.length - 1]!;
          await consumer.commit([
            { topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
          ]);
          if (received.length >= total) resolve();
        },
      });
    });
    await done;
    await consumer.disconnect();

    assert.equal(received.length, total);
    assert.deepEqual(assignments.at(-1), [0, 1, 2, 3]);
    const partitionOfKey = new Map<string, number>();
    const lastOffset = new Map<number, bigint>();
    const lastSeq = new Map<string, number>();
    for (const r of received) {
      const { key, seq } = JSON.parse(r.value!.toString()) as { key: string; seq: number };
      assert.equal(r.key!.toString(), key);
      // a key always lands on one partition
      assert.equal(partitionOfKey.get(key) ?? r.partition, r.partition);
      partitionOfKey.set(key, r.partition);
      // offsets strictly increase within a partition, and so does each key's sequence
      assert.ok(
        BigInt(r.offset) > (lastOffset.get(r.partition) ?? -1n),
        `offset order in partition ${r.partition}`,
      );
      lastOffset.set(r.partition, BigInt(r.offset));
      assert.equal(seq, (lastSeq.get(key) ?? -1) + 1, `sequence of ${key}`);
      lastSeq.set(key, seq);
    }
    assert.equal(new Set(partitionOfKey.values()).size, 4, 'the keys spread over all 4 partitions');
    // committed offsets are the end of each partition
    const committed = await withAdmin(t.kafka, (admin) => admin.groupOffsets(group, [topic]));
    for (const c of committed) assert.equal(c.offset, ends.find((e) => e.partition === c.partition)!.high);
  });

  it('creates a compacted topic whose cleanup.policy=compact shows in describe', async () => {
    const topic = uniqueName('changelog');
    const created = await withAdmin(t.kafka, (admin) =>
      admin.createTopics([
        { name: topic, partitions: 2, compacted: true, configs: { 'min.compaction.lag.ms': '1000' } },
      ]),
    );
    assert.deepEqual(created, [topic]);
    const [description] = await withAdmin(t.kafka, (admin) => admin.describeTopics([topic]));
    assert.equal(description!.name, topic);
    assert.equal(description!.partitions.length, 2);
    assert.equal(description!.configs['cleanup.policy'], 'compact');
    assert.equal(description!.configs['min.compaction.lag.ms'], '1000');
    // creating it again is a no-op; with another partition count it is an error naming the topic
    assert.deepEqual(
      await withAdmin(t.kafka, (admin) =>
        admin.createTopics([{ name: topic, partitions: 2, compacted: true }]),
      ),
      [],
    );
    await assert.rejects(
      withAdmin(t.kafka, (admin) => admin.createTopics([{ name: topic, partitions: 3 }])),
      new RegExp(`topic "${topic}" exists with 2 partitions, expected 3`),
    );
  });

  it('reads a topic to its end from given offsets, and finds offsets by time', async () => {
    const topic = uniqueName('reader');
    await createTopics(t.kafka, [{ name: topic, partitions: 2 }]);
    const producer = new KafkaProducer(t.kafka);
    await producer.connect();
    const base = Date.now() - 60_000;
    await producer.send(
      Array.from({ length: 100 }, (_, i) => ({
        topic,
        partition: i % 2,
        key: `k${i}`,
        value: `v${i}`,
        timestamp: base + i * 100,
      })),
    );
    await producer.disconnect();
    const all = await readTopicToEnd(t.kafka, topic);
    assert.equal(all.length, 100);
    const tail = await readTopicToEnd(t.kafka, topic, {
      from: new Map([
        [0, '40'],
        [1, '45'],
      ]),
    });
    assert.equal(tail.length, 10 + 5);
    const byTime = await withAdmin(t.kafka, (admin) => admin.offsetsForTime(topic, base + 50 * 100));
    // records 50..99 have timestamps >= base+5000: 25 per partition, starting at offset 25
    assert.deepEqual(byTime, [
      { partition: 0, offset: '25' },
      { partition: 1, offset: '25' },
    ]);
  });

  it('reads a topic written by a transactional producer to its end (the last offset is a commit marker)', async () => {
    const topic = uniqueName('txn');
    await createTopics(t.kafka, [{ name: topic, partitions: 1 }]);
    const producer = t.kafka.producer({
      transactionalId: uniqueName('txn-producer'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      for (const round of [0, 1]) {
        const txn = await producer.transaction();
        await txn.send({
          topic,
          messages: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `r${round}-${i}` })),
        });
        await txn.commit();
      }
    } finally {
      await producer.disconnect();
    }
    const [end] = await withAdmin(t.kafka, (admin) => admin.topicOffsets(topic));
    // 10 records and 2 commit markers: the end offset is past the last record
    assert.equal(end!.high, '12');
    const started = Date.now();
    const read = await readTopicToEnd(t.kafka, topic, { timeoutMs: 20_000 });
    assert.deepEqual(
      read.map((r) => r.value!.toString()),
      [0, 1].flatMap((round) => Array.from({ length: 5 }, (_, i) => `r${round}-${i}`)),
    );
    assert.ok(Date.now() - started < 15_000, 'returned at the end, not at the timeout');
  });

  it('ends a read aborted by its signal with the reason, and keeps no listener on the signal nor an idle timer', async () => {
    const topic = uniqueName('abort');
    await createTopics(t.kafka, [{ name: topic, partitions: 1 }]);
    const producer = new KafkaProducer(t.kafka);
    await producer.connect();
    await producer.send(Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })));
    await producer.disconnect();
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

    // a signal that outlives the read (shared by several reads): a finished read lets go of it
    const shared = new AbortController();
    const before = timers();
    assert.equal((await readTopicToEnd(t.kafka, topic, { signal: shared.signal })).length, 20);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);

    const stop = new AbortController();
    const reason = new Error('stop here');
    await assert.rejects(
      readTopicToEnd(t.kafka, topic, {
        signal: stop.signal,
        timeoutMs: 600_000,
        onBatch: () => stop.abort(reason),
      }),
      (error) => error === reason,
    );
    assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
    // a 10-minute idle timer left behind would keep a CLI process alive that long
    assert.ok(timers() <= before, `${timers()} timers pending, ${before} before the reads`);
  });
});
