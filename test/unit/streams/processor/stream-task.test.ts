import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Topology } from '../../../../src/streams/topology/index.ts';
import {
  StreamTask,
  type RawRecord,
  type Processor,
  type ProcessorContext,
} from '../../../../src/streams/processor/index.ts';
import { SharedCacheBudget } from '../../../../src/streams/state/index.ts';
import { stringSerde, jsonSerde } from '../../../../src/streams/serde/index.ts';
import { StreamsError } from '../../../../src/streams/errors.ts';
import { RecordingCollector, recordingStoreBuilder, type RecordingStore } from './recording-fakes.ts';

const APP = 'task-app';

function raw(
  offset: number,
  key: string,
  value: string,
  timestamp = 1000 + offset,
  topic = 'in',
  partition = 2,
): RawRecord {
  return {
    key: Buffer.from(key),
    value: Buffer.from(value),
    timestamp,
    headers: {},
    topic,
    partition,
    offset: String(offset),
  };
}

function makeTask(
  topology: Topology,
  collector: RecordingCollector,
  partition = 2,
  time?: () => number,
): StreamTask {
  return new StreamTask({
    applicationId: APP,
    topology: topology.subtopology(0, APP),
    partition,
    collector,
    appStateDir: '/tmp/unused-task-dir',
    cacheBudget: new SharedCacheBudget(1024 * 1024),
    ...(time ? { time } : {}),
  });
}

/** Writes each record to the store "s" and forwards it upper-cased. */
function storeWriter(): Processor<string, string, string, string> {
  let ctx: ProcessorContext<string, string>;
  let store: RecordingStore;
  return {
    init(c) {
      ctx = c;
      store = c.getStateStore<RecordingStore>('s');
    },
    process(records) {
      for (const r of records) store.write(r.key, r.value);
      ctx.forward(records.map((r) => ({ ...r, value: r.value.toUpperCase() })));
    },
  };
}

function writerTopology(events: string[], stores: RecordingStore[]): Topology {
  return new Topology()
    .addSource('src', 'in', stringSerde, stringSerde)
    .addProcessor('writer', storeWriter, 'src')
    .addStateStore(recordingStoreBuilder('s', events, stores), 'writer')
    .addSink('out', 'out-topic', stringSerde, stringSerde, 'writer');
}

describe('StreamTask lifecycle', () => {
  it('goes CREATED -> RESTORING -> RUNNING -> CLOSED and rejects calls out of order', async () => {
    const events: string[] = [];
    const task = makeTask(writerTopology(events, []), new RecordingCollector(events));
    assert.equal(task.id, '0_2');
    assert.equal(task.state, 'CREATED');
    await assert.rejects(
      task.process([raw(0, 'a', 'x')]),
      (e: StreamsError) =>
        e.code === 'CTR_ILLEGAL_STATE' && /cannot process in state CREATED/.test(e.message),
    );
    await task.initialize();
    assert.equal(task.state, 'RESTORING');
    await assert.rejects(task.process([raw(0, 'a', 'x')]), /cannot process in state RESTORING/);
    await task.completeRestoration();
    assert.equal(task.state, 'RUNNING');
    task.suspend();
    assert.equal(task.state, 'SUSPENDED');
    task.resume();
    assert.equal(task.state, 'RUNNING');
    await task.closeClean();
    assert.equal(task.state, 'CLOSED');
    await assert.rejects(task.initialize(), /cannot initialize in state CLOSED/);
  });

  it('gives each store its task context (task dir, partition, collector)', async () => {
    const events: string[] = [];
    const stores: RecordingStore[] = [];
    const task = makeTask(writerTopology(events, stores), new RecordingCollector(events), 5);
    await task.initialize();
    const ctx = stores[0]!.context!;
    assert.equal(ctx.taskId, '0_5');
    assert.equal(ctx.partition, 5);
    assert.equal(ctx.applicationId, APP);
    assert.equal(ctx.taskDir, '/tmp/unused-task-dir/0_5');
    assert.equal(task.stores().length, 1);
    await task.closeDirty();
  });
});

