/**
 * The demo (`npm run demo`): the whole pipeline on a local broker with
 * generated traffic, and a live status line.
 *
 * 1. a broker: the one at --bootstrap, or a local one started from Maven
 *    Central jars when nothing listens on a loopback address;
 * 2. a model: the registry under the work dir; on the first run an initial
 *    model is trained on a generated history of the same world (seconds);
 * 3. this run's topics (prefixed `demo-<run>`, deleted at the end), the
 *    three topologies, the global tables, the lookup API and /metrics;
 * 4. the event producer at --rate, new items appearing in impressions
 *    --item-delay ms before their item-created record (the OOV path);
 * 5. every second a status line; every cycle the ground-truth CTR of the
 *    emitted top K against random lists of the same candidates;
 * 6. on Ctrl-C or after --duration: a sample list, a summary, clean close.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import cliProgress from 'cli-progress';
import { createKafka, KafkaAdmin, type Kafka } from '../kafka/index.ts';
import { portAcceptsConnections, startLocalBroker } from '../kafka/local-broker/index.ts';
import { initBackend, ModelRegistry, World, type BackendChoice } from '../ml/index.ts';
import { EventProducer } from '../pipeline/event-producer.ts';
import { QualityTracker } from '../pipeline/quality-tracker.ts';
import { trainInitialModel } from '../pipeline/initial-model.ts';
import { Pipeline } from '../pipeline/pipeline.ts';
import { startLookupServer, type LookupServer, type LookupSources } from '../lookup/index.ts';
import { EmbeddingTable } from '../../topologies/embedding-table.ts';
import { startTelemetry, telemetryOptionsFromEnv, type Telemetry } from '../telemetry/index.ts';
import { PipelineStats } from '../../topologies/pipeline-stats.ts';
import { pipelineSerdes } from '../../topologies/events.ts';
import { topicNames } from '../../topologies/topics.ts';

export interface DemoOptions {
  bootstrap: string;
  /** Seconds; undefined = until Ctrl-C. */
  duration?: number;
  cycleIntervalMs: number;
  k: number;
  rate: number;
  newItemsPerSecond: number;
  itemDelayMs: number;
  workDir: string;
  /** Lookup API port (0 = any free port). */
  port: number;
  /** Prometheus port (0 = any free port). */
  metricsPort: number;
  /** Training examples of the first model. */
  trainExamples: number;
  backend: BackendChoice;
  workers: number;
  /** Print the status line every this many ms. */
  statusIntervalMs: number;
}

export const DEFAULT_WORK_DIR = fileURLToPath(new URL('../../.cache/demo', import.meta.url));

async function ensureBroker(bootstrap: string): Promise<string> {
  const first = bootstrap.split(',')[0] as string;
  const [host, portText] = [first.slice(0, first.lastIndexOf(':')), first.slice(first.lastIndexOf(':') + 1)];
  const port = Number(portText);
  const local = host === '127.0.0.1' || host === 'localhost';
  if (!local) return bootstrap;
  if (await portAcceptsConnections(port)) return bootstrap;
  console.log(
    `no broker on ${first}: starting a local Apache Kafka broker (the first run fetches its jars from Maven Central) ...`,
  );
  const broker = await startLocalBroker({ port });
  console.log(`local broker ready on ${broker.bootstrap} (${(broker.startMs / 1000).toFixed(1)} s)`);
  return broker.bootstrap;
}

