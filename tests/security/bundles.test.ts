// Review findings 4 (bundle file names confined) and 7 (manifest sampling defaults range-checked).
import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { loadBundle, readManifest } from '../../src/engine/bundle';
import { bundleCopy } from './helpers';

function rewrite(dir: string, edit: (m: any) => void): void {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('finding 4: a bundle cannot point outside itself', () => {
  it('a listed file outside the folder ("../…", with matching size and sha256) is refused by name, its size never reported', async () => {
    const dir = bundleCopy();
    const secret = Buffer.from('private bytes outside the bundle');
    writeFileSync(path.join(dir, '..', 'outside.bin'), secret);
    for (const name of ['../outside.bin', '../../../../etc/hostname', '/etc/hostname', 'sub/file', '..', '.hidden']) {
      rewrite(dir, (m) => {
        m.files = { ...m.files, [name]: { sha256: sha256(secret), bytes: secret.length } };
      });
      const outcome = await loadBundle(dir).then(() => null, (e: { code: string; message: string }) => e);
      expect(outcome, name).not.toBeNull();
      expect(outcome!.code, name).toBe('bad-file-name');
      expect(outcome!.message, name).not.toMatch(/bytes/);
      rewrite(dir, (m) => delete m.files[name]);
    }
  });

  it('a symlink that leads out of the bundle is refused even when its content matches', async () => {
    const dir = bundleCopy();
    const outside = path.join(dir, '..', 'codebook-elsewhere.f32');
    copyFileSync(path.join(dir, 'codebook.f32'), outside);
    rmSync(path.join(dir, 'codebook.f32'));
    symlinkSync(outside, path.join(dir, 'codebook.f32'));
    await expect(loadBundle(dir)).rejects.toMatchObject({ code: 'file-outside-bundle' });
  });

  it('a graph named "toString" or "constructor" is not "listed" through the prototype', async () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      const dir = bundleCopy();
      rewrite(dir, (m) => { m.graphs.preview.model = name; });
      await expect(readManifest(dir), name).rejects.toMatchObject({ code: 'file-not-listed' });
    }
  });
});

describe('finding 7: sampling defaults of a manifest are range-checked at load', () => {
  it('topP 7, cfg 1e308, topK beyond the vocabulary are refused naming the field', async () => {
    for (const [key, value] of [['topP', 7], ['cfg', 1e308], ['cfg', -1], ['topK', 65]] as const) {
      const dir = bundleCopy();
      rewrite(dir, (m) => { m.sampling[key] = value; });
      await expect(readManifest(dir), `${key} ${value}`).rejects.toMatchObject({ code: 'bad-field', field: `sampling.${key}` });
    }
  });
});
