import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  Consumed,
  JoinWindows,
  Materialized,
  Produced,
  StreamJoined,
  StreamsBuilder,
  type JoinType,
  type KStream,
} from '../../../../src/streams/topology/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';

const S = Consumed.with(stringSerde, stringSerde);
const OUT = Produced.with(stringSerde, stringSerde);
let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** [topic, key, value (null deletes), timestamp] */
type In = [string, string, string | null, number];
type Out = [string, string | null, number];

async function run(builder: StreamsBuilder, inputs: In[], topics: string[]): Promise<Out[]> {
  driver = new TopologyTestDriver(builder.build(), { storeType: 'persistent' });
  const pipes = new Map(topics.map((t) => [t, driver!.createInputTopic(t, stringSerde, stringSerde)]));
  // one record at a time: each record sees the stream time of those before it
  for (const [topic, key, value, ts] of inputs) await pipes.get(topic)!.pipeInput(key, value as string, ts);
  return driver
    .createOutputTopic('out', stringSerde, stringSerde)
    .readRecordsToList()
    .map((r) => [r.key!, r.value, r.timestamp] as Out);
}

const joiner = (l: string | null, r: string | null) => `${l}+${r}`;

describe('stream-stream join (window: 10 ms either way, no grace)', () => {
  const inputs: In[] = [
    ['L', 'a', 'L1', 0],
    ['R', 'a', 'R1', 5], // within 10 of L1
    ['L', 'b', 'L2', 7], // never gets a partner
    ['R', 'a', 'R2', 30], // L1 at 0 is 30 away: no partner yet; stream time 30 closes L2's window (7 + 10)
    ['L', 'a', 'L3', 35], // partners R2
    ['R', 'c', 'R3', 60], // never gets a partner
    ['L', 'c', 'L4', 100], // R3 at 60 is 40 away; stream time 100 closes R3's window
    ['L', 'd', 'X', 200], // closes L4's window
    ['L', 'd', 'Y', 200], // same key and time: a second entry, not a replacement
    ['R', 'd', 'Z', 205], // partners both X and Y
    ['L', 'e', 'late', 100], // 100 + 10 < 205: window closed, dropped
    ['R', 'e', 'late', 101],
  ];
  const cases: Array<[JoinType, Out[]]> = [
    [
      'inner',
      [
        ['a', 'L1+R1', 5],
        ['a', 'L3+R2', 35],
        ['d', 'X+Z', 205],
        ['d', 'Y+Z', 205],
      ],
    ],
    [
      'left',
      [
        ['a', 'L1+R1', 5],
        ['b', 'L2+null', 7],
        ['a', 'L3+R2', 35],
        ['c', 'L4+null', 100],
        ['d', 'X+Z', 205],
        ['d', 'Y+Z', 205],
      ],
    ],
    [
      'outer',
      [
        ['a', 'L1+R1', 5],
        ['b', 'L2+null', 7],
        ['a', 'L3+R2', 35],
        ['c', 'null+R3', 60],
        ['c', 'L4+null', 100],
        ['d', 'X+Z', 205],
        ['d', 'Y+Z', 205],
      ],
    ],
  ];
  for (const [type, expected] of cases) {
    it(`${type}: emits each matching pair once, stamped with the later time; unmatched records once their window closed`, async () => {
      const builder = new StreamsBuilder();
      const left = builder.stream('L', S);
      const right = builder.stream('R', S);
      const w = JoinWindows.ofTimeDifferenceWithNoGrace(10);
      const joined: KStream<string, string> =
        type === 'inner'
          ? left.join(right, joiner, w)
          : type === 'left'
            ? left.leftJoin(right, joiner, w)
            : left.outerJoin(right, joiner, w);
      joined.to('out', OUT);
      assert.deepEqual(await run(builder, inputs, ['L', 'R']), expected);
    });
  }

  it('respects asymmetric windows: a click joins only impressions up to 10 ms before it', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('impressions', S)
      .join(
        builder.stream('clicks', S),
        joiner,
        JoinWindows.ofTimeDifferenceWithNoGrace(0).after(10),
        StreamJoined.as('click-join'),
      )
      .to('out', OUT);
    const out = await run(
      builder,
      [
        ['clicks', 'i', 'early-click', 5], // before any impression: never joins (clicks may only follow)
        ['impressions', 'i', 'imp', 10],
        ['clicks', 'i', 'click', 15],
        ['clicks', 'i', 'click-at-edge', 20],
        ['clicks', 'i', 'too-late', 21],
      ],
      ['impressions', 'clicks'],
    );
    assert.deepEqual(out, [
      ['i', 'imp+click', 15],
      ['i', 'imp+click-at-edge', 20],
    ]);
    assert.ok(
      driver!.producedTopicNames().includes('topology-test-driver-click-join-this-join-store-changelog'),
    );
  });
});

