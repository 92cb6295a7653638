/**
 * PyTorch `.pth` checkpoints in torch.save's zip format: `<top>/data.pkl` (a pickle naming storages) and each
 * storage's raw little-endian bytes in `<top>/data/<key>`, stored uncompressed. The central directory (ZIP64
 * included) is read with yauzl; tensor bytes are then read in place by positional reads, one tensor at a time.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { type Entry, RandomAccessReader, type ZipFile, fromRandomAccessReader } from 'yauzl';
import { ImportError } from './checkpoint';
import { type PickleDict, type PickleValue, PickledTensor, loadPickle } from './pickle';
import { ELEMENT_BYTES, PositionedTensorReader, type TensorLocation, elementCount, readExactly } from './tensor-file';

/** Which model of an official trainer checkpoint to read (FoundationVision/VAR trainer.py `state_dict`). */
export type CheckpointRole = 'var' | 'vae';
export const TRAINER_KEYS: Readonly<Record<CheckpointRole, string>> = { var: 'var_wo_ddp', vae: 'vae_local' };

/** data.pkl of the largest official checkpoint is well under 1 MB; anything far bigger is not a state dict. */
const MAX_PICKLE_BYTES = 256 << 20;

function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return v.constructor.name;
  return typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : typeof v === 'bigint' ? 'int' : typeof v === 'boolean' ? 'bool' : 'str';
}

/** The state dict of a pickle: a plain dict of key → tensor, or the trainer checkpoint's
 * {'trainer': {'var_wo_ddp' | 'vae_local': …}} when a role picks one of them. */
export function stateDictOf(root: PickleValue, file: string, role?: CheckpointRole): Map<string, PickledTensor> {
  let obj = root;
  const trainer = root instanceof Map ? root.get('trainer') : undefined;
  if (trainer instanceof Map) {
    const inner = role ? trainer.get(TRAINER_KEYS[role]) : undefined;
    if (!(inner instanceof Map)) {
      const has = [...trainer.keys()].map(String).sort().join(', ');
      const why = role
        ? `an official training checkpoint without 'trainer.${TRAINER_KEYS[role]}' (has ${has}); it holds no ${role.toUpperCase()} weights`
        : `an official training checkpoint (trainer.${TRAINER_KEYS.var} / trainer.${TRAINER_KEYS.vae}); open it as the VAR or the VQVAE`;
      throw new ImportError('not-state-dict', `${file}: ${why}`, file);
    }
    obj = inner;
  }
  if (!(obj instanceof Map)) {
    throw new ImportError('not-state-dict', `${file}: holds a ${describe(obj)}, not a state dict (a dict of key → tensor)`, file);
  }
  if (obj.size === 0) throw new ImportError('not-state-dict', `${file}: holds an empty dict, not a state dict`, file);
  const out = new Map<string, PickledTensor>();
  for (const [k, v] of (obj as PickleDict)) {
    if (typeof k !== 'string') {
      throw new ImportError('not-state-dict', `${file}: has a non-string key ${String(k)}; a state dict maps parameter names to tensors`, file);
    }
    if (!(v instanceof PickledTensor)) {
      throw new ImportError('not-state-dict', `${file}: key '${k}' holds a ${describe(v)}, not a tensor; this is not a state dict ` +
        '(if it is a training checkpoint, it is not one of the official trainer)', file, k);
    }
    out.set(k, v);
  }
  return out;
}

/** Row-major strides of a shape; size-1 dimensions may carry any stride (torch's own contiguity rule). */
export function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  if (shape.length !== stride.length) return false;
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** yauzl's reads go through the reader's own handle, which yauzl must not close (the tensors are read later). */
class HandleReader extends RandomAccessReader {
  constructor(private readonly fh: FileHandle) {
    super();
  }

  override _readStreamForRange(start: number, end: number): NodeJS.ReadableStream {
    return this.fh.createReadStream({ start, end: end - 1, autoClose: false });
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead?: number) => void): void {
    this.fh.read(buffer, offset, length, position).then((r) => callback(null, r.bytesRead), (e: Error) => callback(e));
  }
}

async function openZip(fh: FileHandle): Promise<ZipFile> {
  const { size } = await fh.stat();
  return new Promise((resolve, reject) => {
    fromRandomAccessReader(new HandleReader(fh), size, { lazyEntries: true, autoClose: false, decodeStrings: true,
      validateEntrySizes: true, strictFileNames: false }, (err, zip) => (err ? reject(err) : resolve(zip)));
  });
}

