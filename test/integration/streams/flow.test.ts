import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Processor, ProcessorContext, StreamRecord } from '../../../src/streams/processor/index.ts';
import { KafkaStreams } from '../../../src/streams/runtime/index.ts';
import { jsonSerde, stringSerde } from '../../../src/streams/serde/index.ts';
import { KafkaProducer, readTopicToEnd, type OutgoingRecord } from '../../../src/kafka/index.ts';
import { Topology } from '../../../src/streams/topology/index.ts';
import {
  createTopics,
  eventually,
  latestByKey,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  withAdmin,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { appConfig, readStore, tempStateDirs, total } from '../../helpers/streams.ts';
import { countingTopology, produceKeyed, STORE } from './fixtures/counting.ts';

describe('KafkaStreams flow control, punctuation and restore progress', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-flow-');
  let stateDir: string;
  before(async () => {
    env = await testKafka();
    stateDir = dirs.make();
  });
  after(() => dirs.cleanup());

  const base = (applicationId: string) =>
    appConfig(env, applicationId, stateDir, {
      'commit.interval.ms': 300,
      'session.timeout.ms': 6000,
      'heartbeat.interval.ms': 1000,
    });

  it('pauses a partition whose task falls behind: buffered records stay bounded', async () => {
    const input = uniqueName('bp-in');
    const applicationId = uniqueName('bp-app');
    await createTopics(env.kafka, [{ name: input, partitions: 1 }]);
    // small record batches: a fetch returns whole batches, so their size is the overshoot past the bound
    await produceKeyed(env.kafka, input, 1500, 10, 20, 0, 50);
    class Slow implements Processor<string, Buffer> {
      async process(): Promise<void> {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const topology = new Topology()
      .addSource('in', input, stringSerde, undefined)
      .addProcessor('slow', () => new Slow(), 'in');
    const app = new KafkaStreams(topology, {
      ...base(applicationId),
      'max.poll.records': 20,
      'buffered.records.per.partition': 100,
      // small fetches (~200 records), so one fetch adds little beyond the bound
      'max.partition.fetch.bytes': 8192,
    });
    let maxBuffered = 0;
    const sampler = setInterval(() => {
      for (const n of app.bufferedRecords().values()) maxBuffered = Math.max(maxBuffered, n);
    }, 5);
    try {
      await app.start();
      await waitForCommittedToEnd(env.kafka, applicationId, input, 60_000);
    } finally {
      clearInterval(sampler);
      await app.close();
    }
    process.stdout.write(
      `# backpressure: max buffered ${maxBuffered} records (bound 100 + one fetch of 8 KiB)\n`,
    );
    assert.ok(maxBuffered >= 100, `the task fell behind (max buffered ${maxBuffered})`);
    // the bound, plus the fetch that brought it over, plus one already in flight when the pause took effect
    assert.ok(maxBuffered < 600, `fetching paused: max buffered ${maxBuffered} of 1500`);
  });

  it('fires wall-clock punctuators on running tasks', async () => {
    const input = uniqueName('punct-in');
    const output = uniqueName('punct-out');
    const applicationId = uniqueName('punct-app');
    await createTopics(env.kafka, [
      { name: input, partitions: 2 },
      { name: output, partitions: 1 },
    ]);
    class Ticker implements Processor<string, Buffer, string, string> {
      init(context: ProcessorContext<string, string>): void {
        let ticks = 0;
        context.schedule(100, 'WALL_CLOCK_TIME', (now) => {
          ticks++;
          context.forward([
            { key: `task-${context.taskId}`, value: String(ticks), timestamp: now, headers: {} },
          ]);
        });
      }
      process(_records: ReadonlyArray<StreamRecord<string, Buffer>>): void {}
    }
    const topology = new Topology()
      .addSource('in', input, stringSerde, undefined)
      .addProcessor('tick', () => new Ticker(), 'in')
      .addSink('out', output, stringSerde, stringSerde, 'tick');
    const app = new KafkaStreams(topology, { ...base(applicationId), 'punctuation.interval.ms': 20 });
    try {
      await app.start();
      await eventually(
        '5 ticks per task',
        async () => {
          const latest = await latestByKey(env.kafka, output);
          return ['task-0_0', 'task-0_1'].every((k) => Number(latest.get(k) ?? 0) >= 5);
        },
        20_000,
        300,
      );
    } finally {
      await app.close();
    }
  });

  it('reports restore progress to the restore listener: start, batches adding up to the total, end', async () => {
    const input = uniqueName('progress-in');
    const applicationId = uniqueName('progress-app');
    await createTopics(env.kafka, [{ name: input, partitions: 2 }]);
    await produceKeyed(env.kafka, input, 6000, 3000);
    const config = { ...base(applicationId), 'restore.batch.max.records': 500 };
    const first = new KafkaStreams(countingTopology({ input }), config);
    await first.start();
    await waitForCommittedToEnd(env.kafka, applicationId, input);
    await first.close();
    KafkaStreams.cleanUp(stateDir, applicationId);

    const events: string[] = [];
    const batches = new Map<number, number>();
    const totals = new Map<number, number>();
    const second = new KafkaStreams(countingTopology({ input }), config, {
      restoreListener: {
        onRestoreStart: (topic, partition, store, from, to) =>
          events.push(`start ${store} ${topic.endsWith('-changelog')} ${partition} ${from}->${to}`),
        onBatchRestored: (_t, partition, _s, _end, n) => {
          assert.ok(n <= 500, 'batches are at most restore.batch.max.records');
          batches.set(partition, (batches.get(partition) ?? 0) + n);
        },
        onRestoreEnd: (_t, partition, _s, n) => totals.set(partition, n),
      },
    });
    try {
      await second.start();
      await eventually('restored', () => second.state === 'RUNNING', 30_000);
      assert.equal(events.length, 2);
      assert.ok(
        events.every((e) => e.startsWith(`start ${STORE} true`)),
        events.join('; '),
      );
      assert.deepEqual([...batches].sort(), [...totals].sort(), 'batches add up to the totals');
      const changelog = await withAdmin(env.kafka, async (admin) =>
        (await admin.topicOffsets(`${applicationId}-${STORE}-changelog`)).reduce(
          (n, o) => n + Number(o.high),
          0,
        ),
      );
      assert.equal(
        [...totals.values()].reduce((a, b) => a + b, 0),
        changelog,
        'every changelog record restored',
      );
      assert.equal(total(await readStore<number>([second], STORE, 2)), 6000);
    } finally {
      await second.close();
    }
  });

  it('dead-letters undecodable records when configured, and processes the rest', async () => {
    const input = uniqueName('dlq-in');
    const applicationId = uniqueName('dlq-app');
    await createTopics(env.kafka, [{ name: input, partitions: 2 }]);
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    const records: OutgoingRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const bad = i % 10 === 0;
      records.push({ topic: input, key: `k${i}`, value: bad ? `{not json ${i}` : JSON.stringify({ n: i }) });
    }
    await producer.send(records);
    await producer.disconnect();
    let good = 0;
    const topology = new Topology()
      .addSource('in', input, stringSerde, jsonSerde<{ n: number }>())
      .addProcessor(
        'sum',
        () => ({ process: (batch: ReadonlyArray<unknown>) => void (good += batch.length) }),
        'in',
      );
    const app = new KafkaStreams(topology, {
      ...base(applicationId),
      'default.deserialization.exception.handler': 'dead-letter',
    });
    try {
      await app.start();
      await waitForCommittedToEnd(env.kafka, applicationId, input);
    } finally {
      await app.close();
    }
    assert.equal(good, 270);
    const dead = await readTopicToEnd(env.kafka, `${applicationId}-dlq`);
    assert.equal(dead.length, 30);
    assert.ok(
      dead.every((r) => r.value!.toString().startsWith('{not json')),
      'original bytes kept',
    );
    assert.ok(
      dead.every((r) => r.headers['__streams.errors.topic']?.toString() === input),
      'headers name the source topic',
    );
  });

  it('goes to ERROR on a processing failure, tells the listener, and releases its partitions at once', async () => {
    const input = uniqueName('fatal-in');
    const applicationId = uniqueName('fatal-app');
    await createTopics(env.kafka, [{ name: input, partitions: 2 }]);
    await produceKeyed(env.kafka, input, 200, 20);
    const poisoned = new Topology().addSource('in', input, stringSerde, undefined).addProcessor(
      'boom',
      () => ({
        process: () => {
          throw new Error('boom');
        },
      }),
      'in',
    );
    // a long session: if the failed instance kept its membership, the next one would wait 30 s
    const failing = new KafkaStreams(poisoned, { ...base(applicationId), 'session.timeout.ms': 30_000 });
    const errors: Error[] = [];
    failing.onError((e) => errors.push(e));
    await failing.start();
    await eventually('ERROR state', () => failing.state === 'ERROR', 20_000);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /task 0_\d failed: .*boom/);
    assert.equal((errors[0] as Error & { code?: string }).code, 'CTR_TASK_FAILED');

    // another machine (its own state.dir): the failed instance keeps its directory lock until close()
    const healthy = new KafkaStreams(countingTopology({ input }), {
      ...base(applicationId),
      'state.dir': dirs.make(),
    });
    const started = performance.now();
    try {
      await healthy.start();
      await waitForCommittedToEnd(env.kafka, applicationId, input, 20_000);
      assert.ok(performance.now() - started < 15_000, 'the failed instance had left the group');
      assert.equal(total(await readStore<number>([healthy], STORE, 2)), 200);
    } finally {
      await healthy.close();
      await failing.close();
    }
    assert.equal(failing.state, 'NOT_RUNNING');
  });
});
