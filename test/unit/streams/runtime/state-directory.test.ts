import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateDirLockedError } from '../../../../src/streams/runtime/errors.ts';
import { StateDirectory } from '../../../../src/streams/runtime/state-directory.ts';

function deadPid(): number {
  // a child that has exited: its pid is (almost certainly) not reused this instant
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('StateDirectory', () => {
  it('locks a task directory once and refuses a second lock naming the holder', () => {
    const dir = new StateDirectory(mkdtempSync(join(tmpdir(), 'sd-')), 'app');
    dir.lock('0_1');
    assert.equal(readFileSync(join(dir.appDir, '0_1', '.lock'), 'utf8'), String(process.pid));
    assert.throws(
      () => dir.lock('0_1'),
      (e: Error) =>
        e instanceof StateDirLockedError &&
        e.code === 'CTR_STATE_DIR_LOCKED' &&
        e.message.includes(`process ${process.pid}`),
    );
    dir.unlock('0_1');
    assert.equal(existsSync(join(dir.appDir, '0_1', '.lock')), false);
    dir.lock('0_1');
  });

  it('refuses a lock held by another live process', () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-'));
    const dir = new StateDirectory(root, 'app');
    mkdirSync(join(root, 'app', '0_0'), { recursive: true });
    // the parent of this test process is alive
    writeFileSync(join(root, 'app', '0_0', '.lock'), String(process.ppid));
    assert.throws(
      () => dir.lock('0_0'),
      (e: Error) => e instanceof StateDirLockedError && (e as StateDirLockedError).holderPid === process.ppid,
    );
  });

  it('takes over a stale lock left by a dead process', () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-'));
    const dir = new StateDirectory(root, 'app');
    mkdirSync(join(root, 'app', '0_2'), { recursive: true });
    writeFileSync(join(root, 'app', '0_2', '.lock'), String(deadPid()));
    dir.lock('0_2');
    assert.equal(readFileSync(join(root, 'app', '0_2', '.lock'), 'utf8'), String(process.pid));
  });

  it('gives one instance per state directory and releases everything on unlockAll', () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-'));
    const first = new StateDirectory(root, 'app');
    const second = new StateDirectory(root, 'app');
    first.lockInstance();
    assert.throws(() => second.lockInstance(), StateDirLockedError);
    first.lock('0_0');
    first.unlockAll();
    second.lockInstance();
    second.lock('0_0');
  });

  it('wipes a task directory but keeps holding its lock', () => {
    const root = mkdtempSync(join(tmpdir(), 'sd-'));
    const dir = new StateDirectory(root, 'app');
    dir.lock('0_3');
    writeFileSync(join(dir.taskDir('0_3'), 'data'), 'x');
    dir.wipeTask('0_3');
    assert.equal(existsSync(join(root, 'app', '0_3', 'data')), false);
    assert.equal(readFileSync(join(root, 'app', '0_3', '.lock'), 'utf8'), String(process.pid));
  });
});
