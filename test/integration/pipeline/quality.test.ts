/**
 * Quality at pipeline level, on the real broker: a model trained on the
 * world's generated history ranks live candidates so that the emitted top K
 * has a clearly higher ground-truth CTR than random lists of the same
 * candidates (the demo prints the same ratio).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteTopicsStartingWith, eventually, testKafka, uniqueName } from '../../helpers/kafka.ts';
import { initBackend, ModelRegistry, World } from '../../../src/ml/index.ts';
import { EventProducer, Pipeline, QualityTracker, trainInitialModel } from '../../../src/pipeline/index.ts';

describe('pipeline quality against the ground truth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctr-quality-'));
  const prefix = uniqueName('q');
  const appId = uniqueName('q-app');
  let pipeline: Pipeline | undefined;
  let producer: EventProducer | undefined;

  after(async () => {
    await producer?.close();
    await pipeline?.close();
    const { kafka } = await testKafka();
    await deleteTopicsStartingWith(kafka, [prefix, appId]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('emits top-10 lists whose true CTR is well above random lists of the same candidates', async () => {
    const { bootstrap, kafka } = await testKafka();
    await initBackend();
    const world = new World({ seed: 1, items: 300, contexts: 30 });
    const registry = new ModelRegistry(join(dir, 'models'));
    const trained = await trainInitialModel(registry, world, { examples: 8000, validation: 2000, epochs: 2 });
    assert.ok((trained.metrics.auc ?? 0) > 0.6, `validation AUC ${trained.metrics.auc}`);
    const quality = new QualityTracker((c, i, now) => producer?.truth(c, i, now));
    pipeline = await Pipeline.start({
      bootstrap,
      applicationId: appId,
      topicPrefix: prefix,
      stateDir: join(dir, 'state'),
      registryDir: registry.root,
      partitions: { items: 2, events: 2, contexts: 2 },
      cycleIntervalMs: 1500,
      k: 10,
      maxCandidates: 100,
      commitIntervalMs: 1000,
      workers: 1,
      streamsConfig: { 'punctuation.interval.ms': 100 },
      onCycle: (result, candidates) => quality.add(result, candidates, Date.now()),
    });
    const p = pipeline;
    producer = new EventProducer({
      kafka,
      topics: p.topics,
      serdes: p.serdes,
      world,
      impressionsPerSecond: 150,
      itemsPerList: 5,
      newItemsPerSecond: 0,
    });
    await producer.publishCatalogue();
    const traffic = producer.run(undefined, 100);
    // wait for candidate sets of real size, then for enough lists to judge
    await eventually('enough scored lists', () => quality.lists >= 150, 60_000, 200);
    producer.stop();
    await traffic;
    assert.ok(
      quality.ratio > 1.2,
      `top-10 true CTR is ${quality.ratio.toFixed(2)}x that of random lists of the same candidates`,
    );
    console.log(
      `# quality: top-10 ground-truth CTR ${quality.ratio.toFixed(2)}x random lists over ${quality.lists} lists; model AUC ${trained.metrics.auc?.toFixed(3)} (Bayes ${trained.metrics.bayesAuc?.toFixed(3)}), trained in ${trained.seconds.toFixed(1)} s`,
    );
  });
});
