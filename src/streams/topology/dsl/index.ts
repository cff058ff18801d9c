/** The DSL: StreamsBuilder, KStream, KTable, KGroupedStream and their option objects. */
export { StreamsBuilder } from './streams-builder.ts';
export { KStream } from './kstream.ts';
export { KTable } from './ktable.ts';
export { KGroupedStream } from './kgrouped-stream.ts';
export { BranchedKStream } from './branched-kstream.ts';
export { Branched } from './branched.ts';
export { Consumed } from './consumed.ts';
export { Produced } from './produced.ts';
export { Grouped } from './grouped.ts';
export { Materialized, type StoreType } from './materialized.ts';
export { Named } from './named.ts';
export { countSerde } from './count-serde.ts';
export { addRepartition, type RepartitionSpec } from './repartition.ts';
export { InternalStreamsBuilder } from './internal-streams-builder.ts';
