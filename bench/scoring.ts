/**
 * bench/scoring: predictions/s of the CTR head, plain and factorised, per
 * engine (tfjs on each available backend, hand-written Float32Array loops),
 * at batch 1 .. 4096 (one context x `batch` candidates: the list-building
 * shape), on one thread and on a pool of worker threads; with FLOPs per
 * prediction and the fraction of the matmul ceiling measured in the same run.
 *
 *   node --import tsx bench/scoring.ts [--quick] [--backends tensorflow,wasm,cpu] [--workers 2] [--pool-only] [--intra N]
 *
 * Pool rows: each pool size runs in its own child process (TensorFlow reads
 * its thread settings once per process, and the pool sizes them for its
 * worker count), N = 2 x workers concurrent callers, one list request of
 * `batch` candidates per call, with item keys (the serving path: the parts
 * live in the pool's shared item-part table, a request carries slot numbers).
 * The pool gives each worker cores / workers native intra-op threads, so
 * a 1-worker pool may keep more than one core busy (the `cores busy`
 * column); `--intra 1` gives every pool size one thread per worker, which
 * measures scaling per worker. `parts floats` rows are the old path for comparison: the request
 * carries batch x partSize floats of cached parts. CPU per prediction is
 * split into the main thread (the caller and the pool: planning, posting,
 * receiving; /proc/self/task/<pid>/stat) and the whole process.
 *
 * The head is the reference shape of ML-STACK.md: 26 hashed fields (20 context,
 * 6 item), 2^18 x 16 table, 64-float item embedding, 13 numbers, MLP 400-400-1.
 * Factorised rows use item parts cached beforehand (as the pipeline caches them
 * with the embeddings); the context part is computed inside every timed call.
 */
import * as tf from '@tensorflow/tfjs';
import { cpus, availableParallelism, loadavg } from 'node:os';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendName } from '../src/ml/backend.ts';
import { CtrModel, type CtrModelConfig } from '../src/ml/ctr-model.ts';
import { DEFAULT_TOWERS } from '../src/ml/towers.ts';
import { headFlops, sigmoidInPlace } from '../src/ml/ctr-head.ts';
import { disposeInputs, headInputsFromRows, headLogitsTf, toTfParams } from '../src/ml/ctr-head-tf.ts';
import {
  allocateRows,
  packContext,
  writeContext,
  writeItem,
  type FeatureValues,
} from '../src/ml/feature-spec.ts';
import { Scorer, type ScoreRequest } from '../src/ml/scorer.ts';
import { ScoringPool } from '../src/ml/scoring-pool.ts';
import { Random } from '../src/ml/random.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const arg = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] as string) : def;
};
const backends = arg('--backends', 'wasm,cpu').split(',') as BackendName[];
const workers = Number(arg('--workers', String(availableParallelism())));
const poolChild = arg('--pool-child', '');
const poolOnly = args.includes('--pool-only');
const intra = arg('--intra', '');
const budgetMs = quick ? 300 : 1500;
const batches = [1, 64, 256, 1024, 4096];

const ctxFields = Array.from({ length: 20 }, (_, i) => `c${i}`);
const itemFields = Array.from({ length: 6 }, (_, i) => `i${i}`);
const config: CtrModelConfig = {
  spec: {
    contextFields: ctxFields,
    itemFields,
    contextNumeric: Array.from({ length: 8 }, (_, i) => `cn${i}`),
    itemNumeric: Array.from({ length: 5 }, (_, i) => `in${i}`),
    hashRows: 1 << 18,
    embeddingDim: 64,
  },
  fmDim: 16,
  hidden: [400, 400],
  towers: DEFAULT_TOWERS,
};
const model = CtrModel.create(config, 1);
const rng = new Random(9);
const P = model.head.partSize;
const flops = headFlops(model.headConfig);

function contextValues(): FeatureValues {
  const v: Record<string, string | number> = {};
  for (const f of ctxFields) v[f] = `v${rng.int(1000)}`;
  for (let j = 0; j < 8; j++) v[`cn${j}`] = rng.next() * 10;
  return v;
}
function itemValues(): FeatureValues {
  const v: Record<string, string | number> = {};
  for (const f of itemFields) v[f] = `v${rng.int(1000)}`;
  for (let j = 0; j < 5; j++) v[`in${j}`] = rng.next() * 100;
  return v;
}
const maxB = 4096;
const ctx = contextValues();
const rows = allocateRows(config.spec, maxB);
for (let r = 0; r < maxB; r++) {
  writeContext(config.spec, rows, r, ctx);
  writeItem(
    config.spec,
    rows,
    r,
    itemValues(),
    Float32Array.from({ length: 64 }, () => rng.normal() * 0.5),
  );
}
const packedCtx = packContext(config.spec, ctx);
const t0Parts = performance.now();
const allParts = model.head.itemParts(rows);
const itemPartMs = performance.now() - t0Parts;

