/**
 * The binary format of model weights and training checkpoints: named float32
 * tensors in one file, so a model loads with one read and no per-weight files.
 *
 * Layout (little-endian):
 *   bytes 0..3   magic "CTRW"
 *   bytes 4..7   format version (u32, currently 1)
 *   bytes 8..11  header length H (u32)
 *   bytes 12..   H bytes of UTF-8 JSON: { tensors: [{ name, shape, offset }], meta }
 *   then zero padding to a multiple of 4, then the float32 data; `offset`
 *   counts floats from the start of the data.
 */
import { ModelFormatError } from './errors.ts';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, NamedTensor>;

const MAGIC = 0x57525443; // "CTRW" read as a little-endian u32
const FORMAT_VERSION = 1;

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Encodes tensors (and a JSON-able `meta`) into one buffer. */
export function encodeTensors(tensors: TensorMap, meta: unknown = {}): Buffer {
  const entries: { name: string; shape: number[]; offset: number }[] = [];
  let floats = 0;
  for (const [name, t] of tensors) {
    if (t.data.length !== sizeOf(t.shape)) {
      throw new ModelFormatError(
        `tensor "${name}" has ${t.data.length} values but shape [${t.shape.join(', ')}]`,
      );
    }
    entries.push({ name, shape: t.shape, offset: floats });
    floats += t.data.length;
  }
  const header = Buffer.from(JSON.stringify({ tensors: entries, meta }), 'utf8');
  const dataStart = Math.ceil((12 + header.length) / 4) * 4;
  const out = Buffer.alloc(dataStart + floats * 4);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(FORMAT_VERSION, 4);
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 12);
  const view = new Float32Array(out.buffer, out.byteOffset + dataStart, floats);
  for (const [i, [, t]] of [...tensors].entries())
    view.set(t.data, (entries[i] as { offset: number }).offset);
  return out;
}

/** Decodes a buffer written by encodeTensors. `what` names the file in errors. Tensors are copies. */
export function decodeTensors(buf: Uint8Array, what: string): { tensors: TensorMap; meta: unknown } {
  if (buf.length < 12)
    throw new ModelFormatError(`${what}: ${buf.length} bytes is too short for a tensor file`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== MAGIC)
    throw new ModelFormatError(`${what}: not a ctr-streams tensor file (bad magic)`);
  const version = dv.getUint32(4, true);
  if (version !== FORMAT_VERSION)
    throw new ModelFormatError(
      `${what}: tensor file format ${version} is not supported (expected ${FORMAT_VERSION})`,
    );
  const hlen = dv.getUint32(8, true);
  let header: { tensors: { name: string; shape: number[]; offset: number }[]; meta: unknown };
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 12, hlen).toString('utf8'));
  } catch (cause) {
    throw new ModelFormatError(`${what}: unreadable header`, { cause });
  }
  const dataStart = Math.ceil((12 + hlen) / 4) * 4;
  const floats = (buf.length - dataStart) / 4;
  // copy once into an aligned buffer: the data may sit at any byte offset of a file buffer
  const all = new Float32Array(floats);
  new Uint8Array(all.buffer).set(buf.subarray(dataStart, dataStart + floats * 4));
  const tensors: TensorMap = new Map();
  for (const e of header.tensors) {
    const n = sizeOf(e.shape);
    if (e.offset + n > floats)
      throw new ModelFormatError(`${what}: tensor "${e.name}" runs past the end of the file`);
    tensors.set(e.name, { shape: e.shape, data: all.slice(e.offset, e.offset + n) });
  }
  return { tensors, meta: header.meta };
}
