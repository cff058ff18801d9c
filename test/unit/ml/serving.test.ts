import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../../src/ml/backend.ts';
import { CtrModel } from '../../../src/ml/ctr-model.ts';
import { World } from '../../../src/ml/generator.ts';
import { embeddingVersionOf, ModelRegistry } from '../../../src/ml/registry.ts';
import { CtrTrainer } from '../../../src/ml/trainer.ts';
import { exampleFromImpression } from '../../../src/ml/examples.ts';
import { ScoringPool } from '../../../src/ml/scoring-pool.ts';
import { Autobatcher } from '../../../src/ml/autobatcher.ts';
import { Scorer, requestRows, type ScoreRequest, type ScoreResult } from '../../../src/ml/scorer.ts';
import { allocateRows, packContext, writeItem } from '../../../src/ml/feature-spec.ts';
import { sigmoidInPlace } from '../../../src/ml/ctr-head.ts';
import { RegistryError } from '../../../src/ml/errors.ts';
import { TINY_MODEL, TINY_WORLD } from './fixtures.ts';

const world = new World(TINY_WORLD);
const spec = TINY_MODEL.spec;

function request(model: CtrModel, ctxIndex: number, itemIds: string[]): ScoreRequest {
  const ctx = world.contexts[ctxIndex % world.contexts.length]!;
  const emb = model.embed(itemIds.map((id) => world.item(id)!));
  const rows = allocateRows(spec, itemIds.length);
  itemIds.forEach((id, r) =>
    writeItem(
      spec,
      rows,
      r,
      { category: world.item(id)!.category, itemAgeHours: 5 },
      emb.subarray(r * 16, r * 16 + 16),
    ),
  );
  return {
    context: packContext(spec, {
      contextId: ctx.id,
      publisher: ctx.publisher,
      placement: ctx.placement,
      country: ctx.country,
      segment: 'seg-1',
      device: 'mobile',
      position: 0,
      hour: 9,
      pageDepth: 2,
    }),
    items: { count: itemIds.length, cats: rows.itemCats, nums: rows.itemNums, embeddings: rows.embeddings },
  };
}

