/**
 * bench/autobatch: the same offered load scored with and without the
 * autobatcher (the Zemanta seed's experiment: 5x fewer model calls, CPU per
 * prediction halved, a few ms of added latency). Open loop: `--rate` list
 * requests per second (each one context x `--candidates` items, as many
 * tasks would send), for `--seconds`, over a ScoringPool of `--workers`,
 * for each backend of `--backends` (wasm, tensorflow, cpu) and each request
 * size of `--candidates` (a list: 1,8,32).
 *
 * Per mode it prints model calls, rows per call (mean, p50, p90, max), CPU
 * time per prediction of the whole process split into the main thread, the
 * pool's threads (workers and their native threads) and the rest (GC, V8
 * platform, libuv), end-to-end latency p50/p99/max per request (from submit
 * to result), and the pool's utilisation (pool CPU / (wall x workers)). The
 * autobatched run also prints the two parts of each request's queue wait:
 * forming (waiting for the batch to fill, <= maxWaitMs by design) and slot
 * wait (waiting for a free worker once due: saturation), plus timer lag.
 * A `generator` row runs the load generator alone (results resolved at
 * once) so its own CPU can be told apart from serving. Both modes first run
 * `--warmup` seconds unrecorded (the workers' JIT takes seconds to settle).
 * `--repeat` alternates direct and autobatched runs and prints every run
 * (the machine is shared).
 *
 *   node --import tsx bench/autobatch.ts [--backends wasm,tensorflow] [--rate 1000] [--candidates 8|1,8,32]
 *     [--seconds 5] [--max-wait 5] [--max-batch 1024] [--workers 2] [--slots <workers>] [--repeat 1] [--warmup 3] [--js]
 */
import { availableParallelism, loadavg } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { CtrModel, DEFAULT_MODEL_CONFIG } from '../src/ml/ctr-model.ts';
import { ScoringPool } from '../src/ml/scoring-pool.ts';
import { Autobatcher, type BatchReport } from '../src/ml/autobatcher.ts';
import { allocateRows, packContext, writeItem } from '../src/ml/feature-spec.ts';
import { requestRows, type ScoreRequest, type ScoreResult } from '../src/ml/scorer.ts';
import { Random } from '../src/ml/random.ts';
import type { BackendChoice } from '../src/ml/backend.ts';
import { arg } from './support/args.ts';

const rate = Number(arg('rate', '1000'));
const candidateSizes = arg('candidates', '8').split(',').map(Number);
let candidates = candidateSizes[0] as number;
const seconds = Number(arg('seconds', '5'));
const maxWaitMs = Number(arg('max-wait', '5'));
const maxBatch = Number(arg('max-batch', '1024'));
const workers = Number(arg('workers', String(availableParallelism())));
const slots = Number(arg('slots', String(workers)));
const repeat = Number(arg('repeat', '1'));
const warmup = Number(arg('warmup', '3'));
const backends = arg('backends', arg('backend', 'wasm')).split(',') as BackendChoice[];
const engine = (process.argv.includes('--js') ? 'js' : 'tfjs') as 'js' | 'tfjs';

const model = CtrModel.create(DEFAULT_MODEL_CONFIG, 1);
const spec = model.config.spec;
const rng = new Random(3);

/** One list request as a task sends it: a context, its candidates, their cached item parts. */
function makeRequest(i: number): ScoreRequest {
  const rows = allocateRows(spec, candidates);
  for (let r = 0; r < candidates; r++) {
    writeItem(
      spec,
      rows,
      r,
      { category: `cat-${rng.int(4)}`, itemAgeHours: rng.next() * 48 },
      Float32Array.from({ length: spec.embeddingDim }, () => rng.normal() * 0.3),
    );
  }
  return {
    context: packContext(spec, {
      contextId: `ctx-${i}`,
      publisher: `pub-${i % 7}`,
      segment: `seg-${i % 5}`,
      position: 0,
      pageDepth: 3,
    }),
    items: { count: candidates, cats: rows.itemCats, nums: rows.itemNums, embeddings: rows.embeddings },
    itemParts: { version: 'bench', parts: model.head.itemParts(rows) },
  };
}
let requests: ScoreRequest[] = [];

