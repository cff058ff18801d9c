/**
 * A pull metric reader tests collect from directly (no HTTP): pass it to
 * startTelemetry({ metricReaders: [reader] }) or a MeterProvider, then read
 * what the instruments recorded.
 */
import { MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';

export class TestMetricReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  /** The metric named `name` as collected now, or undefined when nothing was recorded under it. */
  async metric(name: string): Promise<MetricData | undefined> {
    const { resourceMetrics } = await this.collect();
    for (const scope of resourceMetrics.scopeMetrics) {
      const found = scope.metrics.find((m) => m.descriptor.name === name);
      if (found) return found;
    }
    return undefined;
  }

  /** Every collected metric by name. */
  async all(): Promise<Map<string, MetricData>> {
    const { resourceMetrics } = await this.collect();
    return new Map(
      resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => [m.descriptor.name, m] as const)),
    );
  }
}
