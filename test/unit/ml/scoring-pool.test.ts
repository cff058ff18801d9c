import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { initBackend } from '../../../src/ml/backend.ts';
import { CtrModel } from '../../../src/ml/ctr-model.ts';
import { World } from '../../../src/ml/generator.ts';
import { ScoringPool } from '../../../src/ml/scoring-pool.ts';
import { Scorer, type ScoreRequest, type ScoreResult } from '../../../src/ml/scorer.ts';
import { allocateRows, packContext, writeItem } from '../../../src/ml/feature-spec.ts';
import { TINY_MODEL, TINY_WORLD } from './fixtures.ts';

const world = new World(TINY_WORLD);
const spec = TINY_MODEL.spec;
const D = spec.embeddingDim;

/** A list request for context `ctx` over `ids`, with embeddings from `model`'s towers and item keys of `version`. */
function request(model: CtrModel, ctx: number, ids: string[], version?: string): ScoreRequest {
  const c = world.contexts[ctx % world.contexts.length]!;
  const emb = model.embed(ids.map((id) => world.item(id)!));
  const rows = allocateRows(spec, ids.length);
  ids.forEach((id, r) =>
    writeItem(
      spec,
      rows,
      r,
      { category: world.item(id)!.category, itemAgeHours: 3 },
      emb.subarray(r * D, r * D + D),
    ),
  );
  const req: ScoreRequest = {
    context: packContext(spec, {
      contextId: c.id,
      publisher: c.publisher,
      placement: c.placement,
      country: c.country,
      segment: 's',
      device: 'mobile',
      position: 0,
      hour: 9,
    }),
    items: { count: ids.length, cats: rows.itemCats, nums: rows.itemNums, embeddings: rows.embeddings },
  };
  if (version) req.itemKeys = { version, keys: ids };
  return req;
}

/** Candidate lists that overlap (as a cycle's contexts share items). */
function lists(model: CtrModel, version: string, n: number, size = 12, offset = 0): ScoreRequest[] {
  const items = world.items.map((i) => i.id);
  return Array.from({ length: n }, (_, c) =>
    request(
      model,
      c,
      Array.from({ length: size }, (_, j) => items[(offset + c * 5 + j * 3) % items.length]!),
      version,
    ),
  );
}

function assertClose(got: readonly ScoreResult[], want: readonly ScoreResult[], what: string): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.equal(g.scores.length, want[i]!.scores.length);
    for (let j = 0; j < g.scores.length; j++)
      assert.ok(
        Math.abs(g.scores[j]! - want[i]!.scores[j]!) < 1e-5,
        `${what}: request ${i} row ${j}: ${g.scores[j]} vs ${want[i]!.scores[j]}`,
      );
  });
}

