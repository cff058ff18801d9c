import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Adam } from '../../../src/ml/optimizer.ts';

function table(rows: number, width: number): Float32Array {
  return Float32Array.from({ length: rows * width }, (_, i) => Math.sin(i));
}

describe('Adam with lazy and dense table updates', () => {
  it('lazy Adam updates only the touched rows and matches dense Adam on them', () => {
    const width = 3;
    const lazyT = table(10, width);
    const denseT = table(10, width);
    const before = lazyT.slice();
    const lazy = new Adam({ learningRate: 0.1 });
    const dense = new Adam({ learningRate: 0.1 });
    const rows = Int32Array.from([7, 2]);
    const grads = Float32Array.from([0.5, -1, 2, 0.1, 0.2, -0.3]);
    lazy.beginStep();
    dense.beginStep();
    lazy.updateTable('t', lazyT, width, rows, grads, 'lazy');
    dense.updateTable('t', denseT, width, rows, grads, 'dense');
    for (let r = 0; r < 10; r++) {
      for (let d = 0; d < width; d++) {
        const i = r * width + d;
        if (r === 7 || r === 2) {
          assert.notEqual(lazyT[i], before[i], `touched row ${r} moved`);
          assert.ok(
            Math.abs((lazyT[i] as number) - (denseT[i] as number)) < 1e-7,
            `row ${r}: lazy ${lazyT[i]} vs dense ${denseT[i]}`,
          );
        } else {
          assert.equal(lazyT[i], before[i], `untouched row ${r} must not change`);
        }
      }
    }
    // a second step that touches only row 2: dense moves row 7 on stale momentum, lazy does not
    const row7 = lazyT.slice(21, 24);
    lazy.beginStep();
    dense.beginStep();
    lazy.updateTable('t', lazyT, width, Int32Array.from([2]), Float32Array.from([1, 1, 1]), 'lazy');
    dense.updateTable('t', denseT, width, Int32Array.from([2]), Float32Array.from([1, 1, 1]), 'dense');
    assert.deepEqual(lazyT.slice(21, 24), row7);
    assert.notDeepEqual(denseT.slice(21, 24), row7);
    assert.ok(Math.abs((lazyT[6] as number) - (denseT[6] as number)) < 1e-6, 'row 2 still matches');
  });

  it('matches the textbook Adam step on a dense parameter', () => {
    const adam = new Adam({ learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    const p = Float32Array.from([1]);
    adam.beginStep();
    adam.updateDense('p', p, Float32Array.from([4]));
    // first step: m̂ = g, v̂ = g², step = lr * g/|g| = 0.01
    assert.ok(Math.abs((p[0] as number) - 0.99) < 1e-6, `got ${p[0]}`);
  });
});
