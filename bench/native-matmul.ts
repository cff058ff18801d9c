/**
 * bench/native-matmul: float32 matMul GFLOP/s of the native TensorFlow backend
 * (@tensorflow/tfjs-node, built by `npm run ml:native`) against wasm (XNNPACK
 * SIMD) and optionally the pure-JS cpu backend, on one thread and on the
 * backend's default threads. Each configuration runs in its own child
 * process, because TensorFlow reads its thread-pool sizes once, at start.
 *
 *   node --import tsx bench/native-matmul.ts [--quick] [--cpu] [--seconds 3]
 *
 * Shapes: 1024^3 (the reference ceiling of ML-STACK.md), and the first MLP
 * layer of the CTR head at batch 1024 (1024x493 by 493x400). "cpu/wall" is
 * process CPU time over wall time during the timed loop: how many cores the
 * backend really got; "GFLOP per CPU-s" divides the work by that CPU time,
 * the figure least moved by other processes on a shared machine. Single-thread native runs set TF_NUM_INTRAOP_THREADS=1
 * and TF_NUM_INTEROP_THREADS=1 (read by TensorFlow when its eager context is
 * made); wasm in Node always runs on one thread.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendName } from '../src/ml/backend.ts';

interface Shape {
  name: string;
  m: number;
  k: number;
  n: number;
}
const SHAPES: Shape[] = [
  { name: '1024^3', m: 1024, k: 1024, n: 1024 },
  { name: 'head L1 1024x493x400', m: 1024, k: 493, n: 400 },
];

interface Row {
  backend: string;
  threads: string;
  shape: string;
  medianMs: number;
  meanMs: number;
  gflops: number;
  gflopsMean: number;
  gflopsPerCpuSecond: number;
  cpuPerWall: number;
  iterations: number;
}

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] as string) : def;
};

/** Child: measure every shape on one backend, print one JSON line. */
async function child(backend: BackendName, threads: string, seconds: number): Promise<void> {
  const got = await initBackend(backend);
  if (got !== backend) throw new Error(`backend ${backend} did not start (got ${got})`);
  const rows: Row[] = [];
  for (const shape of SHAPES) {
    const a = tf.randomUniform([shape.m, shape.k], -1, 1);
    const b = tf.randomUniform([shape.k, shape.n], -1, 1);
    const once = async (): Promise<number> => {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data(); // wait for the result: native runs asynchronously
      c.dispose();
      return performance.now() - t0;
    };
    for (let i = 0; i < 3; i++) await once();
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    while (performance.now() - wall0 < seconds * 1000 || times.length < 5) times.push(await once());
    const wall = performance.now() - wall0;
    const cpu = process.cpuUsage(cpu0);
    times.sort((x, y) => x - y);
    const medianMs = times[Math.floor(times.length / 2)] as number;
    const flops = 2 * shape.m * shape.k * shape.n;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    rows.push({
      backend,
      threads,
      shape: shape.name,
      medianMs,
      meanMs: wall / times.length,
      gflops: flops / (medianMs * 1e6),
      gflopsMean: (flops * times.length) / (wall * 1e6),
      gflopsPerCpuSecond: (flops * times.length) / (cpuMs * 1e6),
      cpuPerWall: cpuMs / wall,
      iterations: times.length,
    });
    tf.dispose([a, b]);
  }
  console.log(JSON.stringify(rows));
}

interface Config {
  backend: BackendName;
  threads: 'default' | '1';
  env: NodeJS.ProcessEnv;
}

function parent(): void {
  const seconds = Number(arg('--seconds', args.includes('--quick') ? '1' : '3'));
  const single = { TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1', OMP_NUM_THREADS: '1' };
  const configs: Config[] = [
    { backend: 'tensorflow', threads: 'default', env: {} },
    { backend: 'tensorflow', threads: '1', env: single },
    { backend: 'wasm', threads: '1', env: {} },
    ...(args.includes('--cpu') ? [{ backend: 'cpu' as const, threads: '1' as const, env: {} }] : []),
  ];
  const rows: Row[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const config of configs) {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', self, '--child', config.backend, config.threads, String(seconds)],
      { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...config.env } },
    );
    const line = result.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('['))
      .pop();
    if (result.status !== 0 || !line) {
      const why = (result.stderr.trim().split('\n').pop() ?? '').slice(0, 200);
      console.log(
        `${config.backend} (${config.threads} thread${config.threads === '1' ? '' : 's'}): unavailable: ${why}`,
      );
      continue;
    }
    rows.push(...(JSON.parse(line) as Row[]));
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `\nmatMul float32, median of >= ${seconds} s per row; ${cpus().length} cores (${cpu}); load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; node ${process.version}; tfjs ${tf.version.tfjs}\n`,
  );
  // On a shared machine the median shows what one call costs when the process
  // is scheduled; the mean what it got overall; GFLOP per CPU-second what the
  // code does with the core time it had (the figure least moved by other load).
  console.log(
    '| backend | threads | shape | median ms | mean ms | GFLOP/s (median) | GFLOP/s (mean) | GFLOP per CPU-s | cpu/wall | iterations |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.backend} | ${r.threads} | ${r.shape} | ${r.medianMs.toFixed(2)} | ${r.meanMs.toFixed(2)} | ${r.gflops.toFixed(1)} | ${r.gflopsMean.toFixed(1)} | ${r.gflopsPerCpuSecond.toFixed(1)} | ${r.cpuPerWall.toFixed(2)} | ${r.iterations} |`,
    );
  }
}

if (args[0] === '--child') {
  await child(args[1] as BackendName, args[2] as string, Number(args[3]));
} else {
  parent();
}
