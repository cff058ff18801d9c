import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLookupServer, type LookupServer } from '../../../src/lookup/index.ts';
import { HealthRegistry } from '../../../src/telemetry/index.ts';
import { EmbeddingTable } from '../../../topologies/embedding-table.ts';
import { vectorBytes, type RecommendationEvent } from '../../../topologies/events.ts';

describe('lookup API', () => {
  const embeddings = new EmbeddingTable();
  const lists = new Map<string, RecommendationEvent>();
  const health = new HealthRegistry();
  let healthy = true;
  let server: LookupServer;

  before(async () => {
    embeddings.apply('item-1', {
      itemId: 'item-1',
      modelVersion: 'v7',
      dimension: 2,
      vector: vectorBytes(Float32Array.from([0.5, -1])),
      computedAt: 10,
      category: 'cat-1',
      createdAt: 5,
    });
    lists.set('ctx-1', {
      contextId: 'ctx-1',
      cycleId: 3,
      modelVersion: 'v7',
      generatedAt: 20,
      items: [{ itemId: 'item-1', score: 0.25, position: 0, outOfVocabulary: false }],
    });
    health.register('ready', 'pipeline', () => healthy);
    server = await startLookupServer({
      embeddings,
      recommendations: lists,
      health,
      candidates: async (id) =>
        id === 'here'
          ? { kind: 'local', value: { contextId: 'here', candidates: [{ itemId: 'item-1' }] } }
          : id === 'there'
            ? { kind: 'remote', host: '10.0.0.7:8080' }
            : id === 'rebalancing'
              ? { kind: 'unknown', reason: 'rebalancing' }
              : { kind: 'local', value: undefined },
    });
  });
  after(() => server.close());

  const get = async (path: string) => {
    const r = await fetch(`${server.url}${path}`);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it('returns an item embedding with its model version', async () => {
    const r = await get('/items/item-1/embedding');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      itemId: 'item-1',
      modelVersion: 'v7',
      dimension: 2,
      vector: [0.5, -1],
      category: 'cat-1',
      createdAt: 5,
      computedAt: 10,
    });
  });

  it('returns the latest list of a context', async () => {
    const r = await get('/contexts/ctx-1/recommendations');
    assert.equal(r.status, 200);
    assert.equal(r.body.cycleId, 3);
    assert.deepEqual(r.body.items, [{ itemId: 'item-1', score: 0.25, position: 0, outOfVocabulary: false }]);
  });

  it('answers 404 naming the unknown key, and for unknown routes', async () => {
    const a = await get('/items/nope/embedding');
    assert.equal(a.status, 404);
    assert.match(String(a.body.error), /"nope"/);
    const b = await get('/contexts/ctx-x/recommendations');
    assert.equal(b.status, 404);
    assert.match(String(b.body.error), /"ctx-x"/);
    assert.equal((await get('/whatever')).status, 404);
    assert.equal((await get('/metrics')).status, 404, 'no telemetry in this process');
  });

  it('reports readiness as 200 UP or 503 DOWN', async () => {
    assert.equal((await get('/health')).status, 200);
    healthy = false;
    const down = await get('/health');
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'DOWN');
    healthy = true;
  });

  it('answers a candidate set held here, redirects one held by another instance, and asks to retry while unknown', async () => {
    const here = await get('/contexts/here/candidates');
    assert.equal(here.status, 200);
    assert.deepEqual(here.body, { contextId: 'here', candidates: [{ itemId: 'item-1' }] });
    const there = await fetch(`${server.url}/contexts/there/candidates`, { redirect: 'manual' });
    assert.equal(there.status, 307);
    assert.equal(there.headers.get('location'), 'http://10.0.0.7:8080/contexts/there/candidates');
    await there.body?.cancel();
    const unknown = await fetch(`${server.url}/contexts/rebalancing/candidates`);
    assert.equal(unknown.status, 503);
    assert.equal(unknown.headers.get('retry-after'), '1');
    await unknown.body?.cancel();
    assert.equal((await get('/contexts/none/candidates')).status, 404);
  });

  it('refuses writes', async () => {
    const r = await fetch(`${server.url}/items/item-1/embedding`, { method: 'POST' });
    assert.equal(r.status, 405);
    await r.body?.cancel();
  });
});
