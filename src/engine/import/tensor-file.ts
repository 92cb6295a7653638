/**
 * Tensors stored as raw little-endian bytes at known offsets of one file (both PyTorch zip storages and
 * safetensors are laid out that way): read one tensor at a time by positional reads, widening half floats.
 */
import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { type CheckpointDType, type CheckpointReader, type CheckpointTensorInfo, ImportError } from './checkpoint';

export const ELEMENT_BYTES: Readonly<Record<CheckpointDType, number>> = { float32: 4, float16: 2, bfloat16: 2, int64: 8 };

/** Node's largest single read; bigger tensors are read in pieces. */
const MAX_READ = 1 << 30;

/** float32 bit pattern of every float16 bit pattern (sign, 5-bit exponent, 10-bit mantissa). */
function float16ToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let man = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (man << 13)) >>> 0; // inf / NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (man << 13)) >>> 0; // rebias 15 → 127
  if (man === 0) return sign >>> 0; // ±0
  // Subnormal: value man·2⁻²⁴; normalise so the leading 1 becomes the implicit bit.
  let e = 113; // 127 − 14
  while ((man & 0x400) === 0) {
    man <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((man & 0x3ff) << 13)) >>> 0;
}

let float16Table: Uint32Array | undefined;

function float16TableBits(): Uint32Array {
  if (!float16Table) {
    float16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) float16Table[h] = float16ToFloat32Bits(h);
  }
  return float16Table;
}

/** float16 → float32, exact for every pattern (subnormals, ±inf, NaN payloads kept). */
export function widenFloat16(src: Uint16Array): Float32Array {
  const table = float16TableBits();
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
  return out;
}

/** bfloat16 → float32: bfloat16 is the top half of a float32, so this is exact. */
export function widenBFloat16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Fill `dst` from the file at `position`; a short file is reported as truncated. */
export async function readExactly(fh: FileHandle, dst: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    const want = Math.min(dst.length - done, MAX_READ);
    const { bytesRead } = await fh.read(dst, done, want, position + done);
    if (bytesRead === 0) {
      throw new ImportError('truncated', `${file}: is truncated: ${dst.length - done} bytes missing at offset ${position + done}; download it again`, file);
    }
    done += bytesRead;
  }
}

/** Where one tensor's bytes lie in the file. */
export interface TensorLocation extends CheckpointTensorInfo {
  /** Absolute byte offset of the first element. */
  position: number;
}

/** A `CheckpointReader` over tensors at known file offsets; holds only the open handle and the index. */
export class PositionedTensorReader implements CheckpointReader {
  private closed = false;

  constructor(
    readonly file: string,
    readonly format: 'pth' | 'safetensors',
    private readonly fh: FileHandle,
    private readonly index: Map<string, TensorLocation>,
  ) {
    // Storages are little-endian; every platform the studio ships on is too.
    if (endianness() !== 'LE') throw new ImportError('platform', 'checkpoint reading needs a little-endian machine');
  }

  keys(): string[] {
    return [...this.index.keys()];
  }

  info(key: string): CheckpointTensorInfo {
    const t = this.location(key);
    return { key: t.key, dtype: t.dtype, shape: [...t.shape] };
  }

  private location(key: string): TensorLocation {
    const t = this.index.get(key);
    if (!t) throw new ImportError('missing-key', `${this.file}: missing key '${key}'`, this.file, key);
    return t;
  }

  private async bytes(t: TensorLocation): Promise<ArrayBuffer> {
    if (this.closed) throw new ImportError('closed', `${this.file}: the checkpoint was already closed`, this.file, t.key);
    const buf = new ArrayBuffer(elementCount(t.shape) * ELEMENT_BYTES[t.dtype]);
    await readExactly(this.fh, new Uint8Array(buf), t.position, this.file);
    return buf;
  }

  async readFloat32(key: string): Promise<Float32Array> {
    const t = this.location(key);
    switch (t.dtype) {
      case 'float32': return new Float32Array(await this.bytes(t));
      case 'float16': return widenFloat16(new Uint16Array(await this.bytes(t)));
      case 'bfloat16': return widenBFloat16(new Uint16Array(await this.bytes(t)));
      default:
        throw new ImportError('dtype', `${this.file}: key '${key}' holds ${t.dtype} values, not floating point`, this.file, key);
    }
  }

  async readInt64(key: string): Promise<BigInt64Array> {
    const t = this.location(key);
    if (t.dtype !== 'int64') {
      throw new ImportError('dtype', `${this.file}: key '${key}' holds ${t.dtype} values, not int64`, this.file, key);
    }
    return new BigInt64Array(await this.bytes(t));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
