import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConfluentSchemaRegistry,
  LocalSchemaRegistry,
  schemaRegistryFromConfig,
} from '../../../../src/streams/serde/index.ts';

describe('schemaRegistryFromConfig', () => {
  it('uses the local content-id registry when no schema.registry.url is set', () => {
    const saved = process.env.CTR_SCHEMA_REGISTRY_URL;
    delete process.env.CTR_SCHEMA_REGISTRY_URL;
    try {
      assert.ok(schemaRegistryFromConfig() instanceof LocalSchemaRegistry);
    } finally {
      if (saved !== undefined) process.env.CTR_SCHEMA_REGISTRY_URL = saved;
    }
  });

  it('uses a Confluent-compatible registry at schema.registry.url', () => {
    const registry = schemaRegistryFromConfig({
      'schema.registry.url': 'http://127.0.0.1:8081/',
      'basic.auth.user.info': 'u:p:w',
    });
    assert.ok(registry instanceof ConfluentSchemaRegistry);
    assert.equal(registry.name, 'confluent(http://127.0.0.1:8081/)');
  });
});
