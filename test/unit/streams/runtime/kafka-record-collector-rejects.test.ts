/**
 * The Kafka record collector singles out the records the broker refuses for
 * themselves (too large, invalid), so the task's production exception
 * handler can decide about them, instead of failing the whole task.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KafkaProducer, OutgoingRecord } from '../../../../src/kafka/index.ts';
import { RecordSendError } from '../../../../src/streams/processor/index.ts';
import { CollectorSendError } from '../../../../src/streams/runtime/errors.ts';
import { KafkaRecordCollector } from '../../../../src/streams/runtime/kafka-record-collector.ts';

/** Refuses any request holding a "too-big" value, the way the producer reports MESSAGE_TOO_LARGE (a cause with a kafkajs type). */
class RefusingProducer {
  readonly written: OutgoingRecord[] = [];
  requests = 0;
  /** When set, every request fails with this (not a record error). */
  down: Error | undefined;
  private readonly ends = new Map<string, bigint>();

  async send(records: readonly OutgoingRecord[]): Promise<Map<string, string>> {
    this.requests++;
    if (this.down) throw this.down;
    if (records.some((r) => String(r.value) === 'too-big')) {
      const cause = Object.assign(
        new Error('The request included a message larger than the max message size'),
        {
          type: 'MESSAGE_TOO_LARGE',
          retriable: false,
        },
      );
      throw Object.assign(new Error(`cannot send ${records.length} records: ${cause.message}`), {
        code: 'CTR_KAFKA_PRODUCE',
        cause,
      });
    }
    const next = new Map<string, string>();
    for (const r of records) {
      this.written.push(r);
      const tp = `${r.topic}:${r.partition ?? 0}`;
      const end = (this.ends.get(tp) ?? 0n) + 1n;
      this.ends.set(tp, end);
      next.set(tp, end.toString());
    }
    return next;
  }
  async partitionCountOf(): Promise<number> {
    return 2;
  }
}

function collectorOver(producer: RefusingProducer): KafkaRecordCollector {
  return new KafkaRecordCollector(producer as unknown as KafkaProducer, { taskId: '0_4', chunkRecords: 100 });
}

describe('KafkaRecordCollector with records the broker refuses', () => {
  it('writes every other record, reports the refused one in a RecordSendError and stays usable', async () => {
    const producer = new RefusingProducer();
    const collector = collectorOver(producer);
    collector.sendRecord('out', 0, Buffer.from('a'), Buffer.from('1'), {}, 1);
    collector.sendRecord('out', 1, Buffer.from('b'), Buffer.from('2'), {}, 2);
    collector.sendRecord('out', 1, Buffer.from('c'), Buffer.from('too-big'), { h: 'x' }, 3);
    collector.sendRecord('out', 1, Buffer.from('d'), Buffer.from('4'), {}, 4);
    collector.send('app-s-changelog', 0, Buffer.from('k'), Buffer.from('v'), 5);

    await assert.rejects(collector.flush(), (e: unknown) => {
      assert.ok(e instanceof RecordSendError);
      assert.equal(e.failed.length, 1);
      const { record } = e.failed[0]!;
      assert.deepEqual(
        [record.topic, record.partition, String(record.key), String(record.value), record.headers['h']],
        ['out', 1, 'c', 'too-big', 'x'],
      );
      assert.match(e.message, /task 0_4: the broker refused 1 record\(s\), the first to "out"/);
      return true;
    });
    assert.deepEqual(
      producer.written.map((r) => String(r.key)),
      ['a', 'b', 'd', 'k'],
      'the other partitions whole, the refused partition record by record in order',
    );
    // usable again, and the offsets cover what was written
    collector.sendRecord('out', 0, Buffer.from('e'), Buffer.from('5'), {}, 6);
    const offsets = await collector.flush();
    assert.equal(offsets.get('out:0'), '2');
    assert.equal(offsets.get('out:1'), '2');
    assert.equal(offsets.get('app-s-changelog:0'), '1');
  });

  it('still poisons the collector on an error that is not about the records', async () => {
    const producer = new RefusingProducer();
    producer.down = Object.assign(new Error('Connection error: ECONNREFUSED'), { retriable: true });
    const collector = collectorOver(producer);
    collector.sendRecord('out', 0, null, Buffer.from('x'), {}, 1);
    await assert.rejects(collector.flush(), CollectorSendError);
    assert.throws(() => collector.sendRecord('out', 0, null, null, {}, 1), CollectorSendError);
  });
});