// ---- CPU time per thread (Linux): /proc/self/task/<tid>/schedstat, first field = ns on CPU

function threadCpuNs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      out.set(Number(t), Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // the thread exited between readdir and read
    }
  }
  return out;
}

interface CpuSplit {
  main: number;
  pool: number;
  other: number;
}

/** CPU ns between two snapshots, split into the main thread, the pool's threads and the rest. */
function cpuSplit(a: Map<number, number>, b: Map<number, number>, poolTids: Set<number>): CpuSplit {
  const s: CpuSplit = { main: 0, pool: 0, other: 0 };
  for (const [tid, ns] of b) {
    const d = ns - (a.get(tid) ?? 0);
    if (tid === process.pid) s.main += d;
    else if (poolTids.has(tid)) s.pool += d;
    else s.other += d;
  }
  return s;
}

// ---- statistics

function pct(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
const sortedOf = (xs: number[] | Float64Array): Float64Array => Float64Array.from(xs).sort();

type Mode = 'generator' | 'direct' | 'autobatch';

interface RunResult {
  backend: string;
  mode: Mode;
  requests: number;
  failed: number;
  achievedRate: number;
  calls: number;
  rows: Float64Array;
  cpuUs: CpuSplit & { total: number };
  latency: Float64Array;
  form: Float64Array;
  slot: Float64Array;
  lag: Float64Array;
  poolUtil: number;
  slotBusy: number;
  saturated: number;
  load: string;
}

const loadNow = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function run(mode: Mode, pool: ScoringPool, poolTids: Set<number>, secs = seconds): Promise<RunResult> {
  const reports: BatchReport[] = [];
  const batcher =
    mode === 'autobatch'
      ? new Autobatcher<ScoreRequest, ScoreResult>({
          maxBatchSize: maxBatch,
          maxWaitMs,
          concurrency: slots,
          rows: requestRows,
          run: (b) => pool.score(b),
          onBatch: (r) => void reports.push(r),
        })
      : undefined;
  const directRows: number[] = [];
  const instant: ScoreResult = { version: 'bench', scores: new Float32Array(candidates) };
  const score = (r: ScoreRequest): Promise<ScoreResult> => {
    if (batcher) return batcher.submit(r);
    if (mode === 'generator') return Promise.resolve(instant);
    directRows.push(r.items.count);
    return pool.score([r]).then((x) => x[0] as ScoreResult);
  };
  // warm-up (JIT, tfjs kernels, the batcher's code paths)
  await Promise.all(requests.slice(0, 16).map(score));
  reports.length = 0;
  directRows.length = 0;
  const s0 = batcher ? { ...batcher.stats } : undefined;

  const latencies: number[] = [];
  let failed = 0;
  let outstanding = 0;
  let done!: () => void;
  const allDone = new Promise<void>((r) => (done = r));
  const total = Math.round(rate * secs);
  let issued = 0;
  const onResult = (start: number) => (): void => {
    latencies.push(performance.now() - start);
    if (--outstanding === 0 && issued === total) done();
  };
  const onError = (): void => {
    failed++;
    if (--outstanding === 0 && issued === total) done();
  };
  const load = loadNow();
  const cpu0 = threadCpuNs();
  const t0 = performance.now();
  // open loop: every tick issues all requests due by now, then sleeps until the next one is due
  while (issued < total) {
    const now = performance.now();
    while (issued < total && t0 + (issued * 1000) / rate <= now) {
      const start = performance.now();
      outstanding++;
      issued++;
      score(requests[issued % requests.length] as ScoreRequest).then(onResult(start), onError);
    }
    if (issued < total) {
      const wait = t0 + (issued * 1000) / rate - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
  }
  if (outstanding > 0) await allDone;
  const wallMs = performance.now() - t0;
  const cpu = cpuSplit(cpu0, threadCpuNs(), poolTids);
  const predictions = total * candidates;
  const us = (ns: number): number => ns / 1000 / predictions;

  const rows: number[] = mode === 'direct' ? directRows : reports.map((r) => r.rows);
  const cat = (k: 'formMs' | 'slotMs' | 'lagMs'): Float64Array => {
    const out = new Float64Array(reports.reduce((s, r) => s + r.requests, 0));
    let o = 0;
    for (const r of reports) {
      out.set(r[k], o);
      o += r.requests;
    }
    return out.sort();
  };
  const st = batcher?.stats;
  const result: RunResult = {
    backend: pool.backend ?? '?',
    mode,
    requests: total,
    failed,
    achievedRate: total / (wallMs / 1000),
    calls: mode === 'generator' ? 0 : rows.length,
    rows: sortedOf(rows),
    cpuUs: {
      main: us(cpu.main),
      pool: us(cpu.pool),
      other: us(cpu.other),
      total: us(cpu.main + cpu.pool + cpu.other),
    },
    latency: sortedOf(latencies),
    form: cat('formMs'),
    slot: cat('slotMs'),
    lag: cat('lagMs'),
    poolUtil: cpu.pool / 1e6 / (wallMs * workers),
    slotBusy: st && s0 ? (st.totalRunMs - s0.totalRunMs) / (wallMs * slots) : Number.NaN,
    saturated: st && s0 ? (st.saturatedMs - s0.saturatedMs) / wallMs : Number.NaN,
    load,
  };
  await batcher?.close();
  return result;
}

const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const pctStr = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '-');

function printRuns(rs: RunResult[]): void {
  console.log(
    '| backend | mode | load avg | req/s | failed | model calls | rows/call mean, p50, p90, max | CPU us/pred total (main + pool + other) | latency p50 / p99 / max ms | pool util | slots busy / saturated |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rs) {
    const meanRows = r.rows.reduce((s, x) => s + x, 0) / Math.max(1, r.rows.length);
    console.log(
      `| ${r.backend} | ${r.mode} | ${r.load} | ${f(r.achievedRate, 0)} | ${r.failed} | ${r.calls} | ${r.calls ? `${f(meanRows, 1)}, ${pct(r.rows, 50)}, ${pct(r.rows, 90)}, ${pct(r.rows, 100)}` : '-'} | ${f(r.cpuUs.total)} (${f(r.cpuUs.main)} + ${f(r.cpuUs.pool)} + ${f(r.cpuUs.other)}) | ${f(pct(r.latency, 50))} / ${f(pct(r.latency, 99))} / ${f(pct(r.latency, 100))} | ${pctStr(r.poolUtil)} | ${pctStr(r.slotBusy)} / ${pctStr(r.saturated)} |`,
    );
  }
  const ab = rs.filter((r) => r.mode === 'autobatch');
  if (ab.length === 0) return;
  console.log('');
  console.log(
    '| backend | run | forming p50 / p99 / max ms | slot wait p50 / p99 / max ms | timer lag p99 / max ms | requests with slot wait > 0 |',
  );
  console.log('|---|---|---|---|---|---|');
  ab.forEach((r, i) => {
    const waited = r.slot.filter((x) => x > 0).length;
    console.log(
      `| ${r.backend} | ${i + 1} | ${f(pct(r.form, 50))} / ${f(pct(r.form, 99))} / ${f(pct(r.form, 100))} | ${f(pct(r.slot, 50))} / ${f(pct(r.slot, 99))} / ${f(pct(r.slot, 100))} | ${f(pct(r.lag, 99))} / ${f(pct(r.lag, 100))} | ${pctStr(waited / Math.max(1, r.slot.length))} |`,
    );
  });
}

function median(xs: number[]): number {
  const s = sortedOf(xs);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function summarise(backend: string, rs: RunResult[]): void {
  const gen = rs.find((r) => r.mode === 'generator');
  const d = rs.filter((r) => r.mode === 'direct');
  const a = rs.filter((r) => r.mode === 'autobatch');
  if (d.length === 0 || a.length === 0) return;
  const callsX = median(d.map((r) => r.calls)) / median(a.map((r) => r.calls));
  const cpuD = median(d.map((r) => r.cpuUs.total));
  const cpuA = median(a.map((r) => r.cpuUs.total));
  const g = gen?.cpuUs.total ?? 0;
  const p50Added = median(a.map((r) => pct(r.latency, 50))) - median(d.map((r) => pct(r.latency, 50)));
  const p99Added = median(a.map((r) => pct(r.latency, 99))) - median(d.map((r) => pct(r.latency, 99)));
  const ok = (b: boolean): string => (b ? 'ok' : 'MISSED');
  console.log('');
  console.log(
    `medians of ${d.length} direct and ${a.length} autobatched runs (${backend}, ${candidates} candidates):`,
  );
  console.log(`- model calls: ${f(callsX, 1)}x fewer (target >= 5x: ${ok(callsX >= 5)})`);
  console.log(
    `- CPU per prediction, whole process: ${f(cpuD)} -> ${f(cpuA)} us, ${f(cpuD / cpuA)}x less (target >= 2x: ${ok(cpuD / cpuA >= 2)}); without the load generator's own ${f(g)} us: ${f(cpuD - g)} -> ${f(cpuA - g)} us, ${f((cpuD - g) / (cpuA - g))}x less`,
  );
  console.log(
    `- added latency: p50 ${f(p50Added)} ms, p99 ${f(p99Added)} ms (target p99 added <= maxWaitMs + 5 = ${maxWaitMs + 5} ms: ${ok(p99Added <= maxWaitMs + 5)})`,
  );
  const util = median(d.map((r) => r.poolUtil));
  if (util > 0.7 || d.some((r) => r.achievedRate < 0.97 * rate))
    console.log(
      `- WARNING: the direct run used ${pctStr(util)} of the pool (or fell behind the offered rate): not a sustainable load, lower --rate`,
    );
}

console.log(
  `# bench/autobatch  node ${process.version}, ${availableParallelism()} cores, load avg ${loadNow()} at ${new Date().toISOString()}`,
);
console.log(
  `# offered: ${rate} requests/s x ${candidateSizes.join(' or ')} candidates for ${seconds} s; pool of ${workers} workers (${engine} head); autobatcher maxBatchSize ${maxBatch} rows, maxWaitMs ${maxWaitMs}, ${slots} slots`,
);
console.log(
  `# model: default CTR head (${model.config.hidden.join('-')}), factorised, item parts cached (the steady state of a cycle)`,
);
for (const backend of backends) {
  const before = new Set(threadCpuNs().keys());
  const pool = new ScoringPool({ workers, engine, backend });
  await pool.load('bench', model.toBuffer());
  await pool.score([makeRequest(0)]); // native backends start their thread pools on the first op
  const poolTids = new Set([...threadCpuNs().keys()].filter((t) => !before.has(t)));
  for (const size of candidateSizes) {
    candidates = size;
    requests = Array.from({ length: 64 }, (_, i) => makeRequest(i));
    // warm-up at the offered load in both modes: the workers' JIT settles in the first seconds
    // (hundreds of optimisations), and whichever mode ran first would pay for it
    for (const m of ['direct', 'autobatch'] as const) if (warmup > 0) await run(m, pool, poolTids, warmup);
    const rs: RunResult[] = [await run('generator', pool, poolTids)];
    for (let i = 0; i < repeat; i++) {
      // alternate the order so a drift in the machine's load does not favour one mode
      const order: Mode[] = i % 2 === 0 ? ['direct', 'autobatch'] : ['autobatch', 'direct'];
      for (const m of order) rs.push(await run(m, pool, poolTids));
    }
    console.log('');
    console.log(
      `### ${pool.backend ?? backend}, ${rate} requests/s x ${size} candidates = ${rate * size} predictions/s`,
    );
    console.log('');
    printRuns(rs);
    summarise(pool.backend ?? backend, rs);
  }
  await pool.close();
}
console.log('');
console.log(`# load avg at end: ${loadNow()}`);
