import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// initBackend keeps one backend per thread, so each case runs in its own process
function backendChosen(env: Record<string, string>, call: string): string {
  const code = `import { initBackend } from './src/ml/backend.ts'; console.log(await ${call});`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { ...process.env, ...env, CTR_LOG_LEVEL: 'silent' },
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

describe('initBackend', () => {
  it('honours CTR_ML_BACKEND when auto is passed explicitly, as worker pools do', () => {
    assert.equal(backendChosen({ CTR_ML_BACKEND: 'cpu' }, "initBackend('auto')"), 'cpu');
  });
  it('lets an explicit backend name win over CTR_ML_BACKEND', () => {
    assert.equal(backendChosen({ CTR_ML_BACKEND: 'cpu' }, "initBackend('wasm')"), 'wasm');
  });
});
