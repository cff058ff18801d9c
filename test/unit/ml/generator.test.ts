import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../../../src/ml/generator.ts';

describe('World (generator)', () => {
  it('is reproducible: equal seeds give equal items and impressions', () => {
    const a = new World({ seed: 3, items: 20 });
    const b = new World({ seed: 3, items: 20 });
    assert.deepEqual(
      a.items.map((i) => [i.id, i.title, i.topic]),
      b.items.map((i) => [i.id, i.title, i.topic]),
    );
    assert.deepEqual(a.items[5]?.image, b.items[5]?.image);
    assert.deepEqual(a.impressions(50), b.impressions(50));
    const c = new World({ seed: 4, items: 20 });
    assert.notDeepEqual(
      a.items.map((i) => i.title),
      c.items.map((i) => i.title),
    );
  });

  it('draws images of the configured size and text from topic vocabularies', () => {
    const w = new World({ seed: 1, items: 200, imageSize: 8 });
    for (const it of w.items) assert.equal(it.image.length, 8 * 8 * 3);
    // items of one topic share many more words than items of different topics
    const words = (t: number) =>
      new Set(w.items.filter((i) => i.topic === t).flatMap((i) => `${i.title} ${i.description}`.split(' ')));
    const overlap = (x: Set<string>, y: Set<string>) =>
      [...x].filter((v) => y.has(v)).length / Math.min(x.size, y.size);
    const a = words(0),
      b = words(1);
    assert.ok(overlap(a, b) < 0.8, `topic vocabularies overlap by ${overlap(a, b)}`);
  });

  it('draws clicks from the ground-truth probability (click rate matches mean probability)', () => {
    const w = new World({ seed: 2, items: 100 });
    const imps = w.impressions(20000);
    const meanP = imps.reduce((s, i) => s + i.clickProbability, 0) / imps.length;
    const rate = imps.filter((i) => i.clicked).length / imps.length;
    assert.ok(imps.every((i) => i.clickProbability > 0 && i.clickProbability < 1));
    assert.ok(Math.abs(meanP - rate) < 0.01, `mean p ${meanP} vs click rate ${rate}`);
    assert.ok(meanP > 0.05 && meanP < 0.4, `mean p ${meanP}`);
  });
});
