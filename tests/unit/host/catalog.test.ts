// The official model catalogue (resources/official-models.json) and its validating loader.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CatalogError, baseUrlFromEnv, fileUrl, findEntry, loadCatalogFile, officialCatalog, parseCatalog, varEntries,
} from '../../../src/host/catalog/catalog';

const REVISION = '6d0ee6598a42f75079aa79e58b012b57b284c91b';
const tmp = mkdtempSync(join(tmpdir(), 'var-catalog-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const clone = () => JSON.parse(JSON.stringify(officialCatalog())) as Record<string, unknown> & { files: Record<string, unknown>[] };

/** Parameter count of a VAR transformer from its depth (official layout, models/var.py): per block 18C²+14C+H. */
function varParams(depth: number, shared: boolean, tokens: number): number {
  const C = 64 * depth, V = 4096;
  const block = (shared ? 12 : 18) * C * C + 14 * C + depth;
  return depth * block + C * (1 + tokens + 33 + 1001 + 10) + 2 * C * C + 2 * C + V * (C + 1) + (shared ? 6 * C * C + 6 * C : 0);
}

describe('official catalogue', () => {
  const c = officialCatalog();

  it('lists the VQVAE and every VAR checkpoint of FoundationVision/var, pinned to the revision', () => {
    expect(c.repo).toBe('FoundationVision/var');
    expect(c.revision).toBe(REVISION);
    expect(c.files.map((e) => e.file)).toEqual(['vae_ch160v4096z32.pth', 'var_d12.pth', 'var_d16.pth', 'var_d20.pth', 'var_d24.pth', 'var_d30.pth', 'var_d36.pth']);
    expect(fileUrl(c, 'var_d16.pth')).toBe(`https://huggingface.co/FoundationVision/var/resolve/${REVISION}/var_d16.pth`);
    for (const e of c.files) expect(e.licence).toBe('MIT');
    for (const e of varEntries(c)) expect(e.vqvae).toBe('vae_ch160v4096z32.pth');
  });

  it('carries the known sha256 and sizes; sizes not known exactly are marked approximate', () => {
    const d16 = findEntry(c, 'var-d16')!;
    expect(d16).toMatchObject({ bytes: 1243116346, sha256: '4f6151aad91c94e03e224dd7358d8389fa05301c0c291279566998efb54b0ecb' });
    expect(findEntry(c, 'var_d36.pth')).toMatchObject({ bytes: 9436153085, resolution: 512, sharedAdaLN: true, patchNums: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32] });
    for (const name of ['var-d12', 'var-d24', 'var-d30']) {
      const e = findEntry(c, name)!;
      expect(e.bytes).toBeUndefined();
      expect(e.bytesApprox).toBeGreaterThan(0);
    }
  });

  it('parameter counts follow the official layout; checkpoint sizes are ≈ 4 bytes per parameter (fp32)', () => {
    for (const e of varEntries(c)) {
      const tokens = e.patchNums.reduce((s, p) => s + p * p, 0);
      expect(e.parameters).toBe(varParams(e.depth, e.sharedAdaLN, tokens));
      const size = e.bytes ?? e.bytesApprox!;
      expect(size / (4 * e.parameters)).toBeGreaterThan(0.99);
      expect(size / (4 * e.parameters)).toBeLessThan(1.02);
    }
  });

  it('README FIDs and the two sampling settings', () => {
    expect(varEntries(c).map((e) => [e.name, e.readme?.fid ?? null])).toEqual([
      ['var-d12', null], ['var-d16', 3.55], ['var-d20', 2.95], ['var-d24', 2.33], ['var-d30', 1.97], ['var-d36', 2.63],
    ]);
    expect(findEntry(c, 'var-d30')).toMatchObject({ readme: { fidRejectionSampling: 1.8 } });
    for (const e of varEntries(c)) {
      expect(e.sampling).toEqual({ cfg: 4, topK: 900, topP: 0.95, moreSmooth: false });
      expect(e.fidSampling).toEqual({ cfg: 1.5, topK: 900, topP: 0.96, moreSmooth: false });
    }
  });

  it('VAR_STUDIO_MODEL_BASE_URL replaces the base URL', () => {
    expect(baseUrlFromEnv(c, {})).toBe(c.baseUrl);
    expect(baseUrlFromEnv(c, { VAR_STUDIO_MODEL_BASE_URL: 'http://127.0.0.1:8080/mirror/' })).toBe('http://127.0.0.1:8080/mirror');
    expect(fileUrl(c, 'var_d16.pth', 'http://127.0.0.1:8080/mirror')).toBe('http://127.0.0.1:8080/mirror/var_d16.pth');
  });
});

describe('catalogue validation', () => {
  const bad = (mutate: (c: ReturnType<typeof clone>) => void) => {
    const c = clone();
    mutate(c);
    return () => parseCatalog(c);
  };

  it('names the field that is wrong', () => {
    expect(bad((c) => { c.files[2].sha256 = 'XYZ'; })).toThrow(/files\[2\]\.sha256: expected a string of 64\.\.64 characters/);
    expect(bad((c) => { c.files[1].typo = 1; })).toThrow(/files\[1\]\.typo: expected no such key/);
    expect(bad((c) => { c.files[3].file = '../etc/passwd'; })).toThrow(CatalogError);
    expect(bad((c) => { c.files[3].kind = 'lora'; })).toThrow(/files\[3\]\.kind/);
  });

  it('checks relations: one size field, a known VQVAE, unique names, resolution = last scale × 16, a pinned base URL', () => {
    expect(bad((c) => { c.files[2].bytesApprox = 5; })).toThrow(/give exactly one of bytes \(exact\) and bytesApprox/);
    expect(bad((c) => { delete c.files[1].bytesApprox; })).toThrow(/give exactly one of bytes/);
    expect(bad((c) => { c.files[2].vqvae = 'vae_other.pth'; })).toThrow(/needs the VQVAE "vae_other\.pth", which the catalogue does not list/);
    expect(bad((c) => { c.files[3].name = 'var-d16'; })).toThrow(/the name "var-d16" is used twice/);
    expect(bad((c) => { c.files[2].resolution = 512; })).toThrow(/is not the resolution 512/);
    expect(bad((c) => { c.baseUrl = 'https://huggingface.co/FoundationVision/var/resolve/main'; })).toThrow(/is not pinned to the revision/);
  });

  it('loadCatalogFile: missing file and bad JSON are CatalogErrors with the path', async () => {
    await expect(loadCatalogFile(join(tmp, 'none.json'))).rejects.toThrow(/cannot read the model catalogue .*none\.json/);
    writeFileSync(join(tmp, 'bad.json'), '{');
    await expect(loadCatalogFile(join(tmp, 'bad.json'))).rejects.toThrow(/bad\.json is not valid JSON/);
    writeFileSync(join(tmp, 'ok.json'), JSON.stringify(clone()));
    expect((await loadCatalogFile(join(tmp, 'ok.json'))).files).toHaveLength(7);
  });
});
