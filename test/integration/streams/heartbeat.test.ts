/**
 * Heartbeats share the event loop with processing. These tests measure what
 * CPU-heavy processors do to group membership: many short synchronous steps
 * (the task loop yields between batches) keep the member in the group even
 * when their total is several session timeouts; one step longer than the
 * session timeout gets the member removed (and at-least-once still holds).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { KafkaStreams, type KafkaStreamsState } from '../../../src/streams/runtime/index.ts';
import {
  createTopics,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { appConfig, readStore, tempStateDirs, total } from '../../helpers/streams.ts';
import { countingTopology, produceKeyed, STORE } from './fixtures/counting.ts';

const SESSION_MS = 6000;

describe('KafkaStreams heartbeats under CPU-heavy processors', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-heartbeat-');
  let stateDir: string;
  before(async () => {
    env = await testKafka();
    stateDir = dirs.make();
  });
  after(() => dirs.cleanup());

  async function run(burnMs: (partition: number, batch: number) => number, records: number) {
    const input = uniqueName('hb-in');
    const applicationId = uniqueName('hb-app');
    await createTopics(env.kafka, [{ name: input, partitions: 2 }]);
    await produceKeyed(env.kafka, input, records, 100);
    const app = new KafkaStreams(
      countingTopology({ input, burnMs }),
      appConfig(env, applicationId, stateDir, {
        'commit.interval.ms': 500,
        'session.timeout.ms': SESSION_MS,
        'heartbeat.interval.ms': 1000,
        'max.poll.records': 50,
        // the default shutdown allows 30 s; a removed member's last commit is rejected, not retried forever
        'shutdown.timeout.ms': 10_000,
      }),
    );
    const states: KafkaStreamsState[] = [];
    app.onStateChange((s) => states.push(s));
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const started = performance.now();
    delay.enable();
    try {
      await app.start();
      await waitForCommittedToEnd(env.kafka, applicationId, input, 60_000);
      delay.disable();
      const counts = await readStore<number>([app], STORE, 2);
      return {
        states,
        joins: app.assignmentsApplied,
        counted: total(counts),
        maxDelayMs: delay.max / 1e6,
        seconds: (performance.now() - started) / 1000,
      };
    } finally {
      await app.close();
    }
  }

  it('stays in the group while processors burn 250 ms per batch for twice the session timeout', async () => {
    // 2 partitions x 1,200 records / 50 per batch = 48 batches x 250 ms = 12 s of CPU, 2 x session.timeout.ms
    const r = await run(() => 250, 2400);
    process.stdout.write(
      `# heartbeat: 48 batches x 250 ms burn: ${r.seconds.toFixed(1)} s, max event-loop delay ${r.maxDelayMs.toFixed(0)} ms, states ${r.states.join(' ')}\n`,
    );
    assert.equal(r.counted, 2400);
    assert.ok(r.seconds * 1000 > 2 * SESSION_MS, 'the run lasted longer than two session timeouts');
    // the task loops share one yield mark: the loop is blocked about one batch at a time, not one per
    // task (measured ~280 ms on a quiet machine); the bound leaves room for GC and a loaded CI host
    assert.ok(r.maxDelayMs >= 240 && r.maxDelayMs < 1500, `max event-loop delay ${r.maxDelayMs} ms`);
    assert.equal(r.joins, 1, 'joined the group once: no rebalance while burning');
    assert.deepEqual(r.states, ['REBALANCING', 'RUNNING', 'PENDING_SHUTDOWN', 'NOT_RUNNING']);
  });

  it('is removed from the group when one synchronous step outlasts the session timeout, and still counts every record', async () => {
    const r = await run((partition, batch) => (partition === 0 && batch === 0 ? SESSION_MS + 1500 : 0), 2000);
    process.stdout.write(
      `# heartbeat: one ${SESSION_MS + 1500} ms step: max event-loop delay ${r.maxDelayMs.toFixed(0)} ms, group joins ${r.joins}\n`,
    );
    assert.ok(r.maxDelayMs > SESSION_MS);
    assert.ok(r.joins >= 2, `the member was removed and had to rejoin (joins ${r.joins})`);
    assert.ok(r.counted >= 2000, 'every record counted at least once');
  });
});
