/**
 * Instruments made from the catalogue (`metric-names.ts`), through
 * @opentelemetry/api only.
 *
 * Why lazy: the OpenTelemetry metrics API has no proxy provider of its own
 * (unlike the trace API), so an instrument created before an SDK is
 * registered would stay a no-op. Our global proxy (meter-proxy.ts) already
 * fixes that for every `metrics.getMeter()` user; these wrappers add a second
 * line of defence for the case where another MeterProvider took the global
 * slot first: they resolve their instrument again after each
 * `startTelemetry()`/`shutdown()`. The check is one integer comparison per call.
 */
import { metrics, type Attributes, type Meter } from '@opentelemetry/api';
import type { MetricDefinition } from './metric-names.ts';

/** The instrumentation scope every ctr-streams instrument is created under. */
export const METER_NAME = 'ctr-streams';

let providerGeneration = 0;

/**
 * Marks that the global MeterProvider changed, so lazy instruments re-resolve.
 * Called by `startTelemetry()` and its `shutdown()`; call it yourself only if
 * you register a MeterProvider by other means.
 */
export function meterProviderChanged(): void {
  providerGeneration += 1;
}

/** The meter of ctr-streams from the current global MeterProvider (a no-op meter when none is registered). */
export function ctrMeter(): Meter {
  return metrics.getMeter(METER_NAME);
}

abstract class LazyInstrument<I> {
  private instrument: I | undefined;
  private generation = -1;

  constructor(readonly definition: MetricDefinition) {}

  protected resolve(): I {
    if (this.generation !== providerGeneration || this.instrument === undefined) {
      this.instrument = this.create(ctrMeter());
      this.generation = providerGeneration;
    }
    return this.instrument;
  }

  protected abstract create(meter: Meter): I;
}

function options(definition: MetricDefinition) {
  return {
    unit: definition.unit,
    description: definition.description,
    ...(definition.buckets ? { advice: { explicitBucketBoundaries: [...definition.buckets] } } : {}),
  };
}

/** A monotonic counter; `add` takes a value >= 0. */
export class CtrCounter extends LazyInstrument<ReturnType<Meter['createCounter']>> {
  add(value: number, attributes?: Attributes): void {
    this.resolve().add(value, attributes);
  }
  protected create(meter: Meter) {
    return meter.createCounter(this.definition.name, options(this.definition));
  }
}

/** A counter that goes up and down (e.g. items in flight). */
export class CtrUpDownCounter extends LazyInstrument<ReturnType<Meter['createUpDownCounter']>> {
  add(value: number, attributes?: Attributes): void {
    this.resolve().add(value, attributes);
  }
  protected create(meter: Meter) {
    return meter.createUpDownCounter(this.definition.name, options(this.definition));
  }
}

/** A histogram with the catalogue's bucket boundaries; record durations in the definition's unit (seconds). */
export class CtrHistogram extends LazyInstrument<ReturnType<Meter['createHistogram']>> {
  record(value: number, attributes?: Attributes): void {
    this.resolve().record(value, attributes);
  }
  /**
   * Records the seconds elapsed since `startNs` (from `process.hrtime.bigint()`).
   * Returns the recorded value in seconds.
   */
  recordSince(startNs: bigint, attributes?: Attributes): number {
    const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
    this.record(seconds, attributes);
    return seconds;
  }
  protected create(meter: Meter) {
    return meter.createHistogram(this.definition.name, options(this.definition));
  }
}

/** A synchronous gauge: the last value recorded per attribute set is what a scrape shows. */
export class CtrGauge extends LazyInstrument<ReturnType<Meter['createGauge']>> {
  record(value: number, attributes?: Attributes): void {
    this.resolve().record(value, attributes);
  }
  protected create(meter: Meter) {
    return meter.createGauge(this.definition.name, options(this.definition));
  }
}

function expectKind(definition: MetricDefinition, kind: MetricDefinition['kind']): void {
  if (definition.kind !== kind) {
    throw new TypeError(`metric "${definition.name}" is a ${definition.kind}, not a ${kind}`);
  }
}

/** A counter for a catalogue entry. @throws TypeError when the entry is not a counter. */
export function counter(definition: MetricDefinition<'counter'>): CtrCounter {
  expectKind(definition, 'counter');
  return new CtrCounter(definition);
}

/** An up-down counter for a catalogue entry. @throws TypeError when the entry is not an up-down counter. */
export function upDownCounter(definition: MetricDefinition<'updowncounter'>): CtrUpDownCounter {
  expectKind(definition, 'updowncounter');
  return new CtrUpDownCounter(definition);
}

/** A histogram for a catalogue entry. @throws TypeError when the entry is not a histogram. */
export function histogram(definition: MetricDefinition<'histogram'>): CtrHistogram {
  expectKind(definition, 'histogram');
  return new CtrHistogram(definition);
}

/** A gauge for a catalogue entry. @throws TypeError when the entry is not a gauge. */
export function gauge(definition: MetricDefinition<'gauge'>): CtrGauge {
  expectKind(definition, 'gauge');
  return new CtrGauge(definition);
}
