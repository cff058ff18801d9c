import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaProducer, OutgoingRecord } from '../../../../src/kafka/index.ts';
import { CollectorSendError } from '../../../../src/streams/runtime/errors.ts';
import { KafkaRecordCollector } from '../../../../src/streams/runtime/kafka-record-collector.ts';

/** A producer stand-in that acks every record at the next offset of its partition, after a delay. */
class FakeProducer {
  readonly requests: OutgoingRecord[][] = [];
  private readonly ends = new Map<string, bigint>();
  inFlight = 0;
  maxInFlight = 0;
  failNext = false;
  async send(records: readonly OutgoingRecord[]): Promise<Map<string, string>> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 5));
    this.inFlight--;
    if (this.failNext) {
      this.failNext = false;
      throw Object.assign(new Error('broker said no'), { retriable: false });
    }
    this.requests.push([...records]);
    const next = new Map<string, string>();
    for (const r of records) {
      const tp = `${r.topic}:${r.partition ?? 0}`;
      const end = (this.ends.get(tp) ?? 0n) + 1n;
      this.ends.set(tp, end);
      next.set(tp, end.toString());
    }
    return next;
  }
  async partitionCountOf(): Promise<number> {
    return 4;
  }
}

describe('KafkaRecordCollector', () => {
  it('sends in chunks, one request in flight, and returns the next offset per partition after the acks', async () => {
    const producer = new FakeProducer();
    const collector = new KafkaRecordCollector(producer as unknown as KafkaProducer, {
      taskId: '0_1',
      chunkRecords: 3,
    });
    for (let i = 0; i < 7; i++)
      collector.send('app-s-changelog', 1, Buffer.from(`k${i}`), Buffer.from('v'), 1);
    collector.sendRecord('out', 2, null, Buffer.from('x'), {}, 1);
    const offsets = await collector.flush();
    assert.deepEqual(
      producer.requests.map((r) => r.length),
      [3, 3, 2],
    );
    assert.equal(producer.maxInFlight, 1, 'chunks of one task never overtake each other');
    assert.equal(offsets.get('app-s-changelog:1'), '7');
    assert.equal(offsets.get('out:2'), '1');
    assert.equal(collector.unackedRecords(), 0);
    // cumulative: a later flush still reports partitions written before
    collector.send('app-s-changelog', 1, Buffer.from('k'), null, 1);
    assert.equal((await collector.flush()).get('out:2'), '1');
  });

  it('keeps order per partition across chunks', async () => {
    const producer = new FakeProducer();
    const collector = new KafkaRecordCollector(producer as unknown as KafkaProducer, {
      taskId: '0_0',
      chunkRecords: 2,
    });
    for (let i = 0; i < 9; i++) collector.sendRecord('out', 0, Buffer.from(String(i)), null, {}, i);
    await collector.flush();
    assert.deepEqual(
      producer.requests.flat().map((r) => String(r.key)),
      ['0', '1', '2', '3', '4', '5', '6', '7', '8'],
    );
  });

  it('fails flush and every later send after a failed send, naming the task and topic', async () => {
    const producer = new FakeProducer();
    producer.failNext = true;
    const collector = new KafkaRecordCollector(producer as unknown as KafkaProducer, {
      taskId: '0_3',
      chunkRecords: 100,
    });
    collector.sendRecord('out', 0, null, Buffer.from('x'), {}, 1);
    await assert.rejects(
      collector.flush(),
      (e: Error) =>
        e instanceof CollectorSendError &&
        /task 0_3 cannot send 1 records to out: broker said no/.test(e.message),
    );
    assert.throws(() => collector.sendRecord('out', 0, null, null, {}, 1), CollectorSendError);
  });
});
