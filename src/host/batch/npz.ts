// The .npz the guided-diffusion evaluator reads (np.load(path)['arr_0']): a zip with one stored member arr_0.npy,
// uint8 (N, H, W, 3), streamed image by image so 50,000 images never sit in memory. yazl writes the zip
// (ZIP64 always on, so a 9.8 GB file and a small one have the same layout); the file appears by temp + rename.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ZipFile } from 'yazl';

/** A fixed zip time, so the same images give the same bytes. */
const ZIP_TIME = new Date(Date.UTC(2000, 0, 1));

/** NPY format 1.0 header for a C-order uint8 array, padded with spaces so the data starts on a 64-byte boundary. */
export function npyHeader(shape: number[]): Uint8Array {
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const fixed = 10; // magic (6) + version (2) + header length (2)
  const padded = Math.ceil((fixed + dict.length + 1) / 64) * 64;
  const text = dict + ' '.repeat(padded - fixed - dict.length - 1) + '\n';
  if (padded - fixed > 0xffff) throw new Error('npy header too long for format 1.0');
  const out = new Uint8Array(padded);
  out.set([0x93, ...Buffer.from('NUMPY', 'latin1'), 1, 0, (padded - fixed) & 0xff, (padded - fixed) >> 8]);
  out.set(Buffer.from(text, 'latin1'), fixed);
  return out;
}

/**
 * Writes `path` with `count` images of height×width RGB, each produced in order by `image(i)` (exactly
 * height·width·3 bytes); a wrong size fails the write and leaves no file.
 */
export async function writeNpz(
  path: string, count: number, height: number, width: number, image: (i: number) => Promise<Uint8Array>,
  onImage?: (i: number) => void,
): Promise<void> {
  const header = npyHeader([count, height, width, 3]);
  const perImage = height * width * 3;
  async function* body(): AsyncGenerator<Uint8Array> {
    yield header;
    for (let i = 0; i < count; i++) {
      const px = await image(i);
      if (px.length !== perImage) throw new Error(`image ${i} has ${px.length} bytes, expected ${perImage} (${width}×${height}×3)`);
      yield px;
      onImage?.(i);
    }
  }
  const zip = new ZipFile();
  const source = Readable.from(body(), { objectMode: false });
  zip.addReadStream(source, 'arr_0.npy', { compress: false, mtime: ZIP_TIME, mode: 0o100644, size: header.length + count * perImage, forceZip64Format: true });
  zip.end({ forceZip64Format: true, comment: '' });
  const tmp = `${path}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  try {
    const failed = new Promise<never>((_, reject) => { source.on('error', reject); });
    await Promise.race([finished(zip.outputStream.pipe(out)), failed]);
    await rename(tmp, path);
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
}
