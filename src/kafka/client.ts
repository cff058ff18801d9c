/**
 * The kafkajs client factory. kafkajs's own logs are routed into the
 * project's logger (component `kafka`), so one format and one level govern
 * everything the process prints.
 */
import { Kafka, logLevel, type KafkaConfig, type logCreator, type SASLOptions } from 'kafkajs';
import { createLogger } from '../telemetry/logger.ts';

export interface KafkaClientConfig {
  /** `host:port` list, e.g. `127.0.0.1:9092`. */
  bootstrapServers: string | readonly string[];
  /** Shown in broker logs and quotas. Default `ctr-streams`. */
  clientId?: string;
  /** Milliseconds to wait for a TCP connection. Default 3000. */
  connectionTimeoutMs?: number;
  /** Milliseconds to wait for a broker's answer. Default 30000. */
  requestTimeoutMs?: number;
  ssl?: boolean;
  sasl?: SASLOptions;
}

const log = createLogger('kafka');

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

const toProjectLogger: logCreator =
  () =>
  ({ namespace, level, log: entry }) => {
    const { message, ...extra } = entry;
    // kafkajs warns about the producer's bounded retries on every producer; the
    // bound is deliberate (see producer.ts), so this one says nothing new
    const expected =
      typeof message === 'string' && message.startsWith('Limiting retries for the idempotent producer');
    const method = expected ? 'debug' : (levels[level] ?? 'info');
    log[method]({ namespace, ...extra }, message);
  };

function kafkajsLevel(name: string | undefined): logLevel {
  switch (name?.toLowerCase()) {
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
      return logLevel.INFO;
    case 'error':
      return logLevel.ERROR;
    default:
      return logLevel.WARN;
  }
}

export function parseBootstrap(servers: string | readonly string[]): string[] {
  const list = typeof servers === 'string' ? servers.split(',') : [...servers];
  return list.map((s) => s.trim()).filter(Boolean);
}

/** Builds the shared kafkajs client of a process (one per application is enough). */
export function createKafka(config: KafkaClientConfig): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId ?? 'ctr-streams',
    brokers: parseBootstrap(config.bootstrapServers),
    connectionTimeout: config.connectionTimeoutMs ?? 3000,
    requestTimeout: config.requestTimeoutMs ?? 30_000,
    // kafkajs logs INFO chatter for every group join; WARN keeps the signal.
    // CTR_KAFKAJS_LOG_LEVEL=debug|info shows its group protocol when debugging
    logLevel: kafkajsLevel(process.env.CTR_KAFKAJS_LOG_LEVEL),
    logCreator: toProjectLogger,
    retry: { initialRetryTime: 100, retries: 8 },
    ...(config.ssl ? { ssl: true } : {}),
    ...(config.sasl ? { sasl: config.sasl } : {}),
  };
  return new Kafka(kafkaConfig);
}

export type { Kafka };
