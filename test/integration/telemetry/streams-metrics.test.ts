import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The engine is imported (and creates its instruments) before telemetry starts, as in the CLI.
import { KafkaProducer } from '../../../src/kafka/index.ts';
import { KafkaStreams } from '../../../src/streams/runtime/index.ts';
import { stringSerde } from '../../../src/streams/serde/index.ts';
import {
  LevelDbKeyValueStore,
  Stores,
  type KeyValueBytesStoreSupplier,
  type KeyValueStore,
} from '../../../src/streams/state/index.ts';
import { Consumed, Materialized, StreamsBuilder } from '../../../src/streams/topology/index.ts';
import { METRICS, prometheusName, startTelemetry, type Telemetry } from '../../../src/telemetry/index.ts';
import { createTopics, eventually, testKafka, uniqueName, withAdmin } from '../../helpers/kafka.ts';

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

/** Every sample of `name` whose label set contains every `labels` entry, with its label text. */
function samples(text: string, name: string, labels: Record<string, string> = {}): Array<[string, number]> {
  const found: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`)))
      found.push([m[2] ?? '', Number(m[3])]);
  }
  return found;
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
  it('records commit duration, consumer lag, rebalances, tasks and restore progress under the catalogue names', async () => {
    const { kafka, bootstrap } = await testKafka();
    const PARTITIONS = 3;
    const BACKLOG = 600;
    const KEYS_IN_BACKLOG = 60;
    const input = uniqueName('telemetry-backlog');
    const store = uniqueName('counts');
    const applicationId = uniqueName('telemetry-runtime');
    await createTopics(kafka, [{ name: input, partitions: PARTITIONS }]);
    const producer = new KafkaProducer(kafka);
    await producer.connect();
    try {
      await producer.send(
        Array.from({ length: BACKLOG }, (_, i) => ({
          topic: input,
          key: `k${i % KEYS_IN_BACKLOG}`,
          value: String(i),
        })),
      );
    } finally {
      await producer.disconnect();
    }

    // Two gates make the in-between states observable: every batch waits at the first until the
    // test has seen the backlog as lag; every restore of a changelog chunk waits at the second
    // until the test has seen the restoring tasks and what remains.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let openRestoreGate!: () => void;
    const restoreGate = new Promise<void>((resolve) => (openRestoreGate = resolve));
    const heldRestoreStore: KeyValueBytesStoreSupplier = {
      name: store,
      persistent: true,
      get: () => {
        const leveldb = new LevelDbKeyValueStore(store);
        const restoreBatch = leveldb.restoreBatch.bind(leveldb);
        leveldb.restoreBatch = async (records, nextOffset) => {
          await restoreGate;
          return restoreBatch(records, nextOffset);
        };
        return leveldb;
      },
    };
    const topology = () => {
      const builder = new StreamsBuilder();
      builder.stream(input, Consumed.with(stringSerde, stringSerde)).process({
        get: () => {
          let latest!: KeyValueStore<string, string>;
          return {
            init: (context) => {
              latest = context.getStateStore<KeyValueStore<string, string>>(store);
            },
            process: async (records) => {
              await gate;
              await latest.putAll(records.map((r) => [r.key, r.value] as const));
            },
          };
        },
        stores: () => [Stores.keyValueStoreBuilder(heldRestoreStore, stringSerde, stringSerde)],
      });
      return builder.build();
    };
    const config = (dir: string) => ({
      'application.id': applicationId,
      'bootstrap.servers': bootstrap,
      'state.dir': dir,
      'commit.interval.ms': 200,
    });
    const scrape = async () => (await fetch(telemetry.metricsUrl!)).text();
    const lag = prometheusName(METRICS.consumerLag);
    const tasks = prometheusName(METRICS.tasks);
    const rebalances = prometheusName(METRICS.rebalances);
    const commit = prometheusName(METRICS.commitDuration);
    const restored = prometheusName(METRICS.restoreRecords);
    const remaining = prometheusName(METRICS.restoreRemaining);
    const restoreDuration = prometheusName(METRICS.restoreDuration);

    const first = new KafkaStreams(topology(), config(stateDir));
    const secondDir = mkdtempSync(join(tmpdir(), 'ctr-telemetry-restore-'));
    let second: KafkaStreams | undefined;
    try {
      const rebalancesBefore = sum(await scrape(), rebalances);
      await first.start();
      let text = '';
      await eventually(
        'the fetched backlog to show as lag while processing is held',
        async () => {
          text = await scrape();
          return samples(text, lag, { topic: input }).some(([, v]) => v > 0);
        },
        30_000,
        100,
      );
      // nothing is processed yet, so a partition's lag is all it holds
      for (const [labels, value] of samples(text, lag, { topic: input })) {
        assert.ok(value > 0 && value <= BACKLOG, `lag ${value} of ${labels} while held`);
      }
      assert.match(text, new RegExp(`^# TYPE ${lag} gauge$`, 'm'));
      assert.ok(sum(text, rebalances) >= rebalancesBefore + 1, 'the first join is a rebalance');
      await eventually(
        `${PARTITIONS} running tasks`,
        async () => sum((text = await scrape()), tasks, { task_state: 'running' }) === PARTITIONS,
      );
      assert.equal(sum(text, tasks, { task_state: 'restoring' }), 0);

      openGate();
      await eventually(
        'lag 0 on every partition and a commit once the backlog is processed',
        async () => {
          text = await scrape();
          const lags = samples(text, lag, { topic: input });
          return (
            lags.length === PARTITIONS &&
            lags.every(([, v]) => v === 0) &&
            sum(text, prometheusName(METRICS.recordsConsumed), { topic: input }) >= BACKLOG &&
            sum(text, `${commit}_count`) >= 1
          );
        },
        30_000,
        100,
      );
      for (let p = 0; p < PARTITIONS; p++) {
        assert.equal(samples(text, lag, { topic: input, partition: String(p) }).length, 1);
      }
      assert.match(text, new RegExp(`^# TYPE ${commit} histogram$`, 'm'));
      assert.match(text, new RegExp(`^# UNIT ${commit} s$`, 'm'));
      assert.ok(sum(text, `${commit}_sum`) > 0, 'commits take time, in seconds');
      assert.ok(
        sum(text, `${commit}_sum`) / sum(text, `${commit}_count`) < 30,
        'a commit is seconds, not ms',
      );
      await first.close();
      text = await scrape();
      assert.equal(sum(text, tasks, { task_state: 'running' }), 0, 'a closed instance holds no task');

      // a second instance with an empty state dir restores the whole changelog
      const changelog = `${applicationId}-${store}-changelog`;
      const offsets = await withAdmin(kafka, (admin) => admin.topicOffsets(changelog));
      const changelogSize = offsets.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
      assert.ok(changelogSize >= KEYS_IN_BACKLOG, `the changelog holds every key (${changelogSize})`);
      const restoredBefore = sum(text, restored, { store });
      second = new KafkaStreams(topology(), config(secondDir));
      await second.start();
      // no position in an empty state dir: each task's store restores its whole changelog partition
      await eventually(
        'the whole changelog as remaining records while restoring is held',
        async () => {
          text = await scrape();
          const held = samples(text, remaining, { store });
          return held.length === PARTITIONS && held.reduce((n, [, v]) => n + v, 0) === changelogSize;
        },
        30_000,
        100,
      );
      const partitionsWithData = offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).length;
      assert.equal(sum(text, tasks, { task_state: 'restoring' }), partitionsWithData);
      assert.equal(sum(text, tasks, { task_state: 'running' }), PARTITIONS - partitionsWithData);
      assert.equal(sum(text, restored, { store }), restoredBefore, 'nothing applied yet');
      openRestoreGate();
      await eventually('the restored instance to be RUNNING', () => second!.state === 'RUNNING', 30_000);
      text = await scrape();
      assert.equal(sum(text, restored, { store }) - restoredBefore, changelogSize);
      assert.equal(
        second.restores().reduce((n, r) => n + r.restored, 0),
        changelogSize,
      );
      const left = samples(text, remaining, { store });
      assert.equal(left.length, PARTITIONS, 'one remaining-records series per task');
      assert.ok(
        left.every(([, v]) => v === 0),
        'nothing remains once restored',
      );
      assert.ok(sum(text, `${restoreDuration}_count`, { store }) >= PARTITIONS);
      assert.equal(sum(text, tasks, { task_state: 'running' }), PARTITIONS);
      assert.ok(sum(text, rebalances) >= rebalancesBefore + 2);
    } finally {
      openGate();
      openRestoreGate();
      await first.close();
      await second?.close();
      rmSync(secondDir, { recursive: true, force: true });
    }
  });
});
