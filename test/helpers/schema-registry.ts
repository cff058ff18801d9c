/**
 * A real, Confluent-compatible schema registry for integration tests:
 * Apicurio Registry 2.4.2 with in-memory (H2) storage, built from Maven
 * Central artifacts by deploy/schema-registry/pom.xml and run with `java -jar`.
 *
 * - CTR_SCHEMA_REGISTRY_URL set: that registry is used as is (a developer
 *   may keep one running: `java -jar <cache>/apicurio-registry-<version>/local-schema-registry-0.0.0-runner.jar`).
 * - else each test process starts its own on a free port of 127.0.0.1 and
 *   kills it when the process exits: no shared state, no start-up races
 *   between test files running in parallel, nothing left running after CI.
 *   It starts in about 2 s. First use on a fresh machine runs Maven once
 *   (jars into ~/.m2, the runnable app into
 *   ~/.cache/ctr-streams/apicurio-registry-<version>); concurrent first uses
 *   build in separate staging folders and the first to finish wins.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
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
  /** True when CTR_SCHEMA_REGISTRY_URL named a running registry. */
  reused: boolean;
  /** ms from spawn to ready (0 when reused). */
  startMs: number;
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, RUNNER_JAR)) && existsSync(join(dir, 'lib'));
}

function appDir(): string {
  return join(cacheDir(), `apicurio-registry-${APICURIO_VERSION}`);
}

/** Builds the runnable registry with Maven once; returns the folder holding the runner jar and lib/. */
export async function ensureRegistryApp(onProgress: (line: string) => void = () => {}): Promise<string> {
  const dir = appDir();
  if (isComplete(dir)) return dir;
  requireTool('mvn');
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  onProgress(`building Apicurio Registry ${APICURIO_VERSION} from Maven Central into ${dir}`);
  const pom = join(projectRoot, 'deploy', 'schema-registry', 'pom.xml');
  const output: string[] = [];
  const code = await new Promise<number>((done, fail) => {
    const child = spawn('mvn', ['-B', '-q', '-f', pom, `-Dregistry.build.dir=${staging}`, 'package'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
  if (isComplete(dir)) {
    // another process finished first; its copy may already be running
    rmSync(staging, { recursive: true, force: true });
    return dir;
  }
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (!isComplete(dir)) throw error;
  }
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

let cached: Promise<TestSchemaRegistry> | undefined;

/** The registry for this test process (started or reused once, then shared by every caller). */
export function testSchemaRegistry(
  onProgress: (line: string) => void = () => {},
): Promise<TestSchemaRegistry> {
  cached ??= startSchemaRegistry(onProgress);
  return cached;
}

async function startSchemaRegistry(onProgress: (line: string) => void): Promise<TestSchemaRegistry> {
  const outside = process.env.CTR_SCHEMA_REGISTRY_URL;
  if (outside) return { url: outside.replace(/\/+$/, ''), pid: undefined, reused: true, startMs: 0 };

  const java = requireTool('java');
  if (!/version "(1[7-9]|[2-9]\d)/.test(java))
    throw new Error(`Apicurio Registry needs Java 17+, found "${java}"`);
  const dir = await ensureRegistryApp(onProgress);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  const runDir = mkdtempSync(join(tmpdir(), 'ctr-schema-registry-'));
  const logFile = join(runDir, 'registry.log');
  const out = openSync(logFile, 'w');
  const started = Date.now();
  const child = spawn(
    process.env.JAVA_HOME ? `${process.env.JAVA_HOME}/bin/java` : 'java',
    [
      '-Xms64m',
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      `-Dquarkus.http.port=${port}`,
      '-Dquarkus.http.host=127.0.0.1',
      '-Dquarkus.log.level=WARN',
      '-Dquarkus.log.category."io.quarkus".level=INFO',
      '-jar',
      join(dir, RUNNER_JAR),
    ],
    { stdio: ['ignore', out, out], cwd: runDir },
  );
  closeSync(out);
  if (child.pid === undefined) throw new Error('could not spawn java for the schema registry');
  let exitCode: number | null = null;
  child.on('exit', (code) => {
    exitCode = code ?? -1;
  });
  // the registry belongs to this test process: it must not outlive it (nor keep it alive)
  child.unref();
  process.once('exit', () => {
    child.kill('SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  });
  const deadline = started + 90_000;
  while (!(await answers(url))) {
    const tail = () => readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
    if (exitCode !== null)
      throw new Error(
        `the schema registry exited with code ${exitCode} before it was ready; ${logFile}:\n${tail()}`,
      );
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
