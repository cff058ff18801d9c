import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { KafkaStreams } from '../../../src/streams/runtime/index.ts';
import {
  createTopics,
  eventually,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  withAdmin,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { appConfig, readStore, tempStateDirs, total } from '../../helpers/streams.ts';
import { countingTopology, produceKeyed, STORE } from './fixtures/counting.ts';

const PARTITIONS = 4;

function checksum(entries: ReadonlyMap<string, number>): string {
  const hash = createHash('sha256');
  for (const key of [...entries.keys()].sort()) hash.update(`${key}=${entries.get(key)}\n`);
  return hash.digest('hex');
}

async function changelogEnd(env: TestKafka, topic: string): Promise<number> {
  return withAdmin(env.kafka, async (admin) =>
    (await admin.topicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0),
  );
}

describe('KafkaStreams store restore from the changelog', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-restore-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('restores identical stores after the state dir is deleted, and only the tail when a position is stored', async () => {
    const input = uniqueName('restore-in');
    const applicationId = uniqueName('restore-app');
    const changelog = `${applicationId}-${STORE}-changelog`;
    await createTopics(env.kafka, [{ name: input, partitions: PARTITIONS }]);
    const dirA = dirs.make();
    const config = (stateDir: string) =>
      appConfig(env, applicationId, stateDir, {
        'commit.interval.ms': 300,
        // a member that failed to leave would hold the next run's join for a whole session
        'session.timeout.ms': 6000,
        'heartbeat.interval.ms': 1000,
      });
    const run = async (
      stateDir: string,
      check: (app: KafkaStreams) => Promise<void>,
    ): Promise<KafkaStreams> => {
      const app = new KafkaStreams(countingTopology({ input }), config(stateDir));
      try {
        await app.start();
        await eventually('app RUNNING (restores done)', () => app.state === 'RUNNING', 30_000);
        await waitForCommittedToEnd(env.kafka, applicationId, input);
        await check(app);
      } finally {
        await app.close();
      }
      return app;
    };

    // 1. build the state: 20,000 records over 5,000 keys
    const expected = await produceKeyed(env.kafka, input, 20_000, 5000);
    let before = '';
    const first = await run(dirA, async (app) => {
      const counts = await readStore<number>([app], STORE, PARTITIONS);
      assert.equal(total(counts), 20_000);
      before = checksum(counts);
    });
    assert.equal(
      first.restores().reduce((n, r) => n + r.restored, 0),
      0,
      'a fresh app restores nothing',
    );
    const endAfterFirst = await changelogEnd(env, changelog);
    assert.ok(
      endAfterFirst >= expected.size,
      `changelog holds at least one record per key (${endAfterFirst})`,
    );

    // 2. delete the state directory: everything comes back from the changelog, identical
    rmSync(dirA, { recursive: true, force: true });
    const second = await run(dirA, async (app) => {
      assert.equal(checksum(await readStore<number>([app], STORE, PARTITIONS)), before);
    });
    const full = second.restores();
    assert.equal(full.length, PARTITIONS);
    assert.ok(
      full.every((r) => r.wiped && r.from === '0'),
      'no position: wiped and restored from the start',
    );
    assert.equal(
      full.reduce((n, r) => n + r.restored, 0),
      endAfterFirst,
      'every changelog record was restored',
    );

    // 3. another instance (own state dir) moves the changelog on by 5,000 more records' updates
    await produceKeyed(env.kafka, input, 5_000, 5000, 20, 20_000);
    let after = '';
    await run(dirs.make(), async (app) => {
      const counts = await readStore<number>([app], STORE, PARTITIONS);
      assert.equal(total(counts), 25_000);
      after = checksum(counts);
    });
    const endAfterThird = await changelogEnd(env, changelog);
    assert.ok(endAfterThird > endAfterFirst);

    // 4. back on dirA: its stores hold a position, so only the tail written since is restored
    const fourth = await run(dirA, async (app) => {
      assert.equal(checksum(await readStore<number>([app], STORE, PARTITIONS)), after);
    });
    const tail = fourth.restores();
    assert.ok(
      tail.every((r) => !r.wiped),
      'positions were valid: no wipe',
    );
    assert.equal(
      tail.reduce((n, r) => n + r.restored, 0),
      endAfterThird - endAfterFirst,
      'only the tail was restored',
    );
  });
});
