import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { metrics } from '@opentelemetry/api';
import {
  METRICS,
  counter,
  histogram,
  prometheusName,
  startTelemetry,
  TelemetryError,
  type Telemetry,
} from '../../../src/telemetry/index.ts';

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
  return response.text();
}

/** The value of the sample line `name{labels} value` (labels matched as a substring), or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!line.includes(labels)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('the Prometheus endpoint (real HTTP scrape on loopback)', () => {
  let telemetry: Telemetry;

  before(async () => {
    telemetry = await startTelemetry({
      serviceName: 'telemetry-it',
      serviceVersion: '1.2.3',
      prometheusHost: '127.0.0.1',
      prometheusPort: 0,
    });
  });
  after(async () => {
    await telemetry.shutdown();
  });

  it('serves a recorded counter with its Prometheus name, labels, unit and value', async () => {
    const consumed = counter(METRICS.recordsConsumed);
    consumed.add(40, { topic: 'items' });
    consumed.add(2, { topic: 'items' });
    consumed.add(5, { topic: 'impressions' });

    const text = await scrape(telemetry.metricsUrl!);
    const name = prometheusName(METRICS.recordsConsumed);
    assert.equal(name, 'ctr_streams_records_consumed_total');
    assert.match(text, /^# TYPE ctr_streams_records_consumed_total counter$/m);
    assert.match(
      text,
      new RegExp(`^# HELP ${name} ${METRICS.recordsConsumed.description.replace(/[.()`]/g, '.')}$`, 'm'),
    );
    assert.match(text, /^# UNIT ctr_streams_records_consumed_total \{record\}$/m);
    assert.equal(sample(text, name, 'topic="items"'), 42);
    assert.equal(sample(text, name, 'topic="impressions"'), 5);
  });

  it('serves a recorded histogram with cumulative buckets, sum and count', async () => {
    const commit = histogram(METRICS.commitDuration);
    for (const seconds of [0.0007, 0.003, 0.003, 0.04, 12]) commit.record(seconds);

    const text = await scrape(telemetry.metricsUrl!);
    const name = prometheusName(METRICS.commitDuration);
    assert.match(text, new RegExp(`^# TYPE ${name} histogram$`, 'm'));
    // buckets are cumulative: le is the catalogue's boundary
    assert.equal(sample(text, `${name}_bucket`, 'le="0.001"'), 1);
    assert.equal(sample(text, `${name}_bucket`, 'le="0.005"'), 3);
    assert.equal(sample(text, `${name}_bucket`, 'le="0.05"'), 4);
    assert.equal(sample(text, `${name}_bucket`, 'le="10"'), 4);
    assert.equal(sample(text, `${name}_bucket`, 'le="30"'), 5);
    assert.equal(sample(text, `${name}_bucket`, 'le="+Inf"'), 5);
    assert.equal(sample(text, `${name}_count`, ''), 5);
    assert.ok(Math.abs(sample(text, `${name}_sum`, '')! - 12.0467) < 1e-9);
  });

  it('serves metrics recorded through the plain @opentelemetry/api meter', async () => {
    metrics
      .getMeter('ctr-streams')
      .createCounter('ctr.test.plain_api', { description: 'A counter made with the bare API.' })
      .add(3, { reason: 'CTR_SERDE_DESERIALIZE' });
    const text = await scrape(telemetry.metricsUrl!);
    assert.equal(sample(text, 'ctr_test_plain_api_total', 'reason="CTR_SERDE_DESERIALIZE"'), 3);
  });

  it('serves process gauges and the service identity in target_info', async () => {
    const text = await scrape(telemetry.metricsUrl!);
    assert.ok(sample(text, 'ctr_process_memory_heap_used', '')! > 1_000_000);
    assert.ok(sample(text, 'ctr_process_event_loop_delay', 'stat="p99"')! >= 0);
    assert.match(text, /^target_info\{.*service_name="telemetry-it".*\} 1$/m);
    assert.match(text, /^target_info\{.*service_version="1\.2\.3".*\} 1$/m);
  });

  it('answers /health and /health/ready with JSON, 503 when a readiness check is DOWN', async () => {
    const base = telemetry.metricsUrl!.replace(/\/metrics$/, '');
    const live = await fetch(`${base}/health`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: 'UP', checks: {} });

    let state = 'REBALANCING';
    const remove = telemetry.health.register('ready', 'streams', () => ({
      status: state === 'RUNNING' ? 'UP' : 'DOWN',
      detail: { state },
    }));
    try {
      const notReady = await fetch(`${base}/health/ready`);
      assert.equal(notReady.status, 503);
      assert.deepEqual(await notReady.json(), {
        status: 'DOWN',
        checks: { streams: { status: 'DOWN', detail: { state: 'REBALANCING' } } },
      });
      assert.equal((await fetch(`${base}/health/live`)).status, 200, 'not ready is not dead');
      state = 'RUNNING';
      const ready = await fetch(`${base}/health/ready`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
    } finally {
      remove();
    }
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  });

  it('refuses a second start in the same process', async () => {
    await assert.rejects(startTelemetry({ serviceName: 'again', prometheusPort: false }), {
      name: 'TelemetryError',
      code: 'CTR_TELEMETRY_ALREADY_STARTED',
    });
  });
});

describe('startTelemetry errors and shutdown', () => {
  it('names the address when the port is in use, and leaves no SDK registered', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startTelemetry({ serviceName: 'busy', prometheusHost: '127.0.0.1', prometheusPort: port }),
        (error: unknown) => {
          assert.ok(error instanceof TelemetryError);
          assert.equal(error.code, 'CTR_TELEMETRY_PORT_IN_USE');
          assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}: port in use`));
          return true;
        },
      );
      // the failed start rolled back: a new one succeeds
      const t = await startTelemetry({ serviceName: 'after-busy', prometheusPort: false });
      await t.shutdown();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('lists every invalid option in one error', async () => {
    await assert.rejects(
      startTelemetry({ serviceName: '', prometheusPort: 70000, traceSampleRatio: 2, metricsPath: 'metrics' }),
      (error: unknown) => {
        assert.ok(error instanceof TelemetryError);
        assert.equal(error.code, 'CTR_TELEMETRY_CONFIG');
        for (const field of [
          'serviceName',
          'prometheusPort: expected an integer 0..65535',
          'traceSampleRatio',
          'metricsPath',
        ]) {
          assert.ok(error.message.includes(field), `${field} in ${error.message}`);
        }
        return true;
      },
    );
  });

  it('closes the port on shutdown, and shutdown twice is harmless', async () => {
    const t = await startTelemetry({
      serviceName: 'closing',
      prometheusHost: '127.0.0.1',
      prometheusPort: 0,
    });
    const url = t.metricsUrl!;
    assert.equal((await fetch(url)).status, 200);
    await t.shutdown();
    await t.shutdown();
    await assert.rejects(fetch(url));
  });
});
