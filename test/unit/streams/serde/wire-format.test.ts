import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AvroSerde,
  LocalSchemaRegistry,
  decodeFrame,
  encodeFrame,
  loadAvroSchemaFile,
  peekSchemaId,
  SerdeError,
  type SchemaRegistry,
  type AvroSchemaJson,
} from '../../../../src/streams/serde/index.ts';

const clickSchema = loadAvroSchemaFile(new URL('../../../../schemas/click.avsc', import.meta.url));

/** A registry that hands out fixed ids, so the vector's id is known. */
class FixedIdRegistry implements SchemaRegistry {
  readonly name = 'fixed';
  constructor(
    private readonly id: number,
    private readonly schema: AvroSchemaJson,
  ) {}
  register(): Promise<number> {
    return Promise.resolve(this.id);
  }
  schemaById(id: number): Promise<AvroSchemaJson | undefined> {
    return Promise.resolve(id === this.id ? this.schema : undefined);
  }
}

// Computed independently of avsc (zig-zag varints by hand):
//   00                   magic byte
//   00 00 00 2a          schema id 42, int32 big-endian
//   10 "imp-0001"        string: length 8 -> zig-zag 16 = 0x10, then UTF-8
//   0e "item-42"         length 7 -> 0x0e
//   f6 a1 d5 ed ee 66    long 1767225600123 -> zig-zag 3534451200246 as a varint
const VECTOR =
  '000000002a' +
  '10' +
  Buffer.from('imp-0001').toString('hex') +
  '0e' +
  Buffer.from('item-42').toString('hex') +
  'f6a1d5edee66';
const CLICK = { impressionId: 'imp-0001', itemId: 'item-42', timestamp: 1767225600123 };

describe('Confluent wire format', () => {
  it('encodes a known click with schema id 42 to exactly the expected bytes', async () => {
    const serde = new AvroSerde<typeof CLICK>(clickSchema, {
      registry: new FixedIdRegistry(42, clickSchema),
    });
    await serde.prepare('clicks', false);
    assert.equal(serde.serialize('clicks', CLICK)!.toString('hex'), VECTOR);
  });

  it('decodes the expected bytes back to the same click', async () => {
    const serde = new AvroSerde<typeof CLICK>(clickSchema, {
      registry: new FixedIdRegistry(42, clickSchema),
    });
    await serde.resolve('clicks', [Buffer.from(VECTOR, 'hex')]);
    assert.deepEqual({ ...serde.deserialize('clicks', Buffer.from(VECTOR, 'hex')) }, CLICK);
  });

  it('frames and unframes with the id big-endian after a zero magic byte', () => {
    const frame = encodeFrame(0x01020304, Buffer.from([0xaa, 0xbb]));
    assert.deepEqual([...frame], [0, 1, 2, 3, 4, 0xaa, 0xbb]);
    const { schemaId, payload } = decodeFrame(frame);
    assert.equal(schemaId, 0x01020304);
    assert.deepEqual([...payload], [0xaa, 0xbb]);
    assert.equal(peekSchemaId(frame), 0x01020304);
  });

  it('refuses a wrong magic byte and a frame shorter than 5 bytes with CTR_SERDE_WIRE_FORMAT', () => {
    assert.throws(
      () => decodeFrame(Buffer.from([1, 0, 0, 0, 42, 0]), 'clicks[0]@7'),
      (e: unknown) =>
        e instanceof SerdeError &&
        e.code === 'CTR_SERDE_WIRE_FORMAT' &&
        /clicks\[0\]@7: magic byte is 1/.test(e.message),
    );
    assert.throws(
      () => decodeFrame(Buffer.from([0, 0, 0])),
      (e: unknown) =>
        e instanceof SerdeError && e.code === 'CTR_SERDE_WIRE_FORMAT' && /3 bytes/.test(e.message),
    );
    assert.equal(peekSchemaId(Buffer.from('{"json":1}')), undefined);
  });

  it('refuses ids outside 0..2^31-1', () => {
    assert.throws(
      () => encodeFrame(-1, Buffer.alloc(0)),
      (e: unknown) => e instanceof SerdeError && e.code === 'CTR_SERDE_SERIALIZE',
    );
    assert.throws(() => encodeFrame(2 ** 31, Buffer.alloc(0)), SerdeError);
  });

  it('gives the same frame layout without a registry, with the content-derived id', () => {
    const registry = new LocalSchemaRegistry();
    const serde = new AvroSerde<typeof CLICK>(clickSchema, { registry });
    const bytes = serde.serialize('clicks', CLICK)!;
    const id = registry.registerSync('clicks-value', clickSchema);
    assert.equal(bytes[0], 0);
    assert.equal(bytes.readInt32BE(1), id);
    assert.equal(bytes.subarray(5).toString('hex'), VECTOR.slice(10));
  });
});
