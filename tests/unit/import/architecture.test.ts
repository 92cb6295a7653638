/**
 * Architecture inference and strict validation against tools/checkpoints.py: the same configuration JSON for
 * every checkpoint torch wrote, the same one-line message for a missing, extra or mis-shaped key, and the
 * official layouts (d12–d36, the VQVAE) exactly as the reference constructors produce them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type VaeArchitecture,
  type VarArchitecture,
  expectedVaeKeys,
  expectedVarKeys,
  inferArchitecture,
} from '../../../src/engine/import/architecture';
import { type CheckpointReader, ImportError } from '../../../src/engine/import/checkpoint';
import { openCheckpoint } from '../../../src/engine/import/open';
import { type TestCheckpoints, writeTestCheckpoints } from './fixtures';

let ck: TestCheckpoints;
const open: CheckpointReader[] = [];
beforeAll(() => {
  ck = writeTestCheckpoints('--pairs', '--variants', '--layouts');
}, 240_000);
afterAll(async () => {
  for (const r of open) await r.close();
  ck?.cleanup();
});

async function reader(name: string, role?: 'var' | 'vae'): Promise<CheckpointReader> {
  const r = await openCheckpoint(ck.path(name), { role });
  open.push(r);
  return r;
}

async function failure(varFile: string, vaeFile: string): Promise<ImportError> {
  try {
    await inferArchitecture(await reader(varFile), await reader(vaeFile));
  } catch (e) {
    expect(e).toBeInstanceOf(ImportError);
    return e as ImportError;
  }
  throw new Error(`${varFile} passed validation`);
}

describe('inferArchitecture', () => {
  it.each([
    ['var_small_256.pth', 'vae_small.pth', 'var_small_256.pth'],
    ['var_small_512_shared.pth', 'vae_small.pth', 'var_small_512_shared.pth'],
    ['var_small_256_f16.pth', 'vae_small.pth', 'var_small_256.pth'],
    ['var_small_256_bf16.safetensors', 'vae_small.safetensors', 'var_small_256.pth'],
    ['var_small_256.safetensors', 'vae_small_zip64eocd.pth', 'var_small_256.pth'],
  ])('%s + %s: equals the Python configuration', async (varFile, vaeFile, configOf) => {
    const arch = await inferArchitecture(await reader(varFile), await reader(vaeFile));
    expect(JSON.parse(JSON.stringify(arch))).toEqual(ck.manifest.configs[configOf]);
  });

  it('reads the official trainer checkpoint by role', async () => {
    const arch = await inferArchitecture(await reader('ar-ckpt-last.pth', 'var'), await reader('ar-ckpt-last.pth', 'vae'));
    expect(JSON.parse(JSON.stringify(arch))).toEqual(ck.manifest.configs['var_small_256.pth']);
  });

  it('the shared-AdaLN pair: shared AdaLN found, the 512-px schedule (2240 tokens)', async () => {
    const { var: v } = await inferArchitecture(await reader('var_small_512_shared.pth'), await reader('vae_small.pth'));
    expect(v.shared_aln).toBe(true);
    expect(v.patch_nums).toEqual([1, 2, 3, 4, 6, 9, 13, 18, 24, 32]);
  });

  it.each(['var_missing.pth', 'var_extra.pth', 'var_misshaped.pth'])('%s: the same one-line message as tools/checkpoints.py', async (file) => {
    const e = await failure(file, 'vae_small.pth');
    const py = ck.manifest.errors[file];
    expect(e.message).toBe(py.message);
    expect(e.key).toBe(py.key);
    expect(e.file).toBe(file);
  });

  it.each(['var_key_bias.pth', 'var_levels.pth'])('%s: a wrong deterministic buffer, as tools/checkpoints.py says', async (file) => {
    const e = await failure(file, 'vae_small.pth');
    expect(e.message).toBe(ck.manifest.errors[file].message);
    expect(e.key).toBe(ck.manifest.errors[file].key);
  });

  it('a VQVAE of another codebook: the same message as tools/checkpoints.py', async () => {
    const e = await failure('var_small_256.pth', 'vae_v32.pth');
    expect(e.message).toBe(ck.manifest.errors['vae_v32.pth'].message);
    expect([e.code, e.key, e.file]).toEqual(['vae-mismatch', 'quantize.embedding.weight', 'vae_v32.pth']);
  });

  it('swapped VAR and VQVAE files are named as such', async () => {
    const e = await failure('vae_small.pth', 'var_small_256.pth');
    expect(e.key).toBe(ck.manifest.errors.swapped.key);
    expect(e.message).toMatch(/^var_small_256\.pth: has 'blocks\.\*' keys and no encoder: this is a VAR transformer, not a VQVAE/);
  });
});

describe('expected layouts equal the reference models’ state dicts', () => {
  it.each(['d12', 'd16', 'd20', 'd24', 'd30', 'd36'])('official %s: VAR and VQVAE keys, order and shapes', (name) => {
    const l = ck.manifest.layouts![name];
    expect([...expectedVarKeys(l.var as VarArchitecture)]).toEqual(l.var_layout);
    expect([...expectedVaeKeys(l.vae as VaeArchitecture)]).toEqual(l.vae_layout);
  });

  it('the small test checkpoints: keys in the file order torch wrote', async () => {
    for (const file of ['var_small_256.pth', 'var_small_512_shared.pth']) {
      const cfg = ck.manifest.configs[file];
      const r = await reader(file);
      expect([...expectedVarKeys(cfg.var as unknown as VarArchitecture).keys()]).toEqual(r.keys());
      const vae = await reader('vae_small.pth');
      expect([...expectedVaeKeys(cfg.vae as unknown as VaeArchitecture).keys()]).toEqual(vae.keys());
    }
  });
});
