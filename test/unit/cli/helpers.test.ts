import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { internalTopicsOf } from '../../../src/cli/application-reset.ts';
import { commandConfig } from '../../../src/cli/cli-config.ts';
import { oneLine } from '../../../src/cli/command-action.ts';
import { CliError, exitCodeOf } from '../../../src/cli/errors.ts';
import { parseTime } from '../../../src/cli/time-spec.ts';
import { diffSnapshots, type TopologySnapshot } from '../../../src/cli/topology-graph.ts';
import { inputTopicsOf, intermediateTopicsOf } from '../../../src/cli/topology-topics.ts';
import { resolveTopology } from '../../../src/cli/topology-catalog.ts';
import { ConfigError } from '../../../src/streams/config.ts';
import { Consumed, Grouped, Materialized, StreamsBuilder } from '../../../src/streams/topology/index.ts';
import { stringSerde } from '../../../src/streams/serde/index.ts';

describe('cli time specs', () => {
  const now = Date.UTC(2026, 10, 23, 12, 0, 0);
  it('reads ISO times (UTC when no zone is given), epoch ms and durations ago', () => {
    assert.equal(parseTime('--from', '2026-11-23T10:00:00Z', now), Date.UTC(2026, 10, 23, 10));
    assert.equal(parseTime('--from', '2026-11-23T10:00:00', now), Date.UTC(2026, 10, 23, 10));
    assert.equal(parseTime('--from', '2026-11-23T11:00:00+01:00', now), Date.UTC(2026, 10, 23, 10));
    assert.equal(parseTime('--from', '1700000000000', now), 1_700_000_000_000);
    assert.equal(parseTime('--from', '-15m', now), now - 15 * 60_000);
    assert.equal(parseTime('--from', '-2h', now), now - 2 * 3_600_000);
  });
  it('names the option in a usage error', () => {
    assert.throws(
      () => parseTime('--to', 'yesterday'),
      (e: CliError) => e.code === 'CTR_CLI_USAGE' && /--to expects .* got "yesterday"/.test(e.message),
    );
  });
});

describe('cli errors', () => {
  it('maps errors to exit codes: refused 3, usage and bad settings 2, anything else 1', () => {
    assert.equal(exitCodeOf(new CliError('CTR_CLI_GROUP_ACTIVE', 'x')), 3);
    assert.equal(exitCodeOf(new CliError('CTR_CLI_USAGE', 'x')), 2);
    assert.equal(exitCodeOf(new ConfigError([{ name: 'a', message: 'b' }])), 2);
    assert.equal(exitCodeOf(new Error('boom')), 1);
  });
  it('prints a ConfigError with every problem on one line', () => {
    const line = oneLine(
      new ConfigError([
        { name: 'commit.interval.ms', message: 'expected integer ≥ 0, got "5s"', source: 'app.properties' },
        { name: 'x', message: 'unknown setting' },
      ]),
    );
    assert.equal(
      line,
      'invalid configuration: commit.interval.ms: expected integer ≥ 0, got "5s" (from app.properties); x: unknown setting [CTR_CONFIG]',
    );
  });
});

describe('cli settings', () => {
  it("takes defaults < file < env < flags, and the topology's application id only when nothing names one", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctr-cli-config-'));
    const saved = { ...process.env };
    try {
      const file = join(dir, 'a.properties');
      writeFileSync(file, 'bootstrap.servers=file:9092\ncommit.interval.ms=100\n');
      delete process.env.CTR_APPLICATION_ID;
      delete process.env.CTR_BOOTSTRAP_SERVERS;
      process.env.CTR_COMMIT_INTERVAL_MS = '200';
      let c = commandConfig({ config: file }, { applicationId: 'fallback' });
      assert.equal(c['application.id'], 'fallback');
      assert.deepEqual(c['bootstrap.servers'], ['file:9092']);
      assert.equal(c['commit.interval.ms'], 200, 'env over file');
      c = commandConfig(
        { config: file, set: ['commit.interval.ms=300'], applicationId: 'flag' },
        { applicationId: 'fallback' },
      );
      assert.equal(c['commit.interval.ms'], 300, 'flags over env');
      assert.equal(c['application.id'], 'flag');
      process.env.CTR_APPLICATION_ID = 'from-env';
      assert.equal(commandConfig({}, { applicationId: 'fallback' })['application.id'], 'from-env');
      assert.throws(
        () => commandConfig({ set: ['nonsense'] }, { applicationId: 'a' }),
        /--set expects key=value/,
      );
    } finally {
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reset and replay planning', () => {
  it('treats only <app>-*-changelog / -repartition (and the DLQ when asked) as internal topics', () => {
    const topics = [
      'app-counts-changelog',
      'app-by-key-repartition',
      'app-dlq',
      'app2-counts-changelog',
      'words',
      'app-changelog',
    ];
    assert.deepEqual(internalTopicsOf('app', topics), ['app-by-key-repartition', 'app-counts-changelog']);
    assert.deepEqual(internalTopicsOf('app', topics, true), [
      'app-by-key-repartition',
      'app-counts-changelog',
      'app-dlq',
    ]);
  });
  it("tells the pipeline engagement topology's inputs from its intermediate topics (written and read by it)", async () => {
    const { topology } = await resolveTopology('engagement', 'p');
    assert.deepEqual(intermediateTopicsOf(topology), ['p-context-activity', 'p-item-activity']);
    assert.deepEqual(inputTopicsOf(topology, 'ctr-engagement'), ['p-clicks', 'p-impressions']);
  });
  it('replays the user source topics, not repartition topics', () => {
    const b = new StreamsBuilder();
    b.stream('words', Consumed.with(stringSerde, stringSerde))
      .selectKey((_k, v) => v)
      .groupByKey(Grouped.with(stringSerde, stringSerde))
      .count(Materialized.as('by-word'));
    assert.deepEqual(inputTopicsOf(b.build(), 'app'), ['words']);
  });
});

describe('describe --diff', () => {
  /** source "src" in sub-topology 0; processor "agg" with store "totals" in sub-topology `sub`. */
  const snapshot = (sub: number): TopologySnapshot => {
    const agg = {
      type: 'processor' as const,
      name: 'agg',
      stores: ['totals'],
      predecessors: sub === 0 ? ['src'] : [],
      successors: [],
    };
    const src = {
      type: 'source' as const,
      name: 'src',
      topics: ['in'],
      predecessors: [],
      successors: sub === 0 ? ['agg'] : [],
    };
    return {
      format: 1,
      subtopologies:
        sub === 0
          ? [{ id: 0, global: false, nodes: [src, agg] }]
          : [
              { id: 0, global: false, nodes: [src] },
              { id: 1, global: false, nodes: [agg] },
            ],
      internalTopics: [
        { name: '{application.id}-totals-changelog', kind: 'changelog', subtopology: sub, store: 'totals' },
      ],
    };
  };
  it('flags a store that moves to another sub-topology (its task ids and directories change)', () => {
    const findings = diffSnapshots(snapshot(0), snapshot(1));
    const moved = findings.find((f) => f.kind === 'store-moved');
    assert.ok(moved?.breaking);
    assert.match(moved.message, /store "totals" moves from sub-topology 0 to 1/);
  });
  it('finds nothing between a snapshot and itself', () => {
    assert.deepEqual(diffSnapshots(snapshot(0), snapshot(0)), []);
  });
});