describe('StreamTask commit protocol', () => {
  it('flushes stores, then awaits acks, then commits stores with the acked changelog offset, then returns consumer offsets', async () => {
    const events: string[] = [];
    const stores: RecordingStore[] = [];
    const collector = new RecordingCollector(events);
    const task = makeTask(writerTopology(events, stores), collector);
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(10, 'a', 'x'), raw(11, 'b', 'y'), raw(12, 'c', 'z')]);
    assert.ok(task.commitNeeded);
    events.length = 0;
    const offsets = await task.commit();
    assert.deepEqual(events, ['flush s', 'collector flush (acks)', `commit s 3`]);
    assert.equal(stores[0]!.committedOffset, '3', 'three changelog records were acked on partition 2');
    assert.deepEqual([...offsets], [['in:2', '13']]);
    assert.equal(task.commitNeeded, false);
    // outputs and changelog records went through the same collector
    assert.deepEqual(
      collector.sent.filter((s) => s.topic === 'out-topic').map((s) => s.value!.toString()),
      ['X', 'Y', 'Z'],
    );
    assert.deepEqual(
      collector.sent.filter((s) => s.topic === `${APP}-s-changelog`).map((s) => s.partition),
      [2, 2, 2],
    );
    await task.closeClean();
  });

  it('commits a store without logging with no position', async () => {
    const events: string[] = [];
    const stores: RecordingStore[] = [];
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, stringSerde)
      .addProcessor('writer', storeWriter, 'src')
      .addStateStore(recordingStoreBuilder('s', events, stores, false), 'writer')
      .addSink('out', 'out-topic', stringSerde, stringSerde, 'writer');
    const task = makeTask(topology, new RecordingCollector(events));
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(0, 'a', 'x')]);
    events.length = 0;
    await task.commit();
    assert.deepEqual(events, ['flush s', 'collector flush (acks)', 'commit s undefined']);
    await task.closeClean();
  });

  it('closeClean commits first, then closes processors and stores', async () => {
    const events: string[] = [];
    let closed = false;
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, stringSerde)
      .addProcessor(
        'p',
        () => ({
          process() {},
          close() {
            closed = true;
            events.push('close processor');
          },
        }),
        'src',
      )
      .addStateStore(recordingStoreBuilder('s', events, []), 'p');
    const task = makeTask(topology, new RecordingCollector(events));
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(7, 'a', 'x')]);
    events.length = 0;
    const offsets = await task.closeClean();
    assert.ok(closed);
    assert.deepEqual(events, [
      'flush s',
      'collector flush (acks)',
      'commit s undefined',
      'close processor',
      'close s',
    ]);
    assert.deepEqual([...offsets], [['in:2', '8']]);
  });

  it('closeDirty closes without flushing or committing', async () => {
    const events: string[] = [];
    const task = makeTask(writerTopology(events, []), new RecordingCollector(events));
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(0, 'a', 'x')]);
    events.length = 0;
    await task.closeDirty();
    assert.deepEqual(events, ['close s']);
    assert.equal(task.state, 'CLOSED');
  });

  it('wraps a failing commit step in a TaskCommitError naming the task and step', async () => {
    const events: string[] = [];
    const collector = new RecordingCollector(events);
    collector.flush = async () => {
      throw new Error('broker unreachable');
    };
    const task = makeTask(writerTopology(events, []), collector);
    await task.initialize();
    await task.completeRestoration();
    await assert.rejects(task.commit(), (e: StreamsError) => {
      assert.equal(e.code, 'CTR_TASK_COMMIT');
      assert.match(e.message, /task 0_2 cannot commit \(flush the record collector\): broker unreachable/);
      return true;
    });
    await task.closeDirty();
  });
});

