/**
 * The OpenTelemetry SDK wiring. Everything else in ctr-streams records
 * through @opentelemetry/api; this file alone registers the SDK behind it:
 * a MeterProvider read by the Prometheus exporter, a tracer provider (with
 * an OTLP span exporter when `otlpTraces` is set), the async-context manager,
 * the W3C propagators, and the SDK's diagnostics logged through pino. The CLI calls
 * `startTelemetry()` once, first thing, and `shutdown()` last.
 *
 * @example
 * const telemetry = await startTelemetry({ serviceName: 'ctr-recommendations', prometheusPort: 9464 });
 * telemetry.health.register('ready', 'streams', () => app.state() === 'RUNNING');
 * // ... run ...
 * await telemetry.shutdown();
 */
import { hostname } from 'node:os';
import {
  context,
  diag,
  DiagLogLevel,
  metrics,
  propagation,
  trace,
  type Attributes,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  loggingErrorHandler,
  setGlobalErrorHandler,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type IMetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { TelemetryConfigError, TelemetryError } from './errors.ts';
import { HealthRegistry } from './health.ts';
import { meterProviderChanged, METER_NAME } from './instruments.ts';
import { diagLogger } from './diag-logger.ts';
import { createLogger, type Logger } from './logger.ts';
import { globalProxyMeterProvider } from './meter-proxy.ts';
import { OTLP_HTTP_DEFAULTS, redactUrl } from './otlp-http.ts';
import {
  createOtlpMetricReader,
  OTLP_METRIC_DEFAULTS,
  otlpMetricExportProblems,
  type OtlpMetricExport,
} from './otlp-metrics.ts';
import { createOtlpSpanProcessor, otlpTraceExportProblems, type OtlpTraceExport } from './otlp-traces.ts';
import { registerProcessMetrics, type ProcessMetrics } from './process-metrics.ts';
import { TelemetryServer } from './telemetry-server.ts';

/** Prometheus's registered default port for OpenTelemetry exporters. */
export const DEFAULT_PROMETHEUS_PORT = 9464;

export interface TelemetryOptions {
  /** `service.name` of every metric and span, e.g. `ctr-recommendations` (the application.id is a good choice). */
  serviceName: string;
  /** `service.version`; undefined leaves it out. */
  serviceVersion?: string;
  /** `service.instance.id`; undefined = env `HOSTNAME` (the pod name in Kubernetes), else the host name. */
  serviceInstanceId?: string;
  /** More resource attributes (e.g. `{ 'ctr.application.id': 'app' }`). */
  resourceAttributes?: Attributes;
  /**
   * Port of the metrics + health HTTP server (default 9464). `0` picks a free
   * port (see `Telemetry.port`); `false` serves nothing (metrics are still
   * collected, e.g. for `metricReaders`).
   */
  prometheusPort?: number | false;
  /** Interface to bind; default `0.0.0.0` (scraped from other hosts and probed by the kubelet). */
  prometheusHost?: string;
  /** Path of the Prometheus text endpoint; default `/metrics`. */
  metricsPath?: string;
  /** Extra metric readers, e.g. an OTLP PeriodicExportingMetricReader. */
  metricReaders?: IMetricReader[];
  /**
   * Push metrics over OTLP/HTTP every `intervalMs` too (the Prometheus
   * endpoint still serves); the last interval is exported by `shutdown()`.
   * Undefined = Prometheus only.
   */
  otlpMetrics?: OtlpMetricExport;
  /**
   * Span processors (e.g. a BatchSpanProcessor around an OTLP exporter).
   * Undefined = none: spans are created and their context propagates through
   * record headers, but they are not exported.
   */
  spanProcessors?: SpanProcessor[];
  /**
   * Export spans over OTLP/HTTP (protobuf or JSON) through a bounded
   * BatchSpanProcessor, flushed by `shutdown()`; added after `spanProcessors`.
   * Undefined = no OTLP export. `telemetryOptionsFromEnv` sets it from the
   * standard `OTEL_EXPORTER_OTLP_*` variables.
   */
  otlpTraces?: OtlpTraceExport;
  /** Fraction of new traces sampled, 0..1 (default 1); a remote parent's decision is followed. */
  traceSampleRatio?: number;
  /** Register event-loop delay and memory gauges (default true). */
  processMetrics?: boolean;
  /** Time one health check may take before it counts as DOWN (ms, default 1000). */
  healthCheckTimeoutMs?: number;
}

export interface Telemetry {
  /** The bound port of the metrics + health server; undefined when `prometheusPort` was false. */
  readonly port: number | undefined;
  /** `http://<host>:<port><metricsPath>`; undefined when no server runs. */
  readonly metricsUrl: string | undefined;
  /** Liveness/readiness checks served at `/health` and `/health/ready`. */
  readonly health: HealthRegistry;
  readonly meterProvider: MeterProvider;
  readonly tracerProvider: BasicTracerProvider;
  /** Where spans are exported over OTLP, without credentials; undefined when they are not. */
  readonly tracesUrl: string | undefined;
  /** Where metrics are pushed over OTLP, without credentials; undefined when they are not. */
  readonly otlpMetricsUrl: string | undefined;
  /** Exports pending spans and metrics of push readers. */
  forceFlush(): Promise<void>;
  /**
   * Stops the server, flushes and shuts down the providers and unregisters
   * the globals (instruments fall back to no-ops). Safe to call twice.
   */
  shutdown(): Promise<void>;
}

let active: Telemetry | undefined;

function validate(options: TelemetryOptions): void {
  const problems: string[] = [];
  if (typeof options.serviceName !== 'string' || options.serviceName.trim() === '') {
    problems.push(`serviceName: expected a non-empty string, got ${JSON.stringify(options.serviceName)}`);
  }
  const port = options.prometheusPort;
  if (port !== undefined && port !== false && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    problems.push(`prometheusPort: expected an integer 0..65535 or false, got ${JSON.stringify(port)}`);
  }
  const ratio = options.traceSampleRatio;
  if (ratio !== undefined && !(typeof ratio === 'number' && ratio >= 0 && ratio <= 1)) {
    problems.push(`traceSampleRatio: expected a number 0..1, got ${JSON.stringify(ratio)}`);
  }
  const path = options.metricsPath;
  if (path !== undefined && (!path.startsWith('/') || path.startsWith('/health'))) {
    problems.push(
      `metricsPath: expected a path starting with "/" and not under /health, got ${JSON.stringify(path)}`,
    );
  }
  const timeout = options.healthCheckTimeoutMs;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) {
    problems.push(`healthCheckTimeoutMs: expected an integer > 0, got ${JSON.stringify(timeout)}`);
  }
  if (options.otlpTraces !== undefined) problems.push(...otlpTraceExportProblems(options.otlpTraces));
  if (options.otlpMetrics !== undefined) problems.push(...otlpMetricExportProblems(options.otlpMetrics));
  if (problems.length > 0)
    throw new TelemetryConfigError(`invalid telemetry options: ${problems.join('; ')}`);
}

