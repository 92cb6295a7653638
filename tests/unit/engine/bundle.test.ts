import { createHash } from 'node:crypto';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BundleError, VarEngine } from '../../../src/engine/index';
import { loadBundle, readManifest } from '../../../src/engine/bundle';
import { TINY_BUNDLE, copyTinyBundle, editManifest } from './helpers';

let cleanups: (() => void)[] = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});
function scratch(): string {
  const { dir, cleanup } = copyTinyBundle();
  cleanups.push(cleanup);
  return dir;
}

async function bundleError(p: Promise<unknown>): Promise<BundleError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BundleError);
    return e as BundleError;
  }
  throw new Error('expected a BundleError, but loading succeeded');
}

/** Recompute size and sha256 of a file in the manifest (to get past the file checks to a later one). */
function relist(dir: string, name: string): void {
  const bytes = readFileSync(join(dir, name));
  editManifest(dir, (m) => {
    m.files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  });
}

describe('bundle loading and validation (docs/model-bundle.md "Validation")', () => {
  it('loads the tiny bundle: manifest fields, codebook of V·Cvae floats', async () => {
    const b = await loadBundle(TINY_BUNDLE);
    expect(b.manifest.patchNums).toEqual([1, 2, 3, 4]);
    expect(b.codebook.length).toBe(b.manifest.vocabSize * b.manifest.cvae);
  });

  it('missing folder: says so', async () => {
    const e = await bundleError(readManifest('/nonexistent/bundle-xyz'));
    expect(e.code).toBe('missing-bundle');
    expect(e.message).toContain('/nonexistent/bundle-xyz');
  });

  it('missing file: names the file and the expected size', async () => {
    const dir = scratch();
    rmSync(join(dir, 'decoder.weights'));
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('missing-file');
    expect(e.file).toBe('decoder.weights');
    const bytes = (await readManifest(TINY_BUNDLE)).files['decoder.weights'].bytes;
    expect(e.message).toContain(`decoder.weights: expected a file of ${bytes} bytes (listed in manifest "files"), found no such file`);
  });

  it('truncated ONNX: names the file, expected and found sizes', async () => {
    const dir = scratch();
    truncateSync(join(dir, 'transformer.onnx'), 1000);
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('size-mismatch');
    expect(e.file).toBe('transformer.onnx');
    const bytes = (await readManifest(TINY_BUNDLE)).files['transformer.onnx'].bytes;
    expect(e.message).toContain(`expected ${bytes} bytes, found 1000 bytes`);
  });

  it('truncated ONNX whose manifest entry was also rewritten: ORT load failure names the file', async () => {
    const dir = scratch();
    truncateSync(join(dir, 'preview.onnx'), 200);
    relist(dir, 'preview.onnx');
    const e = await bundleError(VarEngine.create(dir, { provider: 'cpu' }));
    expect(e.code).toBe('bad-onnx');
    expect(e.file).toBe('preview.onnx');
    expect(e.message).toContain('preview.onnx: expected a loadable ONNX graph');
  });

  it('changed bytes of the same size: sha256 mismatch names the file', async () => {
    const dir = scratch();
    const p = join(dir, 'codebook.f32');
    const bytes = readFileSync(p);
    bytes[0] ^= 0xff;
    writeFileSync(p, bytes);
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('sha256-mismatch');
    expect(e.file).toBe('codebook.f32');
    expect(e.message).toMatch(/expected sha256 [0-9a-f]{64}, found [0-9a-f]{64}/);
  });

  it('unknown formatVersion: says which versions the engine knows', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { m.formatVersion = 7; });
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('unknown-format-version');
    expect(e.field).toBe('formatVersion');
    expect(e.message).toContain('expected one of the versions this engine knows (1), found number 7');
  });

  it('unknown format magic', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { m.format = 'something-else'; });
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('unknown-format');
  });

  it('class list length ≠ transformer.numClasses: expected vs found', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { m.classes = m.classes.slice(0, 7); });
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('class-count-mismatch');
    expect(e.field).toBe('classes');
    expect(e.message).toContain('expected 10 class names (transformer.numClasses), found 7');
  });

  it('patchNums and phiIndex of different lengths', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { m.phiIndex = [0, 1, 2]; });
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('length-mismatch');
    expect(e.field).toBe('phiIndex');
  });

  it('resolution ≠ patchNums[-1]·downsample', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { m.resolution = 32; });
    const e = await bundleError(loadBundle(dir));
    expect(e.field).toBe('resolution');
    expect(e.message).toContain('= 16, found 32');
  });

  it('missing required field names it', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { delete m.vocabSize; });
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('missing-field');
    expect(e.field).toBe('vocabSize');
  });

  it('a graph file not listed in "files"', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { m.graphs.decoder.model = 'other.onnx'; });
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('file-not-listed');
    expect(e.field).toBe('graphs.decoder.model');
  });

  it('codebook byte length ≠ V·Cvae·4', async () => {
    const dir = scratch();
    editManifest(dir, (m) => { m.files['codebook.f32'].bytes = 1024; });
    const e = await bundleError(loadBundle(dir));
    expect(e.code).toBe('bad-codebook-size');
    expect(e.message).toContain('expected V·Cvae·4 = 64·8·4 = 2048 bytes, found 1024');
  });

  it('graph I/O that differs from the contract (a manifest promising another vocabulary size)', async () => {
    const dir = scratch();
    const cb = Buffer.alloc(65 * 8 * 4);
    writeFileSync(join(dir, 'codebook.f32'), cb);
    relist(dir, 'codebook.f32');
    editManifest(dir, (m) => { m.vocabSize = 65; m.codebook.shape = [65, 8]; });
    const e = await bundleError(VarEngine.create(dir, { provider: 'cpu' }));
    expect(e.code).toBe('graph-io-mismatch');
    expect(e.file).toBe('transformer.onnx');
    expect(e.message).toContain('"logits" dimension 2: expected 65');
  });
});
