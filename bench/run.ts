/**
 * `npm run bench`: lists the benchmarks with what each measures;
 * `npm run bench -- <name> [args...]` runs bench/<name>.ts with its own flags.
 * Benchmarks print their figures (and the backend and machine they ran on);
 * none is a test, and none runs by default because several take minutes.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;

/** The first sentence of a benchmark's header comment, after its `bench/<name>:` prefix. */
function summaryOf(file: string): string {
  const header = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(file, 'utf8'))?.[1] ?? '';
  const text = header
    .split('\n')
    .map((line) => line.replace(/^\s*\*\s?/, ''))
    .join(' ')
    .replace(/\s+/g, ' ')
    .replace(/^\s*bench\/[\w-]+:\s*/, '')
    .trim();
  return /^(.*?[.:])(\s|$)/.exec(text)?.[1] ?? text;
}

const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name) {
  console.log("benchmarks (run one: npm run bench -- <name> [flags]; flags are in each file's header):\n");
  for (const n of names) console.log(`  ${n.padEnd(18)} ${summaryOf(join(here, `${n}.ts`))}`);
} else if (!names.includes(name)) {
  console.error(`bench: no benchmark "${name}"; known: ${names.join(', ')}`);
  process.exit(2);
} else {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`), ...args], {
    stdio: 'inherit',
  });
  child.on('exit', (code) => process.exit(code ?? 1));
}
