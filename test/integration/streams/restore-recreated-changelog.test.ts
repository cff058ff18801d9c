import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaError, type OutgoingRecord } from '../../../src/kafka/index.ts';
import {
  KafkaStreams,
  type RestoreFaults,
  type StateRestoreListener,
} from '../../../src/streams/runtime/index.ts';
import {
  createTopics,
  eventually,
  produceRecords,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  withAdmin,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { appConfig, FAST_GROUP, readStore, tempStateDirs, waitForTasks } from '../../helpers/streams.ts';
import { countingTopology, countSerde, produceKeyed, STORE } from './fixtures/counting.ts';

const PARTITIONS = 2;
/** Records per partition written to the recreated changelog: far fewer than the stores' positions. */
const NEW_PER_PARTITION = 5;

/** Deletes `topic` and creates it again empty (deletion is asynchronous: waits until it is gone first). */
async function recreate(env: TestKafka, topic: string, partitions: number): Promise<void> {
  await withAdmin(env.kafka, (admin) => admin.deleteTopics([topic]));
  await eventually(
    `${topic} deleted`,
    () => withAdmin(env.kafka, async (admin) => !(await admin.listTopics()).includes(topic)),
    30_000,
    200,
  );
  // the broker may still be removing the old log: creating can fail for a moment
  await eventually(
    `${topic} created again`,
    async () => {
      try {
        await createTopics(env.kafka, [{ name: topic, partitions, compacted: true }]);
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    500,
  );
}

describe('KafkaStreams restore when the changelog was deleted and recreated', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-restore-recreated-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('wipes a store whose position is beyond the new changelog end and restores it from the new changelog', async () => {
    const input = uniqueName('rr-recreated-in');
    const applicationId = uniqueName('rr-recreated-app');
    const changelog = `${applicationId}-${STORE}-changelog`;
    await createTopics(env.kafka, [{ name: input, partitions: PARTITIONS }]);
    const stateDir = dirs.make();
    const config = appConfig(env, applicationId, stateDir, { 'commit.interval.ms': 300, ...FAST_GROUP });

    // 1. build state: the local stores end with positions far into the changelog
    await produceKeyed(env.kafka, input, 3000, 800);
    const first = new KafkaStreams(countingTopology({ input }), config);
    try {
      await first.start();
      await waitForTasks([first], PARTITIONS);
      await waitForCommittedToEnd(env.kafka, applicationId, input);
    } finally {
      await first.close();
    }
    const oldEnds = await withAdmin(env.kafka, (admin) => admin.topicOffsets(changelog));
    assert.ok(oldEnds.every((o) => BigInt(o.high) > BigInt(NEW_PER_PARTITION)));

    // 2. the changelog is deleted and recreated (an operator's mistake, a cluster migration) and
    //    gets a different, shorter history; the local state directory is kept
    await recreate(env, changelog, PARTITIONS);
    const fresh: OutgoingRecord[] = [];
    const expected = new Map<string, number>();
    for (let p = 0; p < PARTITIONS; p++) {
      for (let i = 0; i < NEW_PER_PARTITION; i++) {
        const key = `new-${p}-${i}`;
        expected.set(key, 100 + i);
        fresh.push({ topic: changelog, partition: p, key, value: countSerde.serialize(changelog, 100 + i) });
      }
    }
    await produceRecords(env.kafka, fresh);

    // 3. the next start finds every stored position beyond the changelog's end: wipe, restore, run
    const starts: { partition: number; from: string; to: string }[] = [];
    const listener: StateRestoreListener = {
      onRestoreStart: (_topic, partition, _store, from, to) => starts.push({ partition, from, to }),
    };
    const second = new KafkaStreams(countingTopology({ input }), config, { restoreListener: listener });
    try {
      await second.start();
      await waitForTasks([second], PARTITIONS);
      assert.equal(second.error, undefined, 'no crash');
      const results = [...second.restores()].sort((a, b) => a.partition - b.partition);
      assert.equal(results.length, PARTITIONS);
      for (const r of results) {
        assert.equal(r.wiped, true, `store of partition ${r.partition} wiped`);
        assert.equal(r.from, '0');
        assert.equal(r.to, String(NEW_PER_PARTITION));
        assert.equal(r.restored, NEW_PER_PARTITION);
        assert.equal(r.retries, 0);
      }
      assert.deepEqual(
        starts.sort((a, b) => a.partition - b.partition),
        [0, 1].map((partition) => ({ partition, from: '0', to: String(NEW_PER_PARTITION) })),
      );
      // exactly the new changelog's content: nothing of the old state survived the wipe
      const counts = await readStore<number>([second], STORE, PARTITIONS);
      assert.deepEqual(
        [...counts].sort(([a], [b]) => a.localeCompare(b)),
        [...expected].sort(([a], [b]) => a.localeCompare(b)),
      );
    } finally {
      await second.close();
    }
  });

  it('retries a real broker failure (the changelog vanished during the restore) and restores once it is back', async () => {
    const input = uniqueName('rr-vanished-in');
    const applicationId = uniqueName('rr-vanished-app');
    const changelog = `${applicationId}-${STORE}-changelog`;
    await createTopics(env.kafka, [{ name: input, partitions: PARTITIONS }]);
    const config = (stateDir: string) =>
      appConfig(env, applicationId, stateDir, { 'commit.interval.ms': 300, ...FAST_GROUP });
    await produceKeyed(env.kafka, input, 1000, 300);
    const first = new KafkaStreams(countingTopology({ input }), config(dirs.make()));
    try {
      await first.start();
      await waitForTasks([first], PARTITIONS);
      await waitForCommittedToEnd(env.kafka, applicationId, input);
    } finally {
      await first.close();
    }

    // a new instance (empty state dir) starts restoring; its reads wait at the gate while the
    // changelog is deleted, so they hit the broker's real UNKNOWN_TOPIC_OR_PARTITION
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    // once the changelog exists again but is not refilled yet, a retry must not finish on the
    // empty topic (a race of the test, not of the product): retries fail until an attempt that
    // started after the refill (two attempts past the last one seen then: the one in flight may
    // have fetched the offsets before the refill)
    const lastAttempt = new Map<number, number>();
    let passFrom: Map<number, number> | undefined;
    const faults: RestoreFaults = {
      beforeRead: (read) => {
        if (read.attempt === 0) return gate;
        lastAttempt.set(read.partition, read.attempt);
        if (passFrom && read.attempt >= passFrom.get(read.partition)!) return undefined;
        throw new KafkaError('CTR_KAFKA_CONSUME', 'test: changelog recreated but not refilled yet', {
          retriable: true,
        });
      },
    };
    const retried: { partition: number; error: Error }[] = [];
    const listener: StateRestoreListener = {
      onRestoreRetry: (_topic, partition, _store, _offset, _attempt, _delay, error) =>
        retried.push({ partition, error }),
    };
    const second = new KafkaStreams(countingTopology({ input }), config(dirs.make()), {
      restoreFaults: faults,
      restoreListener: listener,
    });
    try {
      await second.start();
      await withAdmin(env.kafka, (admin) => admin.deleteTopics([changelog]));
      await eventually(
        `${changelog} deleted`,
        () => withAdmin(env.kafka, async (admin) => !(await admin.listTopics()).includes(changelog)),
        30_000,
        200,
      );
      openGate();
      await eventually(
        'both partitions retrying after the broker failure',
        () => new Set(retried.map((r) => r.partition)).size === PARTITIONS,
        45_000,
        100,
      );
      assert.equal(second.state, 'REBALANCING', 'still restoring, not failed');
      assert.equal(second.error, undefined);

      // the changelog comes back (with other content): the retry succeeds
      await recreate(env, changelog, PARTITIONS);
      const fresh: OutgoingRecord[] = [0, 1].map((p) => ({
        topic: changelog,
        partition: p,
        key: `back-${p}`,
        value: countSerde.serialize(changelog, 7),
      }));
      await produceRecords(env.kafka, fresh);
      passFrom = new Map([0, 1].map((p) => [p, (lastAttempt.get(p) ?? 0) + 2]));
      await waitForTasks([second], PARTITIONS, 45_000);
      assert.equal(second.error, undefined, 'no crash');
      assert.equal(second.assignmentsApplied, 1, 'the member stayed in the group');
      const counts = await readStore<number>([second], STORE, PARTITIONS);
      assert.deepEqual(
        [...counts].sort(([a], [b]) => a.localeCompare(b)),
        [
          ['back-0', 7],
          ['back-1', 7],
        ],
      );
      // the first retry of each partition was the broker's own failure, not the test's
      for (const p of [0, 1]) {
        const reason = retried.find((r) => r.partition === p)!.error;
        assert.doesNotMatch(reason.message, /^test:/);
        assert.match(
          `${reason.message} ${String((reason.cause as Error | undefined)?.message)}`,
          /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition|not.*exist/i,
        );
      }
    } finally {
      openGate();
      await second.close();
    }
  });
});