/** Plain reference scores: the in-thread scorer without keys (every part computed). */
function reference(model: CtrModel, version: string, reqs: ScoreRequest[]): ScoreResult[] {
  return new Scorer(model, version, 'js').score(reqs.map(({ itemKeys: _k, ...r }) => r));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} hung for ${ms} ms`)), ms).unref(),
    ),
  ]);
}

describe('ScoringPool with item-part tables', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('scores through the shared table equal to the plain scorer (cold, then warm with no part computed)', async () => {
    const model = CtrModel.create(TINY_MODEL, 21);
    const pool = new ScoringPool({ workers: 2, backend: 'wasm', engine: 'tfjs' });
    try {
      await pool.load('v1', model.toBuffer());
      const reqs = lists(model, 'v1', 6);
      const want = reference(model, 'v1', reqs);
      // two batches at once: both workers write and read the table
      const cold = await Promise.all([pool.score(reqs.slice(0, 3)), pool.score(reqs.slice(3))]);
      assertClose(cold.flat(), want, 'cold');
      const afterCold = pool.itemPartStats()!;
      assert.ok(afterCold.misses > 0);
      const warm = await Promise.all([
        pool.score(reqs.slice(0, 3)),
        pool.score(reqs.slice(3)),
        pool.score(reqs),
      ]);
      assertClose(warm[0]!.concat(warm[1]!), want, 'warm');
      assertClose(warm[2]!, want, 'warm, one batch');
      const afterWarm = pool.itemPartStats()!;
      assert.equal(afterWarm.misses, afterCold.misses, 'warm batches compute no item part');
      assert.equal(afterWarm.hits - afterCold.hits, 2 * 6 * 12);
      assert.ok(
        warm.flat().every((r) => r.itemParts === undefined),
        'keyed results carry no floats back',
      );
    } finally {
      await pool.close();
    }
  });

  it('never mixes versions: the same keys after a version switch are computed by the new head', async () => {
    const m1 = CtrModel.create(TINY_MODEL, 31);
    const m2 = CtrModel.create(TINY_MODEL, 32);
    const pool = new ScoringPool({ workers: 2, backend: 'wasm', engine: 'tfjs' });
    try {
      await pool.load('v1', m1.toBuffer());
      const reqs1 = lists(m1, 'v1', 4);
      assertClose(await pool.score(reqs1), reference(m1, 'v1', reqs1), 'v1');
      assertClose(await pool.score(reqs1), reference(m1, 'v1', reqs1), 'v1 warm');
      assert.ok(pool.itemPartStats('v1')!.entries > 0);
      await pool.load('v2', m2.toBuffer());
      // requests packed for v1 but scored by v2: computed, not cached, not read from v1's table
      const stale = await pool.score(reqs1);
      assert.ok(stale.every((r) => r.version === 'v2'));
      assertClose(stale, reference(m2, 'v2', reqs1), 'v1 keys scored by v2');
      assert.equal(pool.itemPartStats('v1'), undefined, "v1's table is dropped with v1");
      assert.equal(pool.itemPartStats('v2'), undefined, 'keys of another version are not cached');
      // the same item keys for v2 (same rows): v2's own parts
      const reqs2 = reqs1.map((r) => ({ ...r, itemKeys: { version: 'v2', keys: r.itemKeys!.keys } }));
      assertClose(await pool.score(reqs2), reference(m2, 'v2', reqs2), 'v2 cold');
      assertClose(await pool.score(reqs2), reference(m2, 'v2', reqs2), 'v2 warm');
      assert.ok(pool.itemPartStats('v2')!.hits > 0);
    } finally {
      await pool.close();
    }
  });

  it('rolls back to a version still retiring: its last call ending does not drop it from the workers', async () => {
    const m1 = CtrModel.create(TINY_MODEL, 35);
    const m2 = CtrModel.create(TINY_MODEL, 36);
    const pool = new ScoringPool({ workers: 1, backend: 'wasm', engine: 'tfjs' });
    try {
      await pool.load('v1', m1.toBuffer());
      const reqs = lists(m1, 'v1', 2);
      const toV2 = pool.load('v2', m2.toBuffer());
      // issued before v2 is current: scored by v1, queued behind the load, so v1 retires with it in flight
      const inFlight = pool.score(reqs);
      await toV2;
      const back = pool.load('v1', m1.toBuffer());
      assert.ok((await inFlight).every((r) => r.version === 'v1'));
      await back;
      assert.equal(pool.version, 'v1');
      const after = await pool.score(reqs);
      assert.ok(after.every((r) => r.version === 'v1'));
      assertClose(after, reference(m1, 'v1', reqs), 'v1 after the rollback');
    } finally {
      await pool.close();
    }
  });

  it('a version the workers cannot load fails its load and leaves the current version serving', async () => {
    const model = CtrModel.create(TINY_MODEL, 37);
    const pool = new ScoringPool({ workers: 2, backend: 'wasm', engine: 'tfjs', respawnDelayMs: 20 });
    try {
      await pool.load('v1', model.toBuffer());
      await assert.rejects(
        pool.load('broken', new TextEncoder().encode('not a model')),
        (e: Error & { code?: string }) =>
          e.code === 'CTR_ML_MODEL_FORMAT' && e.message.includes('model version broken'),
      );
      assert.equal(pool.version, 'v1');
      const reqs = lists(model, 'v1', 3);
      assertClose(await pool.score(reqs), reference(model, 'v1', reqs), 'v1 after the failed load');
      // the pool forgot the broken version: a replacement worker loads what the pool holds and gets ready
      pool.killWorker(0);
      const deadline = Date.now() + 20_000;
      while ((pool.restarts < 1 || pool.readyWorkers < 2) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(pool.readyWorkers, 2, 'the replacement loaded the pool versions and is ready');
      assert.equal(pool.restarts, 1, 'no further deaths: the replacement did not try the broken version');
    } finally {
      await pool.close();
    }
  });

  it('stays within its bound, evicting, and scores correctly while it does', async () => {
    const model = CtrModel.create(TINY_MODEL, 41);
    const P = model.head.partSize;
    const pool = new ScoringPool({
      workers: 2,
      backend: 'wasm',
      engine: 'tfjs',
      itemParts: { chunkSlots: 8, maxBytes: 24 * (P + 1) * 4 },
    });
    try {
      await pool.load('v1', model.toBuffer());
      for (let round = 0; round < 4; round++) {
        const reqs = lists(model, 'v1', 4, 10, round * 17);
        assertClose(await pool.score(reqs), reference(model, 'v1', reqs), `round ${round}`);
        assertClose(
          await pool.score(reqs.slice(1)),
          reference(model, 'v1', reqs.slice(1)),
          `round ${round} again`,
        );
      }
      const s = pool.itemPartStats()!;
      assert.equal(s.capacity, 24);
      assert.ok(s.slots <= 24 && s.bytes <= 24 * (P + 1) * 4, JSON.stringify(s));
      assert.ok(s.evictions > 0, 'full: keys were evicted');
    } finally {
      await pool.close();
    }
  });

  it('gives each worker its own native thread pool sized cores / workers, unless the environment says otherwise', () => {
    const pool = new ScoringPool({ workers: 2, backend: 'wasm' });
    const expected =
      process.env.TF_NUM_INTRAOP_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / 2)));
    assert.equal(String(pool.nativeThreads.intraOp), expected);
    assert.equal(process.env.TF_NUM_INTRAOP_THREADS, expected);
    assert.equal(process.env.TF_OVERRIDE_GLOBAL_THREADPOOL, '1');
    return pool.close();
  });
});

describe('ScoringPool respawn', () => {
  it('replaces workers killed under load; no request hangs or fails, and later requests succeed', async () => {
    const model = CtrModel.create(TINY_MODEL, 51);
    const pool = new ScoringPool({ workers: 2, backend: 'wasm', engine: 'tfjs', respawnDelayMs: 20 });
    try {
      await pool.load('v1', model.toBuffer());
      const reqs = lists(model, 'v1', 8);
      const want = reference(model, 'v1', reqs);
      let stop = false;
      let done = 0;
      const load = Array.from({ length: 6 }, async () => {
        while (!stop) {
          assertClose(await withTimeout(pool.score(reqs), 20_000, 'a score call'), want, 'under load');
          done++;
        }
      });
      await new Promise((r) => setTimeout(r, 150));
      pool.killWorker(0, 'terminate');
      await new Promise((r) => setTimeout(r, 300));
      pool.killWorker(1, 'throw');
      await new Promise((r) => setTimeout(r, 300));
      pool.killWorker(0, 'exit');
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(load);
      assert.ok(done > 10, `requests went on: ${done}`);
      assert.equal(pool.restarts, 3);
      const deadline = Date.now() + 20_000;
      while (pool.readyWorkers < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pool.readyWorkers, 2, 'both positions have a ready replacement');
      assertClose(await pool.score(reqs), want, 'after recovery');
      const emb = await pool.embed(world.items.slice(0, 2));
      assert.equal(emb.embeddings.length, 2 * D);
    } finally {
      await pool.close();
    }
  });

  it('with its only worker dead, calls wait for the replacement, which loads the current version', async () => {
    const m1 = CtrModel.create(TINY_MODEL, 61);
    const m2 = CtrModel.create(TINY_MODEL, 62);
    const pool = new ScoringPool({ workers: 1, backend: 'wasm', engine: 'tfjs', respawnDelayMs: 50 });
    try {
      await pool.load('v1', m1.toBuffer());
      await pool.load('v2', m2.toBuffer());
      const reqs = lists(m2, 'v2', 3);
      await pool.score(reqs);
      pool.killWorker(0);
      await new Promise((r) => setTimeout(r, 10));
      const after = await withTimeout(pool.score(reqs), 20_000, 'a call while the only worker restarts');
      assert.ok(after.every((r) => r.version === 'v2'));
      assertClose(after, reference(m2, 'v2', reqs), 'replacement');
      assert.equal(pool.restarts, 1);
    } finally {
      await pool.close();
    }
  });

  it('a worker dying while a version loads does not fail the load: its replacement loads that version', async () => {
    const m1 = CtrModel.create(TINY_MODEL, 81);
    const m2 = CtrModel.create(TINY_MODEL, 82);
    const pool = new ScoringPool({ workers: 2, backend: 'wasm', engine: 'tfjs', respawnDelayMs: 20 });
    try {
      await pool.load('v1', m1.toBuffer());
      const loading = pool.load('v2', m2.toBuffer());
      pool.killWorker(1);
      await loading;
      assert.equal(pool.version, 'v2');
      const deadline = Date.now() + 20_000;
      while (pool.readyWorkers < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pool.readyWorkers, 2);
      const reqs = lists(m2, 'v2', 4);
      assertClose(await pool.score(reqs), reference(m2, 'v2', reqs), 'after a death during load');
      // stop the worker that was never replaced: only the replacement can answer now
      pool.killWorker(0);
      while (pool.readyWorkers > 1 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      assert.equal(pool.readyWorkers, 1, 'worker 0 is gone (its replacement is not ready yet)');
      const onReplacement = await withTimeout(pool.score(reqs), 20_000, 'a call on the replacement');
      assert.ok(onReplacement.every((r) => r.version === 'v2'));
      assertClose(onReplacement, reference(m2, 'v2', reqs), 'on the replacement');
    } finally {
      await pool.close();
    }
  });

  it('a call whose worker died waits for its retry, and close() rejects it instead of leaving it pending', async () => {
    const model = CtrModel.create(TINY_MODEL, 71);
    const pool = new ScoringPool({ workers: 1, backend: 'wasm', engine: 'tfjs', respawnDelayMs: 10_000 });
    await pool.load('v1', model.toBuffer());
    const reqs = lists(model, 'v1', 40, 40);
    const call = pool.score(reqs);
    pool.killWorker(0);
    // the retry waits for a replacement that is 10 s away: closing ends the wait
    await new Promise((r) => setTimeout(r, 50));
    await pool.close();
    await assert.rejects(withTimeout(call, 5000, 'a call at close'), (e: Error & { code?: string }) =>
      ['CTR_ML_WORKER', 'CTR_ML_CLOSED'].includes(e.code ?? ''),
    );
  });
});