/**
 * Starts the OpenTelemetry SDK for this process and serves `/metrics`,
 * `/health` and `/health/ready`.
 *
 * Instruments created before this call (at module load, through
 * `metrics.getMeter()` or the catalogue helpers) record from this call on:
 * the global MeterProvider is a proxy registered when our code is loaded
 * (meter-proxy.ts), and this call gives it the SDK.
 *
 * @throws TelemetryConfigError (`CTR_TELEMETRY_CONFIG`) listing every invalid option.
 * @throws TelemetryError `CTR_TELEMETRY_ALREADY_STARTED` when telemetry already runs in this process,
 *   `CTR_TELEMETRY_PORT_IN_USE` / `CTR_TELEMETRY_SERVER` when the port cannot be bound.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  validate(options);
  if (active !== undefined) {
    throw new TelemetryError(
      'CTR_TELEMETRY_ALREADY_STARTED',
      'telemetry is already started in this process: call shutdown() first',
    );
  }
  const log = createLogger('telemetry');

  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: options.serviceName,
    ...(options.serviceVersion === undefined ? {} : { [ATTR_SERVICE_VERSION]: options.serviceVersion }),
    'service.instance.id': options.serviceInstanceId ?? process.env.HOSTNAME ?? hostname(),
    ...options.resourceAttributes,
  });

  // The exporter is a pull MetricReader; our own server calls its request
  // handler so that metrics and health share one port.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      exporter,
      ...(options.metricReaders ?? []),
      ...(options.otlpMetrics === undefined ? [] : [createOtlpMetricReader(options.otlpMetrics)]),
    ],
  });

  const ratio = options.traceSampleRatio ?? 1;
  const otlp = options.otlpTraces;
  const tracerProvider = new BasicTracerProvider({
    resource,
    sampler: new ParentBasedSampler({
      root: ratio === 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(ratio),
    }),
    spanProcessors: [
      ...(options.spanProcessors ?? []),
      ...(otlp === undefined ? [] : [createOtlpSpanProcessor(otlp)]),
    ],
  });

  // Metrics go through the global proxy (meter-proxy.ts), registered when our code was
  // loaded, so that instruments created before this call record from now on.
  const proxy = globalProxyMeterProvider();
  const contextManager = new AsyncLocalStorageContextManager().enable();
  const proxyIsGlobal = metrics.getMeterProvider() === proxy && proxy.getDelegate() === undefined;
  // Register one by one and remember what we set: on failure only our own registrations are undone.
  const undo: Array<() => void> = [];
  const register = (ok: boolean, disable: () => void) => {
    if (ok) undo.push(disable);
    return ok;
  };
  const registered =
    proxyIsGlobal &&
    register(context.setGlobalContextManager(contextManager), () => context.disable()) &&
    register(
      propagation.setGlobalPropagator(
        new CompositePropagator({
          propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
        }),
      ),
      () => propagation.disable(),
    ) &&
    register(trace.setGlobalTracerProvider(tracerProvider), () => trace.disable());
  if (!registered) {
    // Another OpenTelemetry SDK is registered (the API logs which part); ours would be ignored.
    for (const disable of undo) disable();
    await Promise.allSettled([meterProvider.shutdown(), tracerProvider.shutdown()]);
    contextManager.disable();
    throw new TelemetryError(
      'CTR_TELEMETRY_ALREADY_STARTED',
      'an OpenTelemetry SDK is already registered in this process (global meter/tracer provider, propagator or context manager)',
    );
  }
  proxy.setDelegate(meterProvider);
  meterProviderChanged();
  // the exporters report failed exports (collector down, 4xx) only through diag: without a logger they are silent
  diag.setLogger(diagLogger(log), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  // a failed scheduled export (spans or pushed metrics) reaches the SDK's global error handler,
  // which would log a JSON blob through diag
  const tracesUrl = otlp === undefined ? undefined : redactUrl(otlp.url);
  const otlpMetricsUrl = options.otlpMetrics === undefined ? undefined : redactUrl(options.otlpMetrics.url);
  setGlobalErrorHandler((error) =>
    log.warn(
      { source: 'otel-sdk', err: error, tracesUrl, otlpMetricsUrl },
      `telemetry export failed (its data is dropped): ${error instanceof Error ? error.message : String(error)}`,
    ),
  );

  const processMetrics: ProcessMetrics | undefined =
    options.processMetrics === false ? undefined : registerProcessMetrics(meterProvider.getMeter(METER_NAME));

  const health = new HealthRegistry(options.healthCheckTimeoutMs ?? 1000);
  const host = options.prometheusHost ?? '0.0.0.0';
  const metricsPath = options.metricsPath ?? '/metrics';
  let server: TelemetryServer | undefined;
  let port: number | undefined;
  const wantedPort = options.prometheusPort ?? DEFAULT_PROMETHEUS_PORT;
  if (wantedPort !== false) {
    server = new TelemetryServer({ host, port: wantedPort, metricsPath, exporter, health });
    try {
      port = (await server.listen()).port;
    } catch (error) {
      processMetrics?.stop();
      await unregister(meterProvider, tracerProvider, log);
      throw error;
    }
  }
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const metricsUrl =
    port === undefined
      ? undefined
      : `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}${metricsPath}`;
  log.info(
    {
      serviceName: options.serviceName,
      metricsUrl,
      traceSampleRatio: ratio,
      traces:
        otlp === undefined
          ? 'not exported'
          : {
              url: tracesUrl,
              protocol: otlp.protocol ?? OTLP_HTTP_DEFAULTS.protocol,
              // names only: header values are credentials
              headers: Object.keys(otlp.headers ?? {}),
            },
      ...(otlpMetricsUrl === undefined
        ? {}
        : {
            otlpMetrics: {
              url: otlpMetricsUrl,
              protocol: options.otlpMetrics?.protocol ?? OTLP_METRIC_DEFAULTS.protocol,
              intervalMs: options.otlpMetrics?.intervalMs ?? OTLP_METRIC_DEFAULTS.intervalMs,
            },
          }),
    },
    `telemetry started${tracesUrl === undefined ? '' : `, exporting spans to ${tracesUrl}`}${otlpMetricsUrl === undefined ? '' : `, pushing metrics to ${otlpMetricsUrl}`}`,
  );

  let stopping: Promise<void> | undefined;
  const telemetry: Telemetry = {
    port,
    metricsUrl,
    health,
    meterProvider,
    tracerProvider,
    tracesUrl,
    otlpMetricsUrl,
    async forceFlush() {
      await Promise.all([meterProvider.forceFlush(), tracerProvider.forceFlush()]);
    },
    shutdown() {
      stopping ??= (async () => {
        processMetrics?.stop();
        await server?.close();
        await unregister(meterProvider, tracerProvider, log, tracesUrl);
        if (active === telemetry) active = undefined;
        log.info({ serviceName: options.serviceName }, 'telemetry stopped');
      })();
      return stopping;
    },
  };
  active = telemetry;
  return telemetry;
}

async function unregister(
  meterProvider: MeterProvider,
  tracerProvider: BasicTracerProvider,
  log: Logger,
  tracesUrl?: string,
): Promise<void> {
  // Flush spans before the providers go away; errors here must not block a process shutdown,
  // but they are reported: spans lost at the last flush are otherwise lost silently.
  globalProxyMeterProvider().setDelegate(undefined);
  const [traces, meters] = await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
  if (traces.status === 'rejected')
    log.warn(
      { err: traces.reason as unknown, tracesUrl },
      `could not export the last spans${tracesUrl === undefined ? '' : ` to ${tracesUrl}`} at shutdown: they are lost`,
    );
  if (meters.status === 'rejected')
    log.warn({ err: meters.reason as unknown }, 'could not flush metrics at shutdown');
  trace.disable();
  propagation.disable();
  context.disable();
  diag.disable();
  setGlobalErrorHandler(loggingErrorHandler());
  meterProviderChanged();
}