describe('serving: registry, scorer, worker pool, hot reload', () => {
  let dir: string;
  before(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(join(tmpdir(), 'ctr-ml-registry-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes immutable versions with metrics and promotes latest', async () => {
    const reg = new ModelRegistry(join(dir, 'reg-a'));
    assert.equal(await reg.latest(), undefined);
    const m = CtrModel.create(TINY_MODEL, 1);
    const v1 = await reg.publish(m, { metrics: { auc: 0.7 } });
    const v2 = await reg.publish(m, { metrics: { auc: 0.71 }, parent: v1.version, promote: false });
    assert.equal(await reg.latest(), v1.version);
    await reg.promote(v2.version);
    assert.equal(await reg.latest(), v2.version);
    assert.deepEqual(await reg.list(), [v1.version, v2.version].sort());
    const info = await reg.info(v2.version);
    assert.equal(info.parent, v1.version);
    assert.equal(info.metrics.auc, 0.71);
    assert.deepEqual(info.featureSpec, spec);
    const loaded = await reg.load(v2.version);
    assert.deepEqual(loaded.weights.get('mlp.0.wi')!.data, m.weights.get('mlp.0.wi')!.data);
    await assert.rejects(reg.promote('v20990101T000000000-abcdef'), RegistryError);
  });

  it('records whose towers a version uses: a head-only child shares the embedding version of its ancestor', async () => {
    const reg = new ModelRegistry(join(dir, 'reg-lineage'));
    const examples = world.impressions(200).map((i) => exampleFromImpression(i, world.item(i.itemId)!));
    const lookup = (id: string) => world.item(id);
    const root = CtrModel.create(TINY_MODEL, 1);
    const v1 = await reg.publish(root);
    assert.equal(v1.embeddingVersion, v1.version, 'a fresh model embeds with its own towers');
    assert.equal(v1.towersDigest, root.towersDigest());
    // two head-only generations: the embeddings of v1 stay valid for both
    const frozen = new CtrTrainer(await reg.load(v1.version), { batchSize: 100, trainTowers: false });
    frozen.step(examples.slice(0, 100), lookup);
    const v2 = await reg.publish(frozen.model, { parent: v1.version });
    frozen.step(examples.slice(100, 200), lookup);
    const v3 = await reg.publish(frozen.model, { parent: v2.version });
    assert.equal(v2.embeddingVersion, v1.version);
    assert.equal(v3.embeddingVersion, v1.version);
    assert.equal(embeddingVersionOf(await reg.info(v3.version)), v1.version);
    // a step that trains the towers makes new embeddings
    const full = new CtrTrainer(await reg.load(v3.version), { batchSize: 100 });
    full.step(examples.slice(0, 100), lookup);
    const v4 = await reg.publish(full.model, { parent: v3.version });
    assert.equal(v4.embeddingVersion, v4.version);
    assert.notEqual(v4.towersDigest, v1.towersDigest);
    // the same towers without a parent link are not assumed to be related
    const orphan = await reg.publish(frozen.model);
    assert.equal(orphan.embeddingVersion, orphan.version);
    // a version written before digests existed: its towers are hashed from its model.bin
    const infoFile = join(reg.root, 'versions', v4.version, 'version.json');
    const { towersDigest: _d, embeddingVersion: _e, ...old } = JSON.parse(await readFile(infoFile, 'utf8'));
    await writeFile(infoFile, JSON.stringify(old));
    assert.equal(embeddingVersionOf(await reg.info(v4.version)), v4.version, 'no field: its own');
    const headOnly = new CtrTrainer(await reg.load(v4.version), { batchSize: 100, trainTowers: false });
    headOnly.step(examples.slice(0, 100), lookup);
    const v5 = await reg.publish(headOnly.model, { parent: v4.version });
    assert.equal(v5.embeddingVersion, v4.version);
  });

  it('the in-thread scorer (js and tfjs engines, cached parts or not) equals the plain head', () => {
    const model = CtrModel.create(TINY_MODEL, 5);
    const req = request(
      model,
      3,
      world.items.slice(0, 20).map((i) => i.id),
    );
    const rows = allocateRows(spec, 20);
    const ctxRows = allocateRows(spec, 0);
    void ctxRows;
    for (let r = 0; r < 20; r++) {
      rows.contextCats.set(req.context.cats, r * spec.contextFields.length);
      rows.contextNums.set(req.context.nums, r * spec.contextNumeric.length);
    }
    rows.itemCats.set(req.items.cats);
    rows.itemNums.set(req.items.nums);
    rows.embeddings.set(req.items.embeddings);
    const plain = sigmoidInPlace(model.head.plainLogits(rows));
    for (const engine of ['js', 'tfjs'] as const) {
      const s = new Scorer(model, 'v-test', engine);
      const [first] = s.score([req]);
      assert.ok(first!.itemParts, 'parts are returned when computed');
      const [cached] = s.score([{ ...req, itemParts: first!.itemParts! }]);
      assert.equal(cached!.itemParts, undefined, 'cached parts are used, not recomputed');
      for (let i = 0; i < 20; i++) {
        assert.ok(Math.abs(first!.scores[i]! - plain[i]!) < 1e-5, `${engine} ${i}`);
        assert.ok(Math.abs(cached!.scores[i]! - plain[i]!) < 1e-5, `${engine} cached ${i}`);
      }
    }
  });

  it('hot-reloads a new version under load with no failed request, each result naming its version', async () => {
    const reg = new ModelRegistry(join(dir, 'reg-b'));
    const m1 = CtrModel.create(TINY_MODEL, 11);
    const m2 = CtrModel.create(TINY_MODEL, 12);
    const v1 = (await reg.publish(m1)).version;
    const pool = new ScoringPool({ workers: 2, backend: 'wasm', engine: 'tfjs' });
    const batcher = new Autobatcher<ScoreRequest, ScoreResult>({
      maxBatchSize: 256,
      maxWaitMs: 2,
      concurrency: 2,
      rows: requestRows,
      run: (b) => pool.score(b),
    });
    try {
      await pool.follow(reg, 20);
      assert.equal(pool.version, v1);
      const ids = world.items.slice(0, 10).map((i) => i.id);
      const req = request(m1, 1, ids); // same embeddings for both versions: only the head differs
      const expect = new Map<string, Float32Array>([[v1, new Scorer(m1, v1, 'js').score([req])[0]!.scores]]);
      let v2 = '';
      const results: ScoreResult[] = [];
      const load = (async () => {
        const deadline = Date.now() + 4000;
        while (Date.now() < deadline && (v2 === '' || results.filter((r) => r.version === v2).length < 20)) {
          const batch = await Promise.all(Array.from({ length: 8 }, () => batcher.submit(req)));
          results.push(...batch);
        }
      })();
      await new Promise((r) => setTimeout(r, 150));
      v2 = (await reg.publish(m2)).version;
      expect.set(v2, new Scorer(m2, v2, 'js').score([req])[0]!.scores);
      await load;
      const versions = new Set(results.map((r) => r.version));
      assert.ok(versions.has(v1) && versions.has(v2), `saw versions ${[...versions].join(', ')}`);
      // once v2 answered, v1 never answers again
      const firstV2 = results.findIndex((r) => r.version === v2);
      assert.ok(results.slice(firstV2).every((r) => r.version === v2));
      for (const r of results) {
        const want = expect.get(r.version)!;
        for (let i = 0; i < want.length; i++)
          assert.ok(Math.abs(r.scores[i]! - want[i]!) < 1e-5, `version ${r.version} row ${i}`);
      }
      const embedded = await pool.embed(world.items.slice(0, 3));
      assert.equal(embedded.version, v2);
      assert.equal(embedded.embeddingVersion, v2, 'v2 has towers of its own');
      assert.equal(embedded.embeddings.length, 3 * 16);
      // a head-only child of v2: the pool loads it, and its embeddings are stamped v2
      const child = CtrModel.fromBuffer(m2.toBuffer(), 'copy of v2');
      child.weights.get('mlp.0.wi')!.data[0]! += 0.5;
      const v3 = (await reg.publish(child, { parent: v2 })).version;
      const until = Date.now() + 4000;
      while (pool.version !== v3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pool.version, v3);
      assert.equal(pool.embeddingVersion, v2);
      const shared = await pool.embed(world.items.slice(0, 3));
      assert.equal(shared.embeddingVersion, v2);
      assert.deepEqual(shared.embeddings, embedded.embeddings, 'same towers, same vectors');
    } finally {
      await batcher.close();
      await pool.close();
    }
  });
});
