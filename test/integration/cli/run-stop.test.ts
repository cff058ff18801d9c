/**
 * `ctr-streams run` and a stop that arrives while it is still starting (the
 * model pool loading, global tables restoring): it must close what started
 * and exit 0, as Kubernetes expects of a pod stopped early, not die mid-way.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CtrModel, DEFAULT_MODEL_CONFIG, ModelRegistry } from '../../../src/ml/index.ts';
import {
  deleteTopicsStartingWith,
  eventually,
  testKafka,
  uniqueName,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { startCli } from './fixtures/cli-process.ts';

describe('ctr-streams run stopped while starting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctr-cli-run-stop-'));
  const prefix = uniqueName('runstop');
  const appId = uniqueName('runstop-app');
  const registryDir = join(dir, 'models');
  let env: TestKafka;

  before(async () => {
    env = await testKafka();
    await new ModelRegistry(registryDir).publish(CtrModel.create(DEFAULT_MODEL_CONFIG, 1));
  });

  after(async () => {
    await deleteTopicsStartingWith(env.kafka, [prefix, appId]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes what started and exits 0 on a SIGTERM before RUNNING; a second signal exits at once', async () => {
    const args = [
      'run',
      'recommendations',
      '--bootstrap',
      env.bootstrap,
      '--state-dir',
      join(dir, 'state'),
      '--application-id',
      appId,
      '--topic-prefix',
      prefix,
      '--registry',
      registryDir,
      '--workers',
      '2',
      '--backend',
      'wasm',
    ];
    // the first log line after the signal handler is installed: telemetry is up, the apps are not
    const started = (p: ReturnType<typeof startCli>): Promise<void> =>
      eventually('telemetry started', async () => /"msg":"telemetry started"/.test(p.stderr()), 30_000, 20);

    const run = startCli(args, { CTR_LOG_LEVEL: 'info' });
    await started(run);
    assert.doesNotMatch(run.stderr(), /running as/, 'the signal must arrive while starting');
    run.child.kill('SIGTERM');
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.match(r.stderr, /stop requested while starting: closing/);
    assert.doesNotMatch(r.stderr, /running as/);
    assert.match(r.stderr, /ctr-streams run: stopped cleanly/);

    const impatient = startCli(args, { CTR_LOG_LEVEL: 'info' });
    await started(impatient);
    impatient.child.kill('SIGINT');
    // apart: two signals sent at once reach the process as one
    await new Promise((r) => setTimeout(r, 150));
    impatient.child.kill('SIGINT');
    const i = await impatient.exited;
    assert.equal(i.code, 130, i.stderr.slice(-2000));
    assert.match(i.stderr, /second SIGINT: exiting without a clean close/);
  });
});
