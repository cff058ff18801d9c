import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HealthRegistry } from '../../../src/telemetry/index.ts';

describe('HealthRegistry', () => {
  it('is UP with no checks registered', async () => {
    const health = new HealthRegistry();
    assert.deepEqual(await health.report('ready'), { status: 'UP', checks: {} });
  });

  it('is DOWN when any check is DOWN and names each check', async () => {
    const health = new HealthRegistry();
    health.register('ready', 'streams', () => ({ status: 'DOWN', detail: { state: 'REBALANCING' } }));
    health.register('ready', 'model', () => true);
    const report = await health.report('ready');
    assert.equal(report.status, 'DOWN');
    assert.deepEqual(report.checks.streams, { status: 'DOWN', detail: { state: 'REBALANCING' } });
    assert.deepEqual(report.checks.model, { status: 'UP' });
  });

  it('keeps liveness and readiness apart', async () => {
    const health = new HealthRegistry();
    health.register('ready', 'restoring', () => false);
    assert.equal((await health.report('live')).status, 'UP');
    assert.equal((await health.report('ready')).status, 'DOWN');
  });

  it('counts a throwing check as DOWN with its message', async () => {
    const health = new HealthRegistry();
    health.register('live', 'loop', async () => {
      throw new Error('event loop stalled 12 s');
    });
    const report = await health.report('live');
    assert.equal(report.status, 'DOWN');
    assert.equal(report.checks.loop?.detail, 'event loop stalled 12 s');
  });

  it('counts a check that takes longer than the timeout as DOWN', async () => {
    const health = new HealthRegistry(20);
    health.register('ready', 'slow', () => new Promise((resolve) => setTimeout(() => resolve(true), 100)));
    const report = await health.report('ready');
    assert.equal(report.status, 'DOWN');
    assert.match(String(report.checks.slow?.detail), /timed out after 20 ms/);
  });

  it('removes a check through the returned function, and replaces by name', async () => {
    const health = new HealthRegistry();
    const remove = health.register('ready', 'streams', () => false);
    assert.equal((await health.report('ready')).status, 'DOWN');
    remove();
    assert.equal((await health.report('ready')).status, 'UP');
    health.register('ready', 'streams', () => false);
    health.register('ready', 'streams', () => true);
    assert.equal((await health.report('ready')).status, 'UP');
  });
});
