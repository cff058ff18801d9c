import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  DeadLetterHandler,
  LogAndContinueHandler,
  type HandlerContext,
} from '../../../../src/streams/errors-handling/index.ts';
import type { RawRecord } from '../../../../src/streams/processor/raw-record.ts';
import { SerdeError } from '../../../../src/streams/serde/index.ts';
import { METRICS, startTelemetry } from '../../../../src/telemetry/index.ts';
import { TestMetricReader } from '../../../helpers/metrics.ts';

const context: HandlerContext = {
  applicationId: 'app',
  taskId: '0_0',
  processor: 'src',
  collector: {
    send() {},
    sendRecord() {},
    partitionsFor: () => Promise.resolve(1),
    flush: () => Promise.resolve(new Map()),
  },
};
const raw: RawRecord = {
  key: null,
  value: Buffer.from('x'),
  timestamp: 1,
  headers: {},
  topic: 'clicks',
  partition: 0,
  offset: '5',
};

describe('exception handler metrics', () => {
  let shutdown: (() => Promise<void>) | undefined;
  after(async () => shutdown?.());

  it('counts bad records per handler, action and error code in OpenTelemetry', async () => {
    const reader = new TestMetricReader();
    const telemetry = await startTelemetry({
      serviceName: 'handler-metrics-test',
      prometheusPort: false,
      processMetrics: false,
      metricReaders: [reader],
    });
    shutdown = () => telemetry.shutdown();

    const dlq = new DeadLetterHandler();
    dlq.handle(context, raw, new SerdeError('CTR_SERDE_WIRE_FORMAT', 'bad magic'));
    dlq.handle(context, raw, new SerdeError('CTR_SERDE_WIRE_FORMAT', 'bad magic'));
    dlq.handle(context, raw, new SerdeError('CTR_SERDE_UNKNOWN_SCHEMA', 'id 7'));
    new LogAndContinueHandler().handle(context, raw, new TypeError('nope'));

    const errors = await reader.metric(METRICS.errorRecords.name);
    const points = new Map(errors!.dataPoints.map((p) => [JSON.stringify(p.attributes), p.value]));
    assert.equal(
      points.get(
        JSON.stringify({
          handler: 'deserialization',
          action: 'dead-letter',
          reason: 'CTR_SERDE_WIRE_FORMAT',
          topic: 'clicks',
        }),
      ),
      2,
    );
    assert.equal(
      points.get(
        JSON.stringify({
          handler: 'deserialization',
          action: 'dead-letter',
          reason: 'CTR_SERDE_UNKNOWN_SCHEMA',
          topic: 'clicks',
        }),
      ),
      1,
    );
    assert.equal(
      points.get(
        JSON.stringify({
          handler: 'deserialization',
          action: 'continue',
          reason: 'TypeError',
          topic: 'clicks',
        }),
      ),
      1,
    );

    const dead = await reader.metric(METRICS.dlqRecords.name);
    const total = dead!.dataPoints.reduce((n, p) => n + (p.value as number), 0);
    assert.equal(total, 3);
  });
});
