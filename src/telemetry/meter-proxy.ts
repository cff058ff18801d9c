/**
 * A global MeterProvider that forwards to the SDK once there is one.
 *
 * Why: the OpenTelemetry *trace* API hands out proxy tracers until an SDK is
 * registered, but the *metrics* API does not: `metrics.getMeter()` before
 * `setGlobalMeterProvider()` returns a no-op meter, and every instrument made
 * from it stays a no-op forever. Engine modules create their instruments when
 * they are imported (`const c = metrics.getMeter('ctr-streams').createCounter(...)`
 * at module level), which is before the CLI can call `startTelemetry()`.
 *
 * So this module registers a proxy as the global MeterProvider as soon as any
 * of our code is loaded (logger.ts imports it, and nearly every module imports
 * the logger). Meters and instruments made from it forward to the delegate
 * that `startTelemetry()` sets, and go quiet again after `shutdown()`:
 * - synchronous instruments resolve their real instrument on first use after
 *   each change of delegate (one integer comparison per call);
 * - observable instruments and batch callbacks are re-registered on the new
 *   delegate at once, since they must be known to be collected.
 *
 * Code records through `@opentelemetry/api` only and never sees this file.
 */
import {
  metrics,
  type BatchObservableCallback,
  type BatchObservableResult,
  type Context,
  type Counter,
  type Gauge,
  type Histogram,
  type Meter,
  type MeterOptions,
  type MeterProvider,
  type MetricAttributes,
  type MetricOptions,
  type Observable,
  type ObservableCallback,
  type ObservableCounter,
  type ObservableGauge,
  type ObservableUpDownCounter,
  type UpDownCounter,
} from '@opentelemetry/api';

type SyncKind = 'counter' | 'upDownCounter' | 'histogram' | 'gauge';
type ObservableKind = 'observableCounter' | 'observableUpDownCounter' | 'observableGauge';

/** One instrument of any synchronous kind: `add` for counters, `record` for histograms and gauges. */
class ProxySyncInstrument {
  private real: any;
  private generation = -1;

  constructor(
    private readonly meter: ProxyMeter,
    private readonly kind: SyncKind,
    private readonly name: string,
    private readonly options: MetricOptions | undefined,
  ) {}

  private current(): any {
    if (this.generation !== this.meter.generation) {
      this.real = this.meter.createReal(this.kind, this.name, this.options);
      this.generation = this.meter.generation;
    }
    return this.real;
  }

  add(value: number, attributes?: MetricAttributes, context?: Context): void {
    this.current()?.add(value, attributes, context);
  }

  record(value: number, attributes?: MetricAttributes, context?: Context): void {
    this.current()?.record(value, attributes, context);
  }
}

/** An observable instrument: keeps its callbacks and hands them to each new real instrument. */
class ProxyObservable implements Observable {
  real: Observable | undefined;
  private readonly callbacks = new Set<ObservableCallback>();

  constructor(
    readonly kind: ObservableKind,
    readonly name: string,
    readonly options: MetricOptions | undefined,
  ) {}

  addCallback(callback: ObservableCallback): void {
    this.callbacks.add(callback);
    this.real?.addCallback(callback);
  }

  removeCallback(callback: ObservableCallback): void {
    this.callbacks.delete(callback);
    this.real?.removeCallback(callback);
  }

  rebind(meter: Meter | undefined): void {
    this.real = meter === undefined ? undefined : createObservable(meter, this.kind, this.name, this.options);
    for (const callback of this.callbacks) this.real?.addCallback(callback);
  }
}

function createObservable(
  meter: Meter,
  kind: ObservableKind,
  name: string,
  options?: MetricOptions,
): Observable {
  switch (kind) {
    case 'observableCounter':
      return meter.createObservableCounter(name, options);
    case 'observableUpDownCounter':
      return meter.createObservableUpDownCounter(name, options);
    case 'observableGauge':
      return meter.createObservableGauge(name, options);
  }
}

interface BatchRegistration {
  callback: BatchObservableCallback;
  observables: readonly Observable[];
  /** What is registered on the current real meter (it maps proxy observables to real ones). */
  wrapper: BatchObservableCallback | undefined;
  realObservables: Observable[];
}

class ProxyMeter implements Meter {
  generation = 0;
  private real: Meter | undefined;
  private readonly observables: ProxyObservable[] = [];
  private readonly batches: BatchRegistration[] = [];

  constructor(
    private readonly name: string,
    private readonly version: string | undefined,
    private readonly options: MeterOptions | undefined,
  ) {}

  bind(provider: MeterProvider | undefined): void {
    for (const b of this.batches) this.unregisterBatch(b);
    this.real = provider?.getMeter(this.name, this.version, this.options);
    this.generation += 1;
    for (const o of this.observables) o.rebind(this.real);
    for (const b of this.batches) this.registerBatch(b);
  }

  createReal(kind: SyncKind, name: string, options: MetricOptions | undefined): unknown {
    const meter = this.real;
    if (meter === undefined) return undefined;
    switch (kind) {
      case 'counter':
        return meter.createCounter(name, options);
      case 'upDownCounter':
        return meter.createUpDownCounter(name, options);
      case 'histogram':
        return meter.createHistogram(name, options);
      case 'gauge':
        return meter.createGauge(name, options);
    }
  }

  createCounter<A extends MetricAttributes = MetricAttributes>(
    name: string,
    options?: MetricOptions,
  ): Counter<A> {
    return new ProxySyncInstrument(this, 'counter', name, options) as unknown as Counter<A>;
  }

