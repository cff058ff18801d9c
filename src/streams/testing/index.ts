/** Testing without a broker: public surface of src/streams/testing. */
export { TopologyTestDriver, type TopologyTestDriverOptions } from './topology-test-driver.ts';
export { TestInputTopic, type InputTopicOptions } from './test-input-topic.ts';
export { TestOutputTopic } from './test-output-topic.ts';
export type { OutputRecord, TestRecord } from './test-record.ts';
export { InMemoryRecordCollector } from './in-memory-record-collector.ts';