function sub(n: number) {
  const fc = config.spec.contextFields.length;
  const fi = config.spec.itemFields.length;
  return {
    size: n,
    contextCats: rows.contextCats.subarray(0, n * fc),
    itemCats: rows.itemCats.subarray(0, n * fi),
    contextNums: rows.contextNums.subarray(0, n * 8),
    itemNums: rows.itemNums.subarray(0, n * 5),
    embeddings: rows.embeddings.subarray(0, n * 64),
  };
}
function request(n: number): ScoreRequest {
  const r = sub(n);
  return {
    context: packedCtx,
    items: { count: n, cats: r.itemCats, nums: r.itemNums, embeddings: r.embeddings },
    itemParts: { version: 'bench', parts: allParts.subarray(0, n * P) },
  };
}

const loadNow = (): string => loadavg()[0]!.toFixed(1);

/** CPU time of this process's main thread, us (Linux /proc; undefined elsewhere). */
function mainThreadCpuUs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // utime + stime, clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

interface PoolFigures {
  path: 'keys' | 'parts sent';
  threads: number;
  batch: number;
  backend: string;
  predPerSec: number;
  /** CPU us per prediction: main thread, whole process. */
  mainUs: number | undefined;
  totalUs: number;
  /** Process CPU time / wall time over the row: the cores the pool kept busy. */
  cores: number;
  load: string;
  intraOp: number;
}

/** Child process body: one pool size, the batches, JSON figures on stdout. */
async function runPoolChild(spec: {
  engine: 'tfjs' | 'js';
  backend: BackendName;
  threads: number;
}): Promise<void> {
  const pool = new ScoringPool({
    workers: spec.threads,
    backend: spec.backend,
    engine: spec.engine,
    nativeThreads: intra ? { intraOp: Number(intra), interOp: 1 } : undefined,
  });
  await pool.load('bench', model.toBuffer());
  const keys = Array.from({ length: maxB }, (_, i) => `item-${i}`);
  const out: PoolFigures[] = [];
  const cases: [PoolFigures['path'], number][] = [
    ['keys', 256],
    ['keys', 1024],
    ['keys', 4096],
    ['parts sent', 1024],
  ];
  for (const [path, b] of cases) {
    const base = request(b);
    const req: ScoreRequest =
      path === 'keys'
        ? { context: base.context, items: base.items, itemKeys: { version: 'bench', keys: keys.slice(0, b) } }
        : base;
    const one = (): Promise<unknown> => pool.score([req]);
    // warm-up: the first keyed call computes and stores the parts; later calls read them
    for (let i = 0; i < 2; i++) await Promise.all(Array.from({ length: spec.threads }, one));
    let done = 0;
    const c0 = process.cpuUsage();
    const m0 = mainThreadCpuUs();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: spec.threads * 2 }, async () => {
        while (performance.now() - t0 < budgetMs * 2) {
          await one();
          done += b;
        }
      }),
    );
    const sec = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    const m1 = mainThreadCpuUs();
    out.push({
      path,
      threads: spec.threads,
      batch: b,
      backend: spec.engine === 'js' ? 'js' : `tfjs-${pool.backend}`,
      predPerSec: done / sec,
      mainUs: m0 === undefined || m1 === undefined ? undefined : (m1 - m0) / done,
      totalUs: (cpu.user + cpu.system) / done,
      cores: (cpu.user + cpu.system) / 1e6 / sec,
      load: loadNow(),
      intraOp: pool.nativeThreads.intraOp,
    });
  }
  await pool.close();
  console.log(JSON.stringify(out));
}

if (poolChild) {
  await runPoolChild(JSON.parse(poolChild) as Parameters<typeof runPoolChild>[0]);
  process.exit(0);
}

/** Runs f repeatedly for the budget; returns predictions/s. */
function measure(n: number, f: () => void): number {
  f();
  let calls = 0;
  const t0 = performance.now();
  let el = 0;
  do {
    f();
    calls++;
    el = performance.now() - t0;
  } while (el < budgetMs);
  return (calls * n) / (el / 1000);
}

function matmulCeiling(): number {
  return tf.tidy(() => {
    const a = tf.randomNormal([1024, 1024]);
    tf.matMul(a, a).dataSync();
    let best = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      tf.matMul(a, a).dataSync();
      best = Math.max(best, (2 * 1024 ** 3) / ((performance.now() - t0) / 1000));
    }
    return best;
  });
}

