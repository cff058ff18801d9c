import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  Branched,
  Consumed,
  Named,
  Produced,
  StreamsBuilder,
  type KStream,
} from '../../../../src/streams/topology/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import { jsonSerde, stringSerde } from '../../../../src/streams/serde/index.ts';

const S = Consumed.with(stringSerde, stringSerde);
const OUT = Produced.with(stringSerde, stringSerde);
let driver: TopologyTestDriver | undefined;

afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Builds `input -> op -> output` with string serdes and returns piped outputs. */
async function run(
  op: (s: KStream<string, string>) => KStream<string, string>,
  input: Array<[string, string]>,
): Promise<Array<[string, string]>> {
  const builder = new StreamsBuilder();
  op(builder.stream('in', S)).to('out', OUT);
  driver = new TopologyTestDriver(builder.build());
  const inTopic = driver.createInputTopic('in', stringSerde, stringSerde);
  const out = driver.createOutputTopic('out', stringSerde, stringSerde);
  await inTopic.pipeKeyValueList(input);
  return out.readKeyValuesToList();
}

describe('KStream stateless operators', () => {
  const input: Array<[string, string]> = [
    ['a', 'apple'],
    ['b', 'banana'],
    ['c', 'cherry'],
  ];

  it('filter keeps matching records and filterNot drops them', async () => {
    assert.deepEqual(await run((s) => s.filter((_k, v) => v.includes('an')), input), [['b', 'banana']]);
    await driver!.close();
    assert.deepEqual(await run((s) => s.filterNot((_k, v) => v.includes('an')), input), [
      ['a', 'apple'],
      ['c', 'cherry'],
    ]);
  });

  it('map changes key and value', async () => {
    assert.deepEqual(await run((s) => s.map((k, v) => [v, k] as const), input.slice(0, 1)), [['apple', 'a']]);
  });

  it('mapValues passes (value, key) and keeps the key', async () => {
    assert.deepEqual(await run((s) => s.mapValues((v, k) => `${k}:${v.length}`), input.slice(0, 2)), [
      ['a', 'a:5'],
      ['b', 'b:6'],
    ]);
  });

  it('flatMap emits zero or more records per record', async () => {
    const result = await run(
      (s) => s.flatMap((k, v) => (k === 'b' ? [] : [[k, v] as const, [k + k, v.toUpperCase()] as const])),
      input,
    );
    assert.deepEqual(result, [
      ['a', 'apple'],
      ['aa', 'APPLE'],
      ['c', 'cherry'],
      ['cc', 'CHERRY'],
    ]);
  });

  it('flatMapValues emits one record per value with the same key', async () => {
    assert.deepEqual(await run((s) => s.flatMapValues((v) => v.split('').slice(0, 2)), input.slice(0, 1)), [
      ['a', 'a'],
      ['a', 'p'],
    ]);
  });

  it('peek sees every record and passes it on unchanged', async () => {
    const seen: string[] = [];
    assert.deepEqual(await run((s) => s.peek((k) => void seen.push(k)), input), input);
    assert.deepEqual(seen, ['a', 'b', 'c']);
  });

  it('selectKey replaces the key', async () => {
    assert.deepEqual(await run((s) => s.selectKey((_k, v) => v[0]!.toUpperCase()), input.slice(0, 2)), [
      ['A', 'apple'],
      ['B', 'banana'],
    ]);
  });

  it('keeps timestamps and headers through stateless steps', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', S)
      .mapValues((v) => v + '!')
      .to('out', OUT);
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeInput('k', 'v', 4242, { trace: 'abc' });
    const [record] = driver.createOutputTopic('out', stringSerde, stringSerde).readRecordsToList();
    assert.equal(record!.timestamp, 4242);
    assert.equal(record!.value, 'v!');
    assert.equal(String(record!.headers.trace), 'abc');
  });

  it('process runs a Processor API processor inside the DSL', async () => {
    const result = await run(
      (s) =>
        s.process<string, string>(() => {
          let ctx: import('../../../../src/streams/processor/index.ts').ProcessorContext<string, string>;
          return {
            init: (c) => void (ctx = c),
            process: (records) => ctx.forward([{ ...records[0]!, value: `batch of ${records.length}` }]),
          };
        }),
      input,
    );
    assert.deepEqual(result, [['a', 'batch of 3']], 'pipeKeyValueList delivers the list as one batch');
  });
});