describe('StreamTask processing', () => {
  it('hands a processor the whole fetched batch with origins and tracks stream time', async () => {
    const seen: Array<{ size: number; origins: string[]; streamTime: number }> = [];
    const topology = new Topology().addSource('src', 'in', stringSerde, stringSerde).addProcessor(
      'p',
      () => {
        let ctx: ProcessorContext;
        return {
          init(c) {
            ctx = c;
          },
          process(records) {
            seen.push({
              size: records.length,
              origins: records.map((r) => `${r.origin!.topic}[${r.origin!.partition}]@${r.origin!.offset}`),
              streamTime: ctx.currentStreamTimeMs,
            });
          },
        };
      },
      'src',
    );
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await task.completeRestoration();
    assert.equal(task.streamTimeMs, -1);
    await task.process([raw(0, 'a', '1', 500), raw(1, 'b', '2', 900), raw(2, 'c', '3', 700)]);
    assert.deepEqual(seen, [{ size: 3, origins: ['in[2]@0', 'in[2]@1', 'in[2]@2'], streamTime: 900 }]);
    await task.closeClean();
  });

  it('gives the timestamp extractor the partition time, so it can fall back to it', async () => {
    const seen: number[] = [];
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, stringSerde, {
        // Kafka Streams' UsePartitionTimeOnInvalidTimestamp
        timestampExtractor: (r, partitionTime) => (r.value === 'bad-time' ? partitionTime : r.timestamp),
      })
      .addProcessor('p', () => ({ process: (rs) => void seen.push(...rs.map((r) => r.timestamp)) }), 'src');
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(0, 'a', 'x', 100), raw(1, 'b', 'bad-time', 5)]);
    await task.process([raw(2, 'c', 'bad-time', 7), raw(3, 'd', 'y', 300)]);
    assert.deepEqual(seen, [100, 100, 100, 300]);
    await task.closeClean();
  });

  it('rejects a batch that mixes partitions', async () => {
    const task = makeTask(
      new Topology().addSource('src', 'in').addProcessor('p', () => ({ process() {} }), 'src'),
      new RecordingCollector([]),
    );
    await task.initialize();
    await task.completeRestoration();
    await assert.rejects(
      task.process([raw(0, 'a', 'x'), raw(1, 'b', 'y', 1, 'in', 3)]),
      /mixing in\[2\] and in\[3\]/,
    );
    await task.closeDirty();
  });

  it('fails on an undecodable record when no handler is set, naming the record', async () => {
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, jsonSerde())
      .addProcessor('p', () => ({ process() {} }), 'src');
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await task.completeRestoration();
    await assert.rejects(
      task.process([raw(0, 'a', '{"ok":1}'), raw(1, 'b', 'not json')]),
      (e: StreamsError) => {
        assert.equal(e.code, 'CTR_RECORD_DESERIALIZATION');
        assert.equal(e.offset, '1');
        assert.match(e.message, /source "src" of task 0_2 cannot deserialize the record at in\[2\] offset 1/);
        return true;
      },
    );
    await task.closeDirty();
  });

  it('skips an undecodable record when the handler says continue, and still commits its offset', async () => {
    const processed: unknown[] = [];
    const handled: string[] = [];
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, jsonSerde())
      .addProcessor('p', () => ({ process: (rs) => void processed.push(...rs.map((r) => r.value)) }), 'src');
    const task = new StreamTask({
      applicationId: APP,
      topology: topology.subtopology(0, APP),
      partition: 2,
      collector: new RecordingCollector([]),
      appStateDir: '/tmp/x',
      cacheBudget: new SharedCacheBudget(0),
      handlers: {
        onDeserializationError(ctx, record) {
          handled.push(`${ctx.processor}:${record.offset}`);
          return 'continue';
        },
      },
    });
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(0, 'a', '{"ok":1}'), raw(1, 'b', 'not json'), raw(2, 'c', '2')]);
    assert.deepEqual(processed, [{ ok: 1 }, 2]);
    assert.deepEqual(handled, ['src:1']);
    assert.deepEqual([...(await task.commit())], [['in:2', '3']]);
    await task.closeClean();
  });

  it('reports a processor failure with the processor name and the batch origin', async () => {
    const topology = new Topology().addSource('src', 'in', stringSerde, stringSerde).addProcessor(
      'boom',
      () => ({
        process() {
          throw new Error('model not loaded');
        },
      }),
      'src',
    );
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await task.completeRestoration();
    await assert.rejects(task.process([raw(41, 'a', 'x')]), (e: StreamsError) => {
      assert.equal(e.code, 'CTR_PROCESSING');
      assert.equal(e.processor, 'boom');
      assert.match(
        e.message,
        /processor "boom" of task 0_2 failed on a batch of 1 record\(s\) from in\[2\] at offset 41: model not loaded/,
      );
      return true;
    });
    await task.closeDirty();
  });

  it('refuses a store the processor is not connected to', async () => {
    const topology = new Topology()
      .addSource('src', 'in')
      .addProcessor('a', () => ({ process() {} }), 'src')
      .addProcessor(
        'b',
        () => ({ init: (c: ProcessorContext) => void c.getStateStore('s'), process() {} }),
        'src',
      )
      .addStateStore(recordingStoreBuilder('s', [], []), 'a');
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await assert.rejects(task.completeRestoration(), /processor "b" has no access to store "s"/);
    await task.closeDirty();
  });

  it('rejects forward() outside process and a punctuator', async () => {
    let ctx: ProcessorContext | undefined;
    const topology = new Topology()
      .addSource('src', 'in')
      .addProcessor('p', () => ({ init: (c: ProcessorContext) => void (ctx = c), process() {} }), 'src')
      .addSink('out', 'o', undefined, undefined, 'p');
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await task.completeRestoration();
    assert.throws(
      () => ctx!.forward([{ key: null, value: null, timestamp: 0, headers: {} }]),
      /forwarded outside process\(\) or a punctuator/,
    );
    await task.closeDirty();
  });

  it('uses a custom partitioner with the topic partition count', async () => {
    const collector = new RecordingCollector([]);
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, stringSerde)
      .addSink(
        'out',
        'o',
        stringSerde,
        stringSerde,
        (_t: string, key: string, _v: string, n: number) => key.length % n,
        'src',
      );
    const task = makeTask(topology, collector);
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(0, 'abc', 'x'), raw(1, 'abcdef', 'y')]);
    assert.deepEqual(
      collector.sent.map((s) => s.partition),
      [3, 2],
    );
    await task.closeClean();
  });
});

