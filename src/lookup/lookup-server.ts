/**
 * The lookup HTTP API over the pipeline's queryable state:
 *
 *   GET /items/{id}/embedding          the item's latest embedding (version, vector, category)
 *   GET /contexts/{id}/recommendations the context's latest list
 *   GET /contexts/{id}/candidates      the context's candidate set, from the partitioned `candidates`
 *                                      store (interactive queries): answered here when this instance
 *                                      holds the key's partition, else 307 to the instance that does
 *                                      (its `application.server`), 503 while the group rebalances
 *   GET /health                        readiness of this instance (200 UP / 503 DOWN, JSON report)
 *   GET /metrics                       the Prometheus scrape of this process
 *
 * The embedding and list tables are global (every instance follows the whole
 * compacted `item-embeddings` and `recommendations` topics), so every instance
 * answers for every key; candidate sets are partitioned by context, so a key
 * held by another instance is redirected there. Answers are JSON; unknown
 * keys are 404 with a message naming the key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmbeddingLookup } from '../../topologies/embedding-table.ts';
import type { RecommendationEvent } from '../../topologies/events.ts';
import { createLogger, type HealthRegistry } from '../telemetry/index.ts';

const log = createLogger('lookup');

/** Where a partitioned key is answered: here (with its value, undefined = no such key), elsewhere, or nowhere yet. */
export type KeyLookup<V> =
  | { kind: 'local'; value: V | undefined }
  | { kind: 'remote'; host: string }
  | { kind: 'unknown'; reason: string };

export interface LookupSources {
  /** A context's candidate set through interactive queries; absent = route disabled. */
  candidates?: (contextId: string) => Promise<KeyLookup<unknown>>;
  embeddings: EmbeddingLookup;
  recommendations: ReadonlyMap<string, RecommendationEvent>;
  /** Readiness checks; absent = always UP. */
  health?: HealthRegistry;
  /** Where this process's Prometheus scrape is served (proxied at /metrics); absent = 404. */
  metricsUrl?: string;
}

export interface LookupServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function handle(src: LookupSources, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(res, 405, { error: `method ${req.method} not allowed; the lookup API is read-only (GET)` });
  const url = new URL(req.url ?? '/', 'http://localhost');
  const parts = url.pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  if (parts.length === 3 && parts[0] === 'items' && parts[2] === 'embedding') {
    const id = parts[1] as string;
    const e = src.embeddings.get(id);
    if (!e)
      return send(res, 404, { error: `item "${id}" has no embedding (unknown item, or not embedded yet)` });
    return send(res, 200, {
      itemId: id,
      modelVersion: e.version,
      dimension: e.vector.length,
      vector: Array.from(e.vector),
      category: e.category,
      createdAt: e.createdAt,
      computedAt: e.computedAt,
    });
  }
  if (parts.length === 3 && parts[0] === 'contexts' && parts[2] === 'recommendations') {
    const id = parts[1] as string;
    const list = src.recommendations.get(id);
    if (!list)
      return send(res, 404, {
        error: `context "${id}" has no list yet (unknown context, or no cycle ran for it)`,
      });
    return send(res, 200, list);
  }
  if (parts.length === 3 && parts[0] === 'contexts' && parts[2] === 'candidates' && src.candidates) {
    const id = parts[1] as string;
    const where = await src.candidates(id);
    if (where.kind === 'remote') {
      res.writeHead(307, { location: `http://${where.host}${url.pathname}`, 'content-length': 0 });
      res.end();
      return;
    }
    if (where.kind === 'unknown') {
      res.setHeader('retry-after', '1');
      return send(res, 503, {
        error: `the owner of context "${id}" is not known right now (${where.reason}); retry`,
      });
    }
    if (where.value === undefined) return send(res, 404, { error: `context "${id}" has no candidates` });
    return send(res, 200, where.value);
  }
  if (parts.length === 1 && parts[0] === 'health') {
    const report = src.health ? await src.health.report('ready') : { status: 'UP', checks: {} };
    return send(res, report.status === 'UP' ? 200 : 503, report);
  }
  if (parts.length === 1 && parts[0] === 'metrics') {
    if (!src.metricsUrl)
      return send(res, 404, { error: 'metrics are not exported by this process (telemetry not started)' });
    const r = await fetch(src.metricsUrl);
    const text = await r.text();
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain; version=0.0.4' });
    res.end(text);
    return;
  }
  send(res, 404, {
    error: `no route for ${url.pathname}; try /items/{id}/embedding, /contexts/{id}/recommendations, /health, /metrics`,
  });
}

/**
 * Starts the lookup server on `host:port` (port 0 = any free port).
 * @throws Error (EADDRINUSE) when the port is taken.
 */
export function startLookupServer(src: LookupSources, port = 0, host = '127.0.0.1'): Promise<LookupServer> {
  const server: Server = createServer((req, res) => {
    handle(src, req, res).catch((err) => {
      log.warn({ url: req.url, err: String(err) }, 'lookup request failed');
      if (!res.headersSent) send(res, 500, { error: String(err) });
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const p = (server.address() as AddressInfo).port;
      resolve({
        port: p,
        url: `http://${host}:${p}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
