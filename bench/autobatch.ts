/**
 * bench/autobatch: the same offered load scored with and without the
 * autobatcher (the Zemanta seed's experiment). Open loop: `--rate` list
 * requests per second (each one context x `--candidates` items, as many
 * tasks would send), for `--seconds`, over a ScoringPool of `--workers`.
 * `--backend wasm|tensorflow|cpu` picks the workers' backend (default wasm).
 * Reports model calls, CPU time per prediction (whole process: main thread
 * plus workers), and end-to-end latency p50/p99 per request; the autobatched
 * run also reports queue wait, whose p99 should stay <= maxWaitMs + 5 ms.
 *
 *   node --import tsx bench/autobatch.ts [--rate 400] [--candidates 32] [--seconds 5] [--max-wait 5] [--max-batch 1024]
 */
import { availableParallelism, loadavg } from 'node:os';
import { CtrModel, DEFAULT_MODEL_CONFIG } from '../src/ml/ctr-model.ts';
import { ScoringPool } from '../src/ml/scoring-pool.ts';
import { Autobatcher } from '../src/ml/autobatcher.ts';
import { allocateRows, packContext, writeItem } from '../src/ml/feature-spec.ts';
import { requestRows, type ScoreRequest, type ScoreResult } from '../src/ml/scorer.ts';
import { Random } from '../src/ml/random.ts';
import type { BackendChoice } from '../src/ml/backend.ts';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const rate = arg('--rate', 400);
const candidates = arg('--candidates', 32);
const seconds = arg('--seconds', 5);
const maxWaitMs = arg('--max-wait', 5);
const maxBatch = arg('--max-batch', 1024);
const workers = arg('--workers', availableParallelism());
const engine = (args.includes('--js') ? 'js' : 'tfjs') as 'js' | 'tfjs';
const bi = args.indexOf('--backend');
const backend = (bi >= 0 ? args[bi + 1] : 'wasm') as BackendChoice;

const model = CtrModel.create(DEFAULT_MODEL_CONFIG, 1);
const spec = model.config.spec;
const rng = new Random(3);
const P = model.head.partSize;

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
  const parts = model.head.itemParts(rows);
  return {
    context: packContext(spec, {
      contextId: `ctx-${i}`,
      publisher: `pub-${i % 7}`,
      segment: `seg-${i % 5}`,
      position: 0,
      pageDepth: 3,
    }),
    items: { count: candidates, cats: rows.itemCats, nums: rows.itemNums, embeddings: rows.embeddings },
    itemParts: { version: 'bench', parts },
  };
}
const requests = Array.from({ length: 64 }, (_, i) => makeRequest(i));
void P;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function run(mode: 'direct' | 'autobatch', pool: ScoringPool) {
  const batcher =
    mode === 'autobatch'
      ? new Autobatcher<ScoreRequest, ScoreResult>({
          maxBatchSize: maxBatch,
          maxWaitMs,
          concurrency: workers,
          rows: requestRows,
          run: (b) => pool.score(b),
        })
      : undefined;
  let calls = 0;
  const score = (r: ScoreRequest): Promise<ScoreResult> => {
    if (batcher) return batcher.submit(r);
    calls++;
    return pool.score([r]).then((x) => x[0] as ScoreResult);
  };
  // warm-up
  await Promise.all(requests.slice(0, 8).map(score));
  if (batcher) batcher.stats.calls = 0;
  calls = 0;
  const latencies: number[] = [];
  const inflight: Promise<void>[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const total = Math.round(rate * seconds);
  let failed = 0;
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const now = performance.now();
    if (due > now) await new Promise((r) => setTimeout(r, due - now));
    const start = performance.now();
    inflight.push(
      score(requests[i % requests.length] as ScoreRequest).then(
        () => void latencies.push(performance.now() - start),
        () => void failed++,
      ),
    );
  }
  await Promise.all(inflight);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const predictions = total * candidates;
  const stats = batcher?.stats;
  await batcher?.close();
  return {
    mode,
    requests: total,
    failed,
    modelCalls: stats ? stats.calls : calls,
    meanBatchRows: stats ? stats.rows / Math.max(1, stats.calls) : candidates,
    cpuUsPerPrediction: (cpu.user + cpu.system) / predictions,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    meanWait: stats ? stats.totalWaitMs / Math.max(1, stats.requests) : 0,
    maxWait: stats ? stats.maxWaitMs : 0,
    achievedRate: total / wall,
  };
}

console.log(
  `# bench/autobatch  node ${process.version}, ${availableParallelism()} cores, load avg ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log(
  `# offered: ${rate} requests/s x ${candidates} candidates for ${seconds} s; pool of ${workers} workers (${engine} head); autobatcher maxBatchSize ${maxBatch} rows, maxWaitMs ${maxWaitMs}`,
);
const pool = new ScoringPool({ workers, engine, backend });
await pool.load('bench', model.toBuffer());
console.log(
  `# backend: ${pool.backend}; model: default CTR head (${model.config.hidden.join('-')}), factorised with cached item parts`,
);
const direct = await run('direct', pool);
const batched = await run('autobatch', pool);
await pool.close();
console.log('');
console.log(
  '| mode | requests | failed | model calls | mean rows/call | CPU us/prediction | latency p50 ms | latency p99 ms | queue wait mean / max ms |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of [direct, batched]) {
  console.log(
    `| ${r.mode} | ${r.requests} | ${r.failed} | ${r.modelCalls} | ${r.meanBatchRows.toFixed(0)} | ${r.cpuUsPerPrediction.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.meanWait.toFixed(2)} / ${r.maxWait.toFixed(2)} |`,
  );
}
console.log('');
console.log(
  `model calls: ${(direct.modelCalls / batched.modelCalls).toFixed(1)}x fewer; CPU per prediction: ${(direct.cpuUsPerPrediction / batched.cpuUsPerPrediction).toFixed(2)}x less; added latency p50 ${(batched.p50 - direct.p50).toFixed(2)} ms, p99 ${(batched.p99 - direct.p99).toFixed(2)} ms (bound: maxWaitMs + 5 = ${maxWaitMs + 5} ms)`,
);
console.log(
  `# load avg at end: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
