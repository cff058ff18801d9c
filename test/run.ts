/**
 * The test command: `npm test` (unit + integration), `npm run test:unit`,
 * `npm run test:integration`. Integration tests need a real broker: unless
 * CTR_KAFKA_BOOTSTRAP names one, this starts a fresh single-node broker on
 * port CTR_TEST_KAFKA_PORT (default 19092) with its data in a temp dir, and
 * stops it at the end. Test files run through node's test runner (spec output);
 * the last line sums up as `tests: N passed, N failed`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startLocalBroker, stopLocalBroker } from '../src/kafka/local-broker/index.ts';

type Suite = 'unit' | 'integration' | 'all';

function testFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : testFiles(path);
      return name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

function runNodeTests(files: string[], env: NodeJS.ProcessEnv, tapFile: string): Promise<number> {
  const concurrency = process.env.CTR_TEST_CONCURRENCY ?? '2';
  const args = [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=600000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', env });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

function tapCounts(tapFile: string): { pass: number; fail: number; skipped: number } {
  const text = readFileSync(tapFile, 'utf8');
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    pass: count('pass'),
    fail: count('fail') + count('cancelled'),
    skipped: count('skipped') + count('todo'),
  };
}

async function main(): Promise<void> {
  const suite = (process.argv[2] ?? 'all') as Suite;
  if (!['unit', 'integration', 'all'].includes(suite))
    throw new Error(`unknown suite "${suite}": use unit, integration or all`);
  const filter = process.argv[3];
  let files = [
    ...(suite !== 'integration' ? testFiles('test/unit') : []),
    ...(suite !== 'unit' ? testFiles('test/integration') : []),
  ];
  if (filter) files = files.filter((f) => f.includes(filter));
  const needsBroker = files.some((f) => f.startsWith(join('test', 'integration')));
  const env: NodeJS.ProcessEnv = { ...process.env };
  let startedBroker: { port: number; dataDir: string } | undefined;
  if (needsBroker && !env.CTR_KAFKA_BOOTSTRAP) {
    const port = Number(process.env.CTR_TEST_KAFKA_PORT ?? 19092);
    const dataDir = mkdtempSync(join(tmpdir(), 'ctr-streams-test-broker-'));
    const broker = await startLocalBroker({
      port,
      dataDir,
      fresh: true,
      onProgress: (l) => console.log(`[broker] ${l}`),
    });
    startedBroker = { port, dataDir };
    env.CTR_KAFKA_BOOTSTRAP = broker.bootstrap;
  }
  const tapFile = join(mkdtempSync(join(tmpdir(), 'ctr-streams-tap-')), 'results.tap');
  const started = Date.now();
  console.log(
    `running ${files.length} test files (${suite}): ${files.map((f) => relative('test', f)).join(', ')}`,
  );
  let code = 1;
  try {
    code = await runNodeTests(files, env, tapFile);
  } finally {
    if (startedBroker) {
      await stopLocalBroker({ port: startedBroker.port, dataDir: startedBroker.dataDir });
      rmSync(startedBroker.dataDir, { recursive: true, force: true });
    }
  }
  const { pass, fail, skipped } = tapCounts(tapFile);
  console.log(
    `\ntests (${suite}, ${((Date.now() - started) / 1000).toFixed(0)} s): ${pass} passed, ${fail} failed${skipped ? `, ${skipped} skipped` : ''}`,
  );
  process.exit(code !== 0 || fail > 0 ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(`test run failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
