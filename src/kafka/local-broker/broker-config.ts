/**
 * The single-node KRaft broker's configuration files. Every replication factor
 * and min ISR is 1 (one node), the group rebalance delay is 0 (tests rebalance
 * faster), and thread counts and the cleaner's buffer are sized for a small
 * machine (../shared/KAFKA-LOCAL.md).
 */
import { randomBytes } from 'node:crypto';

export interface BrokerSettings {
  /** PLAINTEXT port clients connect to, on 127.0.0.1. */
  port: number;
  /** KRaft controller port; defaults to port + 1. */
  controllerPort: number;
  /** Where the broker keeps its log segments and metadata. */
  dataDir: string;
}

/** A random 22-character base64url cluster id (a UUID's 16 bytes), as `kafka-storage random-uuid` makes. */
export function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

export function serverProperties(settings: BrokerSettings): string {
  const { port, controllerPort, dataDir } = settings;
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': `${dataDir}/logs`,
    'num.partitions': 1,
    // apps create their topics explicitly, as they must on a production cluster
    'auto.create.topics.enable': 'false',
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 8,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 4,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // crash tests restart a SIGKILLed member many times; each restart waits for the dead
    // member's session to expire, so tests use short sessions (the broker default minimum is 6 s)
    'group.min.session.timeout.ms': 1000,
    'num.network.threads': 2,
    'num.io.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.dedupe.buffer.size': 32 * 1024 * 1024,
    'log.cleaner.threads': 1,
    // the dead-letter tests send 1 MB poison values with their headers
    'message.max.bytes': 8 * 1024 * 1024,
    'replica.fetch.max.bytes': 8 * 1024 * 1024,
    'log.retention.hours': 24,
  };
  return Object.entries(props)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')
    .concat('\n');
}

/** log4j2 config: INFO to a file, which the launcher reads to see readiness. */
export function log4j2Properties(logFile: string): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${logFile}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = FILE',
    // the controller and the cleaner are chatty at INFO; warnings still show
    'logger.controller.name = org.apache.kafka.controller',
    'logger.controller.level = WARN',
    'logger.cleaner.name = kafka.log.LogCleaner',
    'logger.cleaner.level = WARN',
    'logger.raft.name = org.apache.kafka.raft',
    'logger.raft.level = WARN',
    '',
  ].join('\n');
}
