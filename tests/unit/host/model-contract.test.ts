// models.* requests through handleModelRequest: every answer and event passes the shared contract's schemas.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/host/catalog/catalog';
import { handleModelRequest, isModelRequestKind, modelEvent } from '../../../src/host/catalog/contract';
import { type ImportCheckpoints, ModelManager } from '../../../src/host/catalog/manager';
import { modelManagerEvents, modelManagerRequests } from '../../../src/shared/model-manager';
import type { Infer } from '../../../src/shared/schema';
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

describe('models.* contract', () => {
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
    const m = await ModelManager.open({ modelsDir, catalog, baseUrl: server.resolveBase, dispatcher: agent, importCheckpoints: importer, downloadOptions: { progressIntervalMs: 0 } });
    const events: unknown[] = [];
    m.on((e) => events.push(modelEvent(e)));
    const call = async <K extends keyof typeof modelManagerRequests>(kind: K, params: unknown) => {
      expect(isModelRequestKind(kind)).toBe(true);
      const p = modelManagerRequests[kind].params.parse(params, 'params');
      return modelManagerRequests[kind].result.parse(await handleModelRequest(m, kind, p as never), 'result') as Infer<(typeof modelManagerRequests)[K]['result']>;
    };

    const cat = await call('models.catalog', {});
    expect(cat.models).toEqual([expect.objectContaining({ name: 'var-a', paramsLabel: '2M', fid: null, downloadBytes: 300_000, status: { state: 'not-downloaded' } })]);
    expect(cat.localFiles).toEqual([]);

    expect(await call('models.pull', { name: 'var-a' })).toEqual({ status: { state: 'queued' } });
    await m.pull('var-a'); // joins the running pull
    const last = events.at(-1) as { type: string; status: { state: string } };
    expect(last).toMatchObject({ type: 'models.status', name: 'var-a', status: { state: 'ready' } });
    for (const e of events) {
      const type = (e as { type: keyof typeof modelManagerEvents }).type;
      modelManagerEvents[type].parse(e, 'event');
    }
    expect(events.some((e) => (e as { status?: { state: string } }).status?.state === 'downloading')).toBe(true);
    expect(await call('models.pause', { name: 'var-a' })).toEqual({ status: { state: 'ready', dir: join(modelsDir, 'var-a') } });

    writeFileSync(join(modelsDir, 'mine.pth'), a.data);
    writeFileSync(join(modelsDir, 'vae.pth'), vae.data);
    expect((await call('models.catalog', {})).localFiles.map((f) => f.file)).toEqual(['mine.pth', 'vae.pth']);
    expect(await call('models.import', { varFile: 'mine.pth', vaeFile: 'vae.pth' })).toEqual({ name: 'mine', dir: join(modelsDir, 'mine') });
    expect(() => modelManagerRequests['models.import'].params.parse({ varFile: '../x.pth', vaeFile: 'vae.pth' }, 'params')).toThrow(/params\.varFile/);

    expect(await call('models.remove', { name: 'var-a' })).toEqual({ removed: [join(modelsDir, 'var-a'), join(modelsDir, '.downloads', 'vae.pth')], keptShared: null });
    expect(await call('models.cancel', { name: 'var-a' })).toEqual({ status: { state: 'not-downloaded' } });
  });
});