describe('stream-table join', () => {
  const inputs: In[] = [
    ['clicks', 'i1', 'c1', 1], // table has no i1 yet
    ['items', 'i1', 'T1', 2],
    ['clicks', 'i1', 'c2', 3],
    ['items', 'i1', 'T2', 4],
    ['clicks', 'i1', 'c3', 5],
    ['items', 'i1', null, 6], // deleted
    ['clicks', 'i1', 'c4', 7],
  ];
  const cases: Array<['inner' | 'left', Out[]]> = [
    [
      'inner',
      [
        ['i1', 'c2+T1', 3],
        ['i1', 'c3+T2', 5],
      ],
    ],
    [
      'left',
      [
        ['i1', 'c1+null', 1],
        ['i1', 'c2+T1', 3],
        ['i1', 'c3+T2', 5],
        ['i1', 'c4+null', 7],
      ],
    ],
  ];
  for (const [type, expected] of cases) {
    it(`${type}: joins each stream record with the table value current at its time; table updates emit nothing`, async () => {
      const builder = new StreamsBuilder();
      const table = builder.table(
        'items',
        S,
        Materialized.as<string, string>('items-store').withCachingDisabled(),
      );
      const clicks = builder.stream('clicks', S);
      (type === 'inner' ? clicks.join(table, joiner) : clicks.leftJoin(table, joiner)).to('out', OUT);
      assert.deepEqual(await run(builder, inputs, ['items', 'clicks']), expected);
    });
  }
});

describe('table-table join', () => {
  const inputs: In[] = [
    ['A', 'k', 'a1', 1],
    ['B', 'k', 'b1', 2],
    ['A', 'k', 'a2', 3],
    ['B', 'k', null, 4],
    ['A', 'k', null, 5],
    ['B', 'k', 'b2', 6],
  ];
  const cases: Array<[JoinType, Out[]]> = [
    [
      'inner',
      [
        ['k', 'a1+b1', 2],
        ['k', 'a2+b1', 3],
        ['k', null, 4],
      ],
    ],
    [
      'left',
      [
        ['k', 'a1+null', 1],
        ['k', 'a1+b1', 2],
        ['k', 'a2+b1', 3],
        ['k', 'a2+null', 4],
        ['k', null, 5],
      ],
    ],
    [
      'outer',
      [
        ['k', 'a1+null', 1],
        ['k', 'a1+b1', 2],
        ['k', 'a2+b1', 3],
        ['k', 'a2+null', 4],
        ['k', null, 5],
        ['k', 'null+b2', 6],
      ],
    ],
  ];
  for (const [type, expected] of cases) {
    it(`${type}: every update on either side emits the key's new join result`, async () => {
      const builder = new StreamsBuilder();
      const a = builder.table('A', S, Materialized.as<string, string>('a-store').withCachingDisabled());
      const b = builder.table('B', S, Materialized.as<string, string>('b-store').withCachingDisabled());
      const m = Materialized.as<string, string>('joined').withValueSerde(stringSerde).withCachingDisabled();
      const result =
        type === 'inner'
          ? a.join(b, joiner, undefined, m)
          : type === 'left'
            ? a.leftJoin(b, joiner, undefined, m)
            : a.outerJoin(b, joiner, undefined, m);
      result.toStream().to('out', OUT);
      assert.deepEqual(await run(builder, inputs, ['A', 'B']), expected);
      const store = await driver!.getKeyValueStore<string, string>('joined');
      assert.equal(await store.get('k'), expected[expected.length - 1]![1] ?? undefined);
    });
  }
});

describe('stream-globalTable join', () => {
  it('looks up the global table by a key computed from each record, on every partition', async () => {
    const builder = new StreamsBuilder();
    const items = builder.globalTable('items', S, Materialized.as<string, string>('items-global'));
    builder
      .stream('requests', S)
      .leftJoin(items, (_ctx, itemId) => itemId, joiner)
      .to('out', OUT);
    driver = new TopologyTestDriver(builder.build(), { storeType: 'persistent' });
    const itemsIn = driver.createInputTopic('items', stringSerde, stringSerde, { partitions: 3 });
    const requests = driver.createInputTopic('requests', stringSerde, stringSerde, { partitions: 4 });
    await itemsIn.pipeInput('i1', 'T1', 1);
    await itemsIn.pipeInput('i2', 'T2', 1);
    await requests.pipeInput('ctx-a', 'i1', 2);
    await requests.pipeInput('ctx-b', 'i2', 3);
    await requests.pipeInput('ctx-c', 'i3', 4);
    await itemsIn.pipeInput('i3', 'T3', 5);
    await requests.pipeInput('ctx-c', 'i3', 6);
    const out = driver
      .createOutputTopic('out', stringSerde, stringSerde)
      .readRecordsToList()
      .map((r) => [r.key, r.value]);
    assert.deepEqual(out, [
      ['ctx-a', 'i1+T1'],
      ['ctx-b', 'i2+T2'],
      ['ctx-c', 'i3+null'],
      ['ctx-c', 'i3+T3'],
    ]);
  });
});
