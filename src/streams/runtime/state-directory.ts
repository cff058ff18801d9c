/**
 * The state directory of an instance: `<state.dir>/<application.id>/<taskId>/`,
 * and the per-task lock that keeps two processes from opening the same
 * stores (Kafka Streams' StateDirectory locks task directories the same way).
 *
 * The lock is a file `<taskDir>/.lock` created with O_EXCL holding the
 * owner's pid. A lock left by a dead process (SIGKILL, crash) is stale: the
 * pid no longer exists, so the next owner takes it over. Within one process
 * a task directory is locked at most once (a second lock attempt by the same
 * process means a task was created twice, which is a bug, and is refused too).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StateDirLockedError } from './errors.ts';

const LOCK_FILE = '.lock';

function mtimeMs(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates `file` exclusively with our pid; takes over a lock whose process is dead. */
function acquireLockFile(file: string, taskId: string | undefined): void {
  const context = taskId === undefined ? {} : { taskId };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: number | undefined;
      try {
        holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
      } catch {
        holder = undefined;
      }
      if (
        holder !== undefined &&
        Number.isInteger(holder) &&
        (holder === process.pid || processAlive(holder))
      ) {
        throw new StateDirLockedError(file, holder, context);
      }
      // no pid yet: a process may be between creating the file and writing its pid; only an old one is stale
      if ((holder === undefined || !Number.isInteger(holder)) && Date.now() - mtimeMs(file) < 5000) {
        throw new StateDirLockedError(file, undefined, context);
      }
      // stale: its owner died without unlocking (or was writing its pid right now: the retry sees it)
      rmSync(file, { force: true });
    }
  }
  throw new StateDirLockedError(file, undefined, context);
}

export class StateDirectory {
  readonly appDir: string;
  private readonly held = new Set<string>();
  private instanceLocked = false;

  /** @param stateDir `state.dir`; @param applicationId `application.id`. */
  constructor(stateDir: string, applicationId: string) {
    this.appDir = join(stateDir, applicationId);
  }

  /** `<state.dir>/<application.id>/<taskId>`, created if missing. */
  taskDir(taskId: string): string {
    const dir = join(this.appDir, taskId);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Takes the instance lock `<state.dir>/<application.id>/.lock`: one
   * instance per state directory, as Kafka Streams' StateDirectory enforces.
   * @throws StateDirLockedError naming the live process that holds it
   */
  lockInstance(): void {
    mkdirSync(this.appDir, { recursive: true });
    acquireLockFile(join(this.appDir, LOCK_FILE), undefined);
    this.instanceLocked = true;
  }

  unlockInstance(): void {
    if (!this.instanceLocked) return;
    this.instanceLocked = false;
    rmSync(join(this.appDir, LOCK_FILE), { force: true });
  }

  /**
   * Takes the task's lock, taking over a stale one left by a dead process.
   * @throws StateDirLockedError when a live process (or this one) holds it
   */
  lock(taskId: string): void {
    const file = join(this.taskDir(taskId), LOCK_FILE);
    if (this.held.has(taskId)) throw new StateDirLockedError(file, process.pid, { taskId });
    acquireLockFile(file, taskId);
    this.held.add(taskId);
  }

  /** Releases the task's lock (no-op when not held). */
  unlock(taskId: string): void {
    if (!this.held.delete(taskId)) return;
    rmSync(join(this.appDir, taskId, LOCK_FILE), { force: true });
  }

  /** Deletes a task's directory (all its stores); the lock must be held. */
  wipeTask(taskId: string): void {
    const dir = join(this.appDir, taskId);
    // keep the lock file: we still own the task
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const fd = openSync(join(dir, LOCK_FILE), 'w');
    writeSync(fd, String(process.pid));
    closeSync(fd);
  }

  /** Releases every task lock and the instance lock. */
  unlockAll(): void {
    for (const taskId of [...this.held]) this.unlock(taskId);
    this.unlockInstance();
  }
}
