/**
 * Model quality metrics: AUC (Mann-Whitney, ties count half), log loss, and
 * expected calibration error (equal-width bins). The evaluation reports them
 * next to the Bayes-optimal AUC, i.e. the AUC of the ground-truth click
 * probabilities on the same examples: the best any model can do.
 */

/** Area under the ROC curve of `scores` for binary `labels` (1 = positive). NaN if a class is absent. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  let pos = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) {
      if ((labels[order[t] as number] as number) > 0) {
        pos++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Mean binary cross-entropy of probabilities (clipped to [1e-7, 1-1e-7]). */
export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, probs[i] as number));
    s -= (labels[i] as number) > 0 ? Math.log(p) : Math.log(1 - p);
  }
  return s / probs.length;
}

/** Expected calibration error: Σ_bins (n_b / n) |mean p_b − click rate_b|, `bins` equal-width bins. */
export function expectedCalibrationError(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 10,
): number {
  const cnt = new Float64Array(bins);
  const sp = new Float64Array(bins);
  const sy = new Float64Array(bins);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    const b = Math.min(bins - 1, Math.floor(p * bins));
    cnt[b]! += 1;
    sp[b]! += p;
    sy[b]! += (labels[i] as number) > 0 ? 1 : 0;
  }
  let e = 0;
  for (let b = 0; b < bins; b++) if (cnt[b]! > 0) e += Math.abs(sp[b]! - sy[b]!);
  return e / probs.length;
}

export interface QualityReport {
  examples: number;
  clickRate: number;
  auc: number;
  /** AUC of the ground-truth probabilities on the same examples. */
  bayesAuc: number;
  logLoss: number;
  bayesLogLoss: number;
  ece: number;
}

/** All metrics of `probs` against `labels`, with the Bayes-optimal figures from `truth`. */
export function qualityReport(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  truth: ArrayLike<number>,
): QualityReport {
  let clicks = 0;
  for (let i = 0; i < labels.length; i++) clicks += (labels[i] as number) > 0 ? 1 : 0;
  return {
    examples: labels.length,
    clickRate: clicks / labels.length,
    auc: auc(probs, labels),
    bayesAuc: auc(truth, labels),
    logLoss: logLoss(probs, labels),
    bayesLogLoss: logLoss(truth, labels),
    ece: expectedCalibrationError(probs, labels),
  };
}
