import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeTopology } from '../../../src/cli/commands/describe.ts';
import { PIPELINE_TOPOLOGIES } from '../../../src/cli/topology-catalog.ts';
import { runCli, WORD_COUNT } from '../../integration/cli/fixtures/cli-process.ts';

const STORES: Record<string, string[]> = {
  embeddings: ['item-catalogue', 'item-embeddings', 'pending-embedding-requests', 'embedding-backfill'],
  engagement: [
    'impression-window',
    'early-clicks',
    'join-expiry',
    'context-candidates',
    'context-counters',
    'item-counters',
  ],
  recommendations: ['candidates'],
};

describe('ctr-streams describe', () => {
  for (const name of PIPELINE_TOPOLOGIES) {
    it(`prints ${name} as Kafka Streams text, naming every store`, async () => {
      const { text } = await describeTopology(name, { format: 'text', topicPrefix: '' });
      assert.match(text, /^Topologies:\n {3}Sub-topology: 0\n/);
      for (const store of STORES[name]!) assert.match(text, new RegExp(`stores: \\[[^\\]]*\\b${store}\\b`));
    });

    it(`prints ${name} as a Mermaid flowchart with its topics and stores`, async () => {
      const { text } = await describeTopology(name, { format: 'mermaid', topicPrefix: 'p1' });
      assert.match(text, /^flowchart LR\n/);
      assert.match(text, /subgraph sub0\["Sub-topology 0"\]/);
      for (const store of STORES[name]!) assert.ok(text.includes(`[("store: ${store}")]`), `store ${store}`);
      assert.ok(/topic: p1-/.test(text), 'topic names carry the prefix');
      // every edge joins two declared ids
      const declared = new Set([...text.matchAll(/^\s+(\w+)[[(]/gm)].map((m) => m[1]));
      for (const m of text.matchAll(/^\s+(\w+) (?:-->|-\.-) (\w+)$/gm)) {
        assert.ok(declared.has(m[1]) && declared.has(m[2]), `edge ${m[0].trim()}`);
      }
    });
  }

  it('renders DOT and, offline through the wasm Graphviz, SVG', async () => {
    const dot = await describeTopology('engagement', { format: 'dot', topicPrefix: '' });
    assert.match(dot.text, /^digraph topology \{/);
    assert.match(dot.text, /shape=cylinder/);
    const svg = await describeTopology('engagement', { format: 'svg', topicPrefix: '' });
    assert.match(svg.text, /<svg[\s\S]*context(-|&#45;)candidates[\s\S]*<\/svg>/);
  });

  it('--diff names a renamed store and processor and the orphaned changelog, and exits 3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctr-cli-diff-'));
    try {
      const saved = join(dir, 'v1.json');
      const json = await runCli(['describe', WORD_COUNT, '--format', 'json'], { CLI_FIXTURE_INPUT: 'w' });
      assert.equal(json.code, 0, json.stderr);
      writeFileSync(saved, json.stdout);
      const same = await runCli(['describe', WORD_COUNT, '--diff', saved], { CLI_FIXTURE_INPUT: 'w' });
      assert.equal(same.code, 0, same.stderr);
      assert.match(same.stdout, /^no changes/);
      const changed = await runCli(['describe', WORD_COUNT, '--diff', saved], {
        CLI_FIXTURE_INPUT: 'w',
        CLI_FIXTURE_RENAMED: '1',
      });
      assert.equal(changed.code, 3, changed.stderr);
      assert.match(changed.stdout, /BREAKING {2}store "word-counts" is renamed to "word-totals"/);
      assert.match(changed.stdout, /BREAKING {2}processor "upper" is renamed to "to-upper"/);
      assert.match(
        changed.stdout,
        /BREAKING {2}internal changelog topic "\{application\.id\}-word-counts-changelog" is orphaned/,
      );
      assert.match(
        changed.stdout,
        /internal changelog topic "\{application\.id\}-word-totals-changelog" is new/,
      );
      assert.match(changed.stdout, /^incompatible: /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails in one line with exit code 2 for an unknown topology', async () => {
    const r = await runCli(['describe', 'no-such-topology']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(
      r.stderr,
      /^ctr-streams describe: unknown topology "no-such-topology".*\[CTR_CLI_UNKNOWN_TOPOLOGY\]$/m,
    );
  });
});
