/**
 * Starts, finds and stops a single-node Apache Kafka broker (KRaft, combined
 * broker+controller) on 127.0.0.1, from jars that Maven resolves. Used by the
 * demo, the test runner and `npm run kafka:start`.
 *
 * The broker runs detached and outlives the process that started it; its pid
 * lives in `<dataDir>/broker.pid`, so `stop` works from another process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { KafkaError } from '../errors.ts';
import { cacheDir, DEFAULT_KAFKA_VERSION, ensureBrokerJars } from './jars.ts';
import { javaMajorVersion, requireTool, toolCommand } from './tools.ts';
import { log4j2Properties, randomClusterId, serverProperties } from './broker-config.ts';

export interface LocalBrokerOptions {
  /** Client port on 127.0.0.1. Default 9092 (env CTR_KAFKA_PORT). */
  port?: number;
  /** Data directory. Default `<cache>/broker-<port>`. */
  dataDir?: string;
  /** Max JVM heap, e.g. `512m`. Default `512m` (env CTR_KAFKA_HEAP). */
  heap?: string;
  /** Apache Kafka version resolved from Maven Central. Default 4.3.1 (env CTR_KAFKA_VERSION). */
  kafkaVersion?: string;
  /** How long to wait for "Kafka Server started", in ms. Default 120000. */
  readyTimeoutMs?: number;
  /** Wipe the data directory before starting (a clean cluster). Default false. */
  fresh?: boolean;
  /** Receives human-readable progress lines. */
  onProgress?: (line: string) => void;
}

export interface RunningBroker {
  bootstrap: string;
  port: number;
  pid: number;
  dataDir: string;
  /** True when a broker was already running there and was reused. */
  reused: boolean;
  /** Milliseconds from spawn to readiness (0 when reused). */
  startMs: number;
}

interface Resolved {
  port: number;
  controllerPort: number;
  dataDir: string;
  heap: string;
  kafkaVersion: string;
  readyTimeoutMs: number;
  fresh: boolean;
  onProgress: (line: string) => void;
}

function resolveOptions(options: LocalBrokerOptions): Resolved {
  const port = options.port ?? Number(process.env.CTR_KAFKA_PORT ?? 9092);
  if (!Number.isInteger(port) || port < 1 || port > 65534) {
    throw new KafkaError(
      'CTR_KAFKA_CONNECT',
      `port: expected an integer from 1 to 65534, got ${String(port)}`,
    );
  }
  return {
    port,
    controllerPort: port + 1,
    dataDir: options.dataDir ?? join(cacheDir(), `broker-${port}`),
    heap: options.heap ?? process.env.CTR_KAFKA_HEAP ?? '512m',
    kafkaVersion: options.kafkaVersion ?? process.env.CTR_KAFKA_VERSION ?? DEFAULT_KAFKA_VERSION,
    readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
    fresh: options.fresh ?? false,
    onProgress: options.onProgress ?? (() => {}),
  };
}

const READY_LINE = 'Kafka Server started';

function pidFile(dataDir: string): string {
  return join(dataDir, 'broker.pid');
}

