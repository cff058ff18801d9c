import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');
const dockerfilePath = join(root, 'deploy', 'docker', 'Dockerfile');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

/** A structural Dockerfile parser: comments, line continuations, one instruction per logical line. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let buffer = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (buffer === '' && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (buffer !== '' && line.trim().startsWith('#')) return; // comments inside a continuation
    if (buffer === '') start = i + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1)} `;
      return;
    }
    buffer += line;
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buffer);
    assert.ok(match, `line ${start}: not an instruction: ${buffer}`);
    out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start });
    buffer = '';
  });
  assert.equal(buffer, '', 'a continuation runs off the end of the file');
  return out;
}

function stages(instructions: Instruction[]): Stage[] {
  const result: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM on line ${ins.line}`);
      result.push({ base: m[1]!, name: m[2], instructions: [] });
    } else if (result.length > 0) {
      result[result.length - 1]!.instructions.push(ins);
    } else {
      assert.equal(ins.keyword, 'ARG', `only ARG may precede the first FROM (line ${ins.line})`);
    }
  }
  return result;
}

/** ENV in both forms: `ENV A=1 B=2` and `ENV A 1`. */
function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    const pairs = ins.args.match(/(\w+)=("[^"]*"|\S+)/g);
    if (pairs)
      for (const p of pairs)
        env.set(p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1).replace(/^"|"$/g, ''));
    else {
      const [k, ...v] = ins.args.split(/\s+/);
      env.set(k!, v.join(' '));
    }
  }
  return env;
}

function args(stage: Stage): Map<string, string> {
  const out = new Map<string, string>();
  for (const ins of stage.instructions.filter((i) => i.keyword === 'ARG')) {
    const [k, v] = ins.args.split('=');
    out.set(k!, v ?? '');
  }
  return out;
}

const KNOWN = new Set([
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
]);

