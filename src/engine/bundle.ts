/**
 * Loading a model bundle from disk (docs/model-bundle.md): manifest validation, then every listed file
 * checked for presence, size and sha256, then the codebook read. ONNX graph I/O is checked against the
 * contract once sessions exist (see graphs.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { BundleError } from './errors';
import { type Manifest, isPlainFileName, validateManifest } from './manifest';

export interface LoadedBundle {
  dir: string;
  manifest: Manifest;
  /** (V, Cvae) row-major float32, `quantize.embedding.weight`. */
  codebook: Float32Array;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function readManifest(dir: string): Promise<Manifest> {
  const abs = resolve(dir);
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw new BundleError('missing-bundle', `${abs}: no such folder (expected a model bundle folder with manifest.json)`, abs);
  }
  if (!st.isDirectory()) throw new BundleError('missing-bundle', `${abs}: expected a model bundle folder, found a file`, abs);
  const manifestPath = join(abs, 'manifest.json');
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    throw new BundleError('missing-file', `${abs}: manifest.json: expected the bundle manifest, found no such file`, abs, 'manifest.json');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BundleError('bad-json', `${abs}: manifest.json: expected valid JSON, found a parse error: ${(e as Error).message}`, abs, 'manifest.json');
  }
  return validateManifest(raw, abs);
}

/**
 * The real path of a file the manifest lists, refused unless it is a plain name whose real path (symlinks
 * followed) lies inside the bundle folder: a third-party bundle cannot reach any other file on disk.
 */
export async function bundleFilePath(dir: string, name: string, expected: string): Promise<string> {
  if (!isPlainFileName(name)) throw new BundleError('bad-file-name', `${dir}: ${JSON.stringify(name)}: expected a plain file name inside the bundle folder`, dir, name);
  let root: string;
  let real: string;
  try {
    root = await realpath(dir);
    real = await realpath(join(root, name));
  } catch {
    throw new BundleError('missing-file', `${dir}: ${name}: expected ${expected} (listed in manifest "files"), found no such file`, dir, name);
  }
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new BundleError('file-outside-bundle', `${dir}: ${name}: expected a file inside the bundle folder, found a link to ${real} (copy the file into the bundle instead)`, dir, name);
  }
  return real;
}

/**
 * Check every file of `manifest.files`: present, of the recorded size (a truncated download shows here)
 * and, unless `verifyHashes` is false, of the recorded sha256.
 */
export async function verifyFiles(dir: string, manifest: Manifest, verifyHashes = true): Promise<void> {
  for (const [name, entry] of Object.entries(manifest.files)) {
    const path = await bundleFilePath(dir, name, `a file of ${entry.bytes} bytes`);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new BundleError('missing-file', `${dir}: ${name}: expected a file of ${entry.bytes} bytes (listed in manifest "files"), found no such file`, dir, name);
    }
    if (size !== entry.bytes) {
      throw new BundleError('size-mismatch', `${dir}: ${name}: expected ${entry.bytes} bytes, found ${size} bytes${size < entry.bytes ? ' (truncated? re-copy the bundle)' : ''}`, dir, name);
    }
    if (verifyHashes) {
      const sha = await sha256File(path);
      if (sha !== entry.sha256) {
        throw new BundleError('sha256-mismatch', `${dir}: ${name}: expected sha256 ${entry.sha256}, found ${sha} (the file is corrupt or was changed)`, dir, name);
      }
    }
  }
}

export async function loadBundle(dir: string, opts: { verifyHashes?: boolean } = {}): Promise<LoadedBundle> {
  const abs = resolve(dir);
  const manifest = await readManifest(abs);
  await verifyFiles(abs, manifest, opts.verifyHashes ?? true);
  const bytes = await readFile(await bundleFilePath(abs, manifest.codebook.file, 'the codebook'));
  // Copy into an aligned buffer: a Buffer may sit at an offset that is not a multiple of 4.
  const codebook = new Float32Array(manifest.vocabSize * manifest.cvae);
  new Uint8Array(codebook.buffer).set(bytes);
  return { dir: abs, manifest, codebook };
}
