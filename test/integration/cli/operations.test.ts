import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaProducer, readTopicToEnd, type ConsumedRecord } from '../../../src/kafka/index.ts';
import {
  createTopics,
  eventually,
  testKafka,
  uniqueName,
  withAdmin,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { runCli, startCli, WORD_COUNT } from './fixtures/cli-process.ts';

const PARTITIONS = 3;
const KEYS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'];
/** Record timestamps: three phases an hour apart, so a time range selects phase 2 exactly. */
const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
const PHASE_MS = 3_600_000;
const PER_PHASE = 70;

function sum(text: string, metric: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function byTimestamp(records: readonly ConsumedRecord[], fromMs: number, toMs: number): string[] {
  return records
    .filter((r) => r.timestamp >= fromMs && r.timestamp < toMs)
    .map((r) => `${r.partition}|${r.key?.toString()}|${r.value?.toString()}|${r.timestamp}`)
    .sort();
}

describe('ctr-streams operations commands on a real broker (run, store, replay, reset)', () => {
  let env: TestKafka;
  let stateDir: string;
  let input: string;
  let upper: string;
  let counts: string;
  let appId: string;
  let fixtureEnv: NodeJS.ProcessEnv;
  const expectedCounts = new Map<string, number>();

  before(async () => {
    env = await testKafka();
    stateDir = mkdtempSync(join(tmpdir(), 'ctr-cli-ops-'));
    input = uniqueName('cli-words');
    upper = uniqueName('cli-upper');
    counts = uniqueName('cli-counts');
    appId = uniqueName('cli-app');
    await createTopics(
      env.kafka,
      [input, upper, counts].map((name) => ({ name, partitions: PARTITIONS })),
    );
    fixtureEnv = { CLI_FIXTURE_INPUT: input, CLI_FIXTURE_UPPER: upper, CLI_FIXTURE_COUNTS: counts };
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    try {
      const records = [];
      for (let phase = 0; phase < 3; phase++)
        for (let i = 0; i < PER_PHASE; i++) {
          const key = KEYS[(i * 3 + phase) % KEYS.length]!;
          expectedCounts.set(key, (expectedCounts.get(key) ?? 0) + 1);
          records.push({
            topic: input,
            key,
            value: `word ${phase}-${i}`,
            timestamp: T0 + phase * PHASE_MS + i * 1000,
          });
        }
      await producer.send(records);
    } finally {
      await producer.disconnect();
    }
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  const common = (): string[] => ['--bootstrap', env.bootstrap, '--state-dir', stateDir];

  it('run serves named metrics with plausible values while it processes, refuses a reset meanwhile, and stops cleanly on SIGTERM', async () => {
    // the deploy path: settings from a .properties file, overridden by a flag
    const config = join(stateDir, 'app.properties');
    writeFileSync(
      config,
      `application.id=${appId}\nbootstrap.servers=${env.bootstrap}\ncommit.interval.ms=30000\n`,
    );
    const run = startCli(
      [
        'run',
        WORD_COUNT,
        '--config',
        config,
        '--state-dir',
        stateDir,
        '--metrics-port',
        '0',
        '--set',
        'commit.interval.ms=500',
      ],
      fixtureEnv,
    );
    try {
      await eventually(
        'the metrics URL on stderr',
        () => /metrics at (http:\S+)/.test(run.stderr()),
        45_000,
        100,
      );
      const url = /metrics at (http:\S+)/.exec(run.stderr())![1]!;
      await eventually(
        'every count in the output topic',
        async () => {
          const records = await readTopicToEnd(env.kafka, counts);
          const latest = new Map(records.map((r) => [r.key!.toString(), Number(r.value!.toString())]));
          return [...expectedCounts].every(([k, n]) => latest.get(k) === n);
        },
        45_000,
        300,
      );
      const text = await (await fetch(url)).text();
      assert.equal(
        sum(
          text
            .split('\n')
            .filter((l) => l.includes(`topic="${input}"`))
            .join('\n'),
          'ctr_streams_records_consumed_total',
        ),
        3 * PER_PHASE,
      );
      assert.ok(
        sum(text, 'ctr_streams_records_produced_total') >= 3 * PER_PHASE,
        'outputs and changelog records were acknowledged',
      );
      assert.ok(sum(text, 'ctr_streams_batch_size_count') >= 1, 'batches were recorded');
      assert.ok(sum(text, 'ctr_streams_process_duration_sum') > 0, 'processing took time');
      assert.ok(sum(text, 'ctr_process_memory_resident') > 10_000_000, 'resident memory is megabytes');
      const ready = await fetch(url.replace(/\/metrics$/, '/health/ready'));
      assert.equal(ready.status, 200);

      const refused = await runCli(['reset', appId, '--topology', WORD_COUNT, ...common()], fixtureEnv);
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, /live member/);
      assert.equal(refused.stderr.trim().split('\n').length, 1, 'the error is one line');
    } finally {
      run.child.kill('SIGTERM');
    }
    const result = await run.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /stopped cleanly/);
  });

  it("store count/get/scan read the stopped app's LevelDB stores with the topology's serdes", async () => {
    const count = await runCli(
      ['store', 'count', 'word-counts', '-t', WORD_COUNT, ...common(), '--application-id', appId],
      fixtureEnv,
    );
    assert.equal(count.code, 0, count.stderr);
    assert.match(count.stdout, new RegExp(`^total\\t${KEYS.length}$`, 'm'));
    const get = await runCli(
      ['store', 'get', 'word-counts', 'beta', '-t', WORD_COUNT, ...common(), '--application-id', appId],
      fixtureEnv,
    );
    assert.equal(get.code, 0, get.stderr);
    assert.equal(JSON.parse(get.stdout.trim()).value, expectedCounts.get('beta'));
    const scan = await runCli(
      ['store', 'scan', 'word-counts', '-t', WORD_COUNT, ...common(), '--application-id', appId],
      fixtureEnv,
    );
    const scanned = new Map(
      scan.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { key: string; value: number })
        .map((e) => [e.key, e.value]),
    );
    assert.deepEqual(scanned, expectedCounts);
    const missing = await runCli(['store', 'count', 'no-such-store', ...common(), '--application-id', appId]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no key-value store "no-such-store".*stores found: word-counts/);
  });

  it('replay of a time range under a new application id reproduces the outputs of that range', async () => {
    const replayUpper = uniqueName('cli-replay-upper');
    const replayCounts = uniqueName('cli-replay-counts');
    await createTopics(
      env.kafka,
      [replayUpper, replayCounts].map((name) => ({ name, partitions: PARTITIONS })),
    );
    const from = new Date(T0 + PHASE_MS).toISOString();
    const to = new Date(T0 + 2 * PHASE_MS).toISOString();
    const replayApp = uniqueName('cli-replay');
    const replay = await runCli(
      ['replay', WORD_COUNT, '--from', from, '--to', to, ...common(), '--application-id', replayApp],
      { ...fixtureEnv, CLI_FIXTURE_UPPER: replayUpper, CLI_FIXTURE_COUNTS: replayCounts },
      90_000,
    );
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, new RegExp(`replayed ${PER_PHASE} records`));
    const original = byTimestamp(await readTopicToEnd(env.kafka, upper), T0 + PHASE_MS, T0 + 2 * PHASE_MS);
    const replayed = await readTopicToEnd(env.kafka, replayUpper);
    assert.equal(original.length, PER_PHASE);
    // every output of the range, same partition, key, value and timestamp (the bound stops the replay; nothing before it is processed)
    assert.deepEqual(byTimestamp(replayed, T0 + PHASE_MS, T0 + 2 * PHASE_MS), original);
    assert.equal(replayed.filter((r) => r.timestamp < T0 + PHASE_MS).length, 0, 'nothing before --from');
    // the replay's own state counted exactly the range (it started from empty stores)
    const rangeCounts = new Map<string, number>();
    for (const r of await readTopicToEnd(env.kafka, input))
      if (r.timestamp >= T0 + PHASE_MS && r.timestamp < T0 + 2 * PHASE_MS)
        rangeCounts.set(r.key!.toString(), (rangeCounts.get(r.key!.toString()) ?? 0) + 1);
    const scan = await runCli(
      ['store', 'scan', 'word-counts', '-t', WORD_COUNT, ...common(), '--application-id', replayApp],
      fixtureEnv,
    );
    assert.equal(scan.code, 0, scan.stderr);
    const replayState = new Map(
      scan.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { key: string; value: number })
        .map((e) => [e.key, e.value]),
    );
    assert.deepEqual(replayState, rangeCounts);
  });

  it('reset --dry-run changes nothing; reset deletes the internal topics and the local state and rewinds the inputs', async () => {
    const changelog = `${appId}-word-counts-changelog`;
    const topicsNow = await withAdmin(env.kafka, (a) => a.listTopics());
    assert.ok(topicsNow.includes(changelog), 'the run created its changelog');
    assert.ok(existsSync(join(stateDir, appId)), 'the run left local state');

    const dry = await runCli(
      ['reset', appId, '--topology', WORD_COUNT, ...common(), '--dry-run'],
      fixtureEnv,
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would delete internal topic ${changelog}`));
    assert.match(dry.stdout, /dry run: nothing changed/);
    assert.ok((await withAdmin(env.kafka, (a) => a.listTopics())).includes(changelog));
    assert.ok(existsSync(join(stateDir, appId)));

    const reset = await runCli(['reset', appId, '--topology', WORD_COUNT, ...common()], fixtureEnv);
    assert.equal(reset.code, 0, reset.stderr);
    const after = await withAdmin(env.kafka, (a) => a.listTopics());
    assert.deepEqual(
      after.filter((t) => t.startsWith(`${appId}-`)),
      [],
      'no internal topics left',
    );
    assert.equal(existsSync(join(stateDir, appId)), false, 'no local state left');
    const offsets = await withAdmin(env.kafka, (a) => a.groupOffsets(appId, [input]));
    assert.deepEqual(
      offsets.map((o) => o.offset),
      Array.from({ length: PARTITIONS }, () => '0'),
      'inputs rewound to the earliest offsets',
    );
  });
});
