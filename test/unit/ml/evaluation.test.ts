import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auc, expectedCalibrationError, logLoss } from '../../../src/ml/evaluation.ts';

describe('evaluation metrics', () => {
  it('computes AUC with ties counted half', () => {
    assert.equal(auc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]), 1);
    assert.equal(auc([0.4, 0.3, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    // one positive at 0.3 beats negatives 0.1, 0.2 and loses to 0.4: 2 of 3
    assert.ok(Math.abs(auc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 0]) - 2 / 3) < 1e-12);
    assert.ok(Number.isNaN(auc([0.1, 0.2], [1, 1])));
  });

  it('computes log loss and calibration error', () => {
    assert.ok(Math.abs(logLoss([0.5, 0.5], [1, 0]) - Math.log(2)) < 1e-12);
    // perfectly calibrated bins: p = 0.25 with one click in four
    assert.ok(expectedCalibrationError([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0]) < 1e-12);
    // always 0.9, never clicked: |0.9 - 0| = 0.9
    assert.ok(Math.abs(expectedCalibrationError([0.9, 0.9], [0, 0]) - 0.9) < 1e-12);
  });
});