function listEntries(zip: ZipFile): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: Entry[] = [];
    zip.on('entry', (e: Entry) => {
      entries.push(e);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

function dataStart(zip: ZipFile, entry: Entry): Promise<number> {
  return new Promise((resolve, reject) => {
    zip.readLocalFileHeader(entry, { minimal: true }, (err, h) => (err ? reject(err) : resolve(h.fileDataStart)));
  });
}

/** yauzl's message for a zip whose end is missing or whose entries run past the end of the file. */
function isTruncation(e: Error): boolean {
  return /end of central directory record signature not found|overflows file bounds|unexpected EOF|offset .* is beyond|zip64 end of central directory/i.test(e.message);
}

function zipError(e: unknown, file: string): ImportError {
  if (e instanceof ImportError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  if (isTruncation(err)) {
    return new ImportError('truncated', `${file}: is truncated (the zip archive ends early: ${err.message}); download it again`, file);
  }
  return new ImportError('bad-zip', `${file}: is not a readable PyTorch checkpoint (zip: ${err.message})`, file);
}

/** Opens a torch.save zip checkpoint; `role` picks the model of an official trainer checkpoint. */
export async function openPth(path: string, role?: CheckpointRole): Promise<PositionedTensorReader> {
  const file = basename(path);
  const fh = await open(path, 'r');
  try {
    const index = await indexPth(fh, file, role);
    return new PositionedTensorReader(file, 'pth', fh, index);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

async function indexPth(fh: FileHandle, file: string, role?: CheckpointRole): Promise<Map<string, TensorLocation>> {
  let zip: ZipFile | undefined;
  try {
    zip = await openZip(fh);
    const entries = await listEntries(zip);
    const pickles = entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.fileName));
    if (pickles.length !== 1) {
      throw new ImportError('not-checkpoint', `${file}: is a zip archive but not a PyTorch checkpoint (${pickles.length ? 'several' : 'no'} '<name>/data.pkl')`, file);
    }
    const top = pickles[0].fileName.slice(0, -'data.pkl'.length);
    const byName = new Map(entries.map((e) => [e.fileName, e]));
    const stored = async (e: Entry): Promise<number> => {
      if (e.isEncrypted() || e.compressionMethod !== 0) {
        throw new ImportError('bad-zip', `${file}: entry '${e.fileName}' is ${e.isEncrypted() ? 'encrypted' : 'compressed'}; torch.save stores entries uncompressed`, file);
      }
      return dataStart(zip!, e);
    };

    const byteorder = byName.get(`${top}byteorder`);
    if (byteorder) {
      const buf = new Uint8Array(Math.min(byteorder.uncompressedSize, 16));
      await readExactly(fh, buf, await stored(byteorder), file);
      const order = new TextDecoder().decode(buf).trim();
      if (order !== 'little') {
        throw new ImportError('unsupported', `${file}: its storages are ${order}-endian; only little-endian checkpoints are read`, file);
      }
    }

    const pkl = pickles[0];
    if (pkl.uncompressedSize > MAX_PICKLE_BYTES) {
      throw new ImportError('not-state-dict', `${file}: its pickle is ${pkl.uncompressedSize} bytes, far more than a state dict needs`, file);
    }
    const pickleBytes = new Uint8Array(pkl.uncompressedSize);
    await readExactly(fh, pickleBytes, await stored(pkl), file);
    const stateDict = stateDictOf(loadPickle(pickleBytes, file), file, role);

    const storageStart = new Map<string, number>();
    const index = new Map<string, TensorLocation>();
    for (const [key, t] of stateDict) {
      const { storage } = t;
      const entry = byName.get(`${top}data/${storage.key}`);
      if (!entry) {
        throw new ImportError('truncated', `${file}: key '${key}': its storage '${top}data/${storage.key}' is missing from the archive`, file, key);
      }
      const size = ELEMENT_BYTES[storage.dtype];
      if (entry.uncompressedSize < storage.numel * size) {
        throw new ImportError('truncated', `${file}: key '${key}': storage ${storage.key} holds ${entry.uncompressedSize} bytes, ` +
          `fewer than its ${storage.numel} ${storage.dtype} elements need`, file, key);
      }
      if (!isRowMajor(t.shape, t.stride)) {
        throw new ImportError('layout', `${file}: key '${key}': shape ${JSON.stringify(t.shape)} with strides ${JSON.stringify(t.stride)} ` +
          'is not contiguous row-major; re-save the state dict with tensor.contiguous()', file, key);
      }
      const numel = elementCount(t.shape);
      if (t.offset < 0 || t.offset + numel > storage.numel) {
        throw new ImportError('bad-pickle', `${file}: key '${key}': elements ${t.offset}..${t.offset + numel} lie outside its storage of ${storage.numel}`, file, key);
      }
      let start = storageStart.get(storage.key);
      if (start === undefined) {
        start = await stored(entry);
        storageStart.set(storage.key, start);
      }
      index.set(key, { key, dtype: storage.dtype, shape: t.shape, position: start + t.offset * size });
    }
    return index;
  } catch (e) {
    throw zipError(e, file);
  } finally {
    zip?.close();
  }
}
