/**
 * Poison-record isolation: a processor that throws on a batch is re-run
 * record by record, its failed attempts' store writes undone, so the good
 * records of the batch take effect once and only the poison record reaches
 * the processing handler (with its source bytes, for the DLQ).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DLQ_HEADERS, exceptionHandlersFromConfig } from '../../../../src/streams/errors-handling/index.ts';
import type {
  Processor,
  ProcessorContext,
  TaskExceptionHandlers,
} from '../../../../src/streams/processor/index.ts';
import { jsonSerde, stringSerde } from '../../../../src/streams/serde/index.ts';
import { Stores, type KeyValueStore } from '../../../../src/streams/state/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import {
  Consumed,
  Materialized,
  StreamsBuilder,
  TimeWindows,
  Topology,
} from '../../../../src/streams/topology/index.ts';
import type { WindowStore } from '../../../../src/streams/state/index.ts';
import { StreamTask } from '../../../../src/streams/processor/index.ts';
import { SharedCacheBudget } from '../../../../src/streams/state/index.ts';
import { RecordingCollector, recordingStoreBuilder, type RecordingStore } from './recording-fakes.ts';

interface Event {
  n: number;
  poison: boolean;
}

const APP = 'iso-app';
const DLQ = `${APP}-dlq`;

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close().catch(() => {});
  driver = undefined;
});

/** Spaced JSON, so a re-encoding of the typed value would not equal these bytes. */
function eventBytes(n: number, poison: boolean): Buffer {
  return Buffer.from(`{ "n": ${n},  "poison": ${poison} }`);
}

/** Calls per processor, to check what ran how often. */
interface Calls {
  countBatches: number[];
  childBatches: number[];
}

/**
 * "count": per batch, reads every key once, writes the new counts (putAll)
 * and the last n per key (put, one per record), and only THEN checks for
 * poison: a failed attempt has already written, so only an undo keeps the
 * counts right. Forwards each record's n.
 */
function countingTopology(calls: Calls): Topology {
  const count = (): Processor<string, Event, string, string> => {
    let ctx: ProcessorContext<string, string>;
    let counts: KeyValueStore<string, number>;
    let last: KeyValueStore<string, number>;
    return {
      init(c) {
        ctx = c;
        counts = c.getStateStore<KeyValueStore<string, number>>('counts');
        last = c.getStateStore<KeyValueStore<string, number>>('last');
      },
      async process(records) {
        calls.countBatches.push(records.length);
        const keys = [...new Set(records.map((r) => r.key))];
        const before = await counts.getMany(keys);
        const totals = new Map(keys.map((k, i) => [k, before[i] ?? 0]));
        for (const r of records) totals.set(r.key, totals.get(r.key)! + 1);
        await counts.putAll([...totals]);
        for (const r of records) await last.put(r.key, r.value.n);
        const bad = records.find((r) => r.value.poison);
        if (bad) throw new Error(`event ${bad.value.n} is poison`);
        ctx.forward(records.map((r) => ({ ...r, value: String(r.value.n) })));
      },
    };
  };
  const collect = (): Processor<string, string, string, string> => {
    let ctx: ProcessorContext<string, string>;
    return {
      init: (c) => void (ctx = c),
      process(records) {
        calls.childBatches.push(records.length);
        ctx.forward(records);
      },
    };
  };
  return new Topology()
    .addSource('in-source', 'in', stringSerde, jsonSerde<Event>())
    .addProcessor('count', count, 'in-source')
    .addStateStore(
      Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore('counts'), stringSerde, jsonSerde<number>())
        .withCachingEnabled()
        .withLoggingEnabled({}),
      'count',
    )
    .addStateStore(
      Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore('last'), stringSerde, jsonSerde<number>())
        .withCachingDisabled()
        .withLoggingEnabled({}),
      'count',
    )
    .addProcessor('collect', collect, 'count')
    .addSink('out-sink', 'out', stringSerde, stringSerde, 'collect');
}

function deadLetterHandlers() {
  return exceptionHandlersFromConfig({
    'default.deserialization.exception.handler': 'fail',
    'processing.exception.handler': 'dead-letter',
    'default.production.exception.handler': 'fail',
    'errors.dead.letter.queue.topic.name': DLQ,
  });
}

/** 100 events, keys k0..k9 (n % 10), the ones in `poison` marked poison. */
function hundred(poison: ReadonlySet<number>) {
  return Array.from({ length: 100 }, (_, n) => ({
    key: `k${n % 10}`,
    value: eventBytes(n, poison.has(n)),
    timestamp: 1000 + n,
    headers: { source: `s-${n}` },
  }));
}

async function storeContents(name: string): Promise<Map<string, number>> {
  const store = await driver!.getKeyValueStore<string, number>(name);
  const out = new Map<string, number>();
  for await (const [k, v] of store.all()) out.set(k, v);
  return out;
}

