/**
 * The .pth and .safetensors readers against files torch wrote from the reference models: every tensor equals
 * torch's bytes (float16/bfloat16 widened exactly as torch widens them), ZIP64 archives read, and every kind of
 * unusable file is refused with a one-line ImportError naming the file (and the key where there is one).
 */
import { copyFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckpointReader, ImportError } from '../../../src/engine/import/checkpoint';
import { detectFormat, openCheckpoint } from '../../../src/engine/import/open';
import { type TestCheckpoints, readerDType, writeTestCheckpoints } from './fixtures';

let ck: TestCheckpoints;
beforeAll(() => {
  ck = writeTestCheckpoints('--pairs', '--variants');
}, 180_000);
afterAll(() => ck?.cleanup());

async function rejection(p: Promise<unknown>): Promise<ImportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ImportError);
    expect((e as Error).message).not.toContain('\n');
    return e as ImportError;
  }
  throw new Error('expected an ImportError');
}

/** Every tensor of `reader` equals torch's widening of `expectedFile`'s tensor, key for key in file order. */
async function expectSameTensors(reader: CheckpointReader, expectedFile: string, storedDType?: string): Promise<void> {
  const want = ck.manifest.files[expectedFile];
  expect(reader.keys()).toEqual(Object.keys(want));
  for (const key of reader.keys()) {
    const info = reader.info(key);
    expect(info.shape, key).toEqual(want[key].shape);
    expect(info.dtype, key).toBe(readerDType(want[key].dtype === 'int64' ? 'int64' : (storedDType ?? want[key].dtype)));
    const expected = ck.expected(expectedFile, key);
    if (expected instanceof BigInt64Array) {
      expect(await reader.readInt64(key), key).toEqual(expected);
    } else {
      const got = await reader.readFloat32(key);
      // Bit patterns, so -0 vs 0 or a NaN payload would also be caught.
      expect(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer)), key).toBe(true);
    }
  }
}

describe('PyTorch .pth (torch.save zip archives)', () => {
  it.each([
    ['var_small_256.pth', 'var_small_256.pth'],
    ['var_small_512_shared.pth', 'var_small_512_shared.pth'],
    ['vae_small.pth', 'vae_small.pth'],
    ['var_small_256_f16.pth', 'var_small_256_f16.pth'],
    ['var_small_256_bf16.pth', 'var_small_256_bf16.pth'],
  ])('%s: every tensor equals torch’s bytes', async (file, expectedFile) => {
    const r = await openCheckpoint(ck.path(file));
    expect(r.format).toBe('pth');
    expect(r.file).toBe(file);
    await expectSameTensors(r, expectedFile);
    await r.close();
  });

  it('reads ZIP64 archives: ZIP64 local headers (Python zipfile force_zip64) and a required ZIP64 end record', async () => {
    const a = await openCheckpoint(ck.path('var_small_256_zip64.pth'));
    await expectSameTensors(a, 'var_small_256.pth');
    await a.close();
    const b = await openCheckpoint(ck.path('vae_small_zip64eocd.pth'));
    await expectSameTensors(b, 'vae_small.pth');
    await b.close();
  });

  describe('a checkpoint over 4 GiB', () => {
    let huge: TestCheckpoints;
    beforeAll(() => {
      huge = writeTestCheckpoints('--huge');
    }, 120_000);
    afterAll(() => huge?.cleanup());

    it('reads tensors past byte 2³² through ZIP64 offsets (a 4.3 GB sparse archive)', async () => {
      const path = huge.path('huge_sparse.pth');
      expect(statSync(path).size).toBeGreaterThan(2 ** 32);
      const r = await openCheckpoint(path);
      expect(r.keys()).toEqual(['z', 'w']);
      for (const key of r.keys()) {
        const got = await r.readFloat32(key);
        expect(Buffer.from(got.buffer).equals(Buffer.from(huge.expected('huge_sparse.pth', key).buffer)), key).toBe(true);
      }
      await r.close();
    });
  });

  it('views: storage offsets, several keys sharing one storage, float16 and int64 in one file', async () => {
    const r = await openCheckpoint(ck.path('views.pth'));
    await expectSameTensors(r, 'views.pth');
    expect(r.info('half').dtype).toBe('float16');
    await r.close();
  });

  it('the official trainer checkpoint: the VAR and VQVAE state dicts under trainer.var_wo_ddp / trainer.vae_local', async () => {
    const v = await openCheckpoint(ck.path('ar-ckpt-last.pth'), { role: 'var' });
    await expectSameTensors(v, 'var_small_256.pth');
    await v.close();
    const q = await openCheckpoint(ck.path('ar-ckpt-last.pth'), { role: 'vae' });
    await expectSameTensors(q, 'vae_small.pth');
    await q.close();
    const e = await rejection(openCheckpoint(ck.path('ar-ckpt-last.pth')));
    expect(e.code).toBe('not-state-dict');
    expect(e.message).toMatch(/ar-ckpt-last\.pth: an official training checkpoint .*trainer\.var_wo_ddp/);
  });

  it('refuses a non-contiguous tensor, a float64 tensor and a pickle that is not a dict, naming each', async () => {
    const t = await rejection(openCheckpoint(ck.path('transposed.pth')));
    expect([t.code, t.key]).toEqual(['layout', 't']);
    expect(t.message).toContain('transposed.pth: key \'t\'');
    expect(t.message).toContain('not contiguous row-major');
    const f = await rejection(openCheckpoint(ck.path('float64.pth')));
    expect(f.code).toBe('unsupported-dtype');
    expect(f.message).toContain('DoubleStorage');
    const l = await rejection(openCheckpoint(ck.path('list.pth')));
    expect(l.code).toBe('not-state-dict');
    expect(l.message).toBe('list.pth: holds a list, not a state dict (a dict of key → tensor)');
  });

  it('a truncated archive is reported as truncated, naming the file', async () => {
    for (const keep of [0.5, 0.999]) {
      const path = ck.path(`cut-${keep}.pth`);
      copyFileSync(ck.path('var_small_256.pth'), path);
      truncateSync(path, Math.floor(statSync(path).size * keep));
      const e = await rejection(openCheckpoint(path));
      expect(e.code).toBe('truncated');
      expect(e.file).toBe(`cut-${keep}.pth`);
      expect(e.message).toMatch(new RegExp(`^cut-${keep}\\.pth: is truncated`));
    }
  });
});