async function cleanup(kafka: Kafka, prefixes: string[]): Promise<void> {
  const admin = new KafkaAdmin(kafka);
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => prefixes.some((p) => t.startsWith(p)));
    if (topics.length > 0) await admin.deleteTopics(topics);
    const groups = (await admin.listGroups()).filter((g) => prefixes.some((p) => g.startsWith(p)));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  } catch (err) {
    console.error(`could not delete this run's topics: ${String(err)}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** Runs the demo until Ctrl-C or `duration`. @returns the final figures (also printed). */
export async function runDemo(
  o: DemoOptions,
): Promise<{ ratio: number; lists: number; stats: PipelineStats; backend: string }> {
  // the standard OTEL_* variables (OTLP span export, sampling) apply; a bad one stops the demo before any work
  const telemetryOptions = telemetryOptionsFromEnv({ serviceName: 'ctr-demo' });
  telemetryOptions.prometheusPort = o.metricsPort;
  const bootstrap = await ensureBroker(o.bootstrap);
  const run = `${new Date().toISOString().slice(11, 19).replace(/:/g, '')}-${randomBytes(2).toString('hex')}`;
  const topicPrefix = `demo-${run}`;
  const appId = `ctr-demo-${run}`;
  const stateDir = join(o.workDir, 'state', run);
  const registry = new ModelRegistry(join(o.workDir, 'models'));
  const world = new World({ seed: 1 });

  // 1. a model
  const backend = await initBackend(o.backend);
  console.log(`ML backend: ${backend} (tfjs; set CTR_ML_BACKEND or --backend to choose)`);
  if ((await registry.latest()) === undefined) {
    console.log(
      `model registry ${registry.root} is empty: training an initial model on ${o.trainExamples} generated impressions x 2 epochs`,
    );
    const bar = new cliProgress.SingleBar(
      { format: 'training [{bar}] {percentage}% | {value}/{total} steps | {duration}s', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(1, 0);
    const r = await trainInitialModel(registry, world, {
      examples: o.trainExamples,
      onProgress: (d, t) => (bar.setTotal(t), bar.update(d)),
    });
    bar.stop();
    console.log(
      `trained ${r.version} in ${r.seconds.toFixed(1)} s: validation AUC ${fmt(r.metrics.auc ?? NaN, 3)} (Bayes-optimal ${fmt(r.metrics.bayesAuc ?? NaN, 3)}), log loss ${fmt(r.metrics.logLoss ?? NaN, 3)}`,
    );
  } else console.log(`model registry ${registry.root}: latest version ${await registry.latest()}`);

  // 2. telemetry, pipeline, lookup API
  let telemetry: Telemetry | undefined;
  try {
    telemetry = await startTelemetry(telemetryOptions);
    if (telemetry.tracesUrl) console.log(`exporting spans over OTLP to ${telemetry.tracesUrl}`);
  } catch (err) {
    console.error(`metrics disabled: ${String(err)}`);
  }
  const stats = new PipelineStats();
  const kafka = createKafka({ bootstrapServers: bootstrap, clientId: 'ctr-demo' });
  const producer = new EventProducer({
    kafka,
    topics: topicNames(topicPrefix),
    serdes: pipelineSerdes(),
    world,
    impressionsPerSecond: o.rate,
    newItemsPerSecond: o.newItemsPerSecond,
    itemCreatedDelayMs: o.itemDelayMs,
  });
  const quality = new QualityTracker((c, i, now) => producer.truth(c, i, now));
  console.log(
    `starting the pipeline: topics ${topicPrefix}-*, apps ${appId}-{embeddings,engagement,recommendations}, cycle every ${o.cycleIntervalMs} ms, top ${o.k}`,
  );
  // the lookup API first: its port is this instance's application.server (where other instances redirect)
  const sources: LookupSources = {
    embeddings: new EmbeddingTable(),
    recommendations: new Map(),
    ...(telemetry?.health ? { health: telemetry.health } : {}),
    ...(telemetry?.metricsUrl ? { metricsUrl: telemetry.metricsUrl } : {}),
  };
  let lookup: LookupServer | undefined;
  try {
    lookup = await startLookupServer(sources, o.port);
  } catch (err) {
    console.error(`lookup API disabled: ${String(err)}`);
  }
  const pipeline = await Pipeline.start({
    bootstrap,
    applicationId: appId,
    topicPrefix,
    stateDir,
    registryDir: registry.root,
    cycleIntervalMs: o.cycleIntervalMs,
    k: o.k,
    maxCandidates: 200,
    joinWindowMs: 10_000,
    commitIntervalMs: 2000,
    workers: o.workers,
    backend: o.backend,
    stats,
    streamsConfig: { 'punctuation.interval.ms': 100 },
    ...(lookup ? { applicationServer: `127.0.0.1:${lookup.port}` } : {}),
    onCycle: (result, candidates) => quality.add(result, candidates, Date.now()),
  });
  sources.embeddings = pipeline.embeddings;
  sources.recommendations = pipeline.latestLists;
  sources.candidates = (id) => pipeline.candidates(id);
  telemetry?.health.register('ready', 'pipeline', () => pipeline.error === undefined);
  console.log(
    `scoring workers: ${o.workers} x ${pipeline.model.backend} | lookup API: ${lookup?.url ?? '-'} (/items/{id}/embedding, /contexts/{id}/recommendations, /contexts/{id}/candidates, /health, /metrics)${telemetry?.metricsUrl ? ` | Prometheus: ${telemetry.metricsUrl}` : ''}`,
  );

  // 3. traffic
  const published = await producer.publishCatalogue();
  console.log(
    `published ${published} items; producing ${o.rate} impressions/s and ${o.newItemsPerSecond} new item(s)/s (each shown ${o.itemDelayMs} ms before its item-created record)`,
  );
  const started = Date.now();
  const traffic = producer.run(o.duration === undefined ? undefined : o.duration * 1000);

  // 4. status until done
  let stopping = false;
  const stop = (): void => {
    if (!stopping) console.log('\nstopping ...');
    stopping = true;
    producer.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let lastEvents = 0;
  let lastT = Date.now();
  const status = setInterval(() => {
    const p = producer;
    const events = p.counts.impressions + p.counts.clicks + p.counts.items;
    const now = Date.now();
    const rate = ((events - lastEvents) * 1000) / Math.max(1, now - lastT);
    lastEvents = events;
    lastT = now;
    const hit =
      stats.embeddingHits + stats.embeddingMisses === 0
        ? NaN
        : (100 * stats.embeddingHits) / (stats.embeddingHits + stats.embeddingMisses);
    const line =
      `[${fmt((now - started) / 1000, 0)}s] events/s ${fmt(rate, 0)} | embedded ${stats.itemsEmbedded} (requests ${stats.embeddingRequests}) | ` +
      `OOV ${fmt(100 * stats.oovRate)}% | emb cache hit ${fmt(hit)}% | cycle ${fmt(stats.lastCycleMs, 0)} ms x ${stats.lastCycleContexts} ctx | ` +
      `lists ${stats.listsEmitted} | top-${o.k} CTR vs random ${fmt(quality.ratio, 2)}x | examples ${stats.trainingExamples}`;
    process.stdout.write(
      process.stdout.isTTY
        ? `\r${line.padEnd(process.stdout.columns ? Math.min(process.stdout.columns - 1, 220) : 0)}`
        : `${line}\n`,
    );
    if (pipeline.error) stop();
  }, o.statusIntervalMs);
  await traffic;
  stopping = true;
  // one more cycle over the last traffic before the summary
  await new Promise((r) => setTimeout(r, Math.min(o.cycleIntervalMs + 500, 5000)));
  clearInterval(status);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);

  // 5. summary
  console.log('');
  const sample = [...pipeline.latestLists.values()].sort(
    (a, b) => b.generatedAt - a.generatedAt || (a.contextId < b.contextId ? -1 : 1),
  )[0];
  if (sample) {
    console.log(
      `sample list for ${sample.contextId} (cycle ${sample.cycleId}, model ${sample.modelVersion}, generated ${new Date(sample.generatedAt).toISOString()}):`,
    );
    for (const it of sample.items) {
      const truth = producer.truth(sample.contextId, it.itemId, sample.generatedAt);
      console.log(
        `  ${String(it.position + 1).padStart(2)}. ${it.itemId.padEnd(10)} score ${it.score.toFixed(4)}  true CTR ${truth === undefined ? '-' : truth.toFixed(4)}${it.outOfVocabulary ? '  (OOV)' : ''}`,
      );
    }
  } else console.log('no list was emitted (run longer, or with a shorter --cycle-interval)');
  const lat = stats.embedLatencyMs;
  console.log(
    `summary: ${producer.counts.impressions} impressions, ${producer.counts.clicks} clicks, ${producer.counts.items} items; ${stats.itemsEmbedded} embeddings ` +
      `(item-created -> stored p50 ${fmt(lat.quantile(0.5), 0)} ms, p99 ${fmt(lat.quantile(0.99), 0)} ms); ${stats.cycles} cycles, ${stats.listsEmitted} lists; ` +
      `OOV ${fmt(100 * stats.oovRate)}% of lookups; top-${o.k} ground-truth CTR ${fmt(quality.ratio, 2)}x random lists of the same candidates (${quality.lists} lists); backend ${pipeline.model.backend}`,
  );
  const ratio = quality.ratio;
  const lists = stats.listsEmitted;
  const modelBackend = pipeline.model.backend;
  await producer.close();
  await lookup?.close();
  await pipeline.close().catch((err) => console.error(`pipeline close: ${String(err)}`));
  await cleanup(kafka, [topicPrefix, appId]);
  rmSync(stateDir, { recursive: true, force: true });
  await telemetry?.shutdown();
  return { ratio, lists, stats, backend: modelBackend };
}
