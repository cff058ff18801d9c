import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  AvroSerde,
  LocalSchemaRegistry,
  compileAvroSchema,
  loadAvroSchemaFile,
} from '../../../../src/streams/serde/index.ts';

const dir = new URL('../../../../schemas/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.avsc'))
  .sort();

type Node = Record<string, unknown>;

/** Calls `visit` on every named type and field of a schema. */
function walk(schema: unknown, visit: (node: Node, path: string) => void, path = ''): void {
  if (Array.isArray(schema)) return schema.forEach((s, i) => walk(s, visit, `${path}|${i}`));
  if (typeof schema !== 'object' || schema === null) return;
  const node = schema as Node;
  if (node.type === 'record' || node.type === 'enum' || node.type === 'fixed')
    visit(node, `${path}${String(node.name)}`);
  if (node.type === 'record') {
    for (const field of node.fields as Node[]) {
      visit(field, `${path}${String(node.name)}.${String(field.name)}`);
      walk(field.type, visit, `${path}${String(node.name)}.${String(field.name)}`);
    }
  }
  if (node.type === 'array') walk(node.items, visit, `${path}[]`);
  if (node.type === 'map') walk(node.values, visit, `${path}{}`);
}

const SAMPLES: Record<string, unknown> = {
  'click.avsc': { impressionId: 'imp-1', itemId: 'item-1', timestamp: 1767225600000 },
  'embedding-request.avsc': {
    itemId: 'item-1',
    requestedAt: 1767225600000,
    reason: 'CACHE_MISS',
    requestedBy: 'pub-1/side',
  },
  'impression.avsc': {
    impressionId: 'imp-1',
    context: { contextId: 'c', publisher: 'p', placement: 'side' },
    userSegment: 's',
    device: 'mobile',
    country: 'SI',
    pageDepth: null,
    items: [{ itemId: 'item-1', position: 0 }],
    timestamp: 1767225600000,
  },
  'item-created.avsc': {
    itemId: 'item-1',
    publisher: 'p',
    title: 't',
    description: 'd',
    category: 'sports',
    language: 'sl',
    image: { width: 2, height: 1, channels: 3, pixels: Buffer.from([1, 2, 3, 4, 5, 6]), seed: null },
    createdAt: 1767225600000,
  },
  'item-embedding.avsc': {
    itemId: 'item-1',
    modelVersion: 'towers-3',
    dimension: 2,
    vector: Buffer.from(new Float32Array([0.5, -1]).buffer),
    computedAt: 1767225600000,
    category: 'cat-1',
    createdAt: 1767225000000,
  },
  'recommendation.avsc': {
    contextId: 'c',
    cycleId: 17,
    modelVersion: 'ctr-9',
    generatedAt: 1767225600000,
    items: [{ itemId: 'item-1', score: 0.12, position: 0, outOfVocabulary: true }],
  },
  'training-example.avsc': {
    impressionId: 'imp-1',
    itemId: 'item-1',
    contextId: 'c',
    features: { publisher: 'p', position: 2, pageDepth: 4.5, isNew: true },
    label: 1,
    impressionTimestamp: 1767225600000,
    clickTimestamp: 1767225601000,
  },
};

describe('schemas/*.avsc', () => {
  it('has a schema for every value topic of the pipeline', () => {
    assert.deepEqual(files, Object.keys(SAMPLES).sort());
  });

  for (const file of files) {
    describe(file, () => {
      const schema = loadAvroSchemaFile(new URL(file, dir));

      it('documents every named type and every field', () => {
        const missing: string[] = [];
        walk(schema, (node, path) => {
          if (typeof node.doc !== 'string' || node.doc.trim().length < 3) missing.push(path);
        });
        assert.deepEqual(missing, []);
      });

      it('types every timestamp field as a timestamp-millis long', () => {
        const wrong: string[] = [];
        walk(schema, (node, path) => {
          if (!('fields' in node) && /(At|timestamp|Timestamp)$/.test(String(node.name))) {
            const t = JSON.stringify(node.type);
            if (!t.includes('"logicalType":"timestamp-millis"')) wrong.push(path);
          }
        });
        assert.deepEqual(wrong, []);
      });

      it('gives every optional (nullable) field a null default', () => {
        const wrong: string[] = [];
        walk(schema, (node, path) => {
          if (Array.isArray(node.type) && node.type[0] === 'null' && node.default !== null) wrong.push(path);
        });
        assert.deepEqual(wrong, []);
      });

      it('round-trips a sample value', () => {
        const serde = new AvroSerde(schema, { registry: new LocalSchemaRegistry() });
        const back = serde.deserialize('t', serde.serialize('t', SAMPLES[file]));
        // compared as JSON: avsc decodes records into instances of generated classes
        assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(SAMPLES[file])));
        assert.ok(compileAvroSchema(schema).isValid(back));
      });
    });
  }
});
