/**
 * Avro in the Confluent wire format (magic byte 0, 4-byte schema id, Avro
 * binary) for `produce` and `consume`, against a schema registry: a
 * Confluent-compatible server (`--schema-registry <url>` or env
 * CTR_SCHEMA_REGISTRY_URL), or, without one, the local registry whose ids
 * are derived from the schemas themselves, preloaded with every schema in
 * the project's schemas/ folder and any `--schema` given.
 *
 * Reading needs no reader schema: each record is decoded with its writer
 * schema, looked up by id, which is how a generic console consumer works.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AvroSerde,
  compileAvroSchema,
  decodeFrame,
  loadAvroSchemaFile,
  LocalSchemaRegistry,
  schemaRegistryFromConfig,
  type AvroSchemaJson,
  type SchemaRegistry,
} from '../streams/serde/index.ts';
import { CliError } from './errors.ts';

const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

/** The project's own .avsc files. */
export function projectSchemas(): AvroSchemaJson[] {
  let files: string[];
  try {
    files = readdirSync(SCHEMAS_DIR).filter((f) => f.endsWith('.avsc'));
  } catch {
    return [];
  }
  return files.map((f) => loadAvroSchemaFile(join(SCHEMAS_DIR, f)));
}

/** The registry a command uses (see the file comment). */
export function cliSchemaRegistry(
  url: string | undefined,
  extraSchemas: readonly AvroSchemaJson[] = [],
): SchemaRegistry {
  const registry = schemaRegistryFromConfig(url ? { 'schema.registry.url': url } : {});
  if (registry instanceof LocalSchemaRegistry) registry.preload([...projectSchemas(), ...extraSchemas]);
  return registry;
}

/** Decodes one Avro wire-format value with its writer schema. @throws CliError naming topic/partition/offset */
export async function decodeAvro(registry: SchemaRegistry, data: Buffer, where: string): Promise<unknown> {
  let frame;
  try {
    frame = decodeFrame(data, where);
  } catch (error) {
    throw new CliError(
      'CTR_CLI_FAILED',
      `${where}: not in the Avro wire format: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const writer = await registry.schemaById(frame.schemaId);
  if (writer === undefined)
    throw new CliError(
      'CTR_CLI_FAILED',
      `${where}: schema id ${frame.schemaId} is not known to the ${registry.name} registry (give --schema-registry, or --schema with the writer's schema)`,
    );
  return compileAvroSchema(writer).fromBuffer(frame.payload);
}

/**
 * A serializer for JSON input: the JSON value is coerced to the schema's
 * types (bytes/fixed from base64 or an array of numbers; unions as plain
 * values) and checked, then framed with the schema's id.
 */
export function avroJsonSerializer(schema: AvroSchemaJson, registry: SchemaRegistry, topic: string) {
  const type = compileAvroSchema(schema);
  const serde = new AvroSerde<unknown>(schema, { registry });
  return {
    prepare: () => serde.prepare?.(topic, false) ?? Promise.resolve(),
    serialize(json: unknown, line: number): Buffer {
      let value: unknown;
      try {
        value = type.clone(coerceBytes(json), { coerceBuffers: true, wrapUnions: false });
      } catch (error) {
        throw new CliError(
          'CTR_CLI_USAGE',
          `line ${line}: not a valid ${type.name ?? 'value'}: ${(error as Error).message}`,
        );
      }
      if (!type.isValid(value))
        throw new CliError(
          'CTR_CLI_USAGE',
          `line ${line}: not a valid ${type.name ?? 'value'} for the schema`,
        );
      return serde.serialize(topic, value)!;
    },
  };
}

/** `{"$base64": "..."}` (what `consume` prints for bytes) becomes a Buffer; anything else is left to avsc's coercion. */
function coerceBytes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(coerceBytes);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.$base64 === 'string' && Object.keys(o).length === 1) return Buffer.from(o.$base64, 'base64');
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, coerceBytes(v)]));
  }
  return value;
}

/** One JSON line for a decoded value: bytes as `{"$base64": ...}` (which `produce` reads back), bigints as strings. */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (
      v &&
      typeof v === 'object' &&
      (v as { type?: string }).type === 'Buffer' &&
      Array.isArray((v as { data?: unknown }).data)
    )
      return { $base64: Buffer.from((v as { data: number[] }).data).toString('base64') };
    return v;
  });
}