/** Four rows x [512 x 512] multiply-adds, the best JS loop shape we have (denseRelu4's), warmed up. */
function jsKernel(x: Float32Array[], w: Float32Array, out: Float32Array[], n: number, m: number): void {
  const [x0, x1, x2, x3] = x as [Float32Array, Float32Array, Float32Array, Float32Array];
  const [o0, o1, o2, o3] = out as [Float32Array, Float32Array, Float32Array, Float32Array];
  for (let p = 0; p < n; p++) {
    const a0 = x0[p] as number;
    const a1 = x1[p] as number;
    const a2 = x2[p] as number;
    const a3 = x3[p] as number;
    const wo = p * m;
    for (let j = 0; j < m; j++) {
      const wj = w[wo + j] as number;
      o0[j] = (o0[j] as number) + a0 * wj;
      o1[j] = (o1[j] as number) + a1 * wj;
      o2[j] = (o2[j] as number) + a2 * wj;
      o3[j] = (o3[j] as number) + a3 * wj;
    }
  }
}

function jsCeiling(): number {
  const n = 512;
  const w = Float32Array.from({ length: n * n }, (_, i) => (i % 7) * 0.01);
  const x = [0, 1, 2, 3].map(() => Float32Array.from({ length: n }, (_, i) => (i % 5) * 0.1));
  const o = [0, 1, 2, 3].map(() => new Float32Array(n));
  for (let i = 0; i < 50; i++) jsKernel(x, w, o, n, n);
  let best = 0;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) jsKernel(x, w, o, n, n);
    best = Math.max(best, (50 * 2 * 4 * n * n) / ((performance.now() - t0) / 1000));
  }
  return best;
}

interface Row {
  engine: string;
  path: string;
  threads: number;
  batch: number;
  predPerSec: number;
  gflops: number;
  ceiling: string;
}
const table: Row[] = [];
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

console.log(
  `# bench/scoring  node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, load avg ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log(
  `# head: ${config.spec.contextFields.length + config.spec.itemFields.length} fields, 2^18 x ${config.fmDim} table, 64-float embedding, 13 numbers, MLP ${config.hidden.join('-')}-1`,
);
console.log(
  `# FLOPs/prediction: plain ${fmt(flops.plain)}, factorised cross ${fmt(flops.factorisedCross)}; item parts (cached per item+version): ${((itemPartMs / maxB) * 1000).toFixed(1)} us/item on JS`,
);

const ceilings: Record<string, number> = { js: poolOnly ? Number.NaN : jsCeiling() };
console.log(`# JS Float32Array multiply-add ceiling: ${(ceilings.js! / 1e9).toFixed(1)} GFLOP/s`);
for (const backend of poolOnly ? [] : backends) {
  const got = await initBackend(backend).catch(() => undefined);
  if (got !== backend) {
    console.log(`# backend ${backend}: not available`);
    continue;
  }
  ceilings[backend] = matmulCeiling();
  console.log(`# ${backend} matmul 1024^3 ceiling: ${(ceilings[backend]! / 1e9).toFixed(1)} GFLOP/s`);
  const tp = toTfParams(model.weights, (n) => n !== 'fm.table' && n !== 'text.table');
  const scorer = new Scorer(model, 'bench', 'tfjs');
  for (const b of batches) {
    if (backend === 'cpu' && b > 1024 && !quick) continue; // minutes per call; the trend is clear by 1024
    const r = sub(b);
    const plain = measure(b, () => {
      const x = headInputsFromRows(model.headConfig, model.weights, r);
      tf.tidy(() => sigmoidInPlace(headLogitsTf(model.headConfig, tp, x).dataSync() as Float32Array));
      disposeInputs(x);
    });
    table.push({
      engine: `tfjs-${backend}`,
      path: 'plain',
      threads: 1,
      batch: b,
      predPerSec: plain,
      gflops: (plain * flops.plain) / 1e9,
      ceiling: `${((100 * plain * flops.plain) / ceilings[backend]!).toFixed(0)}%`,
    });
    const req = request(b);
    const fact = measure(b, () => scorer.score([req]));
    table.push({
      engine: `tfjs-${backend}`,
      path: 'factorised',
      threads: 1,
      batch: b,
      predPerSec: fact,
      gflops: (fact * flops.factorisedCross) / 1e9,
      ceiling: `${((100 * fact * flops.factorisedCross) / ceilings[backend]!).toFixed(0)}%`,
    });
  }
  tp.forEach((t) => t.dispose());
  scorer.dispose();
}
if (!poolOnly) {
  const scorer = new Scorer(model, 'bench', 'js');
  for (const b of batches) {
    const r = sub(b);
    const plain = measure(b, () => model.head.plainLogits(r));
    table.push({
      engine: 'js',
      path: 'plain',
      threads: 1,
      batch: b,
      predPerSec: plain,
      gflops: (plain * flops.plain) / 1e9,
      ceiling: `${((100 * plain * flops.plain) / ceilings.js!).toFixed(0)}%`,
    });
    const req = request(b);
    const fact = measure(b, () => scorer.score([req]));
    table.push({
      engine: 'js',
      path: 'factorised',
      threads: 1,
      batch: b,
      predPerSec: fact,
      gflops: (fact * flops.factorisedCross) / 1e9,
      ceiling: `${((100 * fact * flops.factorisedCross) / ceilings.js!).toFixed(0)}%`,
    });
  }
}

