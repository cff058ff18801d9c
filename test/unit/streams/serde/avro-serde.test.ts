import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AvroSerde,
  LocalSchemaRegistry,
  SerdeError,
  encodeFrame,
  localSchemaId,
  loadAvroSchemaFile,
  type AvroSchemaJson,
  type SchemaRegistry,
} from '../../../../src/streams/serde/index.ts';

const impressionRecord = loadAvroSchemaFile(
  new URL('../../../../schemas/impression.avsc', import.meta.url),
) as unknown as { fields: unknown[] } & Record<string, unknown>;
const impressionV1 = impressionRecord as AvroSchemaJson;
/** v2 adds a defaulted field, as a producer upgraded first would. */
const impressionV2 = {
  ...impressionRecord,
  fields: [
    ...impressionRecord.fields,
    { name: 'experiment', type: 'string', default: 'control', doc: 'A/B test arm.' },
  ],
} as AvroSchemaJson;

const IMPRESSION = {
  impressionId: 'imp-1',
  context: { contextId: 'pub-3/below', publisher: 'pub-3', placement: 'below' },
  userSegment: 'seg-2',
  device: 'mobile',
  country: 'SI',
  pageDepth: 4,
  items: [
    { itemId: 'item-9', position: 0 },
    { itemId: 'item-4', position: 1 },
  ],
  timestamp: 1767225600000,
};

const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

