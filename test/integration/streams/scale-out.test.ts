import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaStreams } from '../../../src/streams/runtime/index.ts';
import {
  createTopics,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  type TestKafka,
} from '../../helpers/kafka.ts';
import {
  appConfig,
  FAST_GROUP,
  readStore,
  tempStateDirs,
  total,
  waitForTasks,
} from '../../helpers/streams.ts';
import { countingTopology, produceKeyed, STORE } from './fixtures/counting.ts';

const PARTITIONS = 8;
const ALL_TASKS = Array.from({ length: PARTITIONS }, (_, p) => `0_${p}`).sort();

describe('two KafkaStreams instances with one application.id', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-scale-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('split the partitions, and a stopped instance moves its tasks and their state to the other', async () => {
    const input = uniqueName('scale-in');
    const applicationId = uniqueName('scale-app');
    await createTopics(env.kafka, [{ name: input, partitions: PARTITIONS }]);
    const make = (): KafkaStreams =>
      new KafkaStreams(
        countingTopology({ input, caching: true }),
        appConfig(env, applicationId, dirs.make(), { 'commit.interval.ms': 300, ...FAST_GROUP }),
      );
    const a = make();
    const b = make();
    try {
      const expected = new Map<string, number>();
      const add = (m: Map<string, number>) => {
        for (const [k, n] of m) expected.set(k, (expected.get(k) ?? 0) + n);
      };
      await a.start();
      add(await produceKeyed(env.kafka, input, 20_000, 2000));
      await waitForCommittedToEnd(env.kafka, applicationId, input);
      assert.deepEqual(a.activeTaskIds(), ALL_TASKS);

      // B joins: the group splits the tasks 4/4; B restores its half from the changelogs
      await b.start();
      await waitForTasks([a, b], 4);
      assert.deepEqual(
        [...a.activeTaskIds(), ...b.activeTaskIds()].sort(),
        ALL_TASKS,
        'every task runs exactly once',
      );
      const movedToB = b.restores();
      assert.equal(movedToB.length, 4);
      assert.ok(movedToB.reduce((n, r) => n + r.restored, 0) > 0, 'B got its state through the changelog');

      add(await produceKeyed(env.kafka, input, 20_000, 2000, 20, 20_000));
      await waitForCommittedToEnd(env.kafka, applicationId, input);
      const split = await readStore<number>([a, b], STORE, PARTITIONS);
      assert.equal(total(split), 40_000);
      for (const [k, n] of expected) assert.equal(split.get(k), n, `count of ${k} while split`);

      // A stops: B takes every task; the four it never had come from the changelog
      const bTasksBefore = new Set(b.activeTaskIds());
      await a.close();
      await waitForTasks([b], PARTITIONS);
      const takenOver = b.restores().filter((r) => !bTasksBefore.has(`0_${r.partition}`));
      assert.equal(takenOver.length, 4);
      assert.ok(
        takenOver.every((r) => r.restored > 0),
        'each moved store was restored from its changelog',
      );

      add(await produceKeyed(env.kafka, input, 10_000, 2000, 20, 40_000));
      await waitForCommittedToEnd(env.kafka, applicationId, input);
      const final = await readStore<number>([b], STORE, PARTITIONS);
      assert.equal(total(final), 50_000, 'no record lost or counted twice across the moves');
      for (const [k, n] of expected) assert.equal(final.get(k), n, `final count of ${k}`);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
