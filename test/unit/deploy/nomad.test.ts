import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { loadDeployedConfig } from './deploy-config.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const dir = join(root, 'deploy', 'nomad');

/** hcl2json turns every block into an array of bodies; this takes the single one. */
function only<T = any>(blocks: T[] | undefined, what: string): T {
  assert.ok(blocks && blocks.length === 1, `exactly one ${what}`);
  return blocks[0]!;
}

/** HCL strings keep `${...}` as written; resolve the job's own variables the way Nomad will. */
function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\{var\.(\w+)\}/g, (_, name: string) => {
    assert.ok(name in variables, `unknown variable ${name}`);
    return variables[name]!;
  });
}

describe('deploy/nomad', () => {
  let spec: any;
  let volumeSpec: any;
  let job: any;
  let group: any;
  let task: any;
  let variables: Record<string, string>;

  before(async () => {
    const file = 'ctr-streams.nomad.hcl';
    spec = await parse(file, readFileSync(join(dir, file), 'utf8'));
    volumeSpec = await parse('ctr-state.volume.hcl', readFileSync(join(dir, 'ctr-state.volume.hcl'), 'utf8'));
    const jobs = Object.entries(spec.job as Record<string, any[]>);
    assert.equal(jobs.length, 1);
    job = only(jobs[0]![1], 'job body');
    const groups = Object.values(job.group as Record<string, any[]>);
    group = only(groups[0], 'group');
    task = only(Object.values(group.task as Record<string, any[]>)[0], 'task');
    variables = Object.fromEntries(
      Object.entries(spec.variable as Record<string, any[]>).map(([name, [body]]) => [
        name,
        String(body.default),
      ]),
    );
  });

  it('parses as HCL2 (HashiCorp parser) and rejects a broken file', async () => {
    assert.ok(job);
    await assert.rejects(parse('broken.hcl', 'job "x" {\n  group "g" {\n'), /Unclosed|parse/i);
  });

  it('is a service job with a documented default for every variable', () => {
    assert.equal(job.type, 'service');
    for (const [name, [body]] of Object.entries(spec.variable as Record<string, any[]>)) {
      assert.ok(body.description, `${name}: description`);
      assert.notEqual(body.default, undefined, `${name}: default`);
    }
    assert.equal(group.count, '${var.instances}');
  });

  it('rolls one allocation at a time, gated on health checks, with auto-revert', () => {
    const update = only(job.update, 'update');
    assert.equal(update.max_parallel, 1);
    assert.equal(update.health_check, 'checks');
    assert.equal(update.auto_revert, true);
    const seconds = (d: string) =>
      Number(/^(\d+)m$/.exec(d)?.[1] ?? NaN) * 60 || Number(/^(\d+)s$/.exec(d)?.[1]);
    assert.ok(seconds(update.healthy_deadline) >= 600, 'room for a restore');
    assert.ok(seconds(update.progress_deadline) > seconds(update.healthy_deadline));
  });

  it('gives each allocation its own persistent state volume mounted at state.dir', () => {
    const volumes = group.volume as Record<string, any[]>;
    const state = only(volumes.state, 'state volume');
    assert.equal(state.type, 'csi');
    assert.equal(state.per_alloc, true);
    assert.equal(state.access_mode, 'single-node-writer');
    const mount = only(task.volume_mount, 'volume_mount');
    assert.equal(mount.volume, 'state');
    const env = only(task.env, 'env');
    assert.equal(mount.destination, env.CTR_STATE_DIR);
    // the volume spec creates what the job asks for: <source>[<index>]
    assert.match(volumeSpec.id, new RegExp(`^${state.source}\\[\\d+\\]$`));
    const capability = only(volumeSpec.capability, 'capability');
    assert.equal(capability.access_mode, state.access_mode);
    assert.equal(capability.attachment_mode, state.attachment_mode);
  });

  it('checks /health/ready and /health on the metrics port, restarting only on liveness', () => {
    const service = only(group.service, 'service');
    const network = only(group.network, 'network');
    const port = only(network.port.metrics, 'metrics port');
    const env = only(task.env, 'env');
    assert.equal(String(port.to), env.CTR_TELEMETRY_PORT);
    assert.equal(service.port, 'metrics');
    const checks = service.check as any[];
    const ready = checks.find((c) => c.name === 'ready');
    const live = checks.find((c) => c.name === 'live');
    assert.equal(ready.path, '/health/ready');
    assert.equal(ready.check_restart, undefined, 'a restore must not restart the task');
    assert.equal(live.path, '/health');
    assert.ok(only(live.check_restart, 'check_restart').limit >= 3);
    const config = only(task.config, 'docker config');
    assert.deepEqual(config.ports, ['metrics']);
  });

  it('stops cleanly: SIGTERM with a kill timeout longer than shutdown.timeout.ms', () => {
    assert.equal(task.kill_signal, 'SIGTERM');
    const killSeconds = Number(/^(\d+)s$/.exec(task.kill_timeout)![1]);
    const template = only(task.template, 'template');
    const env = only(task.env, 'env');
    const config = loadDeployedConfig(interpolate(template.data, variables), {
      ...env,
      CTR_CLIENT_ID: env.CTR_CLIENT_ID.replace('${NOMAD_ALLOC_INDEX}', '0'),
    });
    assert.ok(killSeconds * 1000 > config['shutdown.timeout.ms']);
  });

  it('renders a config file the engine loads without error, at the path the command reads', () => {
    const template = only(task.template, 'template');
    const config = only(task.config, 'docker config');
    const args = config.args as string[];
    const path = args[args.indexOf('--config') + 1]!;
    // Nomad's local/ dir is /local inside a docker task
    assert.equal(path, `/${template.destination}`);
    const env = only(task.env, 'env');
    const loaded = loadDeployedConfig(interpolate(template.data, variables), {
      ...env,
      CTR_CLIENT_ID: env.CTR_CLIENT_ID.replace('${NOMAD_ALLOC_INDEX}', '0'),
    });
    assert.equal(loaded['application.id'], env.OTEL_SERVICE_NAME);
    assert.deepEqual(loaded['bootstrap.servers'], variables.bootstrap_servers!.split(','));
    assert.equal(loaded['state.dir'], env.CTR_STATE_DIR);
    assert.equal(config.image, '${var.image}');
  });

  it('does not cap CPU hard and lets memory burst', () => {
    const resources = only(task.resources, 'resources');
    assert.ok(resources.cpu > 0);
    assert.equal(resources.cores, undefined);
    assert.ok(resources.memory_max > resources.memory);
    const env = only(task.env, 'env');
    const heap = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS)![1]);
    assert.ok(heap < resources.memory_max);
  });
});
