import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ModelRegistry,
  allocateRows,
  packContext,
  type ItemContent,
  type ScoreRequest,
} from '../../../src/ml/index.ts';
import { itemContentOf } from '../../../topologies/embeddings.ts';
import { PooledModelRunner } from '../../../topologies/model-runner.ts';
import { itemCreated, testBackend, testModel, testWorld } from './fixtures.ts';

describe('PooledModelRunner.embed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-runner-test-'));
  const model = testModel(3);
  const world = testWorld(40);
  const items: ItemContent[] = world.items.map((it) =>
    itemContentOf(itemCreated(it), model.config.towers.image.size),
  );
  let runner: PooledModelRunner;
  let expected: Float32Array;
  let dim: number;

  before(async () => {
    await testBackend();
    const registry = new ModelRegistry(join(dir, 'models'));
    await registry.publish(model);
    // wasm in the workers too, so their vectors match the ones computed here
    runner = await PooledModelRunner.start(registry, { workers: 2, backend: 'wasm', maxEmbedBatch: 16 });
    expected = model.embed(items).slice();
    dim = expected.length / items.length;
  });

  after(async () => {
    await runner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function assertRowsOf(got: Float32Array, from: number, count: number): void {
    assert.equal(got.length, count * dim);
    for (let i = 0; i < got.length; i++) {
      const want = expected[from * dim + i] as number;
      assert.ok(
        Math.abs((got[i] as number) - want) < 1e-4,
        `row ${from + Math.floor(i / dim)}: ${got[i]} != ${want}`,
      );
    }
  }

  it('joins concurrent callers into fewer tower calls and gives each caller its own rows', async () => {
    const callsBefore = runner.embedBatcher.stats.calls;
    const requestsBefore = runner.embedBatcher.stats.requests;
    // 8 callers of 3 items at once, as 8 tasks with small batches would
    const starts = [0, 3, 6, 9, 12, 15, 18, 21];
    const results = await Promise.all(starts.map((s) => runner.embed(items.slice(s, s + 3))));
    const calls = runner.embedBatcher.stats.calls - callsBefore;
    assert.equal(runner.embedBatcher.stats.requests - requestsBefore, 8);
    assert.ok(calls < 8, `8 concurrent requests took ${calls} tower calls`);
    results.forEach((r, i) => {
      assert.equal(r.version, runner.version);
      assertRowsOf(r.embeddings, starts[i] as number, 3);
    });
  });

  it('splits a request larger than maxEmbedBatch and returns its rows in order', async () => {
    const r = await runner.embed(items.slice(0, 37));
    assert.equal(r.version, runner.version);
    assertRowsOf(r.embeddings, 0, 37);
    assert.ok(runner.embedBatcher.stats.maxBatchRows <= 16);
  });
});

describe('PooledModelRunner.score', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-runner-score-test-'));
  const model = testModel(4);
  const spec = model.config.spec;
  let runner: PooledModelRunner;

  before(async () => {
    await testBackend();
    const registry = new ModelRegistry(join(dir, 'models'));
    await registry.publish(model);
    runner = await PooledModelRunner.start(registry, { workers: 1, backend: 'wasm', maxBatchRows: 4 });
  });

  after(async () => {
    await runner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function request(count: number): ScoreRequest {
    const rows = allocateRows(spec, count);
    return {
      context: packContext(spec, { contextId: 'ctx-1', publisher: 'pub-1' }),
      items: { count, cats: rows.itemCats, nums: rows.itemNums, embeddings: rows.embeddings },
    };
  }

  it('refuses a call holding a list larger than the batch size before submitting any of its lists', async () => {
    const before = runner.batcher.stats.requests;
    await assert.rejects(runner.score([request(3), request(5)]), /list request of 5 candidates exceeds/);
    await runner.batcher.drain();
    assert.equal(runner.batcher.stats.requests, before, 'the list that fit was not scored either');
    const ok = await runner.score([request(3), request(4)]);
    assert.deepEqual(
      ok.map((r) => r.scores.length),
      [3, 4],
    );
  });
});