describe('Consumed options', () => {
  it('takes record timestamps from the timestamp extractor and drops records it gives a negative time', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream(
        'in',
        S.withTimestampExtractor((r) => Number(String(r.value).split('@')[1] ?? -1)),
      )
      .to('out', OUT);
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeKeyValueList([
      ['a', 'x@5000'],
      ['b', 'no time'],
      ['c', 'y@7000'],
    ]);
    const records = driver.createOutputTopic('out', stringSerde, stringSerde).readRecordsToList();
    assert.deepEqual(
      records.map((r) => [r.key, r.timestamp]),
      [
        ['a', 5000],
        ['c', 7000],
      ],
    );
  });
});

describe('KStream split and merge', () => {
  it('sends each record to the first matching branch and the rest to the default branch', async () => {
    const builder = new StreamsBuilder();
    const branches = builder
      .stream('in', S)
      .split(Named.as('fruit-'))
      .branch((_k, v) => v.startsWith('a'), Branched.as('a'))
      .branch((_k, v) => v.length > 5, Branched.as('long'))
      .defaultBranch(Branched.as('other'));
    assert.deepEqual([...branches.keys()], ['fruit-a', 'fruit-long', 'fruit-other']);
    branches.get('fruit-a')!.to('out-a', OUT);
    branches.get('fruit-long')!.to('out-long', OUT);
    branches.get('fruit-other')!.to('out-other', OUT);
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeKeyValueList([
      ['1', 'apple'],
      ['2', 'banana'],
      ['3', 'fig'],
      ['4', 'avocado'],
    ]);
    assert.deepEqual(driver.createOutputTopic('out-a', stringSerde, stringSerde).readValuesToList(), [
      'apple',
      'avocado',
    ]);
    assert.deepEqual(driver.createOutputTopic('out-long', stringSerde, stringSerde).readValuesToList(), [
      'banana',
    ]);
    assert.deepEqual(driver.createOutputTopic('out-other', stringSerde, stringSerde).readValuesToList(), [
      'fig',
    ]);
  });

  it('names branches by position when unnamed, applies functions and consumers, and drops unmatched without a default', async () => {
    const builder = new StreamsBuilder();
    const consumed: string[] = [];
    const branches = builder
      .stream('in', S)
      .split()
      .branch((k) => k === 'x')
      .branch(
        (k) => k === 'y',
        Branched.withFunction((s) => s.mapValues((v) => v.toUpperCase())),
      )
      .branch(
        (k) => k === 'z',
        Branched.withConsumer((s) => void s.peek((_k, v) => void consumed.push(v))),
      )
      .noDefaultBranch();
    assert.deepEqual([...branches.keys()], ['KSTREAM-BRANCH-00000000011', 'KSTREAM-BRANCH-00000000012']);
    branches.get('KSTREAM-BRANCH-00000000011')!.to('out-x', OUT);
    branches.get('KSTREAM-BRANCH-00000000012')!.to('out-y', OUT);
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeKeyValueList([
      ['x', 'one'],
      ['y', 'two'],
      ['z', 'three'],
      ['w', 'dropped'],
    ]);
    assert.deepEqual(driver.createOutputTopic('out-x', stringSerde, stringSerde).readValuesToList(), ['one']);
    assert.deepEqual(driver.createOutputTopic('out-y', stringSerde, stringSerde).readValuesToList(), ['TWO']);
    assert.deepEqual(consumed, ['three']);
  });

  it("merges two streams, keeping each one's order", async () => {
    const builder = new StreamsBuilder();
    const a = builder.stream('in-a', S);
    const b = builder.stream('in-b', S);
    a.merge(b.mapValues((v) => v + '-b')).to('out', OUT);
    driver = new TopologyTestDriver(builder.build());
    const inA = driver.createInputTopic('in-a', stringSerde, stringSerde);
    const inB = driver.createInputTopic('in-b', stringSerde, stringSerde);
    await inA.pipeInput('k', '1', 1);
    await inB.pipeInput('k', '2', 2);
    await inA.pipeInput('k', '3', 3);
    assert.deepEqual(driver.createOutputTopic('out', stringSerde, stringSerde).readValuesToList(), [
      '1',
      '2-b',
      '3',
    ]);
  });

  it('writes JSON values through Produced serdes and reads them back', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', S)
      .mapValues((v) => ({ fruit: v, length: v.length }))
      .to('out', Produced.with(stringSerde, jsonSerde<{ fruit: string; length: number }>()));
    driver = new TopologyTestDriver(builder.build());
    await driver.createInputTopic('in', stringSerde, stringSerde).pipeInput('k', 'kiwi');
    assert.deepEqual(driver.createOutputTopic('out', stringSerde, jsonSerde()).readValue(), {
      fruit: 'kiwi',
      length: 4,
    });
  });
});