describe('poison-record isolation in a StreamTask', () => {
  it('processes the 99 good records of a 100-record batch once and dead-letters only the poison one', async () => {
    const calls: Calls = { countBatches: [], childBatches: [] };
    const { handlers, stats } = deadLetterHandlers();
    driver = new TopologyTestDriver(countingTopology(calls), { applicationId: APP, handlers });
    const input = driver.createInputTopic<string, Buffer>('in', stringSerde, undefined);
    const out = driver.createOutputTopic('out', stringSerde, stringSerde);
    const dlq = driver.createOutputTopic<Buffer | null, Buffer | null>(DLQ, undefined, undefined);

    await input.pipeRecordList(hundred(new Set([37])));
    await driver.commit();

    const expected = Array.from({ length: 100 }, (_, n) => n).filter((n) => n !== 37);
    assert.deepEqual(
      out.readRecordsToList().map((r) => Number(r.value)),
      expected,
      'every good record forwarded exactly once, in order',
    );
    assert.deepEqual(calls.countBatches[0], 100, 'the batch was tried whole first');
    assert.equal(calls.countBatches.length, 1 + 100, 'then once per record');
    assert.deepEqual(calls.childBatches, [99], 'the child got the good records as ONE batch');

    const counts = await storeContents('counts');
    for (let k = 0; k < 10; k++)
      assert.equal(
        counts.get(`k${k}`),
        k === 7 ? 9 : 10,
        `count of k${k}: no write of a failed attempt kept`,
      );
    const last = await storeContents('last');
    assert.equal(last.get('k7'), 97, 'the poison record did not overwrite the last n of its key');
    assert.equal(last.get('k3'), 93);

    const dead = dlq.readRecordsToList();
    assert.equal(dead.length, 1, 'only the poison record is dead-lettered');
    const [poison] = dead;
    assert.deepEqual(poison!.key, Buffer.from('k7'));
    assert.deepEqual(
      poison!.value,
      eventBytes(37, true),
      'the DLQ holds the source bytes, not a re-encoding',
    );
    assert.equal(poison!.headers[DLQ_HEADERS.offset], '37');
    assert.equal(poison!.headers[DLQ_HEADERS.handler], 'processing');
    assert.equal(poison!.headers[DLQ_HEADERS.processor], 'count');
    assert.equal(poison!.headers[DLQ_HEADERS.payload], undefined, 'not marked as re-encoded');
    assert.equal(poison!.headers[DLQ_HEADERS.batchSize], undefined, 'not a whole batch');
    assert.equal(poison!.headers['source']?.toString(), 's-37', 'the source headers travel along');
    assert.equal(stats.total({ handler: 'processing', action: 'dead-letter' }), 1);
    assert.equal(driver.committedOffsets().get('in:0'), '100', 'the whole batch is committed');
  });

  it('isolates several poison records of one batch and keeps the changelog at the right values', async () => {
    const calls: Calls = { countBatches: [], childBatches: [] };
    const { handlers } = deadLetterHandlers();
    driver = new TopologyTestDriver(countingTopology(calls), { applicationId: APP, handlers });
    const input = driver.createInputTopic<string, Buffer>('in', stringSerde, undefined);
    await input.pipeRecordList(hundred(new Set([0, 55, 99])));
    await driver.commit();

    const out = driver.createOutputTopic('out', stringSerde, stringSerde).readRecordsToList();
    assert.equal(out.length, 97);
    assert.equal(driver.createOutputTopic(DLQ, stringSerde, undefined).readRecordsToList().length, 3);
    const counts = await storeContents('counts');
    assert.equal(counts.get('k0'), 9);
    assert.equal(counts.get('k5'), 9);
    assert.equal(counts.get('k9'), 9);
    assert.equal(counts.get('k1'), 10);
    // the uncached store logged the failed attempt's writes, then their undo: the last word per key is right
    const changelog = driver
      .createOutputTopic(`${APP}-last-changelog`, stringSerde, jsonSerde<number>())
      .readRecordsToList();
    const latest = new Map(changelog.map((r) => [r.key, r.value]));
    assert.equal(latest.get('k9'), 89, 'k9: the poison 99 was undone in the changelog too');
    assert.equal(latest.get('k5'), 95);
  });

  it('names the poison record, not the batch, when the handler says fail', async () => {
    const calls: Calls = { countBatches: [], childBatches: [] };
    const handlers: TaskExceptionHandlers = { onProcessingError: () => 'fail' };
    driver = new TopologyTestDriver(countingTopology(calls), { applicationId: APP, handlers });
    const input = driver.createInputTopic<string, Buffer>('in', stringSerde, undefined);
    await assert.rejects(input.pipeRecordList(hundred(new Set([42]))), (e: unknown) => {
      const error = e as { code?: string; message: string; context?: unknown };
      assert.equal(error.code, 'CTR_PROCESSING');
      assert.match(
        error.message,
        /failed on a batch of 1 record\(s\) from in\[0\] at offset 42: event 42 is poison/,
      );
      return true;
    });
  });

  it('does not journal or re-run when the processing handler always fails', async () => {
    const calls: Calls = { countBatches: [], childBatches: [] };
    const { handlers } = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'fail',
      'processing.exception.handler': 'fail',
      'default.production.exception.handler': 'fail',
      'errors.dead.letter.queue.topic.name': DLQ,
    });
    assert.equal(handlers.processingIsolation, false);
    driver = new TopologyTestDriver(countingTopology(calls), { applicationId: APP, handlers });
    const input = driver.createInputTopic<string, Buffer>('in', stringSerde, undefined);
    await assert.rejects(
      input.pipeRecordList(hundred(new Set([42]))),
      /batch of 100 record\(s\) from in\[0\] at offset 0/,
    );
    assert.deepEqual(calls.countBatches, [100], 'the batch ran once');
  });

  it('counts a DSL aggregation exactly when its aggregator throws on one record of a batch', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', Consumed.with(stringSerde, jsonSerde<Event>()))
      .groupByKey()
      .aggregate(
        () => 0,
        (_key, value: Event, total: number) => {
          if (value.poison) throw new Error(`event ${value.n} is poison`);
          return total + 1;
        },
        Materialized.as<string, number>('totals').withValueSerde(jsonSerde<number>()),
      );
    const { handlers, stats } = deadLetterHandlers();
    driver = new TopologyTestDriver(builder.build(), { applicationId: APP, handlers });
    const input = driver.createInputTopic<string, Buffer>('in', stringSerde, undefined);
    await input.pipeRecordList(hundred(new Set([13, 14])));
    await driver.commit();
    const totals = await storeContents('totals');
    let sum = 0;
    for (const v of totals.values()) sum += v;
    assert.equal(sum, 98);
    assert.equal(totals.get('k3'), 9);
    assert.equal(totals.get('k4'), 9);
    assert.equal(stats.total({ handler: 'processing', action: 'dead-letter' }), 2);
  });

  it('hands the whole batch to the handler when the processor uses a store it cannot undo', async () => {
    let calls = 0;
    const seen: number[] = [];
    const writer = (): Processor<string, string, string, string> => {
      let store: RecordingStore;
      return {
        init: (c) => void (store = c.getStateStore<RecordingStore>('custom')),
        process(records) {
          calls++;
          for (const r of records) store.write(r.key, r.value);
          if (records.some((r) => r.value === 'poison')) throw new Error('poison');
        },
      };
    };
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, stringSerde)
      .addProcessor('write', writer, 'src')
      .addStateStore(recordingStoreBuilder('custom', [], []), 'write');
    const task = new StreamTask({
      applicationId: APP,
      topology: topology.subtopology(0, APP),
      partition: 0,
      collector: new RecordingCollector([]),
      appStateDir: '/tmp/unused-iso-dir',
      cacheBudget: new SharedCacheBudget(1 << 20),
      handlers: {
        onProcessingError: (_c, records) => {
          seen.push(records.length);
          return 'continue';
        },
      },
    });
    await task.initialize();
    await task.completeRestoration();
    const raw = (offset: number, value: string) => ({
      key: Buffer.from(`k${offset}`),
      value: Buffer.from(value),
      timestamp: offset,
      headers: {},
      topic: 'in',
      partition: 0,
      offset: String(offset),
    });
    await task.process([raw(0, 'a'), raw(1, 'poison'), raw(2, 'b')]);
    assert.equal(calls, 1, 'no replay: its writes could not be undone, a replay would repeat them');
    assert.deepEqual(seen, [3]);
    await task.closeClean();
  });

  it('counts a windowed aggregation exactly when its aggregator throws on one record of a batch', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', Consumed.with(stringSerde, jsonSerde<Event>()))
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(50, 10_000))
      .aggregate(
        () => 0,
        (_key, value: Event, total: number) => {
          if (value.poison) throw new Error(`event ${value.n} is poison`);
          return total + 1;
        },
        Materialized.as<string, number>('windowed-totals').withValueSerde(jsonSerde<number>()),
      );
    const { handlers, stats } = deadLetterHandlers();
    driver = new TopologyTestDriver(builder.build(), { applicationId: APP, handlers });
    const input = driver.createInputTopic<string, Buffer>('in', stringSerde, undefined);
    // timestamps 1000..1099: windows [1000,1050) and [1050,1100); k3 has n = 3, 13, ..., 93
    await input.pipeRecordList(hundred(new Set([13, 63])));
    await driver.commit();
    const store = (await driver.getStateStore('windowed-totals')) as WindowStore<string, number>;
    assert.equal(await store.fetch('k3', 1000), 4, 'n = 3, 23, 33, 43 (13 was poison)');
    assert.equal(await store.fetch('k3', 1050), 4, 'n = 53, 73, 83, 93 (63 was poison)');
    assert.equal(await store.fetch('k4', 1000), 5);
    assert.equal(stats.total({ handler: 'processing', action: 'dead-letter' }), 2);
  });
});
