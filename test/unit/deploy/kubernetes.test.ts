import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { STREAMS_CONFIG_TABLE } from '../../../src/streams/config.ts';
import { loadDeployedConfig } from './deploy-config.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const dir = join(root, 'deploy', 'kubernetes');

// The Kubernetes OpenAPI schemas, compiled into validators by kubernetes-models (offline).
const MODELS: Record<string, { new (data: any): { validate(): void } }> = {
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: any;
}

const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
  resources: string[];
  images: Array<{ name: string; newTag: string }>;
};
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const objects: Array<K8sObject & { file: string }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
    assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
    return { ...(doc.toJS() as K8sObject), file };
  }),
);

function one(kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0]!;
}

const sts = one('StatefulSet');
const pod = sts.spec.template;
const container = pod.spec.containers[0];
const env = Object.fromEntries(
  (container.env as Array<{ name: string; value?: string }>)
    .filter((e) => e.value !== undefined)
    .map((e) => [e.name, e.value!]),
);

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe('deploy/kubernetes', () => {
  it('lists every manifest in the kustomization, and only existing ones', () => {
    assert.deepEqual([...kustomization.resources].sort(), [...files].sort());
    assert.ok(kustomization.images.some((i) => i.name === container.image));
  });

  it('validates every object against the Kubernetes OpenAPI schema', () => {
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `${o.file}: no schema for ${o.apiVersion} ${o.kind}`);
      assert.doesNotThrow(() => new Model(o).validate(), `${o.file}: ${o.kind} ${o.metadata.name}`);
      assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('rejects a broken object (the validation is real)', () => {
    const broken = structuredClone(sts);
    broken.spec.replicas = 'three';
    delete broken.spec.template.spec.containers[0].name;
    assert.throws(
      () => new StatefulSet(broken).validate(),
      /replicas must be integer[\s\S]*required property name/,
    );
  });

  it('is a StatefulSet with a PVC per pod mounted at state.dir', () => {
    const claim = (sts.spec.volumeClaimTemplates as any[]).find((c) => c.metadata.name === 'state');
    assert.ok(claim);
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);
    assert.match(claim.spec.resources.requests.storage, /^\d+Gi$/);
    const mount = (container.volumeMounts as any[]).find((m) => m.name === 'state');
    assert.equal(mount.mountPath, env.CTR_STATE_DIR);
    assert.equal(sts.spec.persistentVolumeClaimRetentionPolicy.whenScaled, 'Retain');
  });

  it('chooses pod management and updates for stateful rebalancing', () => {
    assert.equal(sts.spec.podManagementPolicy, 'Parallel');
    assert.equal(sts.spec.updateStrategy.type, 'RollingUpdate');
    assert.ok(
      sts.spec.updateStrategy.rollingUpdate?.maxUnavailable === undefined ||
        sts.spec.updateStrategy.rollingUpdate.maxUnavailable === 1,
    );
    assert.ok(sts.spec.minReadySeconds > 0, 'a pause between pods after each is ready');
  });

  it('has a headless Service that is the StatefulSet serviceName and selects its pods', () => {
    const svc = one('Service');
    assert.equal(svc.spec.clusterIP, 'None');
    assert.equal(sts.spec.serviceName, svc.metadata.name);
    assert.ok(matches(svc.spec.selector, pod.metadata.labels));
    const portNames = (container.ports as any[]).map((p) => p.name);
    for (const p of svc.spec.ports) assert.ok(portNames.includes(p.targetPort), `targetPort ${p.targetPort}`);
    assert.ok(
      matches(sts.spec.selector.matchLabels, pod.metadata.labels),
      'StatefulSet selector matches its pods',
    );
  });

  it('has a PodDisruptionBudget of one over the same pods', () => {
    const pdb = one('PodDisruptionBudget');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.ok(matches(pdb.spec.selector.matchLabels, pod.metadata.labels));
    assert.ok(sts.spec.replicas > pdb.spec.maxUnavailable);
  });

  it('probes /health for liveness and /health/ready for readiness on the metrics port', () => {
    const port = (container.ports as any[]).find((p) => p.name === 'metrics');
    assert.equal(String(port.containerPort), env.CTR_TELEMETRY_PORT);
    assert.equal(container.livenessProbe.httpGet.path, '/health');
    assert.equal(container.readinessProbe.httpGet.path, '/health/ready');
    assert.equal(container.startupProbe.httpGet.path, '/health');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      assert.equal(probe.httpGet.port, 'metrics');
    }
    // liveness must tolerate a minute of trouble; it never waits on a restore
    assert.ok(container.livenessProbe.periodSeconds * container.livenessProbe.failureThreshold >= 60);
    assert.equal(pod.metadata.annotations['prometheus.io/port'], String(port.containerPort));
  });

  it('requests resources and sets no CPU limit (throttling starves heartbeats)', () => {
    const { requests, limits } = container.resources;
    assert.ok(requests.cpu && requests.memory);
    assert.equal(limits.cpu, undefined);
    const mib = (q: string) => {
      const m = /^(\d+)(Mi|Gi)$/.exec(q);
      assert.ok(m, `memory quantity ${q}`);
      return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
    };
    assert.ok(mib(limits.memory) >= mib(requests.memory));
    const heap = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS!)![1]);
    assert.ok(heap < mib(limits.memory), 'V8 heap (MiB) below the memory limit');
  });

  it('runs as the image user, non-root, with a read-only root filesystem', () => {
    const dockerfile = readFileSync(join(root, 'deploy', 'docker', 'Dockerfile'), 'utf8');
    const uid = /^ARG APP_UID=(\d+)$/m.exec(dockerfile)![1];
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(String(pod.spec.securityContext.runAsUser), uid);
    assert.equal(String(pod.spec.securityContext.fsGroup), /^ARG APP_GID=(\d+)$/m.exec(dockerfile)![1]);
    assert.equal(pod.spec.securityContext.fsGroupChangePolicy, 'OnRootMismatch');
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.ok(
      (container.volumeMounts as any[]).some((m) => m.mountPath === '/tmp'),
      'a writable /tmp',
    );
  });

  it('references only volumes, ConfigMaps, claims and service accounts that exist', () => {
    const volumes = new Map((pod.spec.volumes as any[]).map((v) => [v.name, v]));
    const claims = new Set((sts.spec.volumeClaimTemplates as any[]).map((c) => c.metadata.name));
    for (const m of container.volumeMounts as any[])
      assert.ok(volumes.has(m.name) || claims.has(m.name), `mount ${m.name}`);
    for (const v of volumes.values()) {
      if (v.configMap)
        assert.ok(objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === v.configMap.name));
      if (v.persistentVolumeClaim) {
        assert.ok(
          objects.some(
            (o) =>
              o.kind === 'PersistentVolumeClaim' && o.metadata.name === v.persistentVolumeClaim.claimName,
          ),
        );
      }
    }
    assert.ok(
      objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === pod.spec.serviceAccountName),
    );
  });

  it('gives the app a config file the engine loads without error, consistent with the pod', () => {
    const cm = one('ConfigMap');
    const args = container.args as string[];
    const configPath = args[args.indexOf('--config') + 1]!;
    const mount = (container.volumeMounts as any[]).find((m) => m.name === 'config');
    assert.ok(configPath.startsWith(`${mount.mountPath}/`));
    const fileName = configPath.slice(mount.mountPath.length + 1);
    const properties = cm.data[fileName] as string;
    assert.ok(properties, `ConfigMap has ${fileName}`);
    // Kubernetes expands $(POD_NAME) from the env var declared before it
    const podEnv = {
      ...env,
      CTR_CLIENT_ID: env.CTR_CLIENT_ID!.replace('$(POD_NAME)', `${sts.metadata.name}-0`),
    };
    const config = loadDeployedConfig(properties, podEnv);
    assert.equal(config['application.id'], env.OTEL_SERVICE_NAME);
    assert.equal(config['state.dir'], env.CTR_STATE_DIR);
    assert.equal(config['client.id'], `${sts.metadata.name}-0`);
    assert.ok(config['replication.factor'] >= 3, 'changelogs survive a broker loss');
    const shutdownMs =
      config['shutdown.timeout.ms'] ??
      STREAMS_CONFIG_TABLE.find((d) => d.name === 'shutdown.timeout.ms')!.default;
    assert.ok(
      pod.spec.terminationGracePeriodSeconds * 1000 > Number(shutdownMs),
      'grace period outlasts a clean shutdown',
    );
  });
});
