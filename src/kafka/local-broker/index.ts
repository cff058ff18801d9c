export {
  startLocalBroker,
  stopLocalBroker,
  findLocalBroker,
  portAcceptsConnections,
} from './local-broker.ts';
export type { LocalBrokerOptions, RunningBroker } from './local-broker.ts';
export { ensureBrokerJars, cacheDir, DEFAULT_KAFKA_VERSION } from './jars.ts';
export { requireTool, javaMajorVersion } from './tools.ts';
