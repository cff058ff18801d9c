/**
 * `ctr-streams train --from-topic` on the real broker: continuous training
 * from the `training-examples` topic, with the position stored in each
 * version. Records are written with the pipeline's own serdes, so the wire
 * format is the one the engagement topology writes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutgoingRecord } from '../../../src/kafka/index.ts';
import { ModelRegistry, World, type Impression, type Item } from '../../../src/ml/index.ts';
import {
  pipelineSerdes,
  type ItemCreatedEvent,
  type TrainingExampleEvent,
} from '../../../topologies/events.ts';
import { topicNames, type PipelineTopics } from '../../../topologies/topics.ts';
import {
  createTopics,
  deleteTopicsStartingWith,
  produceRecords,
  testKafka,
  uniqueName,
  withAdmin,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { runCli, startCli, type CliResult } from './fixtures/cli-process.ts';

const SHARE = 0.1;

describe('ctr-streams train --from-topic (continuous training from training-examples)', () => {
  let env: TestKafka;
  let dir: string;
  let registry: string;
  const prefix = uniqueName('train-topic');
  const topics: PipelineTopics = topicNames(prefix);
  const serdes = pipelineSerdes();
  const world = new World({ seed: 5 });
  // one item never reaches item-created: its examples are skipped and counted
  const unknown = world.items[0] as Item;
  let nextImpression = 0;

  before(async () => {
    env = await testKafka();
    dir = mkdtempSync(join(tmpdir(), 'ctr-cli-train-topic-'));
    registry = join(dir, 'models');
    await createTopics(env.kafka, [
      { name: topics.itemCreated, partitions: 2 },
      { name: topics.trainingExamples, partitions: 3 },
    ]);
    await produceRecords(
      env.kafka,
      world.items
        .filter((it) => it.id !== unknown.id)
        .map((it) => ({
          topic: topics.itemCreated,
          key: it.id,
          value: serdes.itemCreated.serialize(topics.itemCreated, itemCreatedOf(it)),
        })),
    );
    // the unknown item's only record is not Avro: it stays unknown, and the command says so
    await produceRecords(env.kafka, [
      { topic: topics.itemCreated, key: unknown.id, value: Buffer.from('not an Avro item') },
    ]);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deleteTopicsStartingWith(env.kafka, [prefix]);
  });

  /** Produces `n` examples (as the engagement topology writes them); @returns how many name a known item. */
  async function produceExamples(n: number, extra: OutgoingRecord[] = []): Promise<number> {
    const impressions = world.impressions(n);
    // make sure the unknown item is among them, whatever the draw
    (impressions[0] as Impression).itemId = unknown.id;
    const records: OutgoingRecord[] = impressions.map((imp) => {
      const id = `imp-${nextImpression++}`;
      return {
        topic: topics.trainingExamples,
        key: `${id}/${imp.itemId}`,
        value: serdes.trainingExample.serialize(topics.trainingExamples, trainingEventOf(id, imp)),
      };
    });
    await produceRecords(env.kafka, [...records, ...extra]);
    return impressions.filter((imp) => imp.itemId !== unknown.id).length;
  }

  async function endOffsets(): Promise<Record<string, string>> {
    const offsets = await withAdmin(env.kafka, (admin) => admin.topicOffsets(topics.trainingExamples));
    return Object.fromEntries(offsets.map((o) => [String(o.partition), o.high]));
  }

  function trainArgs(...more: string[]): string[] {
    return [
      'train',
      '--from-topic',
      '--registry',
      registry,
      '--bootstrap',
      env.bootstrap,
      '--topic-prefix',
      prefix,
      '--validation-share',
      String(SHARE),
      '--backend',
      'wasm',
      ...more,
    ];
  }

  function train(...more: string[]): Promise<CliResult> {
    return runCli(trainArgs(...more), {}, 90_000);
  }

  let v1 = '';
  /** Examples with a known item produced so far. */
  let usable = 0;

  it('trains a first version on every example, skips a bad record and unknown items, and stores the end offsets', async () => {
    const bad: OutgoingRecord = {
      topic: topics.trainingExamples,
      key: 'bad',
      value: Buffer.from('not an Avro record'),
    };
    const known = await produceExamples(400, [bad]);
    usable += known;
    const ends = await endOffsets();
    const r = await train();
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /reading .*training-examples from the beginning \(the registry has no version yet\)/,
    );
    assert.match(r.stderr, /read 401 record\(s\)/);
    assert.match(
      r.stderr,
      new RegExp(`${known} example\\(s\\) to train on; skipped ${400 - known} with an unknown item`),
    );
    assert.match(r.stderr, /1 undecodable/);
    assert.match(
      r.stderr,
      /warning: 1 undecodable record\(s\) skipped; the first: \S+training-examples\[\d\] offset \d+: /,
    );
    assert.match(
      r.stderr,
      /warning: 1 undecodable record\(s\) of \S+item-created skipped \(their items count as unknown\); the first: \S+item-created\[\d\] offset \d+: /,
    );
    v1 = /published (\S+) \(parent none\)/.exec(r.stdout)?.[1] ?? '';
    assert.ok(v1, r.stdout);

    const info = await new ModelRegistry(registry).info(v1);
    const held = Math.floor(known * SHARE);
    assert.equal(info.metrics.examplesTrained, known - held);
    assert.equal(info.metrics.validationExamples, held);
    assert.deepEqual(info.trainedThrough, { topic: topics.trainingExamples, offsets: ends });
    assert.equal(info.trainingSource?.skippedUndecodable, 1);
    assert.equal(info.trainingSource?.skippedUnknownItem, 400 - known);
    assert.equal(info.trainingSource?.undecodableItemRecords, 1);
  });

  it('continues from the first version on the new examples only, and advances the position', async () => {
    const before = await endOffsets();
    const known = await produceExamples(150);
    usable += known;
    const ends = await endOffsets();
    const r = await train();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`from the position ${v1} was trained through`));
    assert.match(r.stderr, /read 150 record\(s\)/);
    const v2 = new RegExp(`published (\\S+) \\(parent ${v1}\\)`).exec(r.stdout)?.[1];
    assert.ok(v2, r.stdout);

    const reg = new ModelRegistry(registry);
    assert.equal(await reg.latest(), v2);
    const info = await reg.info(v2);
    assert.equal(info.parent, v1);
    assert.equal(info.metrics.examplesTrained, known - Math.floor(known * SHARE));
    assert.deepEqual(info.trainedThrough, { topic: topics.trainingExamples, offsets: ends });
    assert.deepEqual(info.trainingSource?.fromOffsets, before);
    for (const [p, end] of Object.entries(ends)) assert.ok(BigInt(end) >= BigInt(before[p] ?? '0'));
    assert.notDeepEqual(ends, before);
  });

  it('publishes nothing and exits 0 when the topic has no new examples', async () => {
    const reg = new ModelRegistry(registry);
    const latest = await reg.latest();
    const versions = await reg.list();
    const r = await train();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^no new examples in \S+training-examples since \S+ .*: nothing published$/m);
    assert.doesNotMatch(r.stdout, /published v/);
    assert.equal(await reg.latest(), latest);
    assert.deepEqual(await reg.list(), versions);
  });

  it('--from-beginning reads everything again; --min-examples keeps a short run from publishing', async () => {
    const reg = new ModelRegistry(registry);
    const versions = await reg.list();
    const r = await train('--from-beginning', '--min-examples', '100000');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /from the beginning \(--from-beginning\)/);
    assert.match(
      r.stdout,
      new RegExp(
        `^only ${usable} new example\\(s\\) in \\S+, fewer than --min-examples 100000: nothing published`,
        'm',
      ),
    );
    assert.deepEqual(await reg.list(), versions);
  });

  it('publishes but does not promote when the latest version changed while it trained (exit 3)', async () => {
    const reg = new ModelRegistry(registry);
    const parent = (await reg.latest()) as string;
    await produceExamples(60);
    const run = startCli(trainArgs());
    const deadline = Date.now() + 30_000;
    while (!/^reading /m.test(run.stderr()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    // another trainer (here: an operator's rollback) moves LATEST while this run reads and trains
    await reg.promote(v1);
    const r = await run.exited;
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /did not promote it: the registry's latest version became \S+ while training.*\[CTR_CLI_REGISTRY_MOVED\]/,
    );
    assert.equal(await reg.latest(), v1);
    const versions = await reg.list();
    const orphan = versions[versions.length - 1] as string;
    assert.equal((await reg.info(orphan)).parent, parent);
  });

  it('refuses --from-topic together with another source, with exit code 2', async () => {
    const r = await runCli(['train', '--registry', registry, '--from-topic', '--world-seed', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ctr-streams train: give one source of examples/);
  });

  it('refuses a final learning rate above the start rate before reading the topic (exit 2)', async () => {
    // nothing listens on port 1: a run that read before checking the rates would fail to connect (exit 1)
    const r = await runCli([
      'train',
      '--registry',
      registry,
      '--from-topic',
      '--bootstrap',
      '127.0.0.1:1',
      '--learning-rate',
      '0.001',
      '--final-learning-rate',
      '0.01',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--final-learning-rate 0\.01 is above the start rate 0\.001/);
    assert.doesNotMatch(r.stderr, /^reading /m);
  });
});

/** The item-created record of a world item, as the event producer writes it. */
function itemCreatedOf(item: Item): ItemCreatedEvent {
  const s = Math.round(Math.sqrt(item.image.length / 3));
  return {
    itemId: item.id,
    publisher: 'synthetic',
    title: item.title,
    description: item.description,
    category: item.category,
    language: 'en',
    image: { width: s, height: s, channels: 3, pixels: Buffer.from(item.image), seed: null },
    createdAt: item.createdAt,
  };
}

/** The training example the engagement topology writes for one shown item (its context features only). */
function trainingEventOf(impressionId: string, imp: Impression): TrainingExampleEvent {
  return {
    impressionId,
    itemId: imp.itemId,
    contextId: imp.contextId,
    features: {
      contextId: imp.contextId,
      publisher: imp.publisher,
      placement: imp.placement,
      country: imp.country,
      segment: imp.segment,
      device: imp.device,
      position: imp.position,
      hour: imp.hour,
      pageDepth: imp.pageDepth,
    },
    label: imp.clicked ? 1 : 0,
    impressionTimestamp: imp.timestamp,
    clickTimestamp: imp.clicked ? imp.timestamp : null,
  };
}
