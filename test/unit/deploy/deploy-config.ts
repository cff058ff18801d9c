/**
 * Shared by the deploy tests: checks that the settings a deployment gives the
 * app are ones the app knows, by running them through the engine's own config
 * loader (src/streams/config.ts) and the telemetry env reader.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  envVarName,
  loadStreamsConfig,
  STREAMS_CONFIG_TABLE,
  type StreamsConfig,
} from '../../../src/streams/config.ts';
import { TELEMETRY_ENV_VARS, telemetryOptionsFromEnv } from '../../../src/telemetry/index.ts';

/** CTR_ variables that are not engine settings: telemetry's and the logger's. */
const OTHER_CTR_VARS = new Set<string>([...TELEMETRY_ENV_VARS, 'CTR_LOG_LEVEL']);

/**
 * Loads `properties` (file text, may be empty) and `env` exactly as the app
 * will, and returns the config. Throws the engine's ConfigError listing every
 * unknown or invalid setting, or an Error naming a CTR_ variable nobody reads.
 */
export function loadDeployedConfig(properties: string, env: Record<string, string>): StreamsConfig {
  const known = new Set(STREAMS_CONFIG_TABLE.map((d) => envVarName(d.name)));
  const stray = Object.keys(env).filter(
    (k) => k.startsWith('CTR_') && !known.has(k) && !OTHER_CTR_VARS.has(k),
  );
  if (stray.length > 0) throw new Error(`env sets CTR_ variables nothing reads: ${stray.join(', ')}`);
  telemetryOptionsFromEnv({ serviceName: 'deploy-test' }, env);
  const dir = mkdtempSync(join(tmpdir(), 'ctr-deploy-config-'));
  try {
    const file = join(dir, 'ctr-streams.properties');
    writeFileSync(file, properties);
    return loadStreamsConfig({ file, env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