describe('StreamTask sinks', () => {
  it('fails a record whose partitioner picks a partition the topic does not have, naming sink and topic', async () => {
    const topology = new Topology()
      .addSource('src', 'in', stringSerde, stringSerde)
      .addSink('out', 'o', stringSerde, stringSerde, () => 9, 'src');
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await task.completeRestoration();
    await assert.rejects(task.process([raw(5, 'k', 'v')]), (e: StreamsError) => {
      assert.equal(e.code, 'CTR_RECORD_SERIALIZATION');
      assert.match(
        e.message,
        /sink "out" of task 0_2 cannot write a record to "o" \(from in\[2\] offset 5\): the partitioner chose partition 9; "o" has 4 partition\(s\)/,
      );
      return true;
    });
    await task.closeDirty();
  });

  it('writes raw Buffers and strings without serdes and rejects other types', async () => {
    const collector = new RecordingCollector([]);
    const topology = new Topology()
      .addSource('src', 'in')
      .addProcessor(
        'p',
        () => {
          let ctx: ProcessorContext;
          return {
            init: (c: ProcessorContext) => void (ctx = c),
            process: (records) =>
              ctx.forward(
                records.map((r) => ({
                  ...r,
                  key: r.key === null ? null : (r.key as Buffer).toString(),
                  value: r.value,
                })),
              ),
          };
        },
        'src',
      )
      .addSink('out', 'o', undefined, undefined, 'p');
    const task = makeTask(topology, collector);
    await task.initialize();
    await task.completeRestoration();
    await task.process([raw(0, 'k', 'v')]);
    assert.deepEqual(
      collector.sent.map((s) => [s.key!.toString(), s.value!.toString()]),
      [['k', 'v']],
    );
    await task.closeClean();

    const numbers = new Topology()
      .addSource('src', 'in')
      .addProcessor(
        'p',
        () => {
          let ctx: ProcessorContext;
          return {
            init: (c: ProcessorContext) => void (ctx = c),
            process: (records) => ctx.forward(records.map((r) => ({ ...r, value: 42 }))),
          };
        },
        'src',
      )
      .addSink('out', 'o', undefined, undefined, 'p');
    const failing = makeTask(numbers, new RecordingCollector([]));
    await failing.initialize();
    await failing.completeRestoration();
    await assert.rejects(
      failing.process([raw(0, 'k', 'v')]),
      /the value is a number, not bytes; give the sink a value serde/,
    );
    await failing.closeDirty();
  });
});

