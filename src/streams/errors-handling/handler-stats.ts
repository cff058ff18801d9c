/**
 * Counting what the exception handlers do, per handler, action and error
 * code: into OpenTelemetry (`ctr.streams.error.records`, and
 * `ctr.streams.dlq.records` for dead-lettered ones) for dashboards, and into
 * an in-process snapshot for tests and for the app's own status output.
 */
import { counter, METRICS } from '../../telemetry/index.ts';
import type { HandlerKind } from './dead-letter-record.ts';

export type HandlerAction = 'fail' | 'continue' | 'dead-letter';

const errorRecords = counter(METRICS.errorRecords);
const dlqRecords = counter(METRICS.dlqRecords);

/** Counts per `"<handler>/<action>/<code>"`, e.g. `deserialization/dead-letter/CTR_SERDE_WIRE_FORMAT`. */
export type HandlerCounts = Record<string, number>;

export class HandlerStats {
  readonly #counts = new Map<string, number>();

  record(
    handler: HandlerKind,
    action: HandlerAction,
    code: string,
    topic: string | undefined,
    count = 1,
  ): void {
    const key = `${handler}/${action}/${code}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + count);
    const attributes = { handler, action, reason: code, topic: topic ?? 'unknown' };
    errorRecords.add(count, attributes);
    if (action === 'dead-letter') dlqRecords.add(count, { reason: code, topic: topic ?? 'unknown' });
  }

  /** A copy of the counts so far. */
  snapshot(): HandlerCounts {
    return Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Sum of the counts whose key matches all given parts. */
  total(filter: { handler?: HandlerKind; action?: HandlerAction; code?: string } = {}): number {
    let sum = 0;
    for (const [key, n] of this.#counts) {
      const [handler, action, code] = key.split('/');
      if (filter.handler && filter.handler !== handler) continue;
      if (filter.action && filter.action !== action) continue;
      if (filter.code && filter.code !== code) continue;
      sum += n;
    }
    return sum;
  }
}
