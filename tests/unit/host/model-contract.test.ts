// models.* requests through StudioHost (the contract both hosts serve): params checked, answers and events
// pass the shared contract's schemas, download progress reaches every session, a pulled model is listed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/host/catalog/catalog';
import type { ImportCheckpoints } from '../../../src/host/catalog/manager';
import { ModelCatalog } from '../../../src/host/models';
import { StudioHost, type StudioSession } from '../../../src/host/service';
import { type ParamsOf, type RequestKind, type ResultOf, type StudioEvent, parseEvent, parseResult } from '../../../src/shared/contract';
import { TINY_BUNDLE } from '../engine/helpers';
import { FileServer, randomFile } from './file-server';

const REV = 'abababababababababababababababababababab';
const server = new FileServer();
const agent = new Agent();
const tmp = mkdtempSync(join(tmpdir(), 'var-model-contract-'));
const vae = randomFile(100_000), a = randomFile(200_000);

const importer: ImportCheckpoints = async ({ outDir, onProgress }) => {
  const t = join(dirname(outDir), `.tmp-${basename(outDir)}`);
  await mkdir(t, { recursive: true });
  onProgress?.({ phase: 'weights', bytesDone: 1, bytesTotal: 1 });
  await writeFile(join(t, 'manifest.json'), '{}');
  await rename(t, outDir);
  return {};
};

beforeAll(async () => {
  await server.start();
  server.add('vae.pth', vae.data);
  server.add('var_a.pth', a.data);
});
afterAll(async () => {
  await server.close();
  await agent.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('models.* through StudioHost', () => {
  it('catalog, pull (events), pause/cancel, import, remove: answers and events match the shared schemas', async () => {
    const s = { cfg: 4, topK: 900, topP: 0.95, moreSmooth: false };
    const catalog = parseCatalog({
      schemaVersion: 1, repo: 't/var', revision: REV, baseUrl: `https://x.invalid/${REV}`, licence: 'MIT', licenceUrl: 'https://x.invalid/L', notes: [],
      files: [
        { kind: 'vqvae', name: 'vae', file: 'vae.pth', title: 'VQVAE', parameters: 1, sha256: vae.sha256, bytes: vae.data.length, licence: 'MIT' },
        { kind: 'var', name: 'var-a', file: 'var_a.pth', title: 'A', parameters: 2_000_000, sha256: a.sha256, bytes: a.data.length, licence: 'MIT', depth: 1, resolution: 64, patchNums: [1, 4], sharedAdaLN: false, vqvae: 'vae.pth', readme: null, paper: null, sampling: s, fidSampling: s },
      ],
    });
    const modelsDir = join(tmp, 'models');
    const host = new StudioHost({
      version: 't', host: 'browser', catalog: new ModelCatalog(TINY_BUNDLE, modelsDir), threads: 1, deliverExport: async () => ({ kind: 'cancelled' }),
      modelManager: { catalog, baseUrl: server.resolveBase, dispatcher: agent, importCheckpoints: importer, downloadOptions: { progressIntervalMs: 0 } },
    });
    const session = (id: string) => {
      const events: StudioEvent[] = [];
      return { events, s: { id, emit: (e: StudioEvent) => events.push(parseEvent(e)) } satisfies StudioSession };
    };
    const one = session('one'), two = session('two');
    await host.handle('app.info', {}, two.s); // the second window is known to the host
    const call = async <K extends RequestKind>(kind: K, params: ParamsOf<K> | Record<string, unknown>): Promise<ResultOf<K>> =>
      parseResult(kind, await host.handle(kind, params, one.s));

    const cat = await call('models.catalog', {});
    expect(cat.models).toEqual([expect.objectContaining({ name: 'var-a', paramsLabel: '2M', fid: null, downloadBytes: 300_000, status: { state: 'not-downloaded' } })]);
    expect(cat.localFiles).toEqual([]);

    expect(await call('models.pull', { name: 'var-a' })).toEqual({ status: { state: 'queued' } });
    await expect(host.handle('models.pull', { name: '../var-a' }, one.s)).rejects.toThrow(/params\.name/);
    const deadline = Date.now() + 20_000;
    while (!two.events.some((e) => e.type === 'models.status' && e.status.state === 'ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const { events } of [one, two]) {
      const states = events.filter((e) => e.type === 'models.status').map((e) => (e as { status: { state: string } }).status.state);
      expect(states[0]).toBe('queued');
      expect(states).toContain('downloading');
      expect(states.at(-1)).toBe('ready');
    }
    expect(two.events.some((e) => e.type === 'models.import-progress')).toBe(true);
    expect((await call('models.list', {})).models.map((x) => x.id)).toContain('user:var-a');
    expect(await call('models.pause', { name: 'var-a' })).toEqual({ status: { state: 'ready', dir: join(modelsDir, 'var-a') } });

    writeFileSync(join(modelsDir, 'mine.pth'), a.data);
    writeFileSync(join(modelsDir, 'vae.pth'), vae.data);
    expect((await call('models.catalog', {})).localFiles.map((f) => f.file)).toEqual(['mine.pth', 'vae.pth']);
    expect(await call('models.import', { varFile: 'mine.pth', vaeFile: 'vae.pth' })).toEqual({ name: 'mine', dir: join(modelsDir, 'mine') });
    await expect(host.handle('models.import', { varFile: '../x.pth', vaeFile: 'vae.pth' }, one.s)).rejects.toThrow(/params\.varFile/);

    expect(await call('models.remove', { name: 'var-a' })).toEqual({ removed: [join(modelsDir, 'var-a'), join(modelsDir, '.downloads', 'vae.pth')], keptShared: null });
    expect(await call('models.cancel', { name: 'var-a' })).toEqual({ status: { state: 'not-downloaded' } });
    await host.dispose();
  });
});
