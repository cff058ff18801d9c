import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaProducer, readTopicToEnd } from '../../../../src/kafka/index.ts';
import { KafkaStreams } from '../../../../src/streams/runtime/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import type { WindowStore } from '../../../../src/streams/state/index.ts';
import {
  Consumed,
  JoinWindows,
  Materialized,
  Produced,
  StreamJoined,
  StreamsBuilder,
  TimeWindows,
} from '../../../../src/streams/topology/index.ts';
import {
  createTopics,
  eventually,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  type TestKafka,
} from '../../../helpers/kafka.ts';
import { appConfig, tempStateDirs } from '../../../helpers/streams.ts';

const PARTITIONS = 2;
const MINUTE = 60_000;

describe('windowed state on a real broker', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-ws-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('a click joins its impression buffered before a restart on a machine with no local state (window stores restored from their changelogs)', async () => {
    const impressions = uniqueName('ws-impressions');
    const clicks = uniqueName('ws-clicks');
    const out = uniqueName('ws-labelled');
    const applicationId = uniqueName('ws-app');
    await createTopics(env.kafka, [
      { name: impressions, partitions: PARTITIONS },
      { name: clicks, partitions: PARTITIONS },
      { name: out, partitions: 1 },
    ]);
    const topology = () => {
      const builder = new StreamsBuilder();
      const clickStream = builder.stream(clicks, Consumed.with(stringSerde, stringSerde));
      builder
        .stream(impressions, Consumed.with(stringSerde, stringSerde))
        .join(
          clickStream,
          (imp, click) => `${imp}->${click}`,
          JoinWindows.ofTimeDifferenceWithNoGrace(0).after(10 * MINUTE),
          StreamJoined.as('click-to-impression'),
        )
        .to(out, Produced.with(stringSerde, stringSerde));
      clickStream
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(MINUTE, 60 * MINUTE))
        .count(Materialized.as('clicks-per-minute'));
      return builder.build();
    };
    const make = (): KafkaStreams =>
      new KafkaStreams(topology(), appConfig(env, applicationId, dirs.make(), { 'commit.interval.ms': 200 }));
    const base = Date.now() - (Date.now() % MINUTE) - 30 * MINUTE;
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    try {
      const first = make();
      try {
        await first.start();
        await producer.send(
          Array.from({ length: 50 }, (_, k) => ({
            topic: impressions,
            key: `req-${k}`,
            value: `imp-${k}`,
            timestamp: base,
          })),
        );
        await waitForCommittedToEnd(env.kafka, applicationId, impressions);
      } finally {
        await first.close();
      }

      // a new instance with an empty state.dir: the join buffer must come back from its changelog
      const second = make();
      try {
        await second.start();
        await eventually('RUNNING', () => second.state === 'RUNNING', 30_000);
        const restored = second.restores().filter((r) => r.store === 'click-to-impression-this-join-store');
        assert.equal(
          restored.reduce((n, r) => n + r.restored, 0),
          50,
          'all 50 buffered impressions restored',
        );
        await producer.send(
          Array.from({ length: 50 }, (_, k) => ({
            topic: clicks,
            key: `req-${k}`,
            value: `click-${k}`,
            timestamp: base + 1000 + k,
          })),
        );
        let labelled: string[] = [];
        await eventually(
          '50 clicks joined to their impressions',
          async () => {
            labelled = (await readTopicToEnd(env.kafka, out)).map((r) => `${r.key}=${r.value}`);
            return labelled.length >= 50;
          },
          30_000,
          300,
        );
        assert.deepEqual(
          labelled.sort(),
          Array.from({ length: 50 }, (_, k) => `req-${k}=imp-${k}->click-${k}`).sort(),
        );
        await waitForCommittedToEnd(env.kafka, applicationId, clicks);
        let counted = 0;
        for (let p = 0; p < PARTITIONS; p++) {
          const store = second.store<WindowStore<string, number>>('clicks-per-minute', p);
          assert.ok(store, `partition ${p} runs here`);
          for await (const [w, n] of store.fetchAll(base, base + MINUTE)) {
            assert.equal(w.window.startMs, base);
            counted += n;
          }
        }
        assert.equal(counted, 50);
      } finally {
        await second.close();
      }
    } finally {
      await producer.disconnect();
    }
  });
});
