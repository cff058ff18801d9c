/**
 * bench/cycle: the list-building cycle (ListBuilder, exactly what the
 * recommendations topology runs) for C contexts x N candidates, on the
 * scoring worker pool, with the time split into lookups, packing, scoring
 * (waiting for the workers), top-K and producing (Avro + send to the broker
 * when one is reachable), at several sizes to show how it grows.
 *
 * Then the embeddings topology's latency: item-created -> embedding stored,
 * p50/p99, with the event producer publishing items at a fixed rate to a
 * real broker.
 *
 *   node --import tsx bench/cycle.ts [--sizes 2500,5000,10000] [--candidates 500] [--workers 2]
 *       [--engine tfjs|js] [--latency-rate 1000] [--latency-seconds 20] [--no-latency]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createKafka, KafkaAdmin, KafkaProducer } from '../src/kafka/index.ts';
import { portAcceptsConnections as localPortOpen } from '../src/kafka/local-broker/index.ts';
import {
  CtrModel,
  DEFAULT_MODEL_CONFIG,
  ModelRegistry,
  Random,
  World,
  type HeadEngine,
} from '../src/ml/index.ts';
import { EventProducer, Pipeline } from '../src/pipeline/index.ts';
import { setLogLevel } from '../src/telemetry/index.ts';
import { EmbeddingTable } from '../topologies/embedding-table.ts';
import { pipelineSerdes, vectorBytes, type RecommendationEvent } from '../topologies/events.ts';
import { ListBuilder, type ListContextInput } from '../topologies/list-builder.ts';
import { PooledModelRunner } from '../topologies/model-runner.ts';
import { PipelineStats } from '../topologies/pipeline-stats.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '2500,5000,10000' },
    candidates: { type: 'string', default: '500' },
    items: { type: 'string', default: '50000' },
    workers: { type: 'string', default: String(Math.max(1, availableParallelism())) },
    engine: { type: 'string', default: 'tfjs' },
    bootstrap: { type: 'string', default: process.env.CTR_KAFKA_BOOTSTRAP ?? '127.0.0.1:9092' },
    'latency-rate': { type: 'string', default: '1000' },
    'latency-seconds': { type: 'string', default: '20' },
    'no-latency': { type: 'boolean', default: false },
  },
});
setLogLevel('warn');

const sizes = args.sizes.split(',').map(Number);
const N = Number(args.candidates);
const ITEMS = Number(args.items);
const workers = Number(args.workers);
const dir = mkdtempSync(join(tmpdir(), 'bench-cycle-'));
const registry = new ModelRegistry(join(dir, 'models'));
const model = CtrModel.create(DEFAULT_MODEL_CONFIG, 1);
const version = (await registry.publish(model)).version;
const runner = await PooledModelRunner.start(registry, {
  workers,
  engine: args.engine as HeadEngine,
  maxBatchRows: 16_384,
  maxWaitMs: 2,
});

// every item embedded with the current version (random unit-scale vectors: the cost does not depend on the values)
const rng = new Random(3);
const table = new EmbeddingTable();
const dim = DEFAULT_MODEL_CONFIG.spec.embeddingDim;
for (let i = 0; i < ITEMS; i++) {
  const v = Float32Array.from({ length: dim }, () => rng.normal() * 0.3);
  table.apply(`item-${i}`, {
    itemId: `item-${i}`,
    modelVersion: version,
    dimension: dim,
    vector: vectorBytes(v),
    computedAt: 1,
    category: `cat-${i % 4}`,
    createdAt: Date.now() - rng.int(72) * 3_600_000,
  });
}
function contexts(count: number): ListContextInput[] {
  const out: ListContextInput[] = [];
  for (let c = 0; c < count; c++) {
    const cands = new Set<string>();
    while (cands.size < N) cands.add(`item-${rng.int(ITEMS)}`);
    out.push({
      contextId: `ctx-${c}`,
      publisher: `pub-${c % 50}`,
      placement: `pub-${c % 50}/pl-${c % 3}`,
      country: ['SI', 'DE', 'US'][c % 3] as string,
      candidates: [...cands].map((itemId) => ({ itemId })),
    });
  }
  return out;
}

// producing: Avro + a real send when a broker listens, else Avro only
const serdes = pipelineSerdes();
const port = Number(args.bootstrap.split(':').pop());
const brokerUp = await localPortOpen(port).catch(() => false);
const kafka = createKafka({ bootstrapServers: args.bootstrap, clientId: 'bench-cycle' });
const benchTopic = `bench-cycle-${process.pid}`;
let producer: KafkaProducer | undefined;
if (brokerUp) {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  await admin.createTopics([{ name: benchTopic, partitions: 4 }]);
  await admin.disconnect();
  producer = new KafkaProducer(kafka, { idempotent: true });
  await producer.connect();
}

const builder = new ListBuilder(runner, table, { k: 10, chunkContexts: 64, inFlightChunks: 2 * workers });
console.log(
  `bench/cycle: ${cpus()[0]?.model ?? 'cpu'} x ${availableParallelism()} | backend ${runner.backend} | ${workers} scoring worker(s), head engine ${args.engine} | ${N} candidates per context, top 10 | ${ITEMS} items in the embedding table | producing: ${brokerUp ? `Avro + send to ${args.bootstrap}` : 'Avro only (no broker)'}`,
);
// warm-up: compile kernels, fill caches
await builder.build(contexts(64), Date.now());

const rows: string[][] = [];
for (const C of sizes) {
  const ctxs = contexts(C);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await builder.build(ctxs, Date.now());
  if (!result) throw new Error('no model');
  const p0 = performance.now();
  const records = result.lists.map((l) => {
    const v: RecommendationEvent = {
      contextId: l.contextId,
      cycleId: 1,
      modelVersion: result.version,
      generatedAt: Date.now(),
      items: l.items,
    };
    return { topic: benchTopic, key: l.contextId, value: serdes.recommendation.serialize(benchTopic, v) };
  });
  if (producer)
    for (let i = 0; i < records.length; i += 2000) await producer.send(records.slice(i, i + 2000));
  const produceMs = performance.now() - p0;
  const total = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const t = result.timings;
  rows.push([
    `${C} x ${N}`,
    (t.rows / 1e6).toFixed(2),
    (total / 1000).toFixed(1),
    ((cpu.user + cpu.system) / 1e6).toFixed(1),
    Math.round(t.rows / (total / 1000)).toLocaleString('en'),
    (t.lookupMs / 1000).toFixed(2),
    (t.packMs / 1000).toFixed(2),
    (t.scoreWaitMs / 1000).toFixed(2),
    (t.topKMs / 1000).toFixed(2),
    (produceMs / 1000).toFixed(2),
  ]);
}
const head = [
  'contexts x candidates',
  'M scores',
  'cycle s',
  'cpu s',
  'scores/s',
  'lookup s',
  'pack s',
  'score wait s',
  'top-K s',
  'produce s',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (r: string[]) => '| ' + r.map((c, i) => c.padStart(widths[i] as number)).join(' | ') + ' |';
console.log(line(head));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of rows) console.log(line(r));
console.log(
  `autobatcher: ${runner.batcher.stats.calls} model calls, ${runner.batcher.stats.rows} rows, max ${runner.batcher.stats.maxBatchRows} rows per call, mean wait ${(runner.batcher.stats.totalWaitMs / Math.max(1, runner.batcher.stats.requests)).toFixed(1)} ms`,
);
console.log(
  'cycle s is wall time; cpu s is this process\'s CPU time over all its threads (main + scoring workers), the work an idle machine would spread over its cores. lookup/pack/top-K are main-thread wall times; "score wait" is the main thread waiting for the workers beyond what packing overlapped.',
);
await producer?.disconnect();
if (brokerUp) {
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  await admin.deleteTopics([benchTopic]).catch(() => undefined);
  await admin.disconnect();
}
await runner.close();

// ---- item-created -> embedding stored latency at a fixed rate ----------------------------------
if (!args['no-latency'] && brokerUp) {
  const rate = Number(args['latency-rate']);
  const seconds = Number(args['latency-seconds']);
  const stats = new PipelineStats();
  const prefix = `bench-emb-${process.pid}`;
  const pipeline = await Pipeline.start({
    bootstrap: args.bootstrap,
    applicationId: `${prefix}-app`,
    topicPrefix: prefix,
    stateDir: join(dir, 'state'),
    registryDir: registry.root,
    workers,
    commitIntervalMs: 1000,
    cycleIntervalMs: 3_600_000,
    stats,
  });
  const world = new World({ seed: 9, items: 1 });
  const events = new EventProducer({
    kafka,
    topics: pipeline.topics,
    serdes: pipeline.serdes,
    world,
    impressionsPerSecond: 1,
    newItemsPerSecond: rate,
    itemCreatedDelayMs: 0,
  });
  // a warm-up (tower kernels, topic metadata), then the measured run
  await events.run(2000, 50);
  await new Promise((r) => setTimeout(r, 2000));
  stats.embedLatencyMs.clear();
  const embeddedBefore = stats.itemsEmbedded;
  // tower calls of the measured run: how well the embedding autobatcher joined the tasks' batches
  const towers = pipeline.model instanceof PooledModelRunner ? pipeline.model.embedBatcher.stats : undefined;
  const towersBefore = towers ? { ...towers } : undefined;
  const itemsBefore = world.items.length;
  const t0 = Date.now();
  await events.run(seconds * 1000, 50);
  await new Promise((r) => setTimeout(r, 3000));
  const sample = stats.embedLatencyMs;
  const produced = world.items.length - itemsBefore;
  console.log(
    `\nitem-created -> embedding stored at ${rate} items/s for ${seconds} s (${produced} items produced, ${sample.size} measured, ${(((stats.itemsEmbedded - embeddedBefore) / (Date.now() - t0)) * 1000).toFixed(0)} embedded/s incl. the 3 s tail): ` +
      `p50 ${sample.quantile(0.5).toFixed(0)} ms, p99 ${sample.quantile(0.99).toFixed(0)} ms, max ${sample.quantile(1).toFixed(0)} ms (backend ${pipeline.model.backend}, ${workers} worker(s), 4 partitions, commit.interval.ms 1000, load avg ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')})`,
  );
  if (towers && towersBefore) {
    const calls = towers.calls - towersBefore.calls;
    const requests = towers.requests - towersBefore.requests;
    const rows = towers.rows - towersBefore.rows;
    console.log(
      `tower calls: ${calls} for ${requests} task requests, ${(rows / Math.max(1, calls)).toFixed(1)} items per call (max ${towers.maxBatchRows}), ` +
        `${((towers.totalRunMs - towersBefore.totalRunMs) / Math.max(1, calls)).toFixed(1)} ms per call, ` +
        `${((towers.totalWaitMs - towersBefore.totalWaitMs) / Math.max(1, requests)).toFixed(1)} ms mean wait for a batch`,
    );
  }
  await events.close();
  await pipeline.close();
  const admin = new KafkaAdmin(kafka);
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics(topics).catch(() => undefined);
  await admin.disconnect();
}
rmSync(dir, { recursive: true, force: true });
process.exit(0);
