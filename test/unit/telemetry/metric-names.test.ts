import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  METRICS,
  METRIC_ATTRIBUTES,
  allMetricDefinitions,
  prometheusName,
} from '../../../src/telemetry/index.ts';

const definitions = allMetricDefinitions();

describe('metric catalogue', () => {
  it('gives every metric a unique dotted name under ctr.<layer>.', () => {
    const names = definitions.map((d) => d.name);
    assert.equal(new Set(names).size, names.length, `duplicate names in ${names.join(', ')}`);
    for (const name of names) {
      assert.match(name, /^ctr\.(streams|ml|pipeline|process)\.[a-z_]+(\.[a-z_]+)*$/, name);
    }
  });

  it('gives unique Prometheus names that are valid metric names', () => {
    const promNames = definitions.map(prometheusName);
    assert.equal(new Set(promNames).size, promNames.length);
    for (const name of promNames) assert.match(name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, name);
  });

  it('documents every metric with a unit and a sentence', () => {
    for (const d of definitions) {
      assert.match(d.unit, /^(s|By|\{[a-z]+\})$/, `${d.name}: unit ${d.unit}`);
      assert.ok(d.description.length > 20 && d.description.endsWith('.'), `${d.name}: description`);
    }
  });

  it('measures every duration in seconds and names it .duration or .delay', () => {
    for (const d of definitions) {
      if (d.unit === 's') assert.match(d.name, /\.(duration|delay)$/, d.name);
      if (/\.duration$/.test(d.name)) assert.equal(d.unit, 's', d.name);
    }
  });

  it('gives histograms ascending positive buckets and other kinds none', () => {
    for (const d of definitions) {
      if (d.kind === 'histogram') {
        assert.ok(d.buckets && d.buckets.length >= 5, `${d.name}: buckets`);
        for (let i = 1; i < d.buckets.length; i++)
          assert.ok(d.buckets[i]! > d.buckets[i - 1]!, `${d.name}: ascending`);
        assert.ok(d.buckets[0]! > 0);
      } else {
        assert.equal(d.buckets, undefined, `${d.name}: only histograms have buckets`);
      }
    }
  });

  it('uses only attribute keys declared in METRIC_ATTRIBUTES, never ids of keys or items', () => {
    const allowed = new Set<string>(Object.values(METRIC_ATTRIBUTES));
    for (const d of definitions) {
      for (const key of d.attributes) assert.ok(allowed.has(key), `${d.name}: attribute ${key}`);
      assert.ok(
        !d.attributes.some((a) => /item|context\.id|key/.test(a)),
        `${d.name}: high-cardinality attribute`,
      );
    }
  });

  it('covers what the engine and pipeline must report', () => {
    // The operations issue's list: records in/out per topic, process and commit latency, consumer lag,
    // restore progress, store operations, cache hit ratio, DLQ per reason, autobatch size and wait,
    // model latency, cycle duration.
    assert.deepEqual(METRICS.recordsConsumed.attributes, ['topic']);
    assert.deepEqual(METRICS.recordsProduced.attributes, ['topic']);
    assert.equal(METRICS.processDuration.kind, 'histogram');
    assert.equal(METRICS.commitDuration.kind, 'histogram');
    assert.deepEqual(METRICS.consumerLag.attributes, ['topic', 'partition']);
    assert.equal(METRICS.restoreRemaining.kind, 'gauge');
    assert.equal(METRICS.restoreRecords.kind, 'counter');
    assert.deepEqual(METRICS.storeOperationDuration.attributes, ['store', 'operation']);
    assert.deepEqual(METRICS.storeCacheLookups.attributes, ['store', 'result']);
    assert.ok(METRICS.dlqRecords.attributes.includes('reason'));
    assert.equal(METRICS.autobatchBatchSize.kind, 'histogram');
    assert.equal(METRICS.autobatchWait.unit, 's');
    assert.equal(METRICS.modelInferenceDuration.unit, 's');
    assert.equal(METRICS.cycleDuration.unit, 's');
  });

  it('maps names to Prometheus as the exporter does: dots to underscores, _total on counters', () => {
    assert.equal(prometheusName(METRICS.recordsConsumed), 'ctr_streams_records_consumed_total');
    assert.equal(prometheusName(METRICS.processDuration), 'ctr_streams_process_duration');
    assert.equal(prometheusName(METRICS.consumerLag), 'ctr_streams_consumer_lag');
    assert.equal(prometheusName({ name: 'x.done_total', kind: 'counter' }), 'x_done_total');
  });
});
