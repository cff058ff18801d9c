/**
 * A real, Confluent-compatible schema registry for integration tests:
 * Apicurio Registry 2.4.2 with in-memory (H2) storage, built from Maven
 * Central artifacts by deploy/schema-registry/pom.xml and run with `java -jar`.
 *
 * - CTR_SCHEMA_REGISTRY_URL set: that registry is used as is.
 * - else a registry on 127.0.0.1:<CTR_SCHEMA_REGISTRY_PORT, default 18081> is
 *   reused if one runs from our pid file, or started (detached, so the next
 *   test file reuses it, as the broker is). First use on a fresh machine runs
 *   Maven once (jars into ~/.m2, the runnable app into
 *   ~/.cache/ctr-streams/apicurio-registry-<version>); later starts take ~2 s.
 * Its storage is in memory: a restart forgets every schema, which is what a
 * test wants; tests use unique subjects (unique topic names) anyway.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, requireTool } from '../../src/kafka/local-broker/index.ts';

const APICURIO_VERSION = '2.4.2.Final';
const RUNNER_JAR = 'local-schema-registry-0.0.0-runner.jar';
const projectRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));

export interface TestSchemaRegistry {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:18081/apis/ccompat/v7`. */
  url: string;
  /** The JVM's pid, or undefined when CTR_SCHEMA_REGISTRY_URL named an outside registry. */
  pid: number | undefined;
  /** True when an already running registry was reused. */
  reused: boolean;
  /** ms from spawn to ready (0 when reused). */
  startMs: number;
}

function appDir(): string {
  return join(cacheDir(), `apicurio-registry-${APICURIO_VERSION}`);
}

/** Builds the runnable registry with Maven once; returns the folder holding the runner jar and lib/. */
export async function ensureRegistryApp(onProgress: (line: string) => void = () => {}): Promise<string> {
  const dir = appDir();
  if (existsSync(join(dir, RUNNER_JAR)) && existsSync(join(dir, 'lib'))) return dir;
  requireTool('mvn');
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  onProgress(`building Apicurio Registry ${APICURIO_VERSION} from Maven Central into ${dir}`);
  const pom = join(projectRoot, 'deploy', 'schema-registry', 'pom.xml');
  const output: string[] = [];
  const code = await new Promise<number>((done, fail) => {
    const child = spawn('mvn', ['-B', '-q', '-f', pom, `-Dregistry.build.dir=${staging}`, 'package'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => output.push(chunk.toString('utf8'));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', fail);
    child.on('exit', (status) => done(status ?? 1));
  });
  if (code !== 0 || !existsSync(join(staging, RUNNER_JAR))) {
    rmSync(staging, { recursive: true, force: true });
    const tail = output.join('').trim().split('\n').slice(-10).join('\n');
    throw new Error(`Maven could not build Apicurio Registry ${APICURIO_VERSION} (exit ${code}):\n${tail}`);
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return dir;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let cached: Promise<TestSchemaRegistry> | undefined;

/** The registry for this test process (started or reused once, then shared by every caller). */
export function testSchemaRegistry(onProgress: (line: string) => void = () => {}): Promise<TestSchemaRegistry> {
  cached ??= startSchemaRegistry(onProgress);
  return cached;
}

async function startSchemaRegistry(onProgress: (line: string) => void): Promise<TestSchemaRegistry> {
  const outside = process.env.CTR_SCHEMA_REGISTRY_URL;
  if (outside) return { url: outside.replace(/\/+$/, ''), pid: undefined, reused: true, startMs: 0 };

  const port = Number(process.env.CTR_SCHEMA_REGISTRY_PORT ?? 18081);
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  const runDir = join(cacheDir(), `schema-registry-${port}`);
  const pidFile = join(runDir, 'registry.pid');
  const previous = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
  if (previous && isAlive(previous) && (await answers(url))) return { url, pid: previous, reused: true, startMs: 0 };

  const java = requireTool('java');
  if (!/version "(1[7-9]|[2-9]\d)/.test(java)) throw new Error(`Apicurio Registry needs Java 17+, found "${java}"`);
  const dir = await ensureRegistryApp(onProgress);
  mkdirSync(runDir, { recursive: true });
  const logFile = join(runDir, 'registry.log');
  const out = openSync(logFile, 'w');
  const started = Date.now();
  const child = spawn(
    process.env.JAVA_HOME ? `${process.env.JAVA_HOME}/bin/java` : 'java',
    ['-Xms64m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true',
      `-Dquarkus.http.port=${port}`, '-Dquarkus.http.host=127.0.0.1', '-Dquarkus.log.level=WARN',
      '-Dquarkus.log.category."io.quarkus".level=INFO', '-jar', join(dir, RUNNER_JAR)],
    { detached: true, stdio: ['ignore', out, out], cwd: runDir },
  );
  closeSync(out);
  if (child.pid === undefined) throw new Error('could not spawn java for the schema registry');
  let exitCode: number | null = null;
  child.on('exit', (code) => {
    exitCode = code ?? -1;
  });
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  const deadline = started + 90_000;
  while (!(await answers(url))) {
    const tail = () => readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
    if (exitCode !== null) throw new Error(`the schema registry exited with code ${exitCode} before it was ready; ${logFile}:\n${tail()}`);
    if (Date.now() > deadline) {
      process.kill(child.pid, 'SIGKILL');
      throw new Error(`the schema registry was not ready on ${url} within 90 s; ${logFile}:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const startMs = Date.now() - started;
  onProgress(`schema registry ready on ${url} in ${(startMs / 1000).toFixed(1)} s (pid ${child.pid})`);
  return { url, pid: child.pid, reused: false, startMs };
}
