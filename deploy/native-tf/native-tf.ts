/**
 * `npm run ml:native`: makes the native TensorFlow backend
 * (@tensorflow/tfjs-node 4.22.0) work from the package registries alone.
 *
 * tfjs-node's own install script downloads libtensorflow 2.9.1 from a host we
 * cannot reach. It needs only the stable C and eager C API (TF_*, TFE_*), so
 * we give it TensorFlow 2.10.1 from two registries instead:
 *   - the shared libraries from TensorFlow Java 0.5.0's platform jar on Maven
 *     Central (libtensorflow_cc.so.2, which exports the C API, and
 *     libtensorflow_framework.so.2), resolved by deploy/native-tf/pom.xml;
 *   - the C API headers from the same release's PyPI wheel (tensorflow-cpu
 *     2.10.1), of which we keep only tensorflow/c/** and the two ctstring
 *     headers the binding includes.
 * Then we build tfjs-node's addon from its own sources with node-gyp against
 * them. Downloads are pinned by SHA-256 and cached under
 * ~/.cache/ctr-streams/native-tf (CTR_STREAMS_CACHE and XDG_CACHE_HOME honoured); nothing is
 * committed. Idempotent: a second run checks and exits. Any failure prints one
 * line naming what is missing, and exit code 1.
 *
 *   node --import tsx deploy/native-tf/native-tf.ts [--force] [--check]
 *
 * --check: only say whether the native backend loads (exit 0 if it does, 3 if not).
 * --force: rebuild the addon even when it is up to date.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import {
  cp,
  link,
  mkdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
  copyFile,
  readdir,
} from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir as projectCacheDir } from '../../src/kafka/local-broker/jars.ts';

/** What this script installs; bump together when moving to another TensorFlow. */
const TF = {
  version: '2.10.1',
  tfjsNode: '4.22.0',
  jar: {
    file: 'tensorflow-core-api-0.5.0-linux-x86_64.jar',
    sha256: 'f394c5be26c8f3b644cdc77e6741b2cfe774caa8aedeb969c50e074444feac55',
    libDir: 'org/tensorflow/internal/c_api/linux-x86_64/',
    libs: ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'],
  },
  wheel: {
    requirement: 'tensorflow-cpu==2.10.1',
    // the wheel's Python tag does not matter (we only read its headers), so
    // pin one exact file and let pip fetch it whatever the local Python is
    file: 'tensorflow_cpu-2.10.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    sha256: '0d30c8199b542b7144d7fffa5ee9bd9e539657b15c60a61b7a0ad44a8d1379d2',
    headerPrefixes: [
      'tensorflow/include/tensorflow/c/',
      'tensorflow/include/tensorflow/core/platform/ctstring',
    ],
  },
} as const;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const pkgDir = join(repoRoot, 'node_modules/@tensorflow/tfjs-node');
// the project's one cache root (CTR_STREAMS_CACHE, else XDG_CACHE_HOME/ctr-streams), as the broker jars use
const cacheDir = join(projectCacheDir(), 'native-tf');
const stampFile = join(pkgDir, 'deps', 'ctr-streams-native.json');

/** A failure of one step; its message is the one line the user sees. */
class NativeTfError extends Error {
  readonly code = 'CTR_NATIVE_TF';
}

