/**
 * The handlers plugged into a real StreamTask through the TopologyTestDriver:
 * bad input of every kind goes to the DLQ, good input flows, nothing stops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DLQ_HEADERS, exceptionHandlersFromConfig } from '../../../../src/streams/errors-handling/index.ts';
import type { ProcessorContext } from '../../../../src/streams/processor/processor.ts';
import type { StreamRecord } from '../../../../src/streams/processor/record.ts';
import {
  AvroSerde,
  LocalSchemaRegistry,
  loadAvroSchemaFile,
  stringSerde,
} from '../../../../src/streams/serde/index.ts';
import { TopologyTestDriver } from '../../../../src/streams/testing/index.ts';
import { Topology } from '../../../../src/streams/topology/topology.ts';

interface Click {
  impressionId: string;
  itemId: string;
  timestamp: number;
}
const clickSchema = loadAvroSchemaFile(new URL('../../../../schemas/click.avsc', import.meta.url));

function buildTopology(registry: LocalSchemaRegistry): Topology {
  const clicks = new AvroSerde<Click>(clickSchema, { registry });
  return new Topology()
    .addSource('clicks-source', 'clicks', stringSerde, clicks)
    .addProcessor(
      'check-item',
      () => {
        let context!: ProcessorContext<string, string>;
        return {
          init: (c: ProcessorContext<string, string>) => void (context = c),
          process(records: ReadonlyArray<StreamRecord<string, Click>>) {
            for (const r of records)
              if (r.value.itemId === 'poison')
                throw new Error(`item id "poison" in click ${r.value.impressionId}`);
            context.forward(records.map((r) => ({ ...r, value: r.value.itemId })));
          },
        };
      },
      'clicks-source',
    )
    .addSink('items-sink', 'clicked-items', stringSerde, stringSerde, 'check-item');
}

describe('dead-letter handlers in a running task', () => {
  it('sends each bad record to the DLQ with its source coordinates and keeps processing the good ones', async () => {
    const registry = new LocalSchemaRegistry();
    const { handlers, stats } = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'dead-letter',
      'processing.exception.handler': 'dead-letter',
      'default.production.exception.handler': 'dead-letter',
      'errors.dead.letter.queue.topic.name': 'dl-app-dlq',
    });
    const driver = new TopologyTestDriver(buildTopology(registry), {
      applicationId: 'dl-app',
      handlers,
      maxBatchRecords: 1,
    });
    try {
      const writer = new AvroSerde<Click>(clickSchema, { registry });
      const good = (i: number) =>
        writer.serialize('clicks', { impressionId: `imp-${i}`, itemId: `item-${i}`, timestamp: 1000 + i })!;
      const input = driver.createInputTopic<string, Buffer>('clicks', stringSerde, undefined);
      const output = driver.createOutputTopic<string, string>('clicked-items', stringSerde, stringSerde);
      const dlq = driver.createOutputTopic<Buffer | null, Buffer | null>('dl-app-dlq', undefined, undefined);
      const truncated = good(99).subarray(0, 9);
      const wrongMagic = Buffer.from(good(98));
      wrongMagic[0] = 7;
      const unknownId = Buffer.from(good(97));
      unknownId.writeInt32BE(424242, 1);
      const poison = writer.serialize('clicks', { impressionId: 'imp-p', itemId: 'poison', timestamp: 5 })!;
      await input.pipeRecordList([
        { key: 'k0', value: good(0), timestamp: 1 },
        { key: 'k1', value: Buffer.from('random bytes \u0000\u00ff'), timestamp: 2 },
        { key: 'k2', value: truncated, timestamp: 3 },
        { key: 'k3', value: good(3), timestamp: 4 },
        { key: 'k4', value: wrongMagic, timestamp: 5 },
        { key: 'k5', value: unknownId, timestamp: 6 },
        { key: 'k6', value: poison, timestamp: 7 },
        { key: 'k7', value: good(7), timestamp: 8 },
      ]);
      await driver.commit();

      assert.deepEqual(output.readKeyValuesToList(), [
        ['k0', 'item-0'],
        ['k3', 'item-3'],
        ['k7', 'item-7'],
      ]);
      const dead = dlq.readRecordsToList();
      assert.deepEqual(
        dead.map((r) => [
          r.key?.toString(),
          r.headers[DLQ_HEADERS.offset],
          r.headers[DLQ_HEADERS.handler],
          r.headers[DLQ_HEADERS.code] ?? r.headers[DLQ_HEADERS.exception],
        ]),
        [
          ['k1', '1', 'deserialization', 'CTR_SERDE_WIRE_FORMAT'],
          ['k2', '2', 'deserialization', 'CTR_SERDE_DESERIALIZE'],
          ['k4', '4', 'deserialization', 'CTR_SERDE_WIRE_FORMAT'],
          ['k5', '5', 'deserialization', 'CTR_SERDE_UNKNOWN_SCHEMA'],
          ['k6', '6', 'processing', 'Error'],
        ],
      );
      assert.deepEqual(dead[1]!.value, truncated, 'the DLQ keeps the original value bytes');
      assert.ok(
        dead.every(
          (r) => r.headers[DLQ_HEADERS.topic] === 'clicks' && r.headers[DLQ_HEADERS.partition] === '0',
        ),
      );
      assert.equal(dead[4]!.headers[DLQ_HEADERS.processor], 'check-item');
      assert.equal(driver.committedOffsets().get('clicks:0'), '8', 'every input offset is committed');
      assert.equal(stats.total({ action: 'dead-letter' }), 5);
    } finally {
      await driver.close();
    }
  });

  it('stops with a typed error when the handler says fail', async () => {
    const registry = new LocalSchemaRegistry();
    const { handlers } = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'fail',
      'processing.exception.handler': 'fail',
      'default.production.exception.handler': 'fail',
      'errors.dead.letter.queue.topic.name': 'x-dlq',
    });
    const driver = new TopologyTestDriver(buildTopology(registry), { applicationId: 'x', handlers });
    try {
      const input = driver.createInputTopic<string, Buffer>('clicks', stringSerde, undefined);
      await assert.rejects(
        input.pipeInput('k', Buffer.from('garbage'), 1),
        (e: unknown) => (e as { code?: string }).code === 'CTR_RECORD_DESERIALIZATION',
      );
    } finally {
      await driver.close().catch(() => {});
    }
  });
});
