import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bufferToFloat32,
  bytesSerde,
  float32ToBuffer,
  float32VectorSerde,
  jsonSerde,
  nonNullSerde,
  SerdeError,
  stringSerde,
} from '../../../../src/streams/serde/index.ts';

describe('string serde', () => {
  it('round-trips UTF-8 and keeps null a tombstone', () => {
    const bytes = stringSerde.serialize('t', 'čćž-€')!;
    assert.deepEqual(bytes, Buffer.from('čćž-€', 'utf8'));
    assert.equal(stringSerde.deserialize('t', bytes), 'čćž-€');
    assert.equal(stringSerde.serialize('t', null), null);
    assert.equal(stringSerde.deserialize('t', null), null);
  });
});

describe('bytes serde', () => {
  it('passes buffers through untouched', () => {
    const b = Buffer.from([0, 255, 7]);
    assert.equal(bytesSerde.serialize('t', b), b);
    assert.equal(bytesSerde.deserialize('t', b), b);
  });
});

describe('json serde', () => {
  it('round-trips plain values', () => {
    const serde = jsonSerde<{ a: number; b: string[] }>();
    const value = { a: 1, b: ['x'] };
    assert.deepEqual(serde.deserialize('t', serde.serialize('t', value)), value);
  });

  it('throws CTR_SERDE_DESERIALIZE naming the topic on bad JSON', () => {
    assert.throws(
      () => jsonSerde().deserialize('events', Buffer.from('{nope')),
      (e: unknown) =>
        e instanceof SerdeError && e.code === 'CTR_SERDE_DESERIALIZE' && /events/.test(e.message),
    );
  });

  it('rejects well-formed JSON of the wrong shape through validate', () => {
    const serde = jsonSerde<number>({
      name: 'json(count)',
      validate: (v) => {
        if (typeof v !== 'number') throw new TypeError(`expected a number, got ${typeof v}`);
        return v;
      },
    });
    assert.equal(serde.deserialize('t', Buffer.from('3')), 3);
    assert.throws(
      () => serde.deserialize('t', Buffer.from('"3"')),
      (e: unknown) => e instanceof SerdeError && /json\(count\).*expected a number/.test(e.message),
    );
  });

  it('throws CTR_SERDE_SERIALIZE for values with no JSON form', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(
      () => jsonSerde().serialize('t', cyclic),
      (e: unknown) => e instanceof SerdeError && e.code === 'CTR_SERDE_SERIALIZE',
    );
    assert.throws(
      () => jsonSerde().serialize('t', undefined),
      (e: unknown) => e instanceof SerdeError && e.code === 'CTR_SERDE_SERIALIZE',
    );
  });
});

describe('float32 vector serde', () => {
  it('writes little-endian IEEE-754 float32, 4 bytes per component', () => {
    const bytes = float32VectorSerde().serialize('t', new Float32Array([1, -2.5]))!;
    assert.equal(bytes.toString('hex'), '0000803f000020c0');
  });

  it('round-trips exactly, including NaN and subnormals', () => {
    const v = new Float32Array([0.1, NaN, 1e-40, -Infinity, 3.4e38]);
    const back = float32VectorSerde(5).deserialize('t', float32VectorSerde(5).serialize('t', v))!;
    assert.deepEqual(float32ToBuffer(back), float32ToBuffer(v));
  });

  it('rejects a length that is not a multiple of 4, and a wrong dimension', () => {
    assert.throws(
      () => bufferToFloat32(Buffer.alloc(6)),
      (e: unknown) => e instanceof SerdeError && /6 bytes/.test(e.message),
    );
    assert.throws(
      () => float32VectorSerde(3).deserialize('emb', Buffer.alloc(8)),
      (e: unknown) =>
        e instanceof SerdeError && e.code === 'CTR_SERDE_DESERIALIZE' && /2 components/.test(e.message),
    );
    assert.throws(
      () => float32VectorSerde(3).serialize('emb', new Float32Array(2)),
      (e: unknown) => e instanceof SerdeError && e.code === 'CTR_SERDE_SERIALIZE',
    );
  });
});

describe('nonNullSerde', () => {
  it('refuses a null key or value with CTR_SERDE_DESERIALIZE and passes others to the inner serde', () => {
    const keys = nonNullSerde(stringSerde, 'key');
    assert.equal(keys.deserialize('t', Buffer.from('k')), 'k');
    assert.throws(
      () => keys.deserialize('clicks', null),
      (e: unknown) =>
        e instanceof SerdeError && e.code === 'CTR_SERDE_DESERIALIZE' && /null key on clicks/.test(e.message),
    );
    assert.throws(
      () => nonNullSerde(stringSerde).serialize('t', null),
      (e: unknown) => e instanceof SerdeError && e.code === 'CTR_SERDE_SERIALIZE',
    );
    assert.equal(nonNullSerde(stringSerde).name, 'non-null(string)');
  });
});
