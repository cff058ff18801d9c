import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { allMetricDefinitions, prometheusName, type MetricDefinition } from '../../../src/telemetry/index.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const deployDir = join(root, 'deploy');
const prometheus = parse(readFileSync(join(deployDir, 'prometheus', 'prometheus.yml'), 'utf8')) as {
  rule_files: string[];
};
const compose = parse(readFileSync(join(deployDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { volumes?: string[] }>;
};
const alerts = parse(readFileSync(join(deployDir, 'prometheus', 'alerts.yml'), 'utf8')) as {
  groups: Array<{
    name: string;
    rules: Array<{
      alert: string;
      expr: string;
      for: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }>;
  }>;
};

/** Labels every series has besides the metric's attributes: target labels, the relabelled app, histogram buckets. */
const TARGET_LABELS = new Set(['job', 'instance', 'application', 'otel_scope_name']);

/** Prometheus series name -> catalogue entry (histograms answer to _bucket/_sum/_count). */
const series = new Map<string, MetricDefinition>();
for (const d of allMetricDefinitions()) {
  const name = prometheusName(d);
  if (d.kind === 'histogram')
    for (const suffix of ['_bucket', '_sum', '_count']) series.set(name + suffix, d);
  else series.set(name, d);
}

function labelsOf(d: MetricDefinition): Set<string> {
  const labels = new Set(d.attributes.map((a) => a.replace(/\./g, '_')));
  if (d.kind === 'histogram') labels.add('le');
  return labels;
}

describe('deploy/prometheus', () => {
  it('loads the alert rules, and compose mounts every rule file', () => {
    const mounts = (compose.services.prometheus!.volumes ?? []).map((v) => v.split(':'));
    for (const file of prometheus.rule_files) {
      const mount = mounts.find(([, target]) => target === file);
      assert.ok(mount, `${file} is mounted into the Prometheus container`);
      assert.ok(existsSync(resolve(deployDir, mount[0]!)), `${mount[0]} exists`);
    }
  });

  it('gives every alert an expression, a duration, a severity and a description', () => {
    const names = new Set<string>();
    for (const rule of alerts.groups.flatMap((g) => g.rules)) {
      assert.match(rule.alert, /^Ctr[A-Z][A-Za-z]+$/);
      assert.ok(!names.has(rule.alert), `duplicate ${rule.alert}`);
      names.add(rule.alert);
      assert.match(rule.for, /^\d+[smh]$/, `${rule.alert}: for`);
      assert.ok(['warning', 'critical'].includes(rule.labels.severity!), `${rule.alert}: severity`);
      assert.ok(rule.annotations.summary && rule.annotations.description, `${rule.alert}: annotations`);
      let depth = 0;
      for (const ch of rule.expr) {
        depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
        assert.ok(depth >= 0, `${rule.alert}: unbalanced parentheses`);
      }
      assert.equal(depth, 0, `${rule.alert}: unbalanced parentheses`);
    }
    assert.ok(names.size >= 5);
  });

  it('uses only metrics of the catalogue, under their exported names and labels', () => {
    for (const rule of alerts.groups.flatMap((g) => g.rules)) {
      const metrics = [...rule.expr.matchAll(/\b(ctr_[a-z0-9_]+)/g)].map((m) => m[1]!);
      assert.ok(metrics.length > 0, `${rule.alert} uses a ctr metric`);
      const defs = metrics.map((m) => {
        const d = series.get(m);
        assert.ok(d, `${rule.alert}: ${m} is not a series of any catalogue metric`);
        return d;
      });
      // label matchers name a label of that metric
      for (const m of rule.expr.matchAll(/\b(ctr_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const labels = labelsOf(series.get(m[1]!)!);
        for (const matcher of m[2]!.split(',')) {
          const label = matcher.trim().split(/[=!~]/)[0]!;
          assert.ok(
            labels.has(label) || TARGET_LABELS.has(label),
            `${rule.alert}: ${m[1]} has no label ${label}`,
          );
        }
      }
      // grouping labels exist on the metrics grouped
      for (const m of rule.expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of m[1]!.split(',').map((l) => l.trim())) {
          const ok = TARGET_LABELS.has(label) || defs.some((d) => labelsOf(d).has(label));
          assert.ok(ok, `${rule.alert}: no metric in the expression has label ${label}`);
        }
      }
      // counters are read as rates, never as raw values
      for (const [i, d] of defs.entries()) {
        if (d.kind === 'counter')
          assert.match(rule.expr, new RegExp(`(rate|increase)\\(${metrics[i]}`), `${rule.alert}`);
      }
    }
  });
});
