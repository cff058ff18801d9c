/**
 * The production exception handler in a StreamTask: records the collector
 * refuses (at once, or in a flush that fails for particular records) go to
 * the handler at commit; 'continue' skips them (dead-lettered for
 * dead-letter), 'fail' fails the commit, changelog records always fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DLQ_HEADERS,
  exceptionHandlersFromConfig,
  type ExceptionHandlerName,
} from '../../../../src/streams/errors-handling/index.ts';
import {
  RecordSendError,
  StreamTask,
  type Processor,
  type ProcessorContext,
  type RawRecord,
  type TaskExceptionHandlers,
} from '../../../../src/streams/processor/index.ts';
import { stringSerde } from '../../../../src/streams/serde/index.ts';
import { SharedCacheBudget } from '../../../../src/streams/state/index.ts';
import { Topology } from '../../../../src/streams/topology/index.ts';
import { RecordingCollector, recordingStoreBuilder, type RecordingStore } from './recording-fakes.ts';

const APP = 'guard-app';
const DLQ = `${APP}-dlq`;

/** Refuses, at once, every record to "out" whose value is "too-big" (as a producer refuses an oversized record). */
class RefusingCollector extends RecordingCollector {
  flushes = 0;
  /** Refuse "too-big" on every topic (the DLQ included), not only "out". */
  refuseEverywhere = false;
  /** Thrown once by the next flush (then cleared): records "the broker" rejected. */
  failNextFlush: Error | undefined;

  override sendRecord(
    topic: string,
    partition: number | undefined,
    key: Buffer | null,
    value: Buffer | null,
    headers: Record<string, Buffer | string | undefined>,
    timestamp: number,
  ): void {
    if ((topic === 'out' || this.refuseEverywhere) && value?.toString() === 'too-big')
      throw new RangeError(`record of ${topic} is larger than max.request.size`);
    super.sendRecord(topic, partition, key, value, headers, timestamp);
  }

  override async flush(): Promise<Map<string, string>> {
    this.flushes++;
    const failure = this.failNextFlush;
    this.failNextFlush = undefined;
    if (failure) throw failure;
    return super.flush();
  }
}

function raw(offset: number, value: string): RawRecord {
  return {
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(value),
    timestamp: 1000 + offset,
    headers: {},
    topic: 'in',
    partition: 0,
    offset: String(offset),
  };
}

/** in -> (writes each record to the logged store "s") -> out. */
function topology(stores: RecordingStore[]): Topology {
  const write = (): Processor<string, string, string, string> => {
    let ctx: ProcessorContext<string, string>;
    let store: RecordingStore;
    return {
      init(c) {
        ctx = c;
        store = c.getStateStore<RecordingStore>('s');
      },
      process(records) {
        for (const r of records) store.write(r.key, r.value);
        ctx.forward(records);
      },
    };
  };
  return new Topology()
    .addSource('src', 'in', stringSerde, stringSerde)
    .addProcessor('write', write, 'src')
    .addStateStore(recordingStoreBuilder('s', [], stores), 'write')
    .addSink('sink', 'out', stringSerde, stringSerde, 'write');
}

async function runningTask(
  collector: RecordingCollector,
  handlers?: TaskExceptionHandlers,
): Promise<StreamTask> {
  const task = new StreamTask({
    applicationId: APP,
    topology: topology([]).subtopology(0, APP),
    partition: 0,
    collector,
    appStateDir: '/tmp/unused-guard-dir',
    cacheBudget: new SharedCacheBudget(1024 * 1024),
    ...(handlers ? { handlers } : {}),
  });
  await task.initialize();
  await task.completeRestoration();
  return task;
}

function configured(production: ExceptionHandlerName) {
  return exceptionHandlersFromConfig({
    'default.deserialization.exception.handler': 'fail',
    'processing.exception.handler': 'fail',
    'default.production.exception.handler': production,
    'errors.dead.letter.queue.topic.name': DLQ,
  });
}

