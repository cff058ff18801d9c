/**
 * A RecordCollector for in-process StreamTask benchmarks: it sends nothing
 * and only counts records per partition, so a run measures the engine, not
 * Kafka. `flush` reports the counts as the next offsets, as a producer's acks would.
 */
import type { Headers, RecordCollector } from '../../src/streams/processor/index.ts';

export class CountingCollector implements RecordCollector {
  /** Records sent so far (outputs and changelog records). */
  sent = 0;
  private readonly next = new Map<string, number>();

  send(topic: string, partition: number): void {
    this.bump(topic, partition);
  }

  sendRecord(
    topic: string,
    partition: number | undefined,
    _k: Buffer | null,
    _v: Buffer | null,
    _h: Headers,
  ): void {
    this.bump(topic, partition ?? 0);
  }

  async partitionsFor(): Promise<number> {
    return 1;
  }

  async flush(): Promise<Map<string, string>> {
    return new Map([...this.next].map(([k, v]) => [k, String(v)]));
  }

  private bump(topic: string, partition: number): void {
    this.sent++;
    const tp = `${topic}:${partition}`;
    this.next.set(tp, (this.next.get(tp) ?? 0) + 1);
  }
}
