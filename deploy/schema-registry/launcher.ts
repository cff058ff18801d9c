/**
 * A Confluent-compatible schema registry on this machine: Apicurio Registry
 * 2.4.2 with in-memory (H2) storage, built from Maven Central artifacts by
 * ./pom.xml and run with `java -jar`. Used by the integration tests (through
 * test/helpers/schema-registry.ts) and by developers (./registry.ts).
 *
 * Build once: Maven resolves the jars into ~/.m2 and the Quarkus plugin lays
 * out the runnable app in `<cache>/apicurio-registry-<version>` (about 15 s
 * with a warm ~/.m2; a fresh machine also downloads ~150 MB). Processes that
 * need it at the same moment take turns through a lock folder, so one of
 * them builds and the others wait. Start: about 2 s.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, requireTool } from '../../src/kafka/local-broker/index.ts';

export const APICURIO_VERSION = '2.4.2.Final';
const RUNNER_JAR = 'local-schema-registry-0.0.0-runner.jar';
const here = resolve(fileURLToPath(new URL('.', import.meta.url)));

export interface RunningRegistry {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:43117/apis/ccompat/v7`. */
  url: string;
  pid: number;
  /** ms from spawn to the first answered request. */
  startMs: number;
  /** Kills the JVM (SIGKILL: its storage is in memory, there is nothing to save). */
  stop(): void;
}

function appDir(): string {
  return join(cacheDir(), `apicurio-registry-${APICURIO_VERSION}`);
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, RUNNER_JAR)) && existsSync(join(dir, 'lib'));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes the build lock, waiting while a live process holds it. Returns false if the app got built meanwhile. */
async function lockBuild(dir: string, lock: string, onProgress: (line: string) => void): Promise<boolean> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (isComplete(dir)) return false;
    const holder = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : NaN);
    if (Number.isInteger(holder) && !isAlive(holder)) {
      rmSync(lock, { recursive: true, force: true }); // its builder died: take over
      continue;
    }
    if (!told) onProgress(`waiting for process ${holder} to finish building Apicurio Registry`);
    told = true;
    await sleep(500);
  }
}

/**
 * Builds the runnable registry with Maven unless it is there; returns its folder.
 * @throws Error naming Maven's last output lines when the build fails.
 */
export async function ensureRegistryApp(onProgress: (line: string) => void = () => {}): Promise<string> {
  const dir = appDir();
  if (isComplete(dir)) return dir;
  requireTool('mvn');
  mkdirSync(cacheDir(), { recursive: true });
  const lock = `${dir}.lock`;
  if (!(await lockBuild(dir, lock, onProgress))) return dir;
  try {
    if (isComplete(dir)) return dir;
    const staging = `${dir}.partial-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    onProgress(`building Apicurio Registry ${APICURIO_VERSION} from Maven Central into ${dir}`);
    const output: string[] = [];
    const code = await new Promise<number>((done, fail) => {
      const child = spawn(
        'mvn',
        ['-B', '-q', '-f', join(here, 'pom.xml'), `-Dregistry.build.dir=${staging}`, 'package'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const keep = (chunk: Buffer) => output.push(chunk.toString('utf8'));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('error', fail);
      child.on('exit', (status) => done(status ?? 1));
    });
    if (code !== 0 || !isComplete(staging)) {
      rmSync(staging, { recursive: true, force: true });
      const tail = output.join('').trim().split('\n').slice(-10).join('\n');
      throw new Error(`Maven could not build Apicurio Registry ${APICURIO_VERSION} (exit ${code}):\n${tail}`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    return dir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
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
    return (await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

export interface StartRegistryOptions {
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /** Max JVM heap. Default `256m`. */
  heap?: string;
  /** Kill the registry when this process exits. Default true. */
  killOnExit?: boolean;
  /** How long to wait for the first answer, ms. Default 90000. */
  readyTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

/**
 * Builds (if needed) and starts a registry; resolves when it answers.
 * @throws Error with the registry log's last lines when it exits or does not answer in time.
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const onProgress = options.onProgress ?? (() => {});
  const java = requireTool('java');
  if (!/version "(1[7-9]|[2-9]\d)/.test(java))
    throw new Error(`Apicurio Registry needs Java 17+, found "${java}"`);
  const dir = await ensureRegistryApp(onProgress);
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  const runDir = mkdtempSync(join(tmpdir(), 'ctr-schema-registry-'));
  const logFile = join(runDir, 'registry.log');
  const out = openSync(logFile, 'w');
  const started = Date.now();
  const child = spawn(
    process.env.JAVA_HOME ? `${process.env.JAVA_HOME}/bin/java` : 'java',
    [
      '-Xms64m',
      `-Xmx${options.heap ?? '256m'}`,
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
  const pid = child.pid;
  let exitCode: number | null = null;
  child.on('exit', (code) => {
    exitCode = code ?? -1;
  });
  const stop = () => {
    if (exitCode === null) child.kill('SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  };
  if (options.killOnExit ?? true) {
    // the registry belongs to this process: it must neither outlive it nor keep it alive
    child.unref();
    process.once('exit', stop);
  }
  const deadline = started + (options.readyTimeoutMs ?? 90_000);
  while (!(await answers(url))) {
    const tail = () => readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
    if (exitCode !== null)
      throw new Error(
        `the schema registry exited with code ${exitCode} before it was ready; ${logFile}:\n${tail()}`,
      );
    if (Date.now() > deadline) {
      const why = tail();
      stop();
      throw new Error(
        `the schema registry was not ready on ${url} within ${options.readyTimeoutMs ?? 90_000} ms:\n${why}`,
      );
    }
    await sleep(200);
  }
  const startMs = Date.now() - started;
  onProgress(`schema registry ready on ${url} in ${(startMs / 1000).toFixed(1)} s (pid ${pid})`);
  return { url, pid, startMs, stop };
}
