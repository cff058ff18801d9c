/**
 * Resolves the broker's jars from Maven Central into a cache folder outside
 * git (`<cache>/kafka-<version>/libs`), once per version. Maven is only a
 * dependency resolver here: deploy/local-kafka/pom.xml declares the broker and
 * a log4j2 binding, and `dependency:copy-dependencies` lays them out.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KafkaError } from '../errors.ts';
import { requireTool, toolCommand } from './tools.ts';

export const DEFAULT_KAFKA_VERSION = '4.3.1';

const projectRoot = resolve(fileURLToPath(new URL('../../../', import.meta.url)));

/** Where downloaded broker jars and local broker data live unless told otherwise. */
export function cacheDir(): string {
  if (process.env.CTR_STREAMS_CACHE) return resolve(process.env.CTR_STREAMS_CACHE);
  const base = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/tmp', '.cache');
  return join(base, 'ctr-streams');
}

export function jarsDir(version: string): string {
  return join(cacheDir(), `kafka-${version}`, 'libs');
}

function looksComplete(dir: string, version: string): boolean {
  if (!existsSync(dir)) return false;
  const files = readdirSync(dir);
  return files.includes(`kafka_2.13-${version}.jar`) && files.some((f) => f.startsWith('log4j-slf4j'));
}

/**
 * Returns the folder holding every jar of Kafka `version`, downloading them
 * with Maven first if needed. The download goes to a temporary folder that is
 * renamed into place only when Maven succeeded, so an interrupted download
 * never leaves a half-filled cache behind.
 */
export async function ensureBrokerJars(
  version: string = DEFAULT_KAFKA_VERSION,
  onProgress: (line: string) => void = () => {},
): Promise<string> {
  const dir = jarsDir(version);
  if (looksComplete(dir, version)) return dir;
  requireTool('mvn');
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  onProgress(`resolving Apache Kafka ${version} jars from Maven Central into ${dir}`);
  const pom = join(projectRoot, 'deploy', 'local-kafka', 'pom.xml');
  const args = [
    '-B',
    '-q',
    '-f',
    pom,
    `-Dkafka.version=${version}`,
    `-Doutput.dir=${staging}`,
    'dependency:copy-dependencies',
  ];
  const output: string[] = [];
  const code = await new Promise<number>((done, fail) => {
    const child = spawn(toolCommand('mvn'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => output.push(chunk.toString('utf8'));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', fail);
    child.on('exit', (status) => done(status ?? 1));
  });
  if (code !== 0 || !looksComplete(staging, version)) {
    rmSync(staging, { recursive: true, force: true });
    const tail = output.join('').trim().split('\n').slice(-8).join('\n');
    throw new KafkaError(
      'CTR_KAFKA_JARS',
      `Maven could not resolve Apache Kafka ${version} (exit ${code}):\n${tail}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return dir;
}
