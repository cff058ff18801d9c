/**
 * Process health as metrics: event-loop delay (the one number that tells
 * whether CPU work on the main thread is starving kafkajs heartbeats) and
 * memory. Registered by `startTelemetry()` on its MeterProvider.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { BatchObservableResult, Meter } from '@opentelemetry/api';
import { METRICS, METRIC_ATTRIBUTES } from './metric-names.ts';

export interface ProcessMetrics {
  stop(): void;
}

/** Registers observable gauges for event-loop delay and memory on `meter`. */
export function registerProcessMetrics(meter: Meter): ProcessMetrics {
  // 10 ms resolution: fine enough to see a 50 ms stall, cheap enough to leave on.
  const delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();

  const loop = meter.createObservableGauge(METRICS.eventLoopDelay.name, {
    unit: METRICS.eventLoopDelay.unit,
    description: METRICS.eventLoopDelay.description,
  });
  const heap = meter.createObservableGauge(METRICS.heapUsed.name, {
    unit: METRICS.heapUsed.unit,
    description: METRICS.heapUsed.description,
  });
  const rss = meter.createObservableGauge(METRICS.residentMemory.name, {
    unit: METRICS.residentMemory.unit,
    description: METRICS.residentMemory.description,
  });

  const callback = (result: BatchObservableResult) => {
    // perf_hooks reports nanoseconds; an empty interval reports NaN percentiles.
    const toSeconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
    result.observe(loop, toSeconds(delay.percentile(50)), { [METRIC_ATTRIBUTES.stat]: 'p50' });
    result.observe(loop, toSeconds(delay.percentile(99)), { [METRIC_ATTRIBUTES.stat]: 'p99' });
    result.observe(loop, toSeconds(delay.max), { [METRIC_ATTRIBUTES.stat]: 'max' });
    // Each scrape shows the delay since the previous one, not since start.
    delay.reset();
    const memory = process.memoryUsage();
    result.observe(heap, memory.heapUsed);
    result.observe(rss, memory.rss);
  };
  meter.addBatchObservableCallback(callback, [loop, heap, rss]);

  return {
    stop() {
      meter.removeBatchObservableCallback(callback, [loop, heap, rss]);
      delay.disable();
    },
  };
}