describe('the production exception handler in a StreamTask', () => {
  it('dead-letters a record the collector refuses and commits the rest', async () => {
    const collector = new RefusingCollector([]);
    const { handlers, stats } = configured('dead-letter');
    const task = await runningTask(collector, handlers);
    await task.process([raw(0, 'a'), raw(1, 'too-big'), raw(2, 'c')]);
    const offsets = await task.commit();

    assert.deepEqual(offsets, new Map([['in:0', '3']]));
    const outputs = collector.sent.filter((r) => r.topic === 'out');
    assert.deepEqual(
      outputs.map((r) => r.value?.toString()),
      ['a', 'c'],
    );
    const dead = collector.sent.filter((r) => r.topic === DLQ);
    assert.equal(dead.length, 1);
    assert.deepEqual(dead[0]!.key, Buffer.from('k1'));
    assert.deepEqual(dead[0]!.value, Buffer.from('too-big'), 'the bytes the sink produced');
    assert.equal(dead[0]!.headers[DLQ_HEADERS.handler], 'production');
    assert.equal(dead[0]!.headers[DLQ_HEADERS.sinkTopic], 'out');
    assert.equal(dead[0]!.headers[DLQ_HEADERS.exception], 'RangeError');
    assert.equal(stats.total({ handler: 'production', action: 'dead-letter' }), 1);
    assert.equal(collector.flushes, 2, 'a second flush sent the DLQ record and awaited its ack');
    await task.closeClean();
  });

  it('fails when the DLQ itself refuses the dead-lettered record', async () => {
    const collector = new RefusingCollector([]);
    collector.refuseEverywhere = true;
    const task = await runningTask(collector, configured('dead-letter').handlers);
    await task.process([raw(0, 'too-big')]);
    await assert.rejects(task.commit(), /could not write an output record to "guard-app-dlq"/);
    await task.closeDirty();
  });

  it('fails the commit when the handler says fail, and when there is no handler', async () => {
    for (const handlers of [configured('fail').handlers, undefined]) {
      const collector = new RefusingCollector([]);
      const task = await runningTask(collector, handlers);
      await task.process([raw(0, 'a'), raw(1, 'too-big')]);
      await assert.rejects(task.commit(), (e: unknown) => {
        const error = e as { code?: string; cause?: { code?: string }; message: string };
        assert.equal(error.code, 'CTR_TASK_COMMIT');
        assert.equal(error.cause?.code, 'CTR_RECORD_PRODUCTION');
        assert.match(error.message, /could not write an output record to "out": record of out is larger/);
        return true;
      });
      assert.equal(collector.sent.filter((r) => r.topic === DLQ).length, 0);
      await task.closeDirty();
    }
  });

  it('asks the handler about each record a flush reports as not written, then flushes again', async () => {
    const collector = new RefusingCollector([]);
    const { handlers, stats } = configured('log-and-continue');
    const task = await runningTask(collector, handlers);
    await task.process([raw(0, 'a'), raw(1, 'b')]);
    const rejected = {
      topic: 'out',
      partition: 0,
      key: Buffer.from('k1'),
      value: Buffer.from('b'),
      headers: {},
      timestamp: 1001,
    };
    collector.failNextFlush = new RecordSendError('1 record rejected', [
      {
        record: rejected,
        error: Object.assign(new Error('MESSAGE_TOO_LARGE'), { code: 'MESSAGE_TOO_LARGE' }),
      },
    ]);
    const offsets = await task.commit();
    assert.deepEqual(offsets, new Map([['in:0', '2']]));
    assert.equal(collector.flushes, 2, 'a second flush once the handler decided');
    assert.equal(stats.total({ handler: 'production', action: 'continue', code: 'MESSAGE_TOO_LARGE' }), 1);
    await task.closeClean();
  });

  it('asks no handler when the collector itself is broken: its flush error stands', async () => {
    const collector = new RefusingCollector([]);
    const asked: string[] = [];
    const task = await runningTask(collector, {
      onProductionError: (_c, record) => {
        asked.push(record.topic);
        return 'continue';
      },
    });
    await task.process([raw(0, 'too-big')]);
    collector.failNextFlush = new Error('producer fenced');
    await assert.rejects(task.commit(), /producer fenced/);
    assert.deepEqual(asked, []);
    await task.closeDirty();
  });

  it('never skips a changelog record, whatever the handler says', async () => {
    const collector = new RefusingCollector([]);
    const asked: string[] = [];
    const task = await runningTask(collector, {
      onProductionError: (_c, record) => {
        asked.push(record.topic);
        return 'continue';
      },
    });
    await task.process([raw(0, 'a')]);
    const changelog = `${APP}-s-changelog`;
    assert.ok(
      collector.sent.some((r) => r.topic === changelog),
      'the store logged its write',
    );
    collector.failNextFlush = new RecordSendError('rejected', [
      {
        record: {
          topic: changelog,
          partition: 0,
          key: Buffer.from('k0'),
          value: Buffer.from('a'),
          headers: {},
          timestamp: 1000,
        },
        error: new Error('CORRUPT_MESSAGE'),
      },
    ]);
    await assert.rejects(
      task.commit(),
      /could not write a changelog record to guard-app-s-changelog\[0\].*never skipped/,
    );
    assert.deepEqual(asked, [], 'the handler is not asked about changelog records');
    await task.closeDirty();
  });
});
