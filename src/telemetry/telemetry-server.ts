/**
 * The one HTTP endpoint an instance exposes: Prometheus metrics and health.
 * One port for both, so a deployment opens (and a probe or scrape config
 * names) a single port, `9464` by default (Prometheus's registered port for
 * OpenTelemetry exporters).
 *
 *   GET /metrics        Prometheus text format (from the SDK's PrometheusExporter)
 *   GET /health         liveness  (alias of /health/live), 200 UP / 503 DOWN, JSON body
 *   GET /health/ready   readiness, 200 UP / 503 DOWN, JSON body
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { TelemetryError } from './errors.ts';
import type { HealthKind, HealthRegistry } from './health.ts';

export interface TelemetryServerOptions {
  host: string;
  port: number;
  metricsPath: string;
  exporter: PrometheusExporter;
  health: HealthRegistry;
}

export class TelemetryServer {
  private readonly server: Server;

  constructor(private readonly options: TelemetryServerOptions) {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(`internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    });
    // A scrape or probe must not keep the process alive on shutdown.
    this.server.keepAliveTimeout = 5_000;
  }

  /**
   * Binds the port. @throws TelemetryError `CTR_TELEMETRY_PORT_IN_USE` when the
   * port is taken, `CTR_TELEMETRY_SERVER` for other bind errors.
   */
  async listen(): Promise<AddressInfo> {
    const { host, port } = this.options;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening);
        const where = `${host}:${port}`;
        if (error.code === 'EADDRINUSE') {
          reject(
            new TelemetryError(
              'CTR_TELEMETRY_PORT_IN_USE',
              `cannot serve metrics and health on ${where}: port in use (set another prometheusPort, or 0 for any free port)`,
              { cause: error },
            ),
          );
        } else {
          reject(
            new TelemetryError(
              'CTR_TELEMETRY_SERVER',
              `cannot serve metrics and health on ${where}: ${error.message}`,
              { cause: error },
            ),
          );
        }
      };
      const onListening = () => {
        this.server.off('error', onError);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, host);
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      response.end('method not allowed\n');
      return;
    }
    if (path === this.options.metricsPath) {
      this.options.exporter.getMetricsRequestHandler(request, response);
      return;
    }
    const kind: HealthKind | undefined =
      path === '/health' || path === '/health/live' ? 'live' : path === '/health/ready' ? 'ready' : undefined;
    if (kind === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end(`not found: ${path} (try ${this.options.metricsPath}, /health, /health/ready)\n`);
      return;
    }
    const report = await this.options.health.report(kind);
    response.writeHead(report.status === 'UP' ? 200 : 503, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
    });
    response.end(`${JSON.stringify(report)}\n`);
  }
}
