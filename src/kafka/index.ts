/**
 * The Kafka layer: the only code that imports kafkajs. The engine and the CLI
 * use these wrappers; kafkajs types do not leak past this folder except the
 * opaque `Kafka` client handle.
 */
export { createKafka, parseBootstrap, type Kafka, type KafkaClientConfig } from './client.ts';
export {
  KafkaAdmin,
  type TopicSpec,
  type TopicDescription,
  type PartitionOffsets,
  type GroupOffset,
} from './admin.ts';
export {
  KafkaProducer,
  topicPartitionKey,
  type OutgoingRecord,
  type ProducerOptions,
  type NextOffsets,
  type Compression,
} from './producer.ts';
export {
  KafkaConsumer,
  isRebalancingError,
  type ConsumerOptions,
  type ConsumedRecord,
  type FetchedBatch,
  type Assignment,
  type RunOptions,
} from './consumer.ts';
export {
  assignPartitionGroups,
  createPartitionGroupAssigner,
  PARTITION_GROUP_ASSIGNER,
} from './partition-group-assigner.ts';
export { rawPipe, type RawPipeOptions, type RawPipeResult } from './raw-pipe.ts';
export { readTopicToEnd, type ReadOptions } from './topic-reader.ts';
export {
  KafkaError,
  ToolMissingError,
  describeError,
  KAFKA_ERROR_CODES,
  type KafkaErrorCode,
} from './errors.ts';
export { describeGroupMembers, type GroupMember } from './group-members.ts';