const isSerde = (code: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof SerdeError && e.code === code && (!pattern || pattern.test(e.message));

describe('AvroSerde', () => {
  it('round-trips an impression through the local registry', () => {
    const serde = new AvroSerde(impressionV1, { registry: new LocalSchemaRegistry() });
    assert.deepEqual(
      plain(serde.deserialize('impressions', serde.serialize('impressions', IMPRESSION))),
      IMPRESSION,
    );
  });

  it('reads v1 records with a v2 reader: the new field takes its default', async () => {
    const registry = new LocalSchemaRegistry();
    const writer = new AvroSerde(impressionV1, { registry });
    const reader = new AvroSerde<typeof IMPRESSION & { experiment: string }>(impressionV2, { registry });
    const bytes = writer.serialize('impressions', IMPRESSION)!;
    await reader.resolve('impressions', [bytes]);
    assert.deepEqual(plain(reader.deserialize('impressions', bytes)), {
      ...IMPRESSION,
      experiment: 'control',
    });
  });

  it('reads v2 records with a v1 reader: the unknown field is skipped', async () => {
    const registry = new LocalSchemaRegistry();
    const writer = new AvroSerde(impressionV2, { registry });
    const reader = new AvroSerde(impressionV1, { registry });
    const bytes = writer.serialize('impressions', { ...IMPRESSION, experiment: 'arm-b' })!;
    await reader.resolve('impressions', [bytes]);
    assert.deepEqual(plain(reader.deserialize('impressions', bytes)), IMPRESSION);
  });

  it('resolves writer schemas only once per id', async () => {
    let lookups = 0;
    const local = new LocalSchemaRegistry();
    const counting: SchemaRegistry = {
      name: 'counting',
      register: (s, schema) => local.register(s, schema),
      schemaById: (id) => {
        lookups++;
        return local.schemaById(id);
      },
    };
    const v2 = new AvroSerde(impressionV2, { registry: local });
    const reader = new AvroSerde(impressionV1, { registry: counting });
    const batch = [1, 2, 3].map((i) =>
      v2.serialize('impressions', { ...IMPRESSION, impressionId: `imp-${i}`, experiment: 'x' }),
    );
    await reader.resolve('impressions', batch);
    await reader.resolve('impressions', batch);
    assert.equal(lookups, 1);
    assert.deepEqual(
      batch.map((b) => (reader.deserialize('impressions', b) as { impressionId: string }).impressionId),
      ['imp-1', 'imp-2', 'imp-3'],
    );
  });

  it('throws CTR_SERDE_UNKNOWN_SCHEMA for an id the registry does not know', async () => {
    const serde = new AvroSerde(impressionV1, { registry: new LocalSchemaRegistry() });
    const good = serde.serialize('impressions', IMPRESSION)!;
    const bad = Buffer.from(good);
    bad.writeInt32BE(123456, 1);
    await serde.resolve('impressions', [bad]);
    assert.throws(
      () => serde.deserialize('impressions', bad),
      isSerde('CTR_SERDE_UNKNOWN_SCHEMA', /schema id 123456 is not known to local/),
    );
  });

  it('throws CTR_SERDE_DESERIALIZE for truncated Avro and for trailing garbage', () => {
    const serde = new AvroSerde(impressionV1, { registry: new LocalSchemaRegistry() });
    const good = serde.serialize('impressions', IMPRESSION)!;
    assert.throws(
      () => serde.deserialize('impressions', good.subarray(0, good.length - 3)),
      isSerde('CTR_SERDE_DESERIALIZE', /impressions/),
    );
    assert.throws(
      () => serde.deserialize('impressions', Buffer.concat([good, Buffer.from([1, 2, 3])])),
      isSerde('CTR_SERDE_DESERIALIZE'),
    );
  });

  it('throws CTR_SERDE_WIRE_FORMAT for a wrong magic byte and for JSON', () => {
    const serde = new AvroSerde(impressionV1, { registry: new LocalSchemaRegistry() });
    const good = serde.serialize('impressions', IMPRESSION)!;
    const wrongMagic = Buffer.from(good);
    wrongMagic[0] = 1;
    assert.throws(
      () => serde.deserialize('impressions', wrongMagic),
      isSerde('CTR_SERDE_WIRE_FORMAT', /magic byte is 1/),
    );
    assert.throws(
      () => serde.deserialize('impressions', Buffer.from(JSON.stringify(IMPRESSION))),
      isSerde('CTR_SERDE_WIRE_FORMAT'),
    );
  });

  it('throws CTR_SERDE_INCOMPATIBLE_SCHEMA for a record written with another record type', async () => {
    const registry = new LocalSchemaRegistry();
    const clicks = new AvroSerde(
      loadAvroSchemaFile(new URL('../../../../schemas/click.avsc', import.meta.url)),
      { registry },
    );
    const impressions = new AvroSerde(impressionV1, { registry });
    const click = clicks.serialize('impressions', { impressionId: 'i', itemId: 'x', timestamp: 1 })!;
    await impressions.resolve('impressions', [click]);
    assert.throws(
      () => impressions.deserialize('impressions', click),
      isSerde('CTR_SERDE_INCOMPATIBLE_SCHEMA', /cannot be read as dev\.ctrstreams\.events\.Impression/),
    );
  });

  it('throws CTR_SERDE_SERIALIZE naming the bad fields for values of the wrong types', () => {
    const serde = new AvroSerde(impressionV1, { registry: new LocalSchemaRegistry() });
    assert.throws(
      () =>
        serde.serialize('impressions', {
          ...IMPRESSION,
          device: 7,
          items: [{ itemId: 'a', position: 'top' }],
        } as never),
      isSerde('CTR_SERDE_SERIALIZE', /device: number 7 is not string.*items\.0\.position/),
    );
  });

  it('encodes values larger than its scratch buffer, and small ones after them, exactly', () => {
    const serde = new AvroSerde(impressionV1, { registry: new LocalSchemaRegistry() });
    const big = { ...IMPRESSION, userSegment: 'x'.repeat(3 * 1024 * 1024) };
    const bytes = serde.serialize('impressions', big)!;
    assert.ok(bytes.length > 3 * 1024 * 1024);
    assert.deepEqual(plain(serde.deserialize('impressions', bytes)), big);
    assert.deepEqual(
      plain(serde.deserialize('impressions', serde.serialize('impressions', IMPRESSION))),
      IMPRESSION,
    );
    const a = serde.serialize('impressions', IMPRESSION)!;
    const b = serde.serialize('impressions', { ...IMPRESSION, impressionId: 'other' })!;
    assert.notDeepEqual(a, b, 'each call returns its own buffer, not a view on the scratch');
    assert.deepEqual(plain(serde.deserialize('impressions', a)), IMPRESSION);
  });

  it('keeps null a tombstone both ways', () => {
    const serde = new AvroSerde(impressionV1, { registry: new LocalSchemaRegistry() });
    assert.equal(serde.serialize('impressions', null), null);
    assert.equal(serde.deserialize('impressions', null), null);
  });

  it('refuses to serialize before prepare when the registry needs I/O', async () => {
    const local = new LocalSchemaRegistry();
    const remote: SchemaRegistry = {
      name: 'remote',
      register: (s, schema) => local.register(s, schema),
      schemaById: (id) => local.schemaById(id),
    };
    const serde = new AvroSerde(impressionV1, { registry: remote });
    assert.throws(
      () => serde.serialize('impressions', IMPRESSION),
      isSerde('CTR_SERDE_NOT_PREPARED', /prepare\("impressions"\)/),
    );
    await serde.prepare('impressions', false);
    assert.equal(serde.serialize('impressions', IMPRESSION)!.readInt32BE(1), localSchemaId(impressionV1));
  });

  it('registers under the TopicNameStrategy subject', async () => {
    const subjects: string[] = [];
    const local = new LocalSchemaRegistry();
    const spy: SchemaRegistry = {
      name: 'spy',
      register: (s, schema) => (subjects.push(s), local.register(s, schema)),
      schemaById: (id) => local.schemaById(id),
    };
    await new AvroSerde(impressionV1, { registry: spy }).prepare('impressions', false);
    await new AvroSerde({ type: 'string' }, { registry: spy, isKey: true }).prepare('impressions', true);
    assert.deepEqual(subjects, ['impressions-value', 'impressions-key']);
  });
});

describe('LocalSchemaRegistry', () => {
  it('derives the same id from the same schema in any registry, and ignores docs', () => {
    const a = new LocalSchemaRegistry().registerSync('x-value', impressionV1);
    const b = new LocalSchemaRegistry().registerSync(
      'y-value',
      JSON.parse(JSON.stringify(impressionV1).replaceAll('"doc":', '"_doc":')) as AvroSchemaJson,
    );
    assert.equal(a, b);
    assert.ok(a >= 0 && a < 2 ** 31);
    assert.notEqual(a, localSchemaId(impressionV2));
  });

  it('resolves only schemas it was given (register or preload)', async () => {
    const registry = new LocalSchemaRegistry();
    assert.equal(await registry.schemaById(localSchemaId(impressionV2)), undefined);
    registry.preload([impressionV2]);
    assert.ok(await registry.schemaById(localSchemaId(impressionV2)));
  });

  it('a frame from the local registry carries the content id', () => {
    const bytes = new AvroSerde({ type: 'long' }, { registry: new LocalSchemaRegistry() }).serialize('n', 5)!;
    assert.deepEqual(bytes, encodeFrame(localSchemaId({ type: 'long' }), Buffer.from([10])));
  });
});
