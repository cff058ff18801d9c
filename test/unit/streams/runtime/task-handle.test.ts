import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RawRecord } from '../../../../src/streams/processor/raw-record.ts';
import type { StreamTask } from '../../../../src/streams/processor/stream-task.ts';
import type { KafkaRecordCollector } from '../../../../src/streams/runtime/kafka-record-collector.ts';
import { Mutex, TaskHandle } from '../../../../src/streams/runtime/task-handle.ts';

function records(topic: string, from: number, n: number, ts = (i: number) => i): RawRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: null,
    value: null,
    headers: {},
    topic,
    partition: 0,
    offset: String(from + i),
    timestamp: ts(from + i),
  }));
}

function handle(): TaskHandle {
  return new TaskHandle({ id: '0_0', partition: 0 } as StreamTask, {} as KafkaRecordCollector);
}

describe('TaskHandle', () => {
  it('cuts a fetched batch into chunks of at most max.poll.records and counts what is buffered', () => {
    const h = handle();
    assert.equal(h.enqueue('a', records('a', 0, 25), 10), 25);
    assert.deepEqual(
      [h.takeNext()!.records.length, h.takeNext()!.records.length, h.takeNext()!.records.length],
      [10, 10, 5],
    );
    assert.equal(h.buffered('a'), 0);
    assert.equal(h.takeNext(), undefined);
  });

  it('drops records re-delivered after a rejoin (offsets below the next expected one)', () => {
    const h = handle();
    h.enqueue('a', records('a', 0, 10), 100);
    h.takeNext();
    // kafkajs restarts from the committed offset 5 after a rejoin: 5..9 were taken already
    assert.equal(h.enqueue('a', records('a', 5, 10), 100), 5);
    assert.deepEqual(
      h.takeNext()!.records.map((r) => r.offset),
      ['10', '11', '12', '13', '14'],
    );
  });

  it('takes the co-partitioned queue whose head has the smallest timestamp first', () => {
    const h = handle();
    h.enqueue(
      'late',
      records('late', 0, 2, (i) => 100 + i),
      10,
    );
    h.enqueue(
      'early',
      records('early', 0, 2, (i) => 50 + i),
      10,
    );
    assert.equal(h.takeNext()!.topic, 'early');
    assert.equal(h.takeNext()!.topic, 'late');
  });

  it('wakes a waiting loop when records arrive', async () => {
    const h = handle();
    const waiting = h.waitForWork();
    h.enqueue('a', records('a', 0, 1), 10);
    await waiting;
    assert.equal(h.totalBuffered(), 1);
    assert.equal(h.clearBuffers(), 1);
    assert.equal(h.totalBuffered(), 0);
  });
});

describe('TaskHandle lag', () => {
  it('is unknown before the first fetch that brought records', () => {
    const h = handle();
    h.noteHighWatermark('a', '100');
    assert.equal(h.lag('a'), undefined);
  });

  it('counts buffered records as lag until they are processed, then reaches 0', () => {
    const h = handle();
    // a task starting at committed offset 40 of a partition holding 100 records
    h.noteHighWatermark('a', '100');
    h.enqueue('a', records('a', 40, 30), 10);
    assert.equal(h.lag('a'), 60);
    const first = h.takeNext()!;
    // taken but not yet processed: still lag
    assert.equal(h.lag('a'), 60);
    h.markProcessed('a', first.records);
    assert.equal(h.lag('a'), 50);
    h.markProcessed('a', h.takeNext()!.records);
    h.markProcessed('a', h.takeNext()!.records);
    assert.equal(h.lag('a'), 30);
    h.enqueue('a', records('a', 70, 30), 100);
    h.markProcessed('a', h.takeNext()!.records);
    assert.equal(h.lag('a'), 0);
  });

  it('keeps the highest watermark seen and never reports a negative lag', () => {
    const h = handle();
    h.noteHighWatermark('a', '50');
    h.enqueue('a', records('a', 0, 50), 100);
    // a stale fetch completing late reports an older watermark
    h.noteHighWatermark('a', '20');
    assert.equal(h.lag('a'), 50);
    h.markProcessed('a', h.takeNext()!.records);
    assert.equal(h.lag('a'), 0);
  });

  it('tracks each co-partitioned source topic apart', () => {
    const h = handle();
    h.noteHighWatermark('a', '10');
    h.noteHighWatermark('b', '7');
    h.enqueue('a', records('a', 0, 10), 100);
    h.enqueue('b', records('b', 5, 2), 100);
    assert.equal(h.lag('a'), 10);
    assert.equal(h.lag('b'), 2);
  });
});

describe('Mutex', () => {
  it('runs functions one at a time in call order, even when one fails', async () => {
    const m = new Mutex();
    const order: string[] = [];
    const slow = m.run(async () => {
      order.push('a-start');
      await new Promise((r) => setTimeout(r, 20));
      order.push('a-end');
    });
    const failing = m.run(async () => {
      order.push('b');
      throw new Error('b failed');
    });
    const after = m.run(async () => {
      order.push('c');
      return 42;
    });
    assert.equal(m.busy, true);
    await slow;
    await assert.rejects(failing, /b failed/);
    assert.equal(await after, 42);
    assert.deepEqual(order, ['a-start', 'a-end', 'b', 'c']);
    assert.equal(m.busy, false);
  });
});