  createUpDownCounter<A extends MetricAttributes = MetricAttributes>(
    name: string,
    options?: MetricOptions,
  ): UpDownCounter<A> {
    return new ProxySyncInstrument(this, 'upDownCounter', name, options) as unknown as UpDownCounter<A>;
  }

  createHistogram<A extends MetricAttributes = MetricAttributes>(
    name: string,
    options?: MetricOptions,
  ): Histogram<A> {
    return new ProxySyncInstrument(this, 'histogram', name, options) as unknown as Histogram<A>;
  }

  createGauge<A extends MetricAttributes = MetricAttributes>(
    name: string,
    options?: MetricOptions,
  ): Gauge<A> {
    return new ProxySyncInstrument(this, 'gauge', name, options) as unknown as Gauge<A>;
  }

  createObservableGauge<A extends MetricAttributes = MetricAttributes>(
    name: string,
    options?: MetricOptions,
  ): ObservableGauge<A> {
    return this.observable('observableGauge', name, options) as unknown as ObservableGauge<A>;
  }

  createObservableCounter<A extends MetricAttributes = MetricAttributes>(
    name: string,
    options?: MetricOptions,
  ): ObservableCounter<A> {
    return this.observable('observableCounter', name, options) as unknown as ObservableCounter<A>;
  }

  createObservableUpDownCounter<A extends MetricAttributes = MetricAttributes>(
    name: string,
    options?: MetricOptions,
  ): ObservableUpDownCounter<A> {
    return this.observable('observableUpDownCounter', name, options) as unknown as ObservableUpDownCounter<A>;
  }

  addBatchObservableCallback<A extends MetricAttributes = MetricAttributes>(
    callback: BatchObservableCallback<A>,
    observables: Observable<A>[],
  ): void {
    const registration: BatchRegistration = {
      callback: callback as BatchObservableCallback,
      observables: observables as Observable[],
      wrapper: undefined,
      realObservables: [],
    };
    this.batches.push(registration);
    this.registerBatch(registration);
  }

  removeBatchObservableCallback<A extends MetricAttributes = MetricAttributes>(
    callback: BatchObservableCallback<A>,
    observables: Observable<A>[],
  ): void {
    const index = this.batches.findIndex(
      (b) =>
        b.callback === (callback as BatchObservableCallback) &&
        b.observables.length === observables.length &&
        b.observables.every((o, i) => o === observables[i]),
    );
    if (index < 0) return;
    const [registration] = this.batches.splice(index, 1);
    this.unregisterBatch(registration!);
  }

  private observable(kind: ObservableKind, name: string, options?: MetricOptions): ProxyObservable {
    const proxy = new ProxyObservable(kind, name, options);
    proxy.rebind(this.real);
    this.observables.push(proxy);
    return proxy;
  }

  private registerBatch(b: BatchRegistration): void {
    if (this.real === undefined) return;
    const toReal = (o: Observable) => (o instanceof ProxyObservable ? o.real : o);
    b.realObservables = b.observables.map(toReal).filter((o): o is Observable => o !== undefined);
    // The callback observes through the proxies it knows; translate to the real instruments.
    b.wrapper = (result: BatchObservableResult) =>
      b.callback({
        observe: (metric, value, attributes) => {
          const real = toReal(metric);
          if (real !== undefined) result.observe(real, value, attributes);
        },
      });
    this.real.addBatchObservableCallback(b.wrapper, b.realObservables);
  }

  private unregisterBatch(b: BatchRegistration): void {
    if (this.real !== undefined && b.wrapper !== undefined) {
      this.real.removeBatchObservableCallback(b.wrapper, b.realObservables);
    }
    b.wrapper = undefined;
    b.realObservables = [];
  }
}

/** The proxy registered as the global MeterProvider; one per process. */
export class ProxyMeterProvider implements MeterProvider {
  private delegate: MeterProvider | undefined;
  private readonly meters = new Map<string, ProxyMeter>();

  getMeter(name: string, version?: string, options?: MeterOptions): Meter {
    const key = `${name}@${version ?? ''}@${options?.schemaUrl ?? ''}`;
    let meter = this.meters.get(key);
    if (meter === undefined) {
      meter = new ProxyMeter(name, version, options);
      meter.bind(this.delegate);
      this.meters.set(key, meter);
    }
    return meter;
  }

  /** Forwards every meter (made before or after) to `delegate`; `undefined` makes them no-ops again. */
  setDelegate(delegate: MeterProvider | undefined): void {
    this.delegate = delegate;
    for (const meter of this.meters.values()) meter.bind(delegate);
  }

  getDelegate(): MeterProvider | undefined {
    return this.delegate;
  }
}

const GLOBAL_KEY = Symbol.for('ctr-streams.telemetry.proxy-meter-provider');
type GlobalSlot = { [GLOBAL_KEY]?: ProxyMeterProvider };

/**
 * The process's proxy, registered as the global MeterProvider on first call.
 * Kept on globalThis so that two copies of this module (e.g. src and dist
 * loaded side by side) share one proxy. If another MeterProvider was already
 * registered globally, that one stays and the proxy is still returned (its
 * meters then only serve `startTelemetry()`).
 */
export function globalProxyMeterProvider(): ProxyMeterProvider {
  const slot = globalThis as GlobalSlot;
  if (slot[GLOBAL_KEY] === undefined) {
    slot[GLOBAL_KEY] = new ProxyMeterProvider();
    metrics.setGlobalMeterProvider(slot[GLOBAL_KEY]);
  }
  return slot[GLOBAL_KEY];
}

// Registered on import: this must happen before any module body calls metrics.getMeter().
globalProxyMeterProvider();
