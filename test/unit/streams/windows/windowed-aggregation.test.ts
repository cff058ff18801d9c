import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  Consumed,
  countSerde,
  Materialized,
  Produced,
  SessionWindows,
  SlidingWindows,
  StreamsBuilder,
  Suppressed,
  TimeWindows,
  sessionWindowedSerde,
  timeWindowedSerde,
} from '../../../../src/streams/topology/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import type { WindowStore } from '../../../../src/streams/state/index.ts';
import type { Serde } from '../../../../src/streams/serde/index.ts';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

type Row = [key: string, timestamp: number];
/** [key, window start, window end, value] */
type Out = [string, number, number, number | null];

async function run(
  build: (b: StreamsBuilder) => void,
  keySerde: ReturnType<typeof timeWindowedSerde<string>>,
  input: Row[],
): Promise<Out[]> {
  const builder = new StreamsBuilder();
  build(builder);
  driver = new TopologyTestDriver(builder.build(), { storeType: 'persistent' });
  const topic = driver.createInputTopic('clicks', stringSerde, stringSerde);
  // one record per batch: each advances stream time on its own, as in Kafka Streams' per-record loop
  for (const [key, ts] of input) await topic.pipeInput(key, 'v', ts);
  return driver
    .createOutputTopic('out', keySerde, countSerde)
    .readKeyValuesToList()
    .map(([k, v]) => [k!.key, k!.window.startMs, k!.window.endMs, v] as Out);
}

describe('tumbling windows', () => {
  it('count per window, accept out-of-order records within grace and drop them after', async () => {
    const out = await run(
      (b) =>
        b
          .stream('clicks', Consumed.with(stringSerde, stringSerde))
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(10, 5))
          .count(Materialized.as<string, number>('counts').withCachingDisabled())
          .toStream()
          .to('out', Produced.with(timeWindowedSerde(stringSerde, 10), countSerde)),
      timeWindowedSerde(stringSerde, 10),
      [
        ['a', 1],
        ['a', 5],
        ['a', 12],
        ['a', 3], // stream time 12: window [0,10) closes at 10 + 5 = 15, still open
        ['a', 16],
        ['a', 2], // stream time 16 >= 15: late, dropped
        ['a', 10], // boundary: 10 belongs to [10,20), not [0,10)
        ['b', 9], // late for [0,10) whatever the key: stream time is per task
        ['a', 25],
      ],
    );
    assert.deepEqual(out, [
      ['a', 0, 10, 1],
      ['a', 0, 10, 2],
      ['a', 10, 20, 1],
      ['a', 0, 10, 3],
      ['a', 10, 20, 2],
      ['a', 10, 20, 3],
      ['a', 20, 30, 1],
    ]);
    const store = await driver!.getStateStore('counts');
    const windows = store as unknown as WindowStore<string, number>;
    assert.equal(await windows.fetch('a', 10), 3);
    const range: Array<readonly [number, number]> = [];
    for await (const e of windows.fetchRange('a', 0, 30)) range.push(e);
    // retention drops whole segments (min 60 s), so the closed window [0,10) is still queryable
    assert.deepEqual(range, [
      [0, 3],
      [10, 3],
      [20, 1],
    ]);
  });

  it('with suppress(untilWindowCloses) emits each window once, when stream time passes end + grace', async () => {
    const out = await run(
      (b) =>
        b
          .stream('clicks', Consumed.with(stringSerde, stringSerde))
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeAndGrace(10, 5))
          .count(Materialized.as<string, number>('counts').withCachingDisabled())
          .suppress(Suppressed.untilWindowCloses())
          .toStream()
          .to('out', Produced.with(timeWindowedSerde(stringSerde, 10), countSerde)),
      timeWindowedSerde(stringSerde, 10),
      [
        ['a', 1],
        ['b', 2],
        ['a', 8],
        ['a', 12],
        ['a', 14], // stream time 14 < 15: [0,10) still open
        ['a', 4],
        ['a', 15], // 15 = 10 + 5: [0,10) closes: a=3, b=1 emitted once
        ['a', 3], // late: dropped, nothing emitted
        ['a', 29],
        ['a', 40], // closes [20,30)
      ],
    );
    assert.deepEqual(out, [
      ['a', 0, 10, 3],
      ['b', 0, 10, 1],
      ['a', 10, 20, 3],
      ['a', 20, 30, 1],
    ]);
  });
});

describe('hopping windows', () => {
  it('count a record in every window that contains it (size 10, advance 5)', async () => {
    const out = await run(
      (b) =>
        b
          .stream('clicks', Consumed.with(stringSerde, stringSerde))
          .groupByKey()
          .windowedBy(TimeWindows.ofSizeWithNoGrace(10).advanceBy(5))
          .count(Materialized.as<string, number>('counts').withCachingDisabled())
          .toStream()
          .to('out', Produced.with(timeWindowedSerde(stringSerde, 10), countSerde)),
      timeWindowedSerde(stringSerde, 10),
      [
        ['a', 3],
        ['a', 7],
        ['a', 12],
        ['a', 9], // stream time 12, no grace: [0,10) ended at 10 <= 12: dropped there; [5,15) counts it
      ],
    );
    assert.deepEqual(out, [
      ['a', 0, 10, 1],
      ['a', 0, 10, 2],
      ['a', 5, 15, 1],
      ['a', 5, 15, 2],
      ['a', 10, 20, 1],
      ['a', 5, 15, 3],
    ]);
  });

  it('knows which windows contain a timestamp', () => {
    const w = TimeWindows.ofSizeWithNoGrace(10).advanceBy(3);
    assert.deepEqual(
      w.windowsFor(10).map((x) => [x.startMs, x.endMs]),
      [
        [3, 13],
        [6, 16],
        [9, 19],
      ],
    );
    assert.deepEqual(
      TimeWindows.ofSizeWithNoGrace(10)
        .windowsFor(0)
        .map((x) => x.startMs),
      [0],
    );
  });
});

