/**
 * Live counters of one pipeline process, for the demo's status line and the
 * benchmarks (metrics go to OpenTelemetry as well; these are the same events
 * counted in-process so a terminal can show them without a scrape).
 */
export class PipelineStats {
  itemsCreated = 0;
  itemsEmbedded = 0;
  backfilled = 0;
  embeddingRequests = 0;
  impressions = 0;
  clicks = 0;
  trainingExamples = 0;
  embeddingHits = 0;
  embeddingMisses = 0;
  cycles = 0;
  listsEmitted = 0;
  lastCycleMs = 0;
  lastCycleContexts = 0;
  /** item-created time -> vector stored, ms (bounded sample: the last 10,000). */
  readonly embedLatencyMs = new BoundedSample(10_000);

  /** Share of lookups that found no embedding of the current version (0 when none yet). */
  get oovRate(): number {
    const n = this.embeddingHits + this.embeddingMisses;
    return n === 0 ? 0 : this.embeddingMisses / n;
  }
}

/** The last `capacity` values pushed, for percentiles. */
export class BoundedSample {
  private readonly values: number[] = [];
  private next = 0;
  constructor(readonly capacity: number) {}

  push(v: number): void {
    if (this.values.length < this.capacity) this.values.push(v);
    else this.values[this.next++ % this.capacity] = v;
  }

  /** Forgets every value (e.g. after a warm-up). */
  clear(): void {
    this.values.length = 0;
    this.next = 0;
  }

  get size(): number {
    return this.values.length;
  }

  /** The q-quantile (0..1) by nearest rank, NaN when empty. */
  quantile(q: number): number {
    if (this.values.length === 0) return Number.NaN;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  }
}