// pools: one child process per pool size (see the file comment)
const poolRuns: ['tfjs' | 'js', BackendName][] = [
  ...backends.filter((b) => b !== 'cpu').map((b) => ['tfjs', b] as ['tfjs', BackendName]),
  ['js', 'wasm'],
];
const poolRows: PoolFigures[] = [];
const self = fileURLToPath(import.meta.url);
for (const [engine, backend] of poolRuns) {
  for (const threads of [...new Set([1, workers])]) {
    const spec = JSON.stringify({ engine, backend, threads });
    const argv = [
      '--import',
      'tsx',
      self,
      '--pool-child',
      spec,
      ...(quick ? ['--quick'] : []),
      ...(intra ? ['--intra', intra] : []),
    ];
    const stdout = await new Promise<string>((resolve) =>
      execFile(process.execPath, argv, { maxBuffer: 1 << 20 }, (err, so, se) => {
        if (err) console.log(`# pool ${spec}: failed: ${String(se).split('\n').slice(-3).join(' ')}`);
        resolve(err ? '' : so);
      }),
    );
    const line = stdout.trim().split('\n').pop();
    if (line) poolRows.push(...(JSON.parse(line) as PoolFigures[]));
  }
}
for (const r of poolRows) {
  const ceil = ceilings[r.backend === 'js' ? 'js' : r.backend.replace('tfjs-', '')] ?? Number.NaN;
  table.push({
    engine: `${r.backend} pool${r.path === 'keys' ? '' : ', parts sent'}`,
    path: 'factorised',
    threads: r.threads,
    batch: r.batch,
    predPerSec: r.predPerSec,
    gflops: (r.predPerSec * flops.factorisedCross) / 1e9,
    ceiling: Number.isNaN(ceil)
      ? ''
      : `${((100 * r.predPerSec * flops.factorisedCross) / (ceil * r.threads)).toFixed(0)}% of ${r.threads}`,
  });
}

console.log('');
console.log('| engine | path | threads | batch | predictions/s | GFLOP/s | of ceiling |');
console.log('|---|---|---|---|---|---|---|');
for (const r of table)
  console.log(
    `| ${r.engine} | ${r.path} | ${r.threads} | ${r.batch} | ${fmt(r.predPerSec)} | ${r.gflops.toFixed(2)} | ${r.ceiling} |`,
  );
if (poolRows.length > 0) {
  console.log('');
  console.log(
    'Pools, factorised head: 1 worker -> N workers (each pool size in its own process; load = 1-min load average at the end of the row)',
  );
  console.log('');
  console.log(
    '| engine | request carries | batch | workers | predictions/s | speed-up | main-thread CPU us/pred | total CPU us/pred | cores busy | intra-op threads | load |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of poolRows) {
    const one = poolRows.find(
      (o) => o.backend === r.backend && o.path === r.path && o.batch === r.batch && o.threads === 1,
    );
    const speed = one && r.threads > 1 ? `${(r.predPerSec / one.predPerSec).toFixed(2)}x` : '';
    console.log(
      `| ${r.backend} | ${r.path === 'keys' ? 'slots (item keys)' : 'parts floats'} | ${r.batch} | ${r.threads} | ${fmt(r.predPerSec)} | ${speed} | ${r.mainUs === undefined ? 'n/a' : r.mainUs.toFixed(2)} | ${r.totalUs.toFixed(2)} | ${r.cores.toFixed(2)} | ${r.intraOp} | ${r.load} |`,
    );
  }
}
console.log(
  `\n# load avg at end: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} (the machine is shared: figures are noisy)`,
);
