import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '../../../src/ml/index.ts';
import { runCli } from './fixtures/cli-process.ts';

describe('ctr-streams train / eval', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctr-cli-train-'));
  const registry = join(dir, 'models');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('publishes a version with validation metrics, then continues from it as its parent', async () => {
    const first = await runCli(
      ['train', '--registry', registry, '--world-seed', '2', '--world-examples', '1000', '--backend', 'wasm'],
      {},
      120_000,
    );
    assert.equal(first.code, 0, first.stderr);
    const v1 = /published (\S+) \(parent none\)/.exec(first.stdout)?.[1];
    assert.ok(v1, first.stdout);
    assert.match(first.stdout, /auc=0\.\d+ .*validationExamples=100/);
    const second = await runCli(
      ['train', '--registry', registry, '--world-seed', '2', '--world-examples', '1000', '--backend', 'wasm'],
      {},
      120_000,
    );
    assert.equal(second.code, 0, second.stderr);
    const v2 = new RegExp(`published (\\S+) \\(parent ${v1}\\)`).exec(second.stdout)?.[1];
    assert.ok(v2, second.stdout);
    const reg = new ModelRegistry(registry);
    assert.equal(await reg.latest(), v2);
    assert.equal((await reg.info(v2)).parent, v1);
  });

  it('eval prints warm and cold quality next to the Bayes-optimal AUC', async () => {
    const r = await runCli(
      ['eval', '--registry', registry, '--world-seed', '2', '--examples', '800', '--backend', 'wasm'],
      {},
      120_000,
    );
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['warm', 'cold tower', 'cold OOV']) {
      const row = new RegExp(`^${name} +800 +0\\.\\d{4} +(0\\.\\d{4}) +(0\\.\\d{4})`, 'm').exec(r.stdout);
      assert.ok(row, `${name} row in\n${r.stdout}`);
      assert.ok(Number(row[2]) > 0.5, 'the ground truth ranks better than chance');
    }
  });

  it('--freeze-towers continues with the towers of the parent untouched and a new head', async () => {
    const reg = new ModelRegistry(registry);
    const parent = await reg.latest();
    assert.ok(parent, 'the first test published a version');
    const r = await runCli(
      [
        'train',
        '--registry',
        registry,
        '--world-seed',
        '2',
        '--world-examples',
        '1000',
        '--freeze-towers',
        '--batch-size',
        '300',
        '--backend',
        'wasm',
      ],
      {},
      120_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const v = await reg.latest();
    assert.notEqual(v, parent);
    const [before, after] = [await reg.load(parent), await reg.load(v!)];
    let headMoved = false;
    for (const [name, t] of before.weights) {
      const now = after.weights.get(name)!.data;
      if (name.startsWith('text.') || name.startsWith('image.'))
        assert.deepEqual(now, t.data, `tower weight ${name} changed`);
      else if (name.startsWith('mlp.') && now.some((x, i) => x !== t.data[i])) headMoved = true;
    }
    assert.ok(headMoved, 'the head was trained');
    // 900 training examples in steps of 300, the rate decayed over them (shown on the progress bar)
    assert.equal(after.steps - before.steps, 3);
  });

  it('refuses a final learning rate above the start rate, naming both', async () => {
    const r = await runCli([
      'train',
      '--registry',
      registry,
      '--world-seed',
      '2',
      '--learning-rate',
      '0.001',
      '--final-learning-rate',
      '0.01',
      '--backend',
      'cpu',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--final-learning-rate 0\.01 is above the start rate 0\.001/);
  });

  it('refuses topic-source options without --from-topic, naming them, instead of ignoring them', async () => {
    const r = await runCli([
      'train',
      '--registry',
      registry,
      '--world-seed',
      '2',
      '--topic-prefix',
      'prod-',
      '--min-examples',
      '100',
      '--backend',
      'cpu',
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^ctr-streams train: --topic-prefix, --min-examples apply to --from-topic only/);
    const one = await runCli(['train', '--registry', registry, '--world-seed', '2', '--from-beginning']);
    assert.equal(one.code, 2, one.stderr);
    assert.match(one.stderr, /--from-beginning applies to --from-topic only/);
  });

  it('refuses an ambiguous source with exit code 2 and one line', async () => {
    const r = await runCli(['train', '--registry', registry]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ctr-streams train: give one source of examples/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
