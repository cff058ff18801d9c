import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  envVarName,
  loadStreamsConfig,
  parseProperties,
  renderConfigDocs,
  STREAMS_CONFIG_TABLE,
} from '../../../src/streams/config.ts';
import {
  ConfluentSchemaRegistry,
  LocalSchemaRegistry,
  schemaRegistryFromConfig,
} from '../../../src/streams/serde/index.ts';

const base = { 'application.id': 'app-1', 'bootstrap.servers': '127.0.0.1:9092' };

function problemsOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('streams config', () => {
  it('applies the table defaults when only the required settings are given', () => {
    const c = loadStreamsConfig({ overrides: base });
    assert.equal(c['commit.interval.ms'], 30_000);
    assert.equal(c['processing.guarantee'], 'at_least_once');
    assert.deepEqual(c['bootstrap.servers'], ['127.0.0.1:9092']);
    assert.equal(c['errors.dead.letter.queue.topic.name'], 'app-1-dlq');
    assert.equal(c['client.id'], `app-1-${process.pid}`);
  });

  it('lists every bad field in one error with the expected messages', () => {
    const e = problemsOf(() =>
      loadStreamsConfig({
        overrides: {
          'bootstrap.servers': 'nohost',
          'commit.interval.ms': '5s',
          'max.poll.records': 0,
          'processing.guarantee': 'maybe',
        },
      }),
    );
    const byName = new Map(e.problems.map((p) => [p.name, p.message]));
    assert.equal(byName.get('commit.interval.ms'), 'expected integer >= 0, got "5s"');
    assert.equal(byName.get('application.id'), 'required, no default');
    assert.match(byName.get('bootstrap.servers')!, /host:port/);
    assert.equal(byName.get('max.poll.records'), 'expected integer >= 1, got 0');
    assert.match(byName.get('processing.guarantee')!, /one of at_least_once, exactly_once_v2/);
    assert.equal(e.problems.length, 5);
    assert.equal(e.code, 'CTR_CONFIG');
    assert.match(e.message, /commit\.interval\.ms: expected integer >= 0, got "5s"/);
  });

  it('takes the Avro serdes schema registry settings, with the URL checked and the password never echoed', () => {
    const c = loadStreamsConfig({
      overrides: {
        ...base,
        'schema.registry.url': 'http://registry:8081/apis/ccompat/v7/',
        'basic.auth.user.info': 'svc:s3cret',
      },
    });
    assert.equal(c['schema.registry.url'], 'http://registry:8081/apis/ccompat/v7');
    const server = schemaRegistryFromConfig(c);
    assert.ok(server instanceof ConfluentSchemaRegistry);
    assert.equal(server.name, 'confluent(http://registry:8081/apis/ccompat/v7)');
    const none = loadStreamsConfig({ overrides: base, env: {} });
    assert.equal(none['schema.registry.url'], '');
    assert.ok(schemaRegistryFromConfig(none) instanceof LocalSchemaRegistry);
    const e = problemsOf(() =>
      loadStreamsConfig({
        overrides: { ...base, 'schema.registry.url': 'registry:8081', 'basic.auth.user.info': 's3cret' },
      }),
    );
    const byName = new Map(e.problems.map((p) => [p.name, p.message]));
    assert.equal(byName.get('schema.registry.url'), 'expected an http(s) URL, got "registry:8081"');
    assert.equal(byName.get('basic.auth.user.info'), 'expected user:password (the value is not shown)');
    assert.doesNotMatch(e.message, /s3cret/);
  });

  it('rejects unknown settings and suggests the near name', () => {
    const e = problemsOf(() => loadStreamsConfig({ overrides: { ...base, commit_interval_ms: 10 } }));
    assert.equal(e.problems.length, 1);
    assert.match(e.problems[0]!.message, /did you mean "commit.interval.ms"/);
  });

  it('says why num.stream.threads and exactly_once_v2 are not accepted', () => {
    const e = problemsOf(() =>
      loadStreamsConfig({
        overrides: { ...base, 'num.stream.threads': 4, 'processing.guarantee': 'exactly_once_v2' },
      }),
    );
    const msgs = e.problems.map((p) => `${p.name}: ${p.message}`).join('\n');
    assert.match(msgs, /num\.stream\.threads: not applicable/);
    assert.match(msgs, /processing\.guarantee: exactly_once_v2 is reserved/);
  });

  it('checks heartbeat.interval.ms against session.timeout.ms', () => {
    const e = problemsOf(() =>
      loadStreamsConfig({
        overrides: { ...base, 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 6000 },
      }),
    );
    assert.equal(e.problems[0]!.name, 'heartbeat.interval.ms');
  });

  it('takes defaults < properties file < env < overrides', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'app.properties');
    writeFileSync(
      file,
      '# comment\napplication.id=from-file\nbootstrap.servers = a:1,b:2\ncommit.interval.ms=100\nmax.poll.records=7\n',
    );
    const c = loadStreamsConfig({
      file,
      env: { CTR_COMMIT_INTERVAL_MS: '200', CTR_MAX_POLL_RECORDS: '9', CTR_LOG_LEVEL: 'debug' },
      overrides: { 'max.poll.records': 11 },
    });
    assert.equal(c['application.id'], 'from-file');
    assert.deepEqual(c['bootstrap.servers'], ['a:1', 'b:2']);
    assert.equal(c['commit.interval.ms'], 200);
    assert.equal(c['max.poll.records'], 11);
  });

  it('reads a JSON file and names the source of a bad value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'app.json');
    writeFileSync(file, JSON.stringify({ ...base, 'state.dir': '/tmp/x', 'commit.interval.ms': -1 }));
    const e = problemsOf(() => loadStreamsConfig({ file }));
    assert.equal(e.problems[0]!.source, file);
    const env = problemsOf(() =>
      loadStreamsConfig({ overrides: base, env: { CTR_SESSION_TIMEOUT_MS: 'x' } }),
    );
    assert.equal(env.problems[0]!.source, 'env CTR_SESSION_TIMEOUT_MS');
  });

  it('parses properties with colons, continuations and comments', () => {
    assert.deepEqual(parseProperties('! c\na: 1\nb=x\\\n  y\n# z\nc'), { a: '1', b: 'xy', c: '' });
  });

  it('renders a docs row per setting with its env var', () => {
    const doc = renderConfigDocs();
    for (const d of STREAMS_CONFIG_TABLE) {
      assert.ok(doc.includes(`\`${d.name}\``), d.name);
      assert.ok(doc.includes(envVarName(d.name)), d.name);
    }
    assert.equal(envVarName('application.id'), 'CTR_APPLICATION_ID');
  });
});