describe('StreamTask punctuation', () => {
  it('splits a batch where a STREAM_TIME punctuator becomes due, so it sees exactly the records before it', async () => {
    const log: string[] = [];
    const topology = new Topology().addSource('src', 'in', stringSerde, stringSerde).addProcessor(
      'p',
      () => ({
        init(c: ProcessorContext) {
          c.schedule(1000, 'STREAM_TIME', (ts) => void log.push(`punctuate@${ts}`));
        },
        process(records) {
          log.push(`batch ${records.map((r) => r.value).join(',')}`);
        },
      }),
      'src',
    );
    const task = makeTask(topology, new RecordingCollector([]));
    await task.initialize();
    await task.completeRestoration();
    // first record: due at 0 fires at once (Kafka Streams' rule), next due at 1000, then 2000
    await task.process([
      raw(0, 'k', 'a', 500),
      raw(1, 'k', 'b', 800),
      raw(2, 'k', 'c', 1200),
      raw(3, 'k', 'd', 1500),
      raw(4, 'k', 'e', 3100),
    ]);
    assert.deepEqual(log, [
      'batch a',
      'punctuate@500',
      'batch b,c',
      'punctuate@1200',
      'batch d,e',
      'punctuate@3100',
    ]);
    await task.closeClean();
  });

  it('fires WALL_CLOCK_TIME punctuators on punctuate(now) once per due time, skipping missed intervals', async () => {
    let now = 10_000;
    const fired: number[] = [];
    let cancel: (() => void) | undefined;
    const topology = new Topology().addSource('src', 'in').addProcessor(
      'p',
      () => ({
        init(c: ProcessorContext) {
          const s = c.schedule(100, 'WALL_CLOCK_TIME', (ts) => void fired.push(ts));
          cancel = () => s.cancel();
        },
        process() {},
      }),
      'src',
    );
    const task = makeTask(topology, new RecordingCollector([]), 0, () => now);
    await task.initialize();
    await task.completeRestoration();
    assert.equal(await task.punctuate(10_050), false);
    assert.equal(await task.punctuate(10_100), true);
    now = 10_450;
    await task.punctuate(10_450);
    await task.punctuate(10_499);
    await task.punctuate(10_500);
    cancel!();
    await task.punctuate(20_000);
    assert.deepEqual(fired, [10_100, 10_450, 10_500]);
    await task.closeClean();
  });

  it('hands what a punctuator forwards to the children as one batch', async () => {
    const collector = new RecordingCollector([]);
    const topology = new Topology()
      .addSource('src', 'in')
      .addProcessor(
        'p',
        () => ({
          init(c: ProcessorContext<string, string>) {
            c.schedule(10, 'WALL_CLOCK_TIME', () =>
              c.forward([
                { key: 'a', value: '1', timestamp: 5, headers: {} },
                { key: 'b', value: '2', timestamp: 6, headers: {} },
              ]),
            );
          },
          process() {},
        }),
        'src',
      )
      .addSink('out', 'o', stringSerde, stringSerde, 'p');
    const task = makeTask(topology, collector, 0, () => 0);
    await task.initialize();
    await task.completeRestoration();
    await task.punctuate(10);
    assert.deepEqual(
      collector.sent.map((s) => `${s.key}=${s.value}@${s.timestamp}`),
      ['a=1@5', 'b=2@6'],
    );
    await task.closeClean();
  });
});
