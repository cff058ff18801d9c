/**
 * Picks the schema registry from configuration, with the Confluent setting
 * names: `schema.registry.url` set means a server registry; unset means the
 * local, content-id registry (the demo and tests without a server).
 */
import { ConfluentSchemaRegistry } from './confluent-schema-registry.ts';
import { LocalSchemaRegistry, type SchemaRegistry } from './schema-registry.ts';

/**
 * @param config `schema.registry.url` (default env CTR_SCHEMA_REGISTRY_URL), `basic.auth.user.info` (`user:password`).
 * @returns a {@link ConfluentSchemaRegistry} when a URL is given, else a new {@link LocalSchemaRegistry}.
 */
export function schemaRegistryFromConfig(
  config: { 'schema.registry.url'?: string; 'basic.auth.user.info'?: string } = {},
): SchemaRegistry {
  // '' is the config table's "not set"
  const url = config['schema.registry.url'] || process.env.CTR_SCHEMA_REGISTRY_URL;
  if (!url) return new LocalSchemaRegistry();
  const userInfo = config['basic.auth.user.info'];
  const colon = userInfo?.indexOf(':') ?? -1;
  return new ConfluentSchemaRegistry({
    url,
    ...(userInfo && colon > 0
      ? { auth: { username: userInfo.slice(0, colon), password: userInfo.slice(colon + 1) } }
      : {}),
  });
}