const STEPS = 6;
let stepNo = 0;
async function step<T>(title: string, run: () => Promise<T>): Promise<T> {
  stepNo += 1;
  const started = performance.now();
  process.stderr.write(`[native-tf] ${stepNo}/${STEPS} ${title} ...\n`);
  const result = await run();
  process.stderr.write(
    `[native-tf] ${stepNo}/${STEPS} ${title}: done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return result;
}
const note = (line: string): void => void process.stderr.write(`[native-tf]     ${line}\n`);

/** Runs a command; resolves with its output, or throws naming the command and its last output lines. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; what: string; logFile?: string },
): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => reject(new NativeTfError(`${opts.what}: cannot run ${cmd}: ${err.message}`)));
    child.on('close', async (code) => {
      if (opts.logFile) await writeFile(opts.logFile, out);
      if (code === 0) return resolveRun(out);
      const tail = out.trim().split('\n').slice(-1)[0] ?? '';
      const log = opts.logFile ? ` (full log: ${opts.logFile})` : '';
      reject(new NativeTfError(`${opts.what}: \`${cmd} ${args.join(' ')}\` exited ${code}: ${tail}${log}`));
    });
  });
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function verifySha(file: string, expected: string, what: string): Promise<void> {
  const actual = await sha256(file);
  if (actual !== expected) {
    await rm(file, { force: true });
    throw new NativeTfError(
      `${what}: ${file} has SHA-256 ${actual}, expected ${expected} (deleted; run again to refetch)`,
    );
  }
}

/** Extracts members whose names start with one of `prefixes` (python3's zipfile: present wherever node-gyp can run). */
async function unzipMembers(
  zip: string,
  prefixes: readonly string[],
  dest: string,
  strip: string,
  what: string,
): Promise<number> {
  const script = [
    'import sys, zipfile, os',
    'zip, dest, strip = sys.argv[1], sys.argv[2], sys.argv[3]',
    'prefixes = sys.argv[4:]',
    'n = 0',
    'with zipfile.ZipFile(zip) as z:',
    '    for m in z.infolist():',
    '        if m.is_dir() or not any(m.filename.startswith(p) for p in prefixes): continue',
    '        out = os.path.join(dest, m.filename[len(strip):])',
    '        os.makedirs(os.path.dirname(out), exist_ok=True)',
    "        with z.open(m) as src, open(out, 'wb') as dst:",
    '            while True:',
    '                b = src.read(1 << 20)',
    '                if not b: break',
    '                dst.write(b)',
    '        n += 1',
    'print(n)',
  ].join('\n');
  const out = await run('python3', ['-c', script, zip, dest, strip, ...prefixes], { what });
  return Number(out.trim());
}

/** Writes `dir` through a temporary sibling and a rename, so an interrupted run never leaves a half-filled cache entry. */
async function atomicDir(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  if (existsSync(dir)) return;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await fill(tmp);
  await rename(tmp, dir);
}

function requireTool(cmd: string, args: string[], fix: string): void {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) throw new NativeTfError(`${cmd} is missing: ${fix}`);
}

/** Node's own headers (node_api.h), so node-gyp does not try to download them. */
function nodeHeadersDir(): string {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].filter(
    (d): d is string => !!d,
  );
  for (const dir of candidates) if (existsSync(join(dir, 'include/node/node_api.h'))) return dir;
  throw new NativeTfError(
    `Node.js headers are missing (no include/node/node_api.h under ${candidates.join(' or ')}): install the headers of Node ${process.version} (the official tarball has them; Debian: libnode-dev) or set npm_config_nodedir`,
  );
}

