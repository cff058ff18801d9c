/**
 * The pipeline-specific commands end to end: `run all` (the three
 * applications in one process) with a trace id set by a producer found on
 * the matching recommendation's headers, and `backfill embeddings` rolling
 * every item over to a new model version while `run` keeps going.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaProducer, readTopicToEnd } from '../../../src/kafka/index.ts';
import { CtrModel, DEFAULT_MODEL_CONFIG, ModelRegistry, World } from '../../../src/ml/index.ts';
import { EventProducer, TopicFollower } from '../../../src/pipeline/index.ts';
import { pipelineSerdes, type ImpressionEvent } from '../../../topologies/events.ts';
import { topicNames } from '../../../topologies/topics.ts';
import {
  deleteTopicsStartingWith,
  eventually,
  testKafka,
  uniqueName,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { runCli, startCli, type CliProcess } from './fixtures/cli-process.ts';

describe('ctr-streams run all + backfill embeddings on a real broker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctr-cli-pipeline-'));
  const prefix = uniqueName('clip');
  const appId = uniqueName('clip-app');
  const topics = topicNames(prefix);
  const serdes = pipelineSerdes();
  const registryDir = join(dir, 'models');
  let env: TestKafka;
  let run: CliProcess | undefined;
  const followers: TopicFollower[] = [];
  const lists: Array<{ contextId: string; traceparent: string | undefined; modelVersion: string }> = [];

  before(async () => {
    env = await testKafka();
    await new ModelRegistry(registryDir).publish(CtrModel.create(DEFAULT_MODEL_CONFIG, 1));
  });

  after(async () => {
    run?.child.kill('SIGTERM');
    await run?.exited;
    for (const f of followers) await f.close();
    await deleteTopicsStartingWith(env.kafka, [prefix, appId]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("carries a producer's trace id to the recommendation of its context, and backfills every item to a new model version", async () => {
    run = startCli([
      'run',
      'all',
      '--bootstrap',
      env.bootstrap,
      '--state-dir',
      join(dir, 'state'),
      '--application-id',
      appId,
      '--topic-prefix',
      prefix,
      '--registry',
      registryDir,
      '--cycle-interval',
      '1000',
      '--workers',
      '1',
      '--backend',
      'wasm',
      '--metrics-port',
      '0',
      '--lookup-port',
      '0',
      '--set',
      'commit.interval.ms=500',
      '--set',
      'punctuation.interval.ms=100',
    ]);
    const recs = new TopicFollower(env.kafka, topics.recommendations, (records) => {
      for (const r of records) {
        const v = serdes.recommendation.deserialize(r.topic, r.value);
        if (v)
          lists.push({
            contextId: v.contextId,
            traceparent: r.headers.traceparent?.toString(),
            modelVersion: v.modelVersion,
          });
      }
    });
    followers.push(recs);
    // run creates the pipeline's topics
    await eventually(
      'the pipeline to start',
      () => /running as/.test(run!.stderr()) || run!.child.exitCode !== null,
      90_000,
      200,
    );
    assert.match(run.stderr(), /all running as/, run.stderr());
    await recs.start();

    const world = new World({ seed: 7, items: 40, contexts: 4 });
    const producer = new EventProducer({
      kafka: env.kafka,
      topics,
      serdes,
      world,
      impressionsPerSecond: 40,
      itemsPerList: 4,
      newItemsPerSecond: 0,
    });
    await producer.publishCatalogue();
    const traffic = producer.run(3000, 100);
    await traffic;
    await producer.close();
    await eventually(
      'lists for every context',
      () => new Set(lists.map((l) => l.contextId)).size === 4,
      60_000,
      200,
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}: ${lists.length} lists of contexts [${[...new Set(lists.map((l) => l.contextId))].join(', ')}]; run stderr: ${run!.stderr().slice(-3000)}`,
      );
    });

    // one more impression of a known context, with the W3C trace context of its producer
    const impressions = await readTopicToEnd(env.kafka, topics.impressions);
    const sample = serdes.impression.deserialize(
      topics.impressions,
      impressions[0]!.value,
    ) as ImpressionEvent;
    const traceId = randomBytes(16).toString('hex');
    const traced: ImpressionEvent = {
      ...sample,
      impressionId: `traced-${traceId.slice(0, 8)}`,
      timestamp: Date.now(),
    };
    const kp = new KafkaProducer(env.kafka);
    await kp.connect();
    try {
      await kp.send([
        {
          topic: topics.impressions,
          key: traced.impressionId,
          value: serdes.impression.serialize(topics.impressions, traced),
          headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
          timestamp: traced.timestamp,
        },
      ]);
    } finally {
      await kp.disconnect();
    }
    await eventually(
      `a recommendation for ${sample.context.contextId} carrying trace ${traceId}`,
      () =>
        lists.some(
          (l) => l.contextId === sample.context.contextId && l.traceparent?.split('-')[1] === traceId,
        ),
      45_000,
      200,
    );

    // the running pipeline's state through its lookup API
    const lookupUrl = /lookup API at (http\S+)/.exec(run.stderr())?.[1];
    assert.ok(lookupUrl, run.stderr());
    const list = await runCli([
      'store',
      'get',
      'recommendations',
      sample.context.contextId,
      '--url',
      lookupUrl,
    ]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal((JSON.parse(list.stdout) as { contextId: string }).contextId, sample.context.contextId);
    const itemId = world.items[0]!.id;
    const embedding = await runCli(['store', 'get', 'item-embeddings', itemId, '--url', lookupUrl]);
    assert.equal(embedding.code, 0, embedding.stderr);
    assert.equal((JSON.parse(embedding.stdout) as { itemId: string; dimension: number }).itemId, itemId);
    const other = await runCli(['store', 'get', 'context-candidates', 'x', '--url', lookupUrl]);
    assert.equal(other.code, 2);

    // backfill: a new version, not promoted; the command promotes it and follows item-embeddings
    const registry = new ModelRegistry(registryDir);
    const v2 = (await registry.publish(CtrModel.create(DEFAULT_MODEL_CONFIG, 2), { promote: false })).version;
    const backfill = await runCli(
      [
        'backfill',
        'embeddings',
        '--model-version',
        v2,
        '--registry',
        registryDir,
        '--bootstrap',
        env.bootstrap,
        '--topic-prefix',
        prefix,
        '--timeout',
        '90',
      ],
      {},
      120_000,
    );
    assert.equal(backfill.code, 0, backfill.stderr);
    assert.match(backfill.stdout, new RegExp(`backfill done: 40/40 items carry ${v2}`));
    const latest = new Map<string, string>();
    for (const r of await readTopicToEnd(env.kafka, topics.itemEmbeddings)) {
      const e = serdes.itemEmbedding.deserialize(r.topic, r.value);
      if (e) latest.set(r.key!.toString(), e.modelVersion);
    }
    assert.equal(latest.size, 40);
    assert.deepEqual(new Set(latest.values()), new Set([v2]), 'every item re-embedded with the new version');

    const unknown = await runCli([
      'backfill',
      'embeddings',
      '--model-version',
      'v-nope',
      '--registry',
      registryDir,
      '--bootstrap',
      env.bootstrap,
      '--topic-prefix',
      prefix,
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /model version "v-nope" is not in the registry/);

    run.child.kill('SIGTERM');
    const result = await run.exited;
    run = undefined;
    assert.equal(result.code, 0, result.stderr);
  });
});