function serverLog(dataDir: string): string {
  return join(dataDir, 'server.log');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(dataDir: string): number | undefined {
  const file = pidFile(dataDir);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
export function portAcceptsConnections(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

function lastLines(file: string, count = 15): string {
  if (!existsSync(file)) return '(no log written)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
}

/** The broker running from `dataDir` on `port`, if any. */
export async function findLocalBroker(options: LocalBrokerOptions = {}): Promise<RunningBroker | undefined> {
  const o = resolveOptions(options);
  const pid = readPid(o.dataDir);
  if (pid === undefined || !isAlive(pid)) return undefined;
  if (!(await portAcceptsConnections(o.port))) return undefined;
  return {
    bootstrap: `127.0.0.1:${o.port}`,
    port: o.port,
    pid,
    dataDir: o.dataDir,
    reused: true,
    startMs: 0,
  };
}

function formatStorage(java: string, classpath: string, propsFile: string, dataDir: string): void {
  const result = spawnSync(
    java,
    [
      '-Xmx256m',
      '-XX:TieredStopAtLevel=1',
      '-cp',
      classpath,
      `-Dlog4j2.configurationFile=${join(dataDir, 'log4j2.properties')}`,
      // '=' form: a random id may start with '-', which a separate argument would parse as an option
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${randomClusterId()}`,
      '-c',
      propsFile,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
    throw new KafkaError('CTR_KAFKA_NOT_READY', `formatting KRaft storage in ${dataDir} failed:\n${output}`);
  }
}

/**
 * Starts a broker, or reuses the one already running from the same data
 * directory and port. Resolves once the broker logged that it started.
 *
 * @throws ToolMissingError when Java or Maven is missing (message has the fix)
 * @throws KafkaError CTR_KAFKA_PORT_IN_USE when another process holds the port
 * @throws KafkaError CTR_KAFKA_NOT_READY / CTR_KAFKA_BROKER_EXITED with the log's last lines
 */
export async function startLocalBroker(options: LocalBrokerOptions = {}): Promise<RunningBroker> {
  const o = resolveOptions(options);
  const existing = await findLocalBroker(options);
  if (existing && !o.fresh) return existing;
  if (existing) await stopLocalBroker(options);

  const banner = requireTool('java');
  const major = javaMajorVersion(banner);
  if (major !== undefined && major < 17) {
    throw new KafkaError(
      'CTR_KAFKA_TOOL_MISSING',
      `Apache Kafka 4 needs Java 17+, found "${banner}": install Java 17 or set JAVA_HOME to one`,
    );
  }
  for (const port of [o.port, o.controllerPort]) {
    if (!(await portIsFree(port))) {
      throw new KafkaError(
        'CTR_KAFKA_PORT_IN_USE',
        `port ${port} on 127.0.0.1 is in use by another process: stop it, or pick another port (--port / CTR_KAFKA_PORT; the controller takes port+1)`,
      );
    }
  }
  const libs = await ensureBrokerJars(o.kafkaVersion, o.onProgress);

  if (o.fresh) rmSync(o.dataDir, { recursive: true, force: true });
  mkdirSync(o.dataDir, { recursive: true });
  const propsFile = join(o.dataDir, 'server.properties');
  const log4jFile = join(o.dataDir, 'log4j2.properties');
  writeFileSync(
    propsFile,
    serverProperties({ port: o.port, controllerPort: o.controllerPort, dataDir: o.dataDir }),
  );
  writeFileSync(log4jFile, log4j2Properties(serverLog(o.dataDir)));
  const java = toolCommand('java');
  const classpath = `${libs}/*`;
  if (!existsSync(join(o.dataDir, 'logs', 'meta.properties'))) {
    o.onProgress(`formatting KRaft storage in ${o.dataDir}`);
    formatStorage(java, classpath, propsFile, o.dataDir);
  }

  rmSync(serverLog(o.dataDir), { force: true });
  const jvmOpts = (process.env.CTR_KAFKA_JVM_OPTS ?? '-XX:+UseSerialGC -XX:TieredStopAtLevel=1')
    .split(/\s+/)
    .filter(Boolean);
  const out = openSync(join(o.dataDir, 'broker.out'), 'w');
  const started = Date.now();
  o.onProgress(`starting Apache Kafka ${o.kafkaVersion} on 127.0.0.1:${o.port} (heap ${o.heap})`);
  const child = spawn(
    java,
    [
      `-Xms${o.heap === '256m' ? '128m' : '256m'}`,
      `-Xmx${o.heap}`,
      ...jvmOpts,
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4jFile}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      propsFile,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  if (child.pid === undefined) throw new KafkaError('CTR_KAFKA_BROKER_EXITED', `could not spawn ${java}`);
  const pid = child.pid;
  let exitCode: number | null = null;
  child.on('exit', (code) => {
    exitCode = code ?? -1;
  });
  child.unref();
  writeFileSync(pidFile(o.dataDir), String(pid));

  const deadline = started + o.readyTimeoutMs;
  for (;;) {
    if (existsSync(serverLog(o.dataDir)) && readFileSync(serverLog(o.dataDir), 'utf8').includes(READY_LINE))
      break;
    if (exitCode !== null) {
      rmSync(pidFile(o.dataDir), { force: true });
      const why = `${lastLines(serverLog(o.dataDir))}\n${lastLines(join(o.dataDir, 'broker.out'), 5)}`;
      throw new KafkaError(
        'CTR_KAFKA_BROKER_EXITED',
        `the broker exited with code ${exitCode} before it was ready; last log lines:\n${why}`,
      );
    }
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      rmSync(pidFile(o.dataDir), { force: true });
      throw new KafkaError(
        'CTR_KAFKA_NOT_READY',
        `the broker was not ready within ${o.readyTimeoutMs} ms; last log lines of ${serverLog(o.dataDir)}:\n${lastLines(serverLog(o.dataDir))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const startMs = Date.now() - started;
  o.onProgress(`broker ready on 127.0.0.1:${o.port} in ${(startMs / 1000).toFixed(1)} s (pid ${pid})`);
  return { bootstrap: `127.0.0.1:${o.port}`, port: o.port, pid, dataDir: o.dataDir, reused: false, startMs };
}

/** Stops the broker of `dataDir`/`port` by its pid: SIGTERM, then SIGKILL after `graceMs`. Returns false if none ran. */
export async function stopLocalBroker(options: LocalBrokerOptions = {}, graceMs = 30_000): Promise<boolean> {
  const o = resolveOptions(options);
  const pid = readPid(o.dataDir);
  if (pid === undefined || !isAlive(pid)) {
    rmSync(pidFile(o.dataDir), { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(pidFile(o.dataDir), { force: true });
  return true;
}