describe('safetensors', () => {
  it.each([
    ['var_small_256.safetensors', 'var_small_256.pth', undefined],
    ['vae_small.safetensors', 'vae_small.pth', undefined],
    ['var_small_256_f16.safetensors', 'var_small_256_f16.pth', 'float16'],
    ['var_small_256_bf16.safetensors', 'var_small_256_bf16.pth', 'bfloat16'],
  ])('%s: every tensor equals torch’s bytes', async (file, expectedFile, stored) => {
    const r = await openCheckpoint(ck.path(file));
    expect(r.format).toBe('safetensors');
    await expectSameTensors(r, expectedFile, stored);
    await r.close();
  });

  it('checks the header length and every offset against the file', async () => {
    const cut = ck.path('cut.safetensors');
    copyFileSync(ck.path('vae_small.safetensors'), cut);
    truncateSync(cut, statSync(cut).size - 1);
    const e = await rejection(openCheckpoint(cut));
    expect(e.code).toBe('truncated');
    expect(e.message).toMatch(/^cut\.safetensors: is truncated: key '.+' ends at byte \d+, past the end of the file/);

    const header = (json: string, lengthField = json.length) => {
      const b = Buffer.alloc(8 + json.length);
      b.writeBigUInt64LE(BigInt(lengthField));
      b.write(json, 8);
      return b;
    };
    const cases: [string, Buffer, string][] = [
      ['long-header.safetensors', header('{"a":1}', 1000), 'truncated'],
      ['bad-json.safetensors', header('{"a": '), 'bad-safetensors'],
      ['bad-span.safetensors', Buffer.concat([header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}'), Buffer.alloc(8)]), 'bad-safetensors'],
      ['f64.safetensors', Buffer.concat([header('{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}'), Buffer.alloc(8)]), 'unsupported-dtype'],
    ];
    for (const [name, bytes, code] of cases) {
      writeFileSync(ck.path(name), bytes);
      const err = await rejection(openCheckpoint(ck.path(name)));
      expect(err.code, name).toBe(code);
      expect(err.message.startsWith(`${name}: `), err.message).toBe(true);
    }
  });
});

describe('openCheckpoint', () => {
  it('recognises the format by its first bytes, not its name', async () => {
    const disguised = ck.path('weights.bin');
    copyFileSync(ck.path('vae_small.safetensors'), disguised);
    const r = await openCheckpoint(disguised);
    expect(r.format).toBe('safetensors');
    await r.close();
    expect(detectFormat(new Uint8Array([0x50, 0x4b, 0x03, 0x04]))).toBe('pth');
  });

  it('anything else: one clear line', async () => {
    writeFileSync(ck.path('notes.txt'), 'hello, these are not weights\n');
    const e = await rejection(openCheckpoint(ck.path('notes.txt')));
    expect(e.message).toBe('notes.txt: not a PyTorch checkpoint or safetensors file');
    writeFileSync(ck.path('empty.pth'), '');
    expect((await rejection(openCheckpoint(ck.path('empty.pth')))).code).toBe('not-checkpoint');
    expect((await rejection(openCheckpoint(ck.path('absent.pth')))).message).toMatch(/absent\.pth: no such file$/);
    const z = await rejection(openCheckpoint(ck.path('not_torch.zip')));
    expect(z.code).toBe('not-checkpoint');
    expect(z.message).toBe("not_torch.zip: is a zip archive but not a PyTorch checkpoint (no '<name>/data.pkl')");
  });

  it('an unknown key or a closed reader: a clear error', async () => {
    const r = await openCheckpoint(ck.path('vae_small.pth'));
    await r.close();
    expect((await rejection(r.readFloat32('quant_conv.bias'))).code).toBe('closed');
    const r2 = await openCheckpoint(ck.path('vae_small.pth'));
    expect((await rejection(r2.readFloat32('no.such.key'))).key).toBe('no.such.key');
    expect(() => r2.info('no.such.key')).toThrow(/vae_small\.pth: missing key 'no\.such\.key'/);
    await r2.close();
  });
});
