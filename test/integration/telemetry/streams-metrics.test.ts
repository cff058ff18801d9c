import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The engine is imported (and creates its instruments) before telemetry starts, as in the CLI.
import { KafkaProducer } from '../../../src/kafka/index.ts';
import { KafkaStreams } from '../../../src/streams/runtime/index.ts';
import { stringSerde } from '../../../src/streams/serde/index.ts';
import { Consumed, Materialized, StreamsBuilder } from '../../../src/streams/topology/index.ts';
import { METRICS, prometheusName, startTelemetry, type Telemetry } from '../../../src/telemetry/index.ts';
import { createTopics, eventually, testKafka, uniqueName } from '../../helpers/kafka.ts';

const RECORDS = 3000;
const KEYS = 50;
const STORE = 'word-counts';

/** Sum of the samples of `name` whose label set contains every `labels` entry. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) total += Number(m[3]);
  }
  return total;
}

describe('metrics and health of a running KafkaStreams app', () => {
  let telemetry: Telemetry;
  let stateDir: string;
  before(async () => {
    telemetry = await startTelemetry({
      serviceName: 'streams-metrics-it',
      prometheusHost: '127.0.0.1',
      prometheusPort: 0,
    });
    stateDir = mkdtempSync(join(tmpdir(), 'ctr-telemetry-it-'));
  });
  after(async () => {
    await telemetry.shutdown();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('serves the store metrics of the engine and readiness that follows the app state', async () => {
    const { kafka, bootstrap } = await testKafka();
    const input = uniqueName('telemetry-words');
    await createTopics(kafka, [{ name: input, partitions: 4 }]);
    const producer = new KafkaProducer(kafka);
    await producer.connect();
    try {
      await producer.send(
        Array.from({ length: RECORDS }, (_, i) => ({ topic: input, key: `w${i % KEYS}`, value: String(i) })),
      );
    } finally {
      await producer.disconnect();
    }

    const builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(stringSerde, stringSerde)).groupByKey().count(Materialized.as(STORE));
    const app = new KafkaStreams(builder.build(), {
      'application.id': uniqueName('telemetry-app'),
      'bootstrap.servers': bootstrap,
      'state.dir': stateDir,
      'commit.interval.ms': 500,
    });
    // The wiring the CLI does: ready = RUNNING.
    const removeCheck = telemetry.health.register('ready', 'streams', () => ({
      status: app.state === 'RUNNING' ? 'UP' : 'DOWN',
      detail: { state: app.state },
    }));
    const base = telemetry.metricsUrl!.replace(/\/metrics$/, '');
    const ready = async () => {
      const response = await fetch(`${base}/health/ready`);
      await response.body?.cancel();
      return response.status;
    };
    const scrape = async () => (await fetch(telemetry.metricsUrl!)).text();
    const ops = prometheusName(METRICS.storeOperationDuration);
    const lookups = prometheusName(METRICS.storeCacheLookups);
    try {
      assert.equal(await ready(), 503, 'not ready before start');
      await app.start();
      await eventually('the app to be RUNNING', async () => (await ready()) === 200, 30_000);

      let text = '';
      // the count step reads each batch's keys through the cache, then writes them back
      await eventually(
        `the first read of each of the ${KEYS} keys in the scrape`,
        async () => {
          text = await scrape();
          return sum(text, lookups, { store: STORE, result: 'miss' }) >= KEYS;
        },
        45_000,
        250,
      );
      // every key was new, so its first lookup missed the cache and went down to the store
      assert.ok(sum(text, lookups, { store: STORE }) >= KEYS);
      assert.match(text, new RegExp(`^# TYPE ${ops} histogram$`, 'm'));
      const getManyCount = sum(text, `${ops}_count`, { store: STORE, operation: 'getMany' });
      assert.ok(getManyCount >= 1);
      assert.equal(
        sum(text, `${ops}_bucket`, { store: STORE, operation: 'getMany', le: '+Inf' }),
        getManyCount,
      );
      assert.ok(sum(text, `${ops}_sum`, { store: STORE, operation: 'getMany' }) > 0);
      assert.ok(sum(text, 'ctr_process_memory_heap_used') > 0);
      await app.close();
      assert.equal(await ready(), 503, 'not ready once closed');
    } finally {
      await app.close();
      removeCheck();
    }
  });
});
