/**
 * Serdes: how keys and values become bytes and back. The public face of
 * src/streams/serde.
 */
export type { Serde, Serializer, Deserializer } from './serde.ts';
export { SerdeError, SERDE_ERROR_CODES, type SerdeErrorCode, type SerdeErrorContext } from './errors.ts';
export { stringSerde } from './string-serde.ts';
export { bytesSerde } from './bytes-serde.ts';
export { jsonSerde, type JsonSerdeOptions } from './json-serde.ts';
export { nonNullSerde } from './non-null-serde.ts';
export { float32VectorSerde, float32ToBuffer, bufferToFloat32 } from './float32-vector-serde.ts';
export {
  encodeFrame,
  decodeFrame,
  peekSchemaId,
  MAGIC_BYTE,
  FRAME_HEADER_BYTES,
  type Frame,
} from './wire-format.ts';
export {
  compileAvroSchema,
  loadAvroSchemaFile,
  canonicalForm,
  schemaFingerprint,
  type AvroSchemaJson,
  type AvroType,
} from './avro-schema.ts';
export {
  LocalSchemaRegistry,
  localSchemaId,
  topicNameStrategy,
  type SchemaRegistry,
} from './schema-registry.ts';
export { ConfluentSchemaRegistry, type ConfluentSchemaRegistryOptions } from './confluent-schema-registry.ts';
export { AvroSerde, avroSerde, type AvroSerdeOptions } from './avro-serde.ts';
export { schemaRegistryFromConfig } from './registry-from-config.ts';
