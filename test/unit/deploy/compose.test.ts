import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadDeployedConfig } from './deploy-config.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const deployDir = join(root, 'deploy');
const composePath = join(deployDir, 'docker-compose.yml');

type Env = Record<string, string>;
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Env;
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
}
interface Compose {
  name: string;
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

// merge: the file shares settings through YAML anchors and `<<` merge keys, as compose does
const compose = parse(readFileSync(composePath, 'utf8'), { merge: true }) as Compose;
const services = compose.services;
const apps = Object.entries(services).filter(([, s]) => s.environment?.CTR_APPLICATION_ID !== undefined);

function dependsOn(service: Service): Record<string, string> {
  if (!service.depends_on) return {};
  if (Array.isArray(service.depends_on))
    return Object.fromEntries(service.depends_on.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(service.depends_on).map(([k, v]) => [k, v.condition]));
}

/** `source:target[:mode]` -> parts. */
function mount(spec: string) {
  const [source, target, mode] = spec.split(':');
  return { source: source!, target: target!, mode, bind: source!.startsWith('.') || source!.startsWith('/') };
}

function listeners(value: string): Map<string, { host: string; port: number }> {
  const out = new Map<string, { host: string; port: number }>();
  for (const l of value.split(',')) {
    const m = /^(\w+):\/\/([^:]*):(\d+)$/.exec(l.trim());
    assert.ok(m, `listener ${l}`);
    out.set(m[1]!, { host: m[2]!, port: Number(m[3]) });
  }
  return out;
}

describe('deploy/docker-compose.yml', () => {
  it('has Kafka, a topic initialiser, the three applications and Prometheus', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'embeddings',
      'engagement',
      'kafka',
      'kafka-init',
      'prometheus',
      'recommendations',
    ]);
    for (const [name, s] of Object.entries(services))
      assert.ok(s.image ?? s.build, `${name}: image or build`);
  });

  it('runs Apache Kafka 4.x from the official image in KRaft combined mode', () => {
    const kafka = services.kafka!;
    assert.match(kafka.image!, /apache\/kafka:4\.\d+\.\d+\}?$/);
    const env = kafka.environment!;
    assert.equal(env.KAFKA_PROCESS_ROLES, 'broker,controller');
    assert.equal(env.KAFKA_ZOOKEEPER_CONNECT, undefined);
    assert.match(env.CLUSTER_ID!, /^[A-Za-z0-9_-]{22}$/, 'a 22-character base64url cluster id');
    const declared = listeners(env.KAFKA_LISTENERS!);
    const advertised = listeners(env.KAFKA_ADVERTISED_LISTENERS!);
    const protocols = new Map(
      env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP!.split(',').map((p) => p.split(':') as [string, string]),
    );
    for (const name of declared.keys()) assert.ok(protocols.has(name), `${name} has a security protocol`);
    for (const [name, l] of advertised)
      assert.equal(declared.get(name)?.port, l.port, `${name} advertised on its port`);
    const controller = env.KAFKA_CONTROLLER_LISTENER_NAMES!;
    assert.ok(
      declared.has(controller) && !advertised.has(controller),
      'controller listener is not advertised',
    );
    const [voterId, voterAddress] = env.KAFKA_CONTROLLER_QUORUM_VOTERS!.split('@');
    assert.equal(voterId, env.KAFKA_NODE_ID);
    assert.equal(voterAddress, `kafka:${declared.get(controller)!.port}`);
    const internal = advertised.get(env.KAFKA_INTER_BROKER_LISTENER_NAME!)!;
    assert.equal(internal.host, 'kafka', 'containers reach the broker by its service name');
    // every host-published port of the broker is an advertised listener on localhost
    for (const p of kafka.ports ?? []) {
      const [host, container] = p.split(':').map(Number);
      const l = [...advertised.values()].find((a) => a.port === container);
      assert.ok(
        l && l.host === 'localhost' && host === container,
        `published ${p} is advertised as localhost`,
      );
    }
    for (const key of Object.keys(env).filter((k) => /REPLICATION_FACTOR|MIN_ISR/.test(k)))
      assert.equal(env[key], '1', key);
    assert.ok(kafka.healthcheck, 'health-checked, so others can wait for it');
  });

  it('points every application at the broker inside the network', () => {
    const env = services.kafka!.environment!;
    const internal = listeners(env.KAFKA_ADVERTISED_LISTENERS!).get(env.KAFKA_INTER_BROKER_LISTENER_NAME!)!;
    assert.equal(apps.length, 3);
    for (const [name, s] of apps) {
      assert.equal(s.environment!.CTR_BOOTSTRAP_SERVERS, `${internal.host}:${internal.port}`, name);
    }
    const initCommand = services['kafka-init']!.command!.join('\n');
    assert.match(initCommand, new RegExp(`--bootstrap-server ${internal.host}:${internal.port}`));
  });

  it('gives each application its own application.id, state volume at state.dir, and command', () => {
    const ids = new Set<string>();
    const stateVolumes = new Set<string>();
    for (const [name, s] of apps) {
      const env = s.environment!;
      assert.ok(!ids.has(env.CTR_APPLICATION_ID!), `${name}: unique application.id`);
      ids.add(env.CTR_APPLICATION_ID!);
      assert.equal(
        env.OTEL_SERVICE_NAME,
        env.CTR_APPLICATION_ID,
        `${name}: metrics carry the application id`,
      );
      const state = (s.volumes ?? []).map(mount).find((m) => m.target === env.CTR_STATE_DIR);
      assert.ok(state, `${name}: a volume at CTR_STATE_DIR ${env.CTR_STATE_DIR}`);
      assert.ok(!state.bind, `${name}: state on a named volume`);
      assert.ok(!stateVolumes.has(state.source), `${name}: state volume ${state.source} not shared`);
      stateVolumes.add(state.source);
      assert.deepEqual(s.command, ['run', name]);
      assert.equal(s.build?.dockerfile, 'deploy/docker/Dockerfile');
    }
  });

  it('sets only settings the engine knows, with values it accepts', () => {
    for (const [name, s] of apps) {
      const config = loadDeployedConfig('', s.environment!);
      assert.equal(config['application.id'], s.environment!.CTR_APPLICATION_ID, name);
      assert.deepEqual(config['bootstrap.servers'], [s.environment!.CTR_BOOTSTRAP_SERVERS]);
    }
    assert.throws(
      () => loadDeployedConfig('', { ...apps[0]![1].environment!, CTR_COMIT_INTERVAL_MS: '5' }),
      /CTR_COMIT_INTERVAL_MS/,
    );
  });

  it('builds from the repository root with the Dockerfile that exists there', () => {
    for (const [name, s] of Object.entries(services)) {
      if (!s.build) continue;
      const context = resolve(deployDir, s.build.context);
      assert.equal(context, resolve(root), `${name}: context is the repository root`);
      assert.ok(existsSync(join(context, s.build.dockerfile)), `${name}: ${s.build.dockerfile}`);
    }
  });

  it('declares every named volume it uses and uses every one it declares; bind sources exist', () => {
    const used = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const m of (s.volumes ?? []).map(mount)) {
        if (m.bind) assert.ok(existsSync(resolve(deployDir, m.source)), `${name}: bind source ${m.source}`);
        else {
          assert.ok(m.source in compose.volumes, `${name}: volume ${m.source} declared`);
          used.add(m.source);
        }
        assert.ok(m.target.startsWith('/'), `${name}: absolute target ${m.target}`);
      }
    }
    assert.deepEqual([...used].sort(), Object.keys(compose.volumes).sort());
  });

  it('waits only on services that exist, with conditions they can meet', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(s))) {
        assert.ok(dep in services, `${name} depends on unknown ${dep}`);
        assert.ok(
          ['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition),
        );
        if (condition === 'service_healthy')
          assert.ok(services[dep]!.healthcheck, `${dep} has a healthcheck`);
        if (condition === 'service_completed_successfully') {
          assert.ok(services[dep]!.entrypoint ?? services[dep]!.command, `${dep} is a one-shot command`);
        }
      }
    }
    // no cycles: a topological order exists
    const order: string[] = [];
    const visit = (n: string, path: string[]) => {
      assert.ok(!path.includes(n), `cycle ${[...path, n].join(' -> ')}`);
      if (order.includes(n)) return;
      for (const d of Object.keys(dependsOn(services[n]!))) visit(d, [...path, n]);
      order.push(n);
    };
    for (const n of Object.keys(services)) visit(n, []);
  });

  it('publishes distinct host ports', () => {
    const hostPorts = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[0]));
    assert.equal(new Set(hostPorts).size, hostPorts.length, hostPorts.join(', '));
  });

  it('creates the source topics, with the embeddings topic compacted', () => {
    const script = services['kafka-init']!.command!.join('\n');
    const created = [...script.matchAll(/^\s*create ([\w-]+) (\d+)(?: (\S+))?$/gm)].map((m) => ({
      topic: m[1]!,
      partitions: Number(m[2]),
      config: m[3],
    }));
    assert.deepEqual(created.map((c) => c.topic).sort(), [
      'clicks',
      'embedding-requests',
      'impressions',
      'item-embeddings',
      'items',
      'recommendations',
      'training-examples',
    ]);
    assert.equal(created.find((c) => c.topic === 'item-embeddings')?.config, 'cleanup.policy=compact');
    assert.ok(created.every((c) => c.partitions >= 1));
    // `$$` is compose's escape for a literal `$` (otherwise compose would interpolate it)
    assert.doesNotMatch(script.replace(/\$\$/g, ''), /\$/, 'every shell $ is escaped for compose');
  });

  it('has Prometheus scrape every application on its telemetry port', () => {
    const prometheus = services.prometheus!;
    const config = (prometheus.volumes ?? [])
      .map(mount)
      .find((m) => m.target === '/etc/prometheus/prometheus.yml');
    assert.ok(config && config.bind && config.mode === 'ro');
    const prom = parse(readFileSync(resolve(deployDir, config.source), 'utf8')) as {
      scrape_configs: Array<{
        job_name: string;
        metrics_path?: string;
        dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
      }>;
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'ctr-streams');
    assert.ok(job);
    assert.equal(job.metrics_path, '/metrics');
    const sd = job.dns_sd_configs![0]!;
    assert.deepEqual([...sd.names].sort(), apps.map(([n]) => n).sort());
    for (const [name, s] of apps) {
      assert.equal(
        String(sd.port),
        s.environment!.CTR_TELEMETRY_PORT,
        `${name}: scraped on CTR_TELEMETRY_PORT`,
      );
      assert.ok((s.expose ?? []).includes(String(sd.port)), `${name}: exposes ${sd.port}`);
    }
    assert.ok(dirname(config.source).endsWith('prometheus'));
  });
});
