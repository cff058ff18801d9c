/**
 * Typed errors of the Kafka layer. Each has a stable `code`, says whether a
 * retry may help (`retriable`), and names the topic/partition it concerns, so
 * a message reads `cannot create topic "x" (4 partitions): ...`, never just
 * `failed`.
 */

export const KAFKA_ERROR_CODES = [
  'CTR_KAFKA_TOOL_MISSING',
  'CTR_KAFKA_PORT_IN_USE',
  'CTR_KAFKA_NOT_READY',
  'CTR_KAFKA_JARS',
  'CTR_KAFKA_BROKER_EXITED',
  'CTR_KAFKA_ADMIN',
  'CTR_KAFKA_PRODUCE',
  'CTR_KAFKA_CONSUME',
  'CTR_KAFKA_COMMIT',
  'CTR_KAFKA_CONNECT',
] as const;

export type KafkaErrorCode = (typeof KAFKA_ERROR_CODES)[number];

export interface KafkaErrorOptions {
  cause?: unknown;
  retriable?: boolean;
  topic?: string;
  partition?: number;
}

export class KafkaError extends Error {
  readonly code: KafkaErrorCode;
  readonly retriable: boolean;
  readonly topic: string | undefined;
  readonly partition: number | undefined;

  constructor(code: KafkaErrorCode, message: string, options: KafkaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KafkaError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.topic = options.topic;
    this.partition = options.partition;
  }
}

/** A tool the local broker needs (Java, Maven) is not installed; the message carries the fix. */
export class ToolMissingError extends KafkaError {
  constructor(tool: string, fix: string) {
    super('CTR_KAFKA_TOOL_MISSING', `${tool} was not found on PATH: ${fix}`);
    this.name = 'ToolMissingError';
  }
}

/** Describes an unknown thrown value in one line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
