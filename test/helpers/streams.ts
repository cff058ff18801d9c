/**
 * What integration tests of KafkaStreams apps share: temp state directories
 * deleted after the file's tests, the config of an app on the test broker,
 * waiting for instances to run their tasks, and reading their stores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaStreams } from '../../src/streams/runtime/index.ts';
import type { StreamsConfigInput } from '../../src/streams/config.ts';
import type { KeyValueStore } from '../../src/streams/state/index.ts';
import { eventually, type TestKafka } from './kafka.ts';

/** Temp directories for one test file: `make()` creates one, `cleanup()` (in `after`) deletes them all. */
export interface TempDirs {
  make(): string;
  cleanup(): void;
}

/** Directories named `<tmp>/<prefix>XXXXXX` (e.g. prefix `ctr-restore-`). */
export function tempStateDirs(prefix: string): TempDirs {
  const dirs: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    cleanup() {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The config of a test app on the test broker: application.id, bootstrap.servers, state.dir and
 * `extra` (commit interval, group timing...), which wins over the first three.
 */
export function appConfig(
  env: TestKafka,
  applicationId: string,
  stateDir: string,
  extra: StreamsConfigInput = {},
): StreamsConfigInput {
  return {
    'application.id': applicationId,
    'bootstrap.servers': env.bootstrap,
    'state.dir': stateDir,
    ...extra,
  };
}

/**
 * Group timing for tests that run several instances or restart them: a member that leaves without
 * a clean goodbye holds the next rebalance for one session, so the session is short.
 */
export const FAST_GROUP: StreamsConfigInput = { 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 500 };

/** Waits until every app is RUNNING with `tasksEach` active tasks (any number above 0 when undefined). */
export async function waitForTasks(
  apps: readonly KafkaStreams[],
  tasksEach?: number,
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(
    `${apps.length} instance(s) RUNNING with ${tasksEach ?? 'some'} task(s) each`,
    () =>
      apps.every(
        (app) =>
          app.state === 'RUNNING' &&
          (tasksEach === undefined
            ? app.activeTaskIds().length > 0
            : app.activeTaskIds().length === tasksEach),
      ),
    timeoutMs,
  ).catch((error: Error) => {
    const seen = apps.map((app, i) => `#${i} ${app.state} with ${app.activeTaskIds().length} task(s)`);
    throw new Error(`${error.message}; instances: ${seen.join(', ')}`);
  });
}

/** Every entry of store `name` over the given partitions, read from the running app(s). */
export async function readStore<V>(
  apps: readonly KafkaStreams[],
  name: string,
  partitions: number,
): Promise<Map<string, V>> {
  const out = new Map<string, V>();
  for (let p = 0; p < partitions; p++) {
    const store = apps.map((a) => a.store<KeyValueStore<string, V>>(name, p)).find((s) => s !== undefined);
    if (!store) throw new Error(`no running app has task partition ${p} of store "${name}"`);
    for await (const [k, v] of store.all()) out.set(k, v);
  }
  return out;
}

/** Sum over a map's values. */
export function total(map: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const v of map.values()) n += v;
  return n;
}