describe('deploy/docker/Dockerfile', () => {
  const text = readFileSync(dockerfilePath, 'utf8');
  const instructions = parseDockerfile(text);
  const all = stages(instructions);
  const runtime = all[all.length - 1]!;

  it('uses only known instructions and starts with a syntax directive', () => {
    for (const ins of instructions) assert.ok(KNOWN.has(ins.keyword), `line ${ins.line}: ${ins.keyword}`);
    assert.match(text.split('\n')[0]!, /^# syntax=docker\/dockerfile:1/);
  });

  it('is multi-stage: a named build stage and a runtime stage on the same pinned Node base', () => {
    assert.ok(all.length >= 2, 'at least two stages');
    assert.deepEqual(
      all.map((s) => s.name),
      ['build', 'runtime'],
    );
    for (const s of all) assert.match(s.base, /^node:\$\{NODE_VERSION\}-\S+$/, s.base);
    const nodeVersion = /^ARG NODE_VERSION=(\d+)\./m.exec(text);
    assert.ok(nodeVersion, 'NODE_VERSION has a default');
    const engines = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node as string;
    assert.ok(
      Number(nodeVersion[1]) >= Number(/\d+/.exec(engines)![0]),
      `Node ${nodeVersion[1]} satisfies ${engines}`,
    );
  });

  it('installs with npm ci from the lock file and compiles with tsc in the build stage only', () => {
    const build = all[0]!;
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.ok(
      runs.some((r) => /\bnpm ci\b/.test(r)),
      'npm ci',
    );
    assert.ok(
      runs.some((r) => /\bnpm run build\b|\btsc\b/.test(r)),
      'tsc build',
    );
    assert.ok(
      runs.some((r) => /npm prune --omit=dev/.test(r)),
      'dev dependencies pruned',
    );
    const copies = build.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    assert.equal(
      copies[0],
      'package.json package-lock.json ./',
      'lock file copied before sources (layer cache)',
    );
    const tsc = runs.map((r) => /tsc -p (\S+)/.exec(r)?.[1]).find((p) => p !== undefined);
    assert.equal(tsc, 'deploy/docker/tsconfig.build.json');
    for (const r of runtime.instructions.filter((i) => i.keyword === 'RUN')) {
      assert.doesNotMatch(r.args, /npm (ci|install)/, 'no install in the runtime stage');
    }
  });

  it('compiles src and topologies (not tests) into the dist layout bin/ctr-streams.js loads', () => {
    const configPath = join(root, 'deploy', 'docker', 'tsconfig.build.json');
    // tsconfig files allow // comments
    const config = JSON.parse(
      readFileSync(configPath, 'utf8')
        .split('\n')
        .filter((l) => !l.trim().startsWith('//'))
        .join('\n'),
    ) as { extends: string; include: string[]; compilerOptions?: Record<string, unknown> };
    assert.equal(resolve(dirname(configPath), config.extends), join(root, 'tsconfig.json'));
    assert.deepEqual(
      config.include.map((p) => resolve(dirname(configPath), p)),
      [join(root, 'src'), join(root, 'topologies')],
    );
    assert.equal(config.compilerOptions?.outDir, undefined, 'outDir from the base: dist/ at the root');
    assert.equal(config.compilerOptions?.rootDir, undefined, 'rootDir from the base: the repository root');
    const base = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: Record<string, unknown>;
    };
    assert.equal(base.compilerOptions.outDir, 'dist');
    assert.equal(base.compilerOptions.rootDir, '.');
    assert.equal(base.compilerOptions.rewriteRelativeImportExtensions, true, 'emitted imports end in .js');
    assert.match(readFileSync(join(root, 'bin', 'ctr-streams.js'), 'utf8'), /\.\.\/dist\/src\/cli\/main\.js/);
  });

  it('copies into the runtime stage only from the build stage, and what it copies is produced there', () => {
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
    assert.ok(copies.length >= 4);
    for (const c of copies) {
      assert.equal(c.keyword, 'COPY', 'no ADD');
      assert.match(c.args, /^--from=build\s/, `line ${c.line} copies from the build stage`);
    }
    const sources = copies.flatMap((c) =>
      c.args
        .replace(/^--from=build\s+/, '')
        .split(/\s+/)
        .slice(0, -1),
    );
    for (const s of sources) {
      const rel = s.replace(/^\/src\//, '');
      // dist and node_modules are made by the build; schemas is created there if absent
      if (['dist', 'node_modules', 'schemas'].includes(rel)) continue;
      assert.ok(existsSync(join(root, rel)), `${rel} exists in the repository`);
    }
  });

  it('runs as a fixed non-root user', () => {
    const users = runtime.instructions.filter((i) => i.keyword === 'USER');
    assert.equal(users.length, 1);
    const declared = args(runtime);
    const user = users[0]!.args.replace(/\$\{(\w+)\}/g, (_, name: string) => declared.get(name) ?? '');
    assert.match(user, /^\d+(:\d+)?$/, `numeric uid (runAsNonRoot can check it): ${user}`);
    assert.notEqual(Number(user.split(':')[0]), 0);
    const userIndex = runtime.instructions.indexOf(users[0]!);
    assert.ok(
      runtime.instructions.slice(userIndex).every((i) => i.keyword !== 'RUN'),
      'nothing runs as root after USER',
    );
  });

  it('declares state.dir as a volume, owned by the app user', () => {
    const env = envOf(runtime);
    const stateDir = env.get('CTR_STATE_DIR');
    assert.ok(stateDir, 'CTR_STATE_DIR set');
    const volumes = runtime.instructions
      .filter((i) => i.keyword === 'VOLUME')
      .flatMap((i) => JSON.parse(i.args) as string[]);
    assert.ok(volumes.includes(stateDir!), `VOLUME ${stateDir}`);
    const prepare = runtime.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('chown'));
    assert.ok(
      prepare && prepare.args.includes(stateDir!.replace(/\/state$/, '')),
      'state dir created and chowned',
    );
  });

  it('exposes the telemetry port and health-checks /health on it', () => {
    const env = envOf(runtime);
    const port = env.get('CTR_TELEMETRY_PORT');
    assert.equal(port, '9464');
    assert.ok(
      runtime.instructions.some((i) => i.keyword === 'EXPOSE' && i.args.split(/\s+/).includes(port!)),
    );
    const health = runtime.instructions.filter((i) => i.keyword === 'HEALTHCHECK');
    assert.equal(health.length, 1);
    assert.match(health[0]!.args, /--interval=\d+s/);
    assert.match(health[0]!.args, /--start-period=\d+s/);
    assert.match(health[0]!.args, /CMD \[/, 'exec form');
    assert.match(health[0]!.args, /\/health'/, 'liveness endpoint, not /health/ready');
    assert.match(health[0]!.args, /CTR_TELEMETRY_PORT/);
  });

  it('starts the CLI in exec form so SIGTERM reaches node', () => {
    const entry = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT');
    assert.equal(entry.length, 1);
    const argv = JSON.parse(entry[0]!.args) as string[];
    assert.equal(argv[0], 'node');
    assert.equal(argv[1], '/app/bin/ctr-streams.js');
    assert.ok(existsSync(join(root, 'bin', 'ctr-streams.js')));
    assert.ok(Array.isArray(JSON.parse(runtime.instructions.find((i) => i.keyword === 'CMD')!.args)));
    assert.ok(runtime.instructions.some((i) => i.keyword === 'STOPSIGNAL' && i.args === 'SIGTERM'));
  });

  it('has a context filter that keeps node_modules and local state out but the sources in', () => {
    const ignore = readFileSync(join(root, 'deploy', 'docker', 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    assert.ok(ignore.includes('**/node_modules'));
    assert.ok(ignore.includes('/.git'));
    for (const pattern of ignore) {
      for (const kept of [
        'src',
        'src/streams/state',
        'topologies',
        'schemas',
        'bin',
        'deploy',
        'package.json',
        'package-lock.json',
        'tsconfig.json',
      ]) {
        const bare = pattern.replace(/^\/|^\*\*\//g, '');
        assert.ok(!(bare === kept || bare === kept.split('/').pop()), `"${pattern}" would drop ${kept}`);
      }
    }
  });
});
