import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  METRICS,
  allMetricDefinitions,
  prometheusName,
  renderMetricCatalogue,
} from '../../../src/telemetry/index.ts';

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'operations.md'), 'utf8');
const REGENERATE =
  'regenerate the table between the metric-catalogue markers in docs/operations.md with ' +
  `node --import tsx -e "import('./src/telemetry/index.ts').then(m => console.log(m.renderMetricCatalogue()))"`;

function docRows(): string[] {
  const m = /<!-- metric-catalogue:begin -->\n([\s\S]*?)\n<!-- metric-catalogue:end -->/.exec(doc);
  assert.ok(m, 'docs/operations.md has the metric-catalogue markers');
  return m[1]!.split('\n').slice(2);
}

describe('the metric reference in docs/operations.md', () => {
  it('renders one row per catalogue metric', () => {
    const rows = renderMetricCatalogue().split('\n');
    assert.equal(rows.length, allMetricDefinitions().length + 2);
    assert.match(
      rows[2]!,
      /^\| `ctr_streams_records_consumed_total` \| counter \| `\{record\}` \| `topic` \| /,
    );
  });

  it('lists no metric that the catalogue does not have, and no stale unit, label or description', () => {
    // Rows are compared whole; a metric added to the catalogue after the doc was generated is
    // allowed (several people add metrics at once), a row that disagrees with the code is not.
    const generated = new Set(renderMetricCatalogue().split('\n').slice(2));
    for (const row of docRows()) assert.ok(generated.has(row), `stale row: ${row}\n${REGENERATE}`);
  });

  it('documents the metrics operators alert on', () => {
    const names = docRows().map((r) => /^\| `([^`]+)`/.exec(r)?.[1]);
    for (const def of [
      METRICS.recordsConsumed,
      METRICS.recordsProduced,
      METRICS.processDuration,
      METRICS.commitDuration,
      METRICS.consumerLag,
      METRICS.restoreRemaining,
      METRICS.storeCacheLookups,
      METRICS.dlqRecords,
      METRICS.autobatchBatchSize,
      METRICS.autobatchWait,
      METRICS.modelInferenceDuration,
      METRICS.cycleDuration,
      METRICS.eventLoopDelay,
    ]) {
      assert.ok(names.includes(prometheusName(def)), `${prometheusName(def)} missing: ${REGENERATE}`);
    }
  });
});
