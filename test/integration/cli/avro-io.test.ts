import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaProducer } from '../../../src/kafka/index.ts';
import { pipelineSerdes, type ItemEmbeddingEvent } from '../../../topologies/events.ts';
import { createTopics, testKafka, uniqueName, type TestKafka } from '../../helpers/kafka.ts';
import { runCli } from './fixtures/cli-process.ts';

describe('ctr-streams produce / consume in the Avro wire format on a real broker', () => {
  let env: TestKafka;
  let dir: string;
  before(async () => {
    env = await testKafka();
    dir = mkdtempSync(join(tmpdir(), 'ctr-cli-avro-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('produce writes JSON lines as Avro records that consume reads back, keys and headers included', async () => {
    const topic = uniqueName('cli-clicks');
    await createTopics(env.kafka, [{ name: topic, partitions: 2 }]);
    const lines = [1, 2, 3].map((i) => ({
      key: `imp-${i}`,
      value: { impressionId: `imp-${i}`, itemId: `item-${i}`, timestamp: 1_700_000_000_000 + i },
      headers: { source: 'test' },
    }));
    const file = join(dir, 'clicks.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const produced = await runCli([
      'produce',
      topic,
      '--schema',
      'schemas/click.avsc',
      '--with-keys',
      '--file',
      file,
      '--bootstrap',
      env.bootstrap,
    ]);
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stderr, /3 record\(s\) sent/);

    const consumed = await runCli(['consume', topic, '--bootstrap', env.bootstrap]);
    assert.equal(consumed.code, 0, consumed.stderr);
    const got = consumed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value: unknown; headers: Record<string, string> });
    assert.deepEqual(
      got
        .map((g) => ({ key: g.key, value: g.value, headers: g.headers }))
        .sort((a, b) => a.key.localeCompare(b.key)),
      lines,
    );

    // the same bytes the engine's own AvroSerde reads
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, JSON.stringify({ impressionId: 'x', itemId: 7 }) + '\n');
    const refused = await runCli([
      'produce',
      topic,
      '--schema',
      'schemas/click.avsc',
      '--file',
      bad,
      '--bootstrap',
      env.bootstrap,
    ]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /line 1: not a valid/);
  });

  it("consume decodes records written by the pipeline's serdes with their writer schema (bytes as $base64)", async () => {
    const topic = uniqueName('cli-embeddings');
    await createTopics(env.kafka, [{ name: topic, partitions: 1 }]);
    const serdes = pipelineSerdes();
    const vector = Buffer.from(new Float32Array([0.5, -1, 2]).buffer);
    const event: ItemEmbeddingEvent = {
      itemId: 'item-1',
      modelVersion: 'v1',
      dimension: 3,
      vector,
      computedAt: 1_700_000_000_500,
      category: null,
      createdAt: null,
    };
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    try {
      await producer.send([{ topic, key: 'item-1', value: serdes.itemEmbedding.serialize(topic, event) }]);
    } finally {
      await producer.disconnect();
    }
    const consumed = await runCli(['consume', topic, '--bootstrap', env.bootstrap, '--max', '1']);
    assert.equal(consumed.code, 0, consumed.stderr);
    const record = JSON.parse(consumed.stdout.trim()) as {
      key: string;
      value: { itemId: string; modelVersion: string; vector: { $base64: string } };
    };
    assert.equal(record.key, 'item-1');
    assert.equal(record.value.itemId, 'item-1');
    assert.equal(record.value.modelVersion, 'v1');
    assert.deepEqual(Buffer.from(record.value.vector.$base64, 'base64'), vector);
  });
});
