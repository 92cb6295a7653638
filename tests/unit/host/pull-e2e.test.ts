// End to end, no internet: torch writes a small checkpoint pair in the official key layout; a local HTTP
// server serves it like Hugging Face; the model manager downloads (through a dropped connection), verifies,
// imports with the real TypeScript importer, and the engine generates with the resulting bundle.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VarEngine, availablePrecisions } from '../../../src/engine/index';
import { importCheckpoints } from '../../../src/engine/import/index';
import { parseCatalog } from '../../../src/host/catalog/catalog';
import { ModelManager } from '../../../src/host/catalog/manager';
import { FileServer } from './file-server';
import { writeSmallPair } from './small-pair';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const REV = '1111111111111111111111111111111111111111';
const tmp = mkdtempSync(join(tmpdir(), 'var-pull-e2e-'));
const server = new FileServer();
const agent = new Agent();


beforeAll(async () => {
  writeSmallPair(join(tmp, 'fx'));
  await server.start();
}, 300_000);
afterAll(async () => {
  await server.close();
  await agent.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('pull → import → generate', () => {
  it('a model pulled from the local server generates; its bundle carries the catalogue name, title and sampling', async () => {
    const varBytes = readFileSync(join(tmp, 'fx', 'a', 'var.pth'));
    const vaeBytes = readFileSync(join(tmp, 'fx', 'a', 'vae.pth'));
    server.add('vae_test.pth', vaeBytes);
    server.add('var_test.pth', varBytes, { dropAfter: { bytes: 1_000_000, times: 1 } });
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const sampling = { cfg: 3, topK: 100, topP: 0.9, moreSmooth: false };
    const catalog = parseCatalog({
      schemaVersion: 1, repo: 'test/var', revision: REV, baseUrl: `https://example.invalid/${REV}`, licence: 'MIT', licenceUrl: 'https://example.invalid/LICENSE', notes: [],
      files: [
        { kind: 'vqvae', name: 'vae-test', file: 'vae_test.pth', title: 'VQVAE', parameters: 1, sha256: sha(vaeBytes), bytes: vaeBytes.length, licence: 'MIT' },
        {
          kind: 'var', name: 'var-test', file: 'var_test.pth', title: 'VAR test d2', parameters: 1, sha256: sha(varBytes), bytesApprox: 3_000_000, licence: 'MIT',
          depth: 2, resolution: 256, patchNums: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16], sharedAdaLN: false, vqvae: 'vae_test.pth', readme: null, paper: null,
          sampling, fidSampling: sampling,
        },
      ],
    });
    const modelsDir = join(tmp, 'models');
    const phases = new Set<string>();
    const m = await ModelManager.open({
      modelsDir, catalog, baseUrl: server.resolveBase, dispatcher: agent, downloadOptions: { retryDelayMs: 5 },
      importCheckpoints: (o) => importCheckpoints({ ...o, templatesDir: join(tmp, 'fx', 'templates'), resourcesDir: join(REPO, 'resources'), previewSamples: 2, threads: 1 }),
    });
    m.on((e) => { if (e.type === 'import-progress' && e.phase) phases.add(e.phase); });
    const final = await m.pull('var-test');
    expect(final).toEqual({ state: 'ready', dir: join(modelsDir, 'var-test') });
    expect(server.log.filter((l) => l.path === '/cdn/var_test.pth').map((l) => l.status)).toEqual([200, 206]);
    expect([...phases]).toEqual(expect.arrayContaining(['hashing', 'weights', 'preview']));
    expect(readdirSync(modelsDir).filter((f) => !f.startsWith('.'))).toEqual(['var-test']);

    const engine = await VarEngine.create(final.state === 'ready' ? final.dir : '', { provider: 'cpu', threads: 1 });
    try {
      // the test VQVAE downsamples by 2 (official: 16), so its 16×16 last scale is a 32-px image
      expect(engine.manifest).toMatchObject({ name: 'var-test', title: 'VAR test d2', resolution: 32, sampling });
      expect(engine.manifest.classes).toHaveLength(1000);
      let done: { images: { width: number; height: number }[]; tokens: Int32Array[][] } | undefined;
      for await (const e of engine.generate({ classIndex: 207, seed: 1, batch: 1, sampling })) if (e.type === 'done') done = e as typeof done;
      expect(done!.images[0]).toMatchObject({ width: 32, height: 32 });
      expect(done!.tokens[0].map((t) => t.length)).toEqual([1, 4, 9, 16, 25, 36, 64, 100, 169, 256]);
      // the dq8 variant is there to choose; 'auto' keeps fp32 (no fidelity was measured for this model)
      expect(availablePrecisions(engine.manifest)).toEqual(['fp32', 'dq8']);
      expect(engine.precision.transformer).toBe('fp32');
    } finally {
      await engine.dispose();
    }
    const fast = await VarEngine.create(final.state === 'ready' ? final.dir : '', { provider: 'cpu', threads: 1, precision: 'dq8' });
    try {
      expect(fast.precision.transformer).toBe('dq8');
      let tokens: Int32Array[][] = [];
      for await (const e of fast.generate({ classIndex: 207, seed: 1, batch: 1, sampling })) if (e.type === 'done') tokens = e.tokens;
      expect(tokens[0].map((t) => t.length)).toEqual([1, 4, 9, 16, 25, 36, 64, 100, 169, 256]);
    } finally {
      await fast.dispose();
    }
  }, 300_000);
});
