import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { KafkaError } from '../../../src/kafka/index.ts';
import type { StreamsConfigInput } from '../../../src/streams/config.ts';
import type { KeyValueStore } from '../../../src/streams/state/index.ts';
import {
  KafkaStreams,
  RestoreError,
  type ChangelogRead,
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
import { appConfig, readStore, tempStateDirs, waitForTasks, type TempDirs } from '../../helpers/streams.ts';
import { countingTopology, produceKeyed, STORE } from './fixtures/counting.ts';

const PARTITIONS = 2;
const SESSION_TIMEOUT_MS = 6000;

function checksum(entries: ReadonlyMap<string, number>): string {
  const hash = createHash('sha256');
  for (const key of [...entries.keys()].sort()) hash.update(`${key}=${entries.get(key)}\n`);
  return hash.digest('hex');
}

/** A retriable error as the Kafka layer reports a leader change mid-read. */
function leaderMoved(read: ChangelogRead): KafkaError {
  return new KafkaError(
    'CTR_KAFKA_CONSUME',
    `injected: NOT_LEADER_FOR_PARTITION while reading ${read.topic}[${read.partition}]`,
    { retriable: true, topic: read.topic, partition: read.partition },
  );
}

interface BuiltState {
  input: string;
  applicationId: string;
  changelog: string;
  expected: Map<string, number>;
  /** End offset of the changelog per partition. */
  ends: Map<number, bigint>;
}

function config(env: TestKafka, applicationId: string, stateDir: string, extra: StreamsConfigInput = {}) {
  return appConfig(env, applicationId, stateDir, {
    'commit.interval.ms': 300,
    'session.timeout.ms': SESSION_TIMEOUT_MS,
    'heartbeat.interval.ms': 500,
    // small chunks: a fault can hit the middle of a partition's restore
    'restore.batch.max.records': 100,
    ...extra,
  });
}

/** Runs the counting app once over fresh input, so its changelog holds the state; the caller restores it elsewhere. */
async function buildState(env: TestKafka, dirs: TempDirs, prefix: string): Promise<BuiltState> {
  const input = uniqueName(`${prefix}-in`);
  const applicationId = uniqueName(`${prefix}-app`);
  const changelog = `${applicationId}-${STORE}-changelog`;
  await createTopics(env.kafka, [{ name: input, partitions: PARTITIONS }]);
  const expected = await produceKeyed(env.kafka, input, 3000, 800);
  const app = new KafkaStreams(countingTopology({ input }), config(env, applicationId, dirs.make()));
  try {
    await app.start();
    await waitForTasks([app], PARTITIONS);
    await waitForCommittedToEnd(env.kafka, applicationId, input);
  } finally {
    await app.close();
  }
  const ends = await withAdmin(
    env.kafka,
    async (admin) => new Map((await admin.topicOffsets(changelog)).map((o) => [o.partition, BigInt(o.high)])),
  );
  assert.ok(
    [...ends.values()].every((e) => e > 300n),
    'every changelog partition spans several chunks',
  );
  return { input, applicationId, changelog, expected, ends };
}

/** Records the listener's retries. */
function retryRecorder(): {
  listener: StateRestoreListener;
  retries: { partition: number; offset: string; attempt: number; delayMs: number; error: Error }[];
} {
  const retries: { partition: number; offset: string; attempt: number; delayMs: number; error: Error }[] = [];
  return {
    retries,
    listener: {
      onRestoreRetry: (_topic, partition, _store, offset, attempt, delayMs, error) =>
        retries.push({ partition, offset, attempt, delayMs, error }),
    },
  };
}

describe('KafkaStreams restore failures', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-restore-retry-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('retries a retriable failure with backoff while other tasks run and the member stays in the group, then restores fully', async () => {
    const built = await buildState(env, dirs, 'rr-retry');
    // partition 0: every read fails for longer than a session timeout; partition 1: one failure
    // in the middle of its restore, after the first chunk was applied
    const failForMs = SESSION_TIMEOUT_MS + 1000;
    let firstFailureAt: number | undefined;
    const reads: ChangelogRead[] = [];
    let midFailureOffset: string | undefined;
    const faults: RestoreFaults = {
      beforeRead(read) {
        reads.push(read);
        if (read.partition !== 0) return;
        firstFailureAt ??= Date.now();
        if (Date.now() - firstFailureAt < failForMs) throw leaderMoved(read);
      },
      beforeApply(read, offset) {
        if (read.partition !== 1 || midFailureOffset !== undefined || offset === '0') return;
        midFailureOffset = offset;
        throw leaderMoved(read);
      },
    };
    const { listener, retries } = retryRecorder();
    const app = new KafkaStreams(
      countingTopology({ input: built.input }),
      config(env, built.applicationId, dirs.make()),
      { restoreFaults: faults, restoreListener: listener },
    );
    try {
      await app.start();
      // task 0_1 restores (after its one retry) and runs while 0_0 still fails
      await eventually('task 0_1 running', () => app.store(STORE, 1) !== undefined, 20_000);
      assert.ok(app.store(STORE, 0) === undefined, 'task 0_0 is still restoring');
      assert.equal(app.state, 'REBALANCING', 'the app is not RUNNING while a task restores');
      // ... and processes new records meanwhile
      await produceRecords(env.kafka, [{ topic: built.input, partition: 1, key: 'fresh', value: 'x' }]);
      await eventually(
        'the record on partition 1 counted while task 0_0 retries',
        async () => (await app.store<KeyValueStore<string, number>>(STORE, 1)?.get('fresh')) === 1,
        10_000,
      );
      assert.ok(Date.now() - firstFailureAt! < failForMs, 'task 0_0 was still failing then');

      await waitForTasks([app], PARTITIONS, 30_000);
      assert.equal(app.error, undefined);
      assert.ok(Date.now() - firstFailureAt! >= failForMs);
      // failing for longer than session.timeout.ms cost no rebalance: the member kept heartbeating
      assert.equal(app.assignmentsApplied, 1, 'no rebalance while the restore retried');
      const group = await withAdmin(env.kafka, (admin) => admin.describeGroup(built.applicationId));
      assert.equal(group.state, 'Stable');
      assert.equal(group.members.length, 1);

      const counts = await readStore<number>([app], STORE, PARTITIONS);
      const expected = new Map(built.expected).set('fresh', 1);
      assert.equal(checksum(counts), checksum(expected), 'the restored state is the state that was built');

      const results = new Map(app.restores().map((r) => [r.partition, r]));
      const r0 = results.get(0)!;
      const r1 = results.get(1)!;
      assert.ok(r0.retries >= 4, `task 0_0 retried several times (${r0.retries})`);
      assert.equal(r0.restored, Number(built.ends.get(0)!), 'task 0_0 restored its whole changelog once');
      assert.equal(r1.retries, 1);
      assert.equal(r1.restored, Number(built.ends.get(1)!), 'task 0_1 resumed, applying nothing twice');
      assert.equal(r1.to, built.ends.get(1)!.toString());
      // the retry of partition 1 resumed where the failure happened, not from the start
      const reads1 = reads.filter((r) => r.partition === 1);
      assert.deepEqual(
        reads1.map((r) => r.from),
        ['0', midFailureOffset],
      );

      // every retry was told, with growing attempts and (jittered) exponential delays
      const retries0 = retries.filter((r) => r.partition === 0);
      assert.deepEqual(
        retries0.map((r) => r.attempt),
        retries0.map((_, i) => i + 1),
      );
      assert.equal(retries0.length, r0.retries);
      assert.ok(
        retries0[0]!.delayMs >= 80 && retries0[0]!.delayMs <= 120,
        `first delay ${retries0[0]!.delayMs}`,
      );
      assert.ok(
        retries0[3]!.delayMs >= 640 && retries0[3]!.delayMs <= 960,
        `fourth delay ${retries0[3]!.delayMs}`,
      );
      assert.ok(
        retries0.every((r) => r.offset === '0' && r.error.message.includes('NOT_LEADER_FOR_PARTITION')),
      );
      const retries1 = retries.filter((r) => r.partition === 1);
      assert.deepEqual(
        retries1.map((r) => r.offset),
        [midFailureOffset],
      );
    } finally {
      await app.close();
    }
  });

  it('wipes the store and restores it from the start when a read is out of range mid-restore', async () => {
    const built = await buildState(env, dirs, 'rr-range');
    let failedAt: string | undefined;
    const reads: ChangelogRead[] = [];
    const faults: RestoreFaults = {
      beforeRead(read) {
        reads.push(read);
      },
      beforeApply(read, offset) {
        if (read.partition !== 0 || failedAt !== undefined || BigInt(offset) < 200n) return;
        failedAt = offset;
        // what kafkajs reports when the fetch position is not in the log (the changelog was truncated)
        const outOfRange = Object.assign(
          new Error('The requested offset is not within the range of offsets'),
          {
            name: 'KafkaJSOffsetOutOfRange',
            type: 'OFFSET_OUT_OF_RANGE',
            retriable: false,
          },
        );
        throw new KafkaError('CTR_KAFKA_CONSUME', `cannot read "${read.topic}": ${outOfRange.message}`, {
          cause: outOfRange,
          topic: read.topic,
        });
      },
    };
    const { listener, retries } = retryRecorder();
    const app = new KafkaStreams(
      countingTopology({ input: built.input }),
      config(env, built.applicationId, dirs.make()),
      { restoreFaults: faults, restoreListener: listener },
    );
    try {
      await app.start();
      await waitForTasks([app], PARTITIONS, 30_000);
      assert.equal(app.error, undefined);
      assert.equal(retries.length, 0, 'a wipe is not a retry');
      assert.deepEqual(
        reads.filter((r) => r.partition === 0).map((r) => [r.from, r.attempt]),
        [
          ['0', 0],
          ['0', 1],
        ],
        'the second read of partition 0 starts from the changelog start again',
      );
      const r0 = app.restores().find((r) => r.partition === 0)!;
      assert.equal(r0.wiped, true);
      assert.equal(r0.from, '0');
      assert.equal(
        r0.restored,
        Number(failedAt) + Number(built.ends.get(0)!),
        'applied up to the failure, then everything',
      );
      const counts = await readStore<number>([app], STORE, PARTITIONS);
      assert.equal(checksum(counts), checksum(built.expected));
    } finally {
      await app.close();
    }
  });

  it('fails the instance on a non-retriable failure, naming store, changelog partition and offset, without retrying', async () => {
    const built = await buildState(env, dirs, 'rr-fatal');
    let failedAt: string | undefined;
    const faults: RestoreFaults = {
      beforeApply(read, offset) {
        if (read.partition !== 0 || offset === '0') return;
        failedAt = offset;
        throw new Error('injected: IO error: No space left on device');
      },
    };
    const { listener, retries } = retryRecorder();
    const app = new KafkaStreams(
      countingTopology({ input: built.input }),
      config(env, built.applicationId, dirs.make()),
      { restoreFaults: faults, restoreListener: listener },
    );
    const errors: Error[] = [];
    app.onError((e) => errors.push(e));
    try {
      await app.start();
      await eventually('the app in ERROR', () => app.state === 'ERROR', 20_000);
      assert.equal(errors.length, 1);
      const error = app.error;
      assert.ok(error instanceof RestoreError, `a RestoreError, got ${error?.name}: ${error?.message}`);
      assert.equal(error.code, 'CTR_RESTORE');
      assert.equal(error.retriable, false);
      assert.equal(error.store, STORE);
      assert.equal(error.partition, 0);
      assert.equal(error.offset, failedAt);
      assert.equal(
        error.message,
        `cannot restore "${STORE}" of task 0_0 from ${built.changelog}[0] at offset ${failedAt}: injected: IO error: No space left on device`,
      );
      assert.equal(retries.length, 0, 'a non-retriable failure is not retried');
    } finally {
      await app.close();
    }
  });

  it('fails the instance once task.timeout.ms has passed, saying how long it retried', async () => {
    const built = await buildState(env, dirs, 'rr-timeout');
    const timeoutMs = 1500;
    let firstFailureAt: number | undefined;
    const faults: RestoreFaults = {
      beforeRead(read) {
        if (read.partition !== 0) return;
        firstFailureAt ??= performance.now();
        throw leaderMoved(read);
      },
    };
    const { listener, retries } = retryRecorder();
    const app = new KafkaStreams(
      countingTopology({ input: built.input }),
      config(env, built.applicationId, dirs.make(), { 'task.timeout.ms': timeoutMs }),
      { restoreFaults: faults, restoreListener: listener },
    );
    let failedAt: number | undefined;
    app.onError(() => {
      failedAt = performance.now();
    });
    try {
      await app.start();
      await eventually('the app in ERROR', () => failedAt !== undefined, 20_000);
      const error = app.error;
      assert.ok(error instanceof RestoreError, `a RestoreError, got ${error?.name}: ${error?.message}`);
      const m =
        /^cannot restore "counts" of task 0_0 from (\S+)\[0\] at offset 0: still failing after retrying for (\d+) ms \((\d+) retries, task\.timeout\.ms = 1500\): injected: NOT_LEADER_FOR_PARTITION/.exec(
          error.message,
        );
      assert.ok(m, error.message);
      assert.equal(m[1], built.changelog);
      assert.ok(Number(m[2]) >= timeoutMs, `retried for ${m[2]} ms`);
      assert.equal(Number(m[3]), retries.length, 'the message counts the retries the listener saw');
      assert.ok(retries.length >= 3, `retried ${retries.length} times within ${timeoutMs} ms`);
      const elapsed = failedAt! - firstFailureAt!;
      assert.ok(elapsed >= timeoutMs && elapsed < timeoutMs + 2000, `fatal after ${Math.round(elapsed)} ms`);
      assert.ok(error.cause instanceof KafkaError && error.cause.retriable, 'the last failure is the cause');
    } finally {
      await app.close();
    }
  });
});
