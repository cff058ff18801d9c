import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, setLogLevel } from '../../../src/telemetry/logger.ts';

describe('the logger', () => {
  it('applies setLogLevel to loggers created before the call', () => {
    const early = createLogger('early-component', { task: '0_1' });
    setLogLevel('warn');
    assert.equal(early.level, 'warn');
    assert.equal(early.isLevelEnabled('info'), false);
    assert.equal(early.isLevelEnabled('warn'), true);
    setLogLevel('debug');
    assert.equal(early.isLevelEnabled('debug'), true);
    const late = createLogger('late-component');
    assert.equal(late.level, 'debug');
    setLogLevel('silent');
  });
});
