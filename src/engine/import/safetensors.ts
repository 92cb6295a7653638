/**
 * `.safetensors` files (huggingface/safetensors docs, "Format"): an 8-byte little-endian header length N, N
 * bytes of JSON {key: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {…}}, then the tensor bytes,
 * offsets relative to the end of the header. Every size and offset is checked against the file before use.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { type CheckpointDType, ImportError } from './checkpoint';
import { ELEMENT_BYTES, PositionedTensorReader, type TensorLocation, elementCount, readExactly } from './tensor-file';

const DTYPES: Readonly<Record<string, CheckpointDType>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64' };
/** The format's own limit on the header (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The tensor index of a safetensors header; `dataBytes` is the file size after the header. */
export function parseSafetensorsHeader(json: string, dataBytes: number, headerEnd: number, file: string): Map<string, TensorLocation> {
  const bad = (why: string, key?: string) => new ImportError('bad-safetensors', `${file}: is not a valid safetensors file (${why})`, file, key);
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch (e) {
    throw bad(`its header is not JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('its header is not a JSON object');
  const index = new Map<string, TensorLocation>();
  for (const [key, raw] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') continue;
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t === null || typeof t !== 'object') throw bad(`entry '${key}' is not an object`, key);
    const dtype = typeof t.dtype === 'string' ? DTYPES[t.dtype] : undefined;
    if (!dtype) {
      throw new ImportError('unsupported-dtype', `${file}: key '${key}' holds ${String(t.dtype)} values; only F32, F16, BF16 and I64 tensors are read`, file, key);
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegativeInt)) throw bad(`entry '${key}' has no valid shape`, key);
    const offsets = t.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) throw bad(`entry '${key}' has no valid data_offsets`, key);
    const [begin, end] = offsets as number[];
    const shape = t.shape as number[];
    const bytes = elementCount(shape) * ELEMENT_BYTES[dtype];
    if (end < begin || end - begin !== bytes) {
      throw bad(`entry '${key}': data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape ${JSON.stringify(shape)} of ${dtype} needs ${bytes}`, key);
    }
    if (end > dataBytes) {
      throw new ImportError('truncated', `${file}: is truncated: key '${key}' ends at byte ${headerEnd + end}, past the end of the file (${headerEnd + dataBytes} bytes); download it again`, file, key);
    }
    index.set(key, { key, dtype, shape, position: headerEnd + begin });
  }
  if (index.size === 0) throw bad('it holds no tensors');
  return index;
}

export async function openSafetensors(path: string): Promise<PositionedTensorReader> {
  const file = basename(path);
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size < 8) throw new ImportError('truncated', `${file}: is truncated (${size} bytes, shorter than a safetensors header)`, file);
    const head = new Uint8Array(8);
    await readExactly(fh, head, 0, file);
    const n = new DataView(head.buffer).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES)) {
      throw new ImportError('bad-safetensors', `${file}: is not a valid safetensors file (a ${n}-byte header, over the format's 100 MB limit)`, file);
    }
    const headerBytes = Number(n);
    if (8 + headerBytes > size) {
      throw new ImportError('truncated', `${file}: is truncated: its ${headerBytes}-byte header runs past the end of the file (${size} bytes)`, file);
    }
    const json = new Uint8Array(headerBytes);
    await readExactly(fh, json, 8, file);
    const index = parseSafetensorsHeader(new TextDecoder().decode(json), size - 8 - headerBytes, 8 + headerBytes, file);
    return new PositionedTensorReader(file, 'safetensors', fh, index);
  } catch (e) {
    await fh.close();
    throw e;
  }
}
