import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessorContext } from '../../../src/streams/processor/index.ts';
import { KafkaStreams, type KafkaStreamsState } from '../../../src/streams/runtime/index.ts';
import { stringSerde } from '../../../src/streams/serde/index.ts';
import { Stores, type KeyValueStore } from '../../../src/streams/state/index.ts';
import { Topology } from '../../../src/streams/topology/index.ts';
import {
  createTopics,
  latestByKey,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { appConfig, readStore, tempStateDirs } from '../../helpers/streams.ts';
import { countingTopology, countSerde, produceKeyed, STORE } from './fixtures/counting.ts';

const PARTITIONS = 8;

describe('KafkaStreams counting topology on a real broker', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-counting-');
  let stateDir: string;
  before(async () => {
    env = await testKafka();
    stateDir = dirs.make();
  });
  after(() => dirs.cleanup());

  it('counts 100,000 records exactly, in the store and in the output topic', async () => {
    const input = uniqueName('count-in');
    const output = uniqueName('count-out');
    const applicationId = uniqueName('count-app');
    await createTopics(env.kafka, [
      { name: input, partitions: PARTITIONS },
      { name: output, partitions: PARTITIONS },
    ]);
    const expected = await produceKeyed(env.kafka, input, 100_000, 1000);
    const states: KafkaStreamsState[] = [];
    const app = new KafkaStreams(
      countingTopology({ input, output, caching: true }),
      appConfig(env, applicationId, stateDir, {
        'commit.interval.ms': 500,
        'session.timeout.ms': 6000,
        'heartbeat.interval.ms': 1000,
      }),
    );
    app.onStateChange((s) => states.push(s));
    try {
      await app.start();
      await waitForCommittedToEnd(env.kafka, applicationId, input);
      assert.deepEqual(app.activeTaskIds(), Array.from({ length: PARTITIONS }, (_, p) => `0_${p}`).sort());
      const counts = await readStore<number>([app], STORE, PARTITIONS);
      assert.equal(counts.size, expected.size);
      for (const [key, n] of expected) assert.equal(counts.get(key), n, `count of ${key}`);
      assert.equal(app.state, 'RUNNING');
    } finally {
      await app.close();
    }
    assert.equal(app.state, 'NOT_RUNNING');
    assert.deepEqual(states.slice(0, 2), ['REBALANCING', 'RUNNING']);
    assert.deepEqual(states.slice(-2), ['PENDING_SHUTDOWN', 'NOT_RUNNING']);
    // outputs were flushed and acked before the last commit: the last value per key is the final count
    const latest = await latestByKey(env.kafka, output);
    for (const [key, n] of expected) assert.equal(latest.get(key), String(n), `output of ${key}`);
  });

  it('refuses a second instance on the same state directory with a clear error', async () => {
    const input = uniqueName('lock-in');
    const applicationId = uniqueName('lock-app');
    await createTopics(env.kafka, [{ name: input, partitions: 2 }]);
    const config = appConfig(env, applicationId, stateDir);
    const first = new KafkaStreams(countingTopology({ input }), config);
    const second = new KafkaStreams(countingTopology({ input }), config);
    try {
      await first.start();
      await assert.rejects(second.start(), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CTR_STATE_DIR_LOCKED');
        assert.match(error.message, /held by process \d+/);
        assert.match(error.message, /same state\.dir/);
        return true;
      });
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('runs co-partitioned source topics in one task per partition, and rejects different partition counts', async () => {
    const left = uniqueName('co-left');
    const right = uniqueName('co-right');
    const odd = uniqueName('co-odd');
    const applicationId = uniqueName('co-app');
    await createTopics(env.kafka, [
      { name: left, partitions: 4 },
      { name: right, partitions: 4 },
      { name: odd, partitions: 3 },
    ]);
    const fromLeft = await produceKeyed(env.kafka, left, 4000, 100);
    const fromRight = await produceKeyed(env.kafka, right, 2000, 100);
    const build = (topics: string[]) =>
      new Topology()
        .addSource('in', topics, stringSerde, undefined)
        .addProcessor(
          'count',
          () => {
            let store: KeyValueStore<string, number>;
            return {
              init: (ctx: ProcessorContext) => {
                store = ctx.getStateStore(STORE);
              },
              process: async (records: ReadonlyArray<{ key: string }>) => {
                const current = await store.getMany(records.map((r) => r.key));
                const next = new Map<string, number>();
                records.forEach((r, i) => next.set(r.key, (next.get(r.key) ?? current[i] ?? 0) + 1));
                await store.putAll([...next]);
              },
            };
          },
          'in',
        )
        .addStateStore(
          Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), stringSerde, countSerde),
          'count',
        );
    const config = appConfig(env, applicationId, stateDir, { 'commit.interval.ms': 300 });
    const app = new KafkaStreams(build([left, right]), config);
    try {
      await app.start();
      await waitForCommittedToEnd(env.kafka, applicationId, left);
      await waitForCommittedToEnd(env.kafka, applicationId, right);
      assert.deepEqual(
        app.activeTaskIds(),
        ['0_0', '0_1', '0_2', '0_3'],
        'one task per partition for both topics',
      );
      const counts = await readStore<number>([app], STORE, 4);
      for (const [key, n] of fromLeft)
        assert.equal(counts.get(key), n + (fromRight.get(key) ?? 0), `count of ${key}`);
    } finally {
      await app.close();
    }
    const mismatched = new KafkaStreams(build([left, odd]), {
      ...config,
      'application.id': uniqueName('co-bad'),
    });
    try {
      await assert.rejects(
        mismatched.start(),
        /co-partitioned source topics of sub-topology 0 differ in partition count/,
      );
      assert.equal(mismatched.state, 'ERROR');
    } finally {
      await mismatched.close();
    }
  });
});
