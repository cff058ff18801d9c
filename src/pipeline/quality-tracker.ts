/**
 * Pipeline-level quality against the generator's ground truth: for every
 * emitted list, the mean true click probability of its top K against that of
 * a random list of the same candidates (whose expectation is the mean over
 * all candidates). The ratio is what the demo prints and the quality test checks.
 */
import type { CycleResult } from '../../topologies/list-builder.ts';
import type { CandidateSet } from '../../topologies/engagement.ts';

/** Running ground-truth comparison of emitted lists against random lists of the same candidates. */
export class QualityTracker {
  topSum = 0;
  randomSum = 0;
  lists = 0;
  lastRatio = Number.NaN;

  constructor(
    private readonly truth: (contextId: string, itemId: string, nowMs: number) => number | undefined,
  ) {}

  /** Adds one cycle: per list, the mean truth of its top K and of all its candidates (a random list's expectation). */
  add(result: CycleResult, candidates: ReadonlyMap<string, CandidateSet>, nowMs: number): void {
    let top = 0;
    let rnd = 0;
    let n = 0;
    for (const list of result.lists) {
      const set = candidates.get(list.contextId);
      if (!set || list.items.length === 0 || set.candidates.length <= list.items.length) continue;
      const t = mean(list.items.map((i) => this.truth(list.contextId, i.itemId, nowMs)));
      const r = mean(set.candidates.map((c) => this.truth(list.contextId, c.itemId, nowMs)));
      if (Number.isNaN(t) || Number.isNaN(r)) continue;
      top += t;
      rnd += r;
      n++;
    }
    if (n === 0) return;
    this.topSum += top;
    this.randomSum += rnd;
    this.lists += n;
    this.lastRatio = top / rnd;
  }

  get ratio(): number {
    return this.randomSum === 0 ? Number.NaN : this.topSum / this.randomSum;
  }
}

function mean(xs: (number | undefined)[]): number {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (x === undefined) continue;
    s += x;
    n++;
  }
  return n === 0 ? Number.NaN : s / n;
}