describe('session windows', () => {
  it('merge records closer than the gap, tombstone merged sessions, drop records after grace', async () => {
    const serde = sessionWindowedSerde(stringSerde);
    const out = await run(
      (b) =>
        b
          .stream('clicks', Consumed.with(stringSerde, stringSerde))
          .groupByKey()
          .windowedBy(SessionWindows.ofInactivityGapAndGrace(5, 10))
          .count(Materialized.as<string, number>('sessions').withCachingDisabled())
          .toStream()
          .to('out', Produced.with(serde, countSerde as Serde<number | null>)),
      serde,
      [
        ['a', 1],
        ['a', 4], // within 5 of 1: session [1,4]
        ['a', 20], // new session
        ['a', 12], // 8 from both: its own session (stream time 20, grace 10: not late)
        ['a', 16], // bridges [12,12] and [20,20] -> [12,20]
        ['a', 2], // session [1,4] ended 4 < 20 - 10: late, dropped
      ],
    );
    assert.deepEqual(out, [
      ['a', 1, 1, 1],
      ['a', 1, 1, null],
      ['a', 1, 4, 2],
      ['a', 20, 20, 1],
      ['a', 12, 12, 1],
      ['a', 12, 12, null],
      ['a', 20, 20, null],
      ['a', 12, 20, 3],
    ]);
  });
});

describe('sliding windows', () => {
  it('update exactly the windows that contain a record: its left window, right windows of earlier records, left windows of later ones', async () => {
    const out = await run(
      (b) =>
        b
          .stream('clicks', Consumed.with(stringSerde, stringSerde))
          .groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10, 100))
          .count(Materialized.as<string, number>('sliding'))
          .toStream()
          .to('out', Produced.with(timeWindowedSerde(stringSerde, 10), countSerde)),
      timeWindowedSerde(stringSerde, 10),
      [
        ['a', 5], // [0,10] (early records share the first window)
        ['a', 8], // [0,10] again, and 5's right window [6,16]
        ['a', 20], // its left window [10,20]
        ['a', 12], // out of order: [2,12], [6,16], 8's right [9,19], 20's left [10,20], its right [13,23]
      ],
    );
    assert.deepEqual(out, [
      ['a', 0, 10, 1],
      ['a', 0, 10, 2],
      ['a', 6, 16, 1],
      ['a', 10, 20, 1],
      ['a', 2, 12, 3],
      ['a', 6, 16, 2],
      ['a', 9, 19, 1],
      ['a', 10, 20, 2],
      ['a', 13, 23, 1],
    ]);
  });

  it('drop a record when every window that could contain it has closed', async () => {
    const out = await run(
      (b) =>
        b
          .stream('clicks', Consumed.with(stringSerde, stringSerde))
          .groupByKey()
          .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(10))
          .count(Materialized.as<string, number>('sliding'))
          .toStream()
          .to('out', Produced.with(timeWindowedSerde(stringSerde, 10), countSerde)),
      timeWindowedSerde(stringSerde, 10),
      [
        ['a', 30],
        ['a', 19], // 19 + 10 < 30: every window that could hold it closed: dropped
        ['a', 25], // its own left window [15,25] closed; 30's [20,30] (end inclusive) still open; its right [26,36]
      ],
    );
    assert.deepEqual(out, [
      ['a', 20, 30, 1],
      ['a', 20, 30, 2],
      ['a', 26, 36, 1],
    ]);
  });
});

describe('suppress on session windows', () => {
  it('emits a session once, when no record can extend it any more (stream time > end + gap + grace)', async () => {
    const serde = sessionWindowedSerde(stringSerde);
    const out = await run(
      (b) =>
        b
          .stream('clicks', Consumed.with(stringSerde, stringSerde))
          .groupByKey()
          .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(5))
          .count(Materialized.as<string, number>('sessions').withCachingDisabled())
          .suppress(Suppressed.untilWindowCloses())
          .toStream()
          .to('out', Produced.with(serde, countSerde as Serde<number | null>)),
      serde,
      [
        ['a', 1],
        ['a', 3],
        ['a', 8], // 8 - 5 <= 3: extends the session to [1, 8]
        ['b', 13], // stream time 13 = 8 + 5: a record at 13 could still extend a's session
        ['b', 14], // 14 > 8 + 5: a's session [1, 8] is final
        ['b', 30],
      ],
    );
    assert.deepEqual(out, [
      ['a', 1, 8, 3],
      ['b', 13, 14, 2],
    ]);
  });
});