/** node-gyp: npm's own copy (npm run sets npm_config_node_gyp), else the one beside node, else PATH. */
function nodeGyp(): { cmd: string; args: string[] } {
  const candidates = [
    process.env.npm_config_node_gyp,
    resolve(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  for (const file of candidates)
    if (file && file.endsWith('.js') && existsSync(file)) return { cmd: process.execPath, args: [file] };
  if (spawnSync('node-gyp', ['--version']).status === 0) return { cmd: 'node-gyp', args: [] };
  throw new NativeTfError('node-gyp is missing (not in npm, not on PATH): `npm install -g node-gyp`');
}

/** The N-API version node-pre-gyp will look for at run time: the highest the package lists that this Node supports. */
async function napiBuildVersion(): Promise<number> {
  const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
    binary: { napi_versions: number[] };
  };
  const supported = Number(process.versions.napi);
  const best = Math.max(...pkg.binary.napi_versions.filter((v) => v <= supported));
  if (!Number.isFinite(best))
    throw new NativeTfError(
      `Node ${process.version} (N-API ${supported}) supports none of tfjs-node's N-API versions ${pkg.binary.napi_versions.join(',')}`,
    );
  return best;
}

async function installedTfjsNodeVersion(): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

interface Probe {
  ok: boolean;
  backend?: string;
  tensorflow?: string;
  error?: string;
}

/** Loads the backend in a fresh process (a failed dlopen must not take this one down) and multiplies two small matrices. */
function probe(): Probe {
  const code = `
    const tf = await import('@tensorflow/tfjs');
    try {
      await import('@tensorflow/tfjs-node');
      await tf.setBackend('tensorflow'); await tf.ready();
      const y = await tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).data();
      const ok = tf.getBackend() === 'tensorflow' && [19, 22, 43, 50].every((v, i) => y[i] === v);
      console.log(JSON.stringify({ ok, backend: tf.getBackend(), tensorflow: tf.backend().binding?.TF_Version }));
    } catch (e) { console.log(JSON.stringify({ ok: false, error: String(e && e.message || e).split('\\n')[0] })); }
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const line = result.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (!line)
    return {
      ok: false,
      error: `probe printed nothing (exit ${result.status}): ${result.stderr.trim().split('\n').pop() ?? ''}`,
    };
  return JSON.parse(line) as Probe;
}

async function ensureLibraries(): Promise<string> {
  const libDir = join(cacheDir, `lib-${TF.version}`);
  if (existsSync(libDir)) {
    note(`cached: ${libDir}`);
    return libDir;
  }
  requireTool(
    'mvn',
    ['-v'],
    "install Apache Maven 3.6+ (Debian/Ubuntu: `apt-get install maven`); it fetches TensorFlow Java's native jar from Maven Central",
  );
  const mavenDir = join(cacheDir, 'maven');
  const jar = join(mavenDir, TF.jar.file);
  if (!existsSync(jar)) {
    note(`resolving org.tensorflow:tensorflow-core-api:0.5.0:linux-x86_64 (117 MB) into ${mavenDir}`);
    await run(
      'mvn',
      ['-q', '-B', '-f', join(here, 'pom.xml'), `-Doutput.dir=${mavenDir}`, 'dependency:copy-dependencies'],
      { what: "resolving TensorFlow Java's native jar from Maven Central" },
    );
  }
  if (!existsSync(jar)) throw new NativeTfError(`Maven resolved no ${TF.jar.file} into ${mavenDir}`);
  await verifySha(jar, TF.jar.sha256, 'TensorFlow Java native jar');
  await atomicDir(libDir, async (tmp) => {
    const n = await unzipMembers(
      jar,
      TF.jar.libs.map((l) => TF.jar.libDir + l),
      tmp,
      TF.jar.libDir,
      `extracting libtensorflow from ${jar}`,
    );
    if (n !== TF.jar.libs.length) throw new NativeTfError(`${jar} holds ${n} of ${TF.jar.libs.join(', ')}`);
  });
  note(`extracted ${TF.jar.libs.join(', ')} into ${libDir}`);
  // Maven's local repository keeps the jar; our copy has served its purpose
  await rm(mavenDir, { recursive: true, force: true });
  return libDir;
}

async function ensureHeaders(): Promise<string> {
  const includeDir = join(cacheDir, `include-${TF.version}`);
  if (existsSync(includeDir)) {
    note(`cached: ${includeDir}`);
    return includeDir;
  }
  requireTool(
    'python3',
    ['-m', 'pip', '--version'],
    'install Python 3 with pip (Debian/Ubuntu: `apt-get install python3-pip`); it fetches the TensorFlow C API headers from PyPI',
  );
  const wheelDir = join(cacheDir, 'wheel');
  const wheel = join(wheelDir, TF.wheel.file);
  if (!existsSync(wheel)) {
    note(`downloading ${TF.wheel.requirement} (214 MB, for its C API headers only) into ${wheelDir}`);
    await mkdir(wheelDir, { recursive: true });
    await run(
      'python3',
      [
        '-m',
        'pip',
        'download',
        '--no-deps',
        '--only-binary=:all:',
        '--python-version',
        '3.10',
        '--platform',
        'manylinux2014_x86_64',
        '--progress-bar',
        'off',
        '-d',
        wheelDir,
        TF.wheel.requirement,
      ],
      { what: 'downloading the TensorFlow wheel from PyPI' },
    );
  }
  if (!existsSync(wheel)) throw new NativeTfError(`pip downloaded no ${TF.wheel.file} into ${wheelDir}`);
  await verifySha(wheel, TF.wheel.sha256, 'TensorFlow wheel');
  await atomicDir(includeDir, async (tmp) => {
    const n = await unzipMembers(
      wheel,
      TF.wheel.headerPrefixes,
      tmp,
      'tensorflow/include/',
      `extracting the C API headers from ${wheel}`,
    );
    for (const needed of [
      'tensorflow/c/c_api.h',
      'tensorflow/c/eager/c_api.h',
      'tensorflow/core/platform/ctstring_internal.h',
    ]) {
      if (!existsSync(join(tmp, needed)))
        throw new NativeTfError(`${wheel} has no ${needed} (extracted ${n} files)`);
    }
    note(`extracted ${n} header files`);
  });
  // the 214 MB wheel has served its purpose: keep only the headers
  await rm(wheelDir, { recursive: true, force: true });
  return includeDir;
}

async function ensurePackage(): Promise<void> {
  const version = await installedTfjsNodeVersion();
  if (version === TF.tfjsNode) {
    note(`@tensorflow/tfjs-node ${version} is in node_modules`);
    return;
  }
  // --ignore-scripts: its install script would try the unreachable download
  await run(
    'npm',
    [
      'install',
      '--no-save',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      `@tensorflow/tfjs-node@${TF.tfjsNode}`,
    ],
    {
      what: `installing @tensorflow/tfjs-node@${TF.tfjsNode} from npm`,
    },
  );
  if ((await installedTfjsNodeVersion()) !== TF.tfjsNode)
    throw new NativeTfError(`npm did not install @tensorflow/tfjs-node@${TF.tfjsNode} into ${pkgDir}`);
}

/** Hard link (no copy of ~475 MB when the cache is on the same disk), else copy. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

async function prepareDeps(libDir: string, includeDir: string): Promise<void> {
  const deps = join(pkgDir, 'deps');
  await rm(deps, { recursive: true, force: true });
  await mkdir(join(deps, 'lib'), { recursive: true });
  for (const lib of await readdir(libDir)) await linkOrCopy(join(libDir, lib), join(deps, 'lib', lib));
  // binding.gyp links -ltensorflow -ltensorflow_framework; the addon then
  // records the SONAMEs (libtensorflow_cc.so.2, libtensorflow_framework.so.2)
  // and finds them through its rpath $ORIGIN/../../deps/lib.
  // libtensorflow.so.2.9.1 is the file tfjs-node's own install script looks
  // for: with it, `npm rebuild @tensorflow/tfjs-node` skips the download too.
  const links: Array<[string, string]> = [
    ['libtensorflow.so', 'libtensorflow_cc.so.2'],
    ['libtensorflow.so.2', 'libtensorflow_cc.so.2'],
    ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
    ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
  ];
  for (const [name, target] of links) await symlink(target, join(deps, 'lib', name));
  await cp(includeDir, join(deps, 'include'), { recursive: true });
}

async function buildAddon(): Promise<string> {
  requireTool('g++', ['--version'], 'install a C++ compiler (Debian/Ubuntu: `apt-get install g++`)');
  requireTool('make', ['--version'], 'install make (Debian/Ubuntu: `apt-get install make`)');
  requireTool('python3', ['--version'], 'install Python 3 (node-gyp runs on it)');
  const nodedir = nodeHeadersDir();
  const gyp = nodeGyp();
  const napi = await napiBuildVersion();
  const modulePath = join(pkgDir, `lib/napi-v${napi}`);
  // unlink, never overwrite: a process that has the old addon mapped keeps its
  // inode, where writing over the file in place could crash it
  await rm(modulePath, { recursive: true, force: true });
  await mkdir(cacheDir, { recursive: true });
  const logFile = join(cacheDir, 'build.log');
  note(`node-gyp against ${nodedir}/include/node, N-API ${napi}, log ${logFile}`);
  await run(
    gyp.cmd,
    [
      ...gyp.args,
      'rebuild',
      `--nodedir=${nodedir}`,
      `--napi_build_version=${napi}`,
      '--module_name=tfjs_binding',
      `--module_path=${modulePath}`,
      `--jobs=max`,
    ],
    { cwd: pkgDir, what: 'building the tfjs-node addon', logFile },
  );
  const addon = join(modulePath, 'tfjs_binding.node');
  if (!existsSync(addon))
    throw new NativeTfError(`node-gyp succeeded but wrote no ${addon} (log: ${logFile})`);
  return addon;
}

interface Stamp {
  tensorflow: string;
  tfjsNode: string;
  node: string;
  jarSha256: string;
  wheelSha256: string;
}
const wantedStamp = (): Stamp => ({
  tensorflow: TF.version,
  tfjsNode: TF.tfjsNode,
  node: process.versions.modules,
  jarSha256: TF.jar.sha256,
  wheelSha256: TF.wheel.sha256,
});

async function upToDate(): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(stampFile, 'utf8')) as Stamp;
    return JSON.stringify(stamp) === JSON.stringify(wantedStamp());
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--check')) {
    const p = probe();
    console.log(
      p.ok
        ? `native backend loads: TensorFlow ${p.tensorflow}`
        : `native backend unavailable: ${p.error ?? `backend is ${p.backend}`}`,
    );
    process.exitCode = p.ok ? 0 : 3;
    return;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new NativeTfError(
      `this script builds for linux-x64 only (TensorFlow Java's linux-x86_64 jar); this is ${process.platform}-${process.arch}`,
    );
  }
  const started = performance.now();
  if (!args.includes('--force') && (await upToDate())) {
    const p = probe();
    if (p.ok) {
      console.log(
        `native backend already built and loads: TensorFlow ${p.tensorflow} (use --force to rebuild)`,
      );
      return;
    }
    note(`stamp present but the backend does not load (${p.error ?? p.backend}): rebuilding`);
  }
  await step(`@tensorflow/tfjs-node ${TF.tfjsNode} from npm (without its install script)`, ensurePackage);
  const libDir = await step(
    `libtensorflow ${TF.version} from Maven Central (TensorFlow Java 0.5.0)`,
    ensureLibraries,
  );
  const includeDir = await step(`TensorFlow ${TF.version} C API headers from PyPI`, ensureHeaders);
  await step(`deps/ of ${pkgDir}`, () => prepareDeps(libDir, includeDir));
  const addon = await step('addon (node-gyp)', buildAddon);
  note(`built ${addon}`);
  const p = await step('loading the backend', async () => probe());
  if (!p.ok)
    throw new NativeTfError(
      `the addon was built but the backend does not work: ${p.error ?? `backend is ${p.backend}`}`,
    );
  await writeFile(stampFile, `${JSON.stringify(wantedStamp(), null, 2)}\n`);
  console.log(
    `native backend ready: TensorFlow ${p.tensorflow} via @tensorflow/tfjs-node ${TF.tfjsNode} in ${((performance.now() - started) / 1000).toFixed(0)} s; use CTR_ML_BACKEND=tensorflow`,
  );
}

main().catch((error: unknown) => {
  console.error(`ml:native: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
