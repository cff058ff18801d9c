/**
 * The Avro serde against a REAL Confluent-compatible registry (Apicurio
 * Registry from Maven Central, in-memory storage; see
 * test/helpers/schema-registry.ts): registration under the
 * TopicNameStrategy subject, decoding by a fresh process that only has the
 * id, evolution through the registry, and the registry's refusals.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  AvroSerde,
  ConfluentSchemaRegistry,
  SerdeError,
  loadAvroSchemaFile,
  type AvroSchemaJson,
} from '../../../src/streams/serde/index.ts';
import { testSchemaRegistry } from '../../helpers/schema-registry.ts';

const clickSchema = loadAvroSchemaFile(
  new URL('../../../schemas/click.avsc', import.meta.url),
) as unknown as { fields: unknown[] } & Record<string, unknown>;
const clickV2 = {
  ...clickSchema,
  fields: [
    ...clickSchema.fields,
    { name: 'dwellMs', type: ['null', 'long'], default: null, doc: 'Time on the page after the click.' },
  ],
} as AvroSchemaJson;
/** Not backward compatible: a v2 reader has no value for a new field without a default. */
const clickBroken = {
  ...clickSchema,
  fields: [...clickSchema.fields, { name: 'mandatory', type: 'string', doc: 'No default.' }],
} as AvroSchemaJson;

const CLICK = { impressionId: 'imp-1', itemId: 'item-1', timestamp: 1767225600000 };
const topicName = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;
const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

describe('AvroSerde with a real schema registry', () => {
  let url: string;
  before(async () => {
    url = (await testSchemaRegistry()).url;
  });

  it('registers under <topic>-value and frames records with the registry id', async () => {
    const topic = topicName('clicks');
    const serde = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    });
    await serde.prepare(topic, false);
    const bytes = serde.serialize(topic, CLICK)!;
    const id = bytes.readInt32BE(1);
    assert.equal(bytes[0], 0);
    const subjects = (await (await fetch(`${url}/subjects`)).json()) as string[];
    assert.ok(subjects.includes(`${topic}-value`), `subjects ${subjects.join(', ')}`);
    const latest = (await (await fetch(`${url}/subjects/${topic}-value/versions/latest`)).json()) as {
      id: number;
    };
    assert.equal(latest.id, id);
  });

  it('decodes in a reader that knows only the bytes: the writer schema is fetched by id', async () => {
    const topic = topicName('clicks');
    const writer = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    });
    await writer.prepare(topic, false);
    const bytes = writer.serialize(topic, CLICK)!;
    const reader = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    });
    await reader.resolve(topic, [bytes]);
    assert.deepEqual(plain(reader.deserialize(topic, bytes)), CLICK);
  });

  it('evolves through the registry: v2 with a defaulted field is accepted, and v1 and v2 read each other', async () => {
    const topic = topicName('clicks');
    const v1 = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    });
    const v2 = new AvroSerde(clickV2, { registry: new ConfluentSchemaRegistry({ url }) });
    await v1.prepare(topic, false);
    await v2.prepare(topic, false);
    assert.notEqual(v1.schemaIdFor(topic), v2.schemaIdFor(topic));
    const fromV1 = v1.serialize(topic, CLICK)!;
    const fromV2 = v2.serialize(topic, { ...CLICK, dwellMs: 5300 })!;
    const oldReader = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    });
    const newReader = new AvroSerde(clickV2, { registry: new ConfluentSchemaRegistry({ url }) });
    await oldReader.resolve(topic, [fromV1, fromV2]);
    await newReader.resolve(topic, [fromV1, fromV2]);
    assert.deepEqual(plain(oldReader.deserialize(topic, fromV2)), CLICK);
    assert.deepEqual(plain(newReader.deserialize(topic, fromV1)), { ...CLICK, dwellMs: null });
    assert.deepEqual(plain(newReader.deserialize(topic, fromV2)), { ...CLICK, dwellMs: 5300 });
  });

  it('refuses a backward-incompatible schema with CTR_SERDE_SCHEMA', async () => {
    const topic = topicName('clicks');
    await new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    }).prepare(topic, false);
    const broken = new AvroSerde(clickBroken, { registry: new ConfluentSchemaRegistry({ url }) });
    await assert.rejects(
      broken.prepare(topic, false),
      (e: unknown) =>
        e instanceof SerdeError && e.code === 'CTR_SERDE_SCHEMA' && e.message.includes(`${topic}-value`),
    );
  });

  it('joins a subject another producer registered first, and refuses it only when a level was demanded', async () => {
    const topic = topicName('clicks');
    // another team's producer registered the subject without setting a compatibility level
    const response = await fetch(`${url}/subjects/${topic}-value/versions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(clickSchema) }),
    });
    const { id } = (await response.json()) as { id: number };
    const joining = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    });
    await joining.prepare(topic, false);
    assert.equal(joining.schemaIdFor(topic), id);
    const demanding = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url, compatibility: 'FULL' }),
    });
    await assert.rejects(
      demanding.prepare(topic, false),
      (e: unknown) =>
        e instanceof SerdeError && e.code === 'CTR_SERDE_SCHEMA' && /Compatibility/i.test(e.message),
    );
  });

  it('reports an id the registry does not know as CTR_SERDE_UNKNOWN_SCHEMA', async () => {
    const topic = topicName('clicks');
    const serde = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url }),
    });
    await serde.prepare(topic, false);
    const bytes = Buffer.from(serde.serialize(topic, CLICK)!);
    bytes.writeInt32BE(2_000_000_001, 1);
    await serde.resolve(topic, [bytes]);
    assert.throws(
      () => serde.deserialize(topic, bytes),
      (e: unknown) =>
        e instanceof SerdeError && e.code === 'CTR_SERDE_UNKNOWN_SCHEMA' && /2000000001/.test(e.message),
    );
  });

  it('says CTR_SERDE_REGISTRY (retriable) when the registry cannot be reached', async () => {
    const serde = new AvroSerde(clickSchema as AvroSchemaJson, {
      registry: new ConfluentSchemaRegistry({ url: 'http://127.0.0.1:9/apis/ccompat/v7' }),
    });
    await assert.rejects(
      serde.prepare('clicks', false),
      (e: unknown) => e instanceof SerdeError && e.code === 'CTR_SERDE_REGISTRY' && e.retriable,
    );
  });
});
