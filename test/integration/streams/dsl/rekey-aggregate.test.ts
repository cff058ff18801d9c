import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OutgoingRecord } from '../../../../src/kafka/index.ts';
import { KafkaStreams } from '../../../../src/streams/runtime/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import {
  Consumed,
  Grouped,
  Materialized,
  Produced,
  StreamsBuilder,
  TimeWindows,
  type Topology,
} from '../../../../src/streams/topology/index.ts';
import {
  createTopics,
  eventually,
  latestByKey,
  produceRecords,
  testKafka,
  uniqueName,
  withAdmin,
  type TestKafka,
} from '../../../helpers/kafka.ts';
import { appConfig, FAST_GROUP, tempStateDirs, waitForTasks } from '../../../helpers/streams.ts';

const PARTITIONS = 4;
const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 0, 1);

/** views keyed by user, valued by item -> re-keyed by item -> hourly counts per item. */
function topology(input: string, output: string): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream(input, Consumed.with(stringSerde, stringSerde))
    .selectKey((_user, item) => item)
    .groupByKey(Grouped.with(stringSerde, stringSerde).withName('by-item'))
    .windowedBy(TimeWindows.ofSizeAndGrace(HOUR, 24 * HOUR))
    .count(Materialized.as('views-per-item-hour'))
    .toStream()
    .map((w, count): readonly [string, string] => [
      `${w.key}@${(w.window.startMs - BASE) / HOUR}`,
      String(count),
    ])
    .to(output, Produced.with(stringSerde, stringSerde));
  return builder.build();
}

describe('re-key then windowed count on a real broker', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-rekey-');
  before(async () => {
    env = await testKafka();
  });
  after(() => dirs.cleanup());

  it('two instances give the same counts as one, through <app>-by-item-repartition sized like the input', async () => {
    const inOne = uniqueName('views-one');
    const inTwo = uniqueName('views-two');
    const outOne = uniqueName('counts-one');
    const outTwo = uniqueName('counts-two');
    await createTopics(env.kafka, [
      { name: inOne, partitions: PARTITIONS },
      { name: inTwo, partitions: PARTITIONS },
      { name: outOne, partitions: 1 },
      { name: outTwo, partitions: 1 },
    ]);
    // 12,000 views of 40 items by 300 users over 5 hours, produced keyed by user
    const expected = new Map<string, string>();
    const counts = new Map<string, number>();
    const records: OutgoingRecord[] = [];
    for (let i = 0; i < 12_000; i++) {
      const item = `item-${(i * 7) % 40}`;
      const hour = i % 5;
      records.push({
        topic: '',
        key: `user-${i % 300}`,
        value: item,
        timestamp: BASE + hour * HOUR + (i % 1000),
      });
      counts.set(`${item}@${hour}`, (counts.get(`${item}@${hour}`) ?? 0) + 1);
    }
    for (const [k, n] of counts) expected.set(k, String(n));
    // produced once the instances run: a rebalance in the middle of processing would replay
    // uncommitted work, which at-least-once allows but an exact comparison cannot
    const produce = (topic: string): Promise<void> =>
      produceRecords(
        env.kafka,
        records.map((r) => ({ ...r, topic })),
        3000,
      );

    const make = (input: string, applicationId: string, output: string): KafkaStreams =>
      new KafkaStreams(
        topology(input, output),
        appConfig(env, applicationId, dirs.make(), { 'commit.interval.ms': 200, ...FAST_GROUP }),
      );
    const until = async (output: string): Promise<Map<string, string>> => {
      let latest = new Map<string, string>();
      await eventually(
        `final counts in ${output}`,
        async () => {
          latest = await latestByKey(env.kafka, output);
          return [...expected].every(([k, v]) => latest.get(k) === v);
        },
        45_000,
        500,
      ).catch((error: Error) => {
        const wrong = [...expected].filter(([k, v]) => latest.get(k) !== v).slice(0, 5);
        throw new Error(
          `${error.message}; e.g. ${wrong.map(([k, v]) => `${k}: ${latest.get(k)} (want ${v})`).join(', ')}`,
        );
      });
      return latest;
    };

    const oneId = uniqueName('rekey-one');
    const one = make(inOne, oneId, outOne);
    let single: Map<string, string>;
    try {
      await one.start();
      await produce(inOne);
      single = await until(outOne);
    } finally {
      await one.close();
    }

    const twoId = uniqueName('rekey-two');
    const a = make(inTwo, twoId, outTwo);
    const b = make(inTwo, twoId, outTwo);
    let split: Map<string, string>;
    try {
      // both start at once, as pods of a StatefulSet with Parallel pod management do
      // (this caught a restore that failed fatally on a just-created changelog)
      await Promise.all([a.start(), b.start()]);
      await waitForTasks([a, b]);
      await produce(inTwo);
      split = await until(outTwo);
      // both sub-topologies (re-key, count) ran on both instances: 2 x 4 tasks in all
      assert.equal(a.activeTaskIds().length + b.activeTaskIds().length, 2 * PARTITIONS);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }

    assert.deepEqual(new Map([...split].sort()), new Map([...single].sort()));
    assert.deepEqual(new Map([...single].sort()), new Map([...expected].sort()));
    const repartition = await withAdmin(env.kafka, (admin) =>
      admin.describeTopics([`${twoId}-by-item-repartition`]),
    );
    assert.equal(repartition[0]?.partitions.length, PARTITIONS);
  });
});
