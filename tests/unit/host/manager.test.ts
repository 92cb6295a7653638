// The model manager against a real HTTP server on 127.0.0.1: pull (shared VQVAE once), pause, cancel,
// restart-resume from a second manager instance, remove, importFiles. The importer here is a stand-in that
// checks its inputs and writes a bundle folder the way the real one does (hidden temp folder + rename).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Catalog, parseCatalog } from '../../../src/host/catalog/catalog';
import { type ImportCheckpoints, type ManagerEvent, ModelManager, type ModelStatus } from '../../../src/host/catalog/manager';
import { partPath } from '../../../src/host/downloads/index';
import { FileServer, randomFile } from './file-server';

const REV = '0123456789abcdef0123456789abcdef01234567';
const server = new FileServer();
const agent = new Agent();
const tmp = mkdtempSync(join(tmpdir(), 'var-manager-test-'));
const vae = randomFile(300_000), a = randomFile(700_000), b = randomFile(400_000);
let modelsDir = '';
let n = 0;

function testCatalog(files = { vae, a, b }): Catalog {
  const sampling = { cfg: 4, topK: 900, topP: 0.95, moreSmooth: false };
  const v = (name: string, file: string, f: { sha256: string; data: Buffer }, exact: boolean) => ({
    kind: 'var', name, file, title: `Test ${name}`, parameters: 1000, sha256: f.sha256, ...(exact ? { bytes: f.data.length } : { bytesApprox: Math.round(f.data.length / 1000) * 1000 }),
    licence: 'MIT', depth: 1, resolution: 64, patchNums: [1, 2, 4], sharedAdaLN: false, vqvae: 'vae.pth', readme: null, paper: null, sampling, fidSampling: sampling,
  });
  return parseCatalog({
    schemaVersion: 1, repo: 'test/var', revision: REV, baseUrl: `https://example.invalid/resolve/${REV}`, licence: 'MIT', licenceUrl: 'https://example.invalid/LICENSE', notes: [],
    files: [
      { kind: 'vqvae', name: 'vae', file: 'vae.pth', title: 'VQVAE', parameters: 10, sha256: files.vae.sha256, bytes: files.vae.data.length, licence: 'MIT' },
      v('var-a', 'var_a.pth', files.a, true),
      v('var-b', 'var_b.pth', files.b, false),
    ],
  });
}

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

/** Stand-in for src/engine/import's importCheckpoints: checks both inputs, reports progress, writes atomically. */
const fakeImporter: ImportCheckpoints = async ({ varFile, vaeFile, outDir, name, title, onProgress, signal }) => {
  const varBytes = await readFile(varFile), vaeBytes = await readFile(vaeFile);
  const tmpDir = join(dirname(outDir), `.tmp-${basename(outDir)}`);
  await mkdir(tmpDir, { recursive: true });
  for (let i = 1; i <= 4; i++) {
    if (signal?.aborted) throw new Error('aborted');
    onProgress?.({ phase: 'weights', bytesDone: i * 25, bytesTotal: 100 });
    await new Promise((r) => setTimeout(r, 5));
  }
  await writeFile(join(tmpDir, 'manifest.json'), JSON.stringify({ name, title, varSha256: sha(varBytes), vaeSha256: sha(vaeBytes) }));
  await rename(tmpDir, outDir);
  return { dir: outDir };
};

async function open(extra: Partial<Parameters<typeof ModelManager.open>[0]> = {}) {
  const m = await ModelManager.open({
    modelsDir, catalog: testCatalog(), baseUrl: server.resolveBase, dispatcher: agent, importCheckpoints: fakeImporter,
    downloadOptions: { retryDelayMs: 5, progressIntervalMs: 0 }, ...extra,
  });
  const events: ManagerEvent[] = [];
  m.on((e) => events.push(e));
  const states = () => events.filter((e) => e.type === 'status').map((e) => (e as { status: ModelStatus }).status.state);
  return { m, events, states };
}

function serve(faults: { vae?: object; a?: object; b?: object } = {}) {
  server.add('vae.pth', vae.data, faults.vae ?? {});
  server.add('var_a.pth', a.data, faults.a ?? {});
  server.add('var_b.pth', b.data, faults.b ?? {});
  server.log.length = 0;
}

const cdnRequests = (file: string) => server.log.filter((l) => l.path === `/cdn/${file}`);

beforeAll(async () => { await server.start(); });
beforeEach(() => {
  modelsDir = join(tmp, `models-${++n}`);
  serve();
});
afterAll(async () => {
  await server.close();
  await agent.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('ModelManager', () => {
  it('lists every VAR model with status, download size (shared VQVAE included) and disk needed', async () => {
    const { m } = await open();
    const rows = await m.list();
    expect(rows.map((r) => [r.entry.name, r.status.state, r.downloadBytes, r.approximate])).toEqual([
      ['var-a', 'not-downloaded', 700_000 + 300_000, false],
      ['var-b', 'not-downloaded', 400_000 + 300_000, true],
    ]);
    // checkpoints + a bundle of the same size + the dq8 variant every import writes (0.52 × the VAR checkpoint)
    expect(rows[0].diskNeeded).toBe(2 * (700_000 + 300_000) + 364_000);
    const { m: plain } = await open({ variants: [] });
    expect((await plain.list())[0].diskNeeded).toBe(2 * (700_000 + 300_000));
  });

  it('every import writes the default variants (dq8) beside fp32, a catalogue pull and local files alike', async () => {
    const asked: unknown[] = [];
    const { m } = await open({ importCheckpoints: async (o) => { asked.push(o.precisions); return fakeImporter(o); } });
    await m.pull('var-a');
    const local = join(tmp, `local-${n}`);
    mkdirSync(local, { recursive: true });
    writeFileSync(join(local, 'mine.pth'), a.data);
    writeFileSync(join(local, 'vae.pth'), vae.data);
    await m.importFiles(join(local, 'mine.pth'), join(local, 'vae.pth'));
    expect(asked).toEqual([['dq8'], ['dq8']]);
  });

  it('pull: downloads the VQVAE and the checkpoint, imports into <modelsDir>/<name>, then drops the VAR checkpoint', async () => {
    const { m, events, states } = await open();
    const final = await m.pull('var-a');
    expect(final).toEqual({ state: 'ready', dir: join(modelsDir, 'var-a') });
    const manifest = JSON.parse(readFileSync(join(modelsDir, 'var-a', 'manifest.json'), 'utf8'));
    expect(manifest).toEqual({ name: 'var-a', title: 'Test var-a', varSha256: a.sha256, vaeSha256: vae.sha256 });
    const seq = states().filter((s, i, all) => s !== all[i - 1]);
    expect(seq).toEqual(['queued', 'downloading', 'verifying', 'downloading', 'verifying', 'importing', 'ready']);
    const last = events.filter((e) => e.type === 'status' && e.status.state === 'downloading').at(-1) as { status: { received: number; total: number; percent: number; file: string } };
    expect(last.status).toMatchObject({ file: 'var_a.pth', received: 1_000_000, total: 1_000_000, percent: 100 });
    expect(events.some((e) => e.type === 'import-progress' && e.fraction === 1)).toBe(true);
    expect(readdirSync(join(modelsDir, '.downloads')).sort()).toEqual(['manager.json', 'vae.pth']);
    // only the bundle is visible in the models folder
    expect(readdirSync(modelsDir).filter((f) => !f.startsWith('.'))).toEqual(['var-a']);
  });

  it('the shared VQVAE is downloaded once: a second model only fetches its own checkpoint', async () => {
    const { m } = await open();
    await Promise.all([m.pull('var-a'), m.pull('var-b')]);
    expect(cdnRequests('vae.pth')).toHaveLength(1);
    expect(cdnRequests('var_b.pth')).toHaveLength(1);
    expect((await m.list()).map((r) => r.status.state)).toEqual(['ready', 'ready']);
  });

  it('an interrupted transfer resumes inside the pull and the model becomes ready', async () => {
    serve({ a: { dropAfter: { bytes: 250_000, times: 1 } } });
    const { m } = await open();
    expect((await m.pull('var-a')).state).toBe('ready');
    expect(cdnRequests('var_a.pth').map((l) => l.status)).toEqual([200, 206]);
  });

  it('a corrupted download fails with the hash message, leaves no bundle, and the failure survives a restart', async () => {
    serve({ a: { corruptAt: 123_456 } });
    const { m } = await open();
    await expect(m.pull('var-a')).rejects.toMatchObject({ code: 'hash-mismatch' });
    const s = m.status('var-a');
    expect(s.state).toBe('failed');
    expect((s as { message: string }).message).toMatch(/^var_a\.pth is damaged: its sha256 is [0-9a-f]{64} but should be/);
    expect(existsSync(join(modelsDir, 'var-a'))).toBe(false);
    expect(existsSync(partPath(join(modelsDir, '.downloads', 'var_a.pth')))).toBe(false);
    const again = await open();
    expect(again.m.status('var-a')).toEqual(s);
    serve();
    expect((await again.m.pull('var-a')).state).toBe('ready'); // retry after the server is fixed
  });

  it('404 (wrong base URL) fails with a one-line message naming the URL', async () => {
    const { m } = await open({ baseUrl: `${server.base}/nowhere` });
    await expect(m.pull('var-a')).rejects.toMatchObject({ code: 'not-found' });
    expect((m.status('var-a') as { message: string }).message).toBe(`vae.pth was not found at ${server.base}/nowhere/vae.pth (HTTP 404): the catalogue's revision or the base URL (VAR_STUDIO_MODEL_BASE_URL) is wrong.`);
  });

  it('refuses up front when the disk cannot hold checkpoints and bundle', async () => {
    const { m } = await open({ downloadOptions: { freeBytes: async () => 1_500_000 } });
    await expect(m.pull('var-a')).rejects.toMatchObject({ code: 'disk-full' });
    expect((m.status('var-a') as { message: string }).message).toMatch(/^Not enough disk space for var-a: downloading and importing it needs about 2\.36 MB in .+, only 1\.50 MB are free/);
    expect(server.log).toHaveLength(0);
  });

  it('pause keeps the partial file; a NEW manager on the same folder shows paused and its pull resumes with Range', async () => {
    serve({ a: { chunkDelayMs: 10 } });
    const first = await open();
    first.m.on((e) => { if (e.type === 'status' && e.status.state === 'downloading' && e.status.file === 'var_a.pth' && e.status.received > 500_000) void first.m.pause('var-a'); });
    const paused = await first.m.pull('var-a');
    expect(paused.state).toBe('paused');
    const kept = statSync(partPath(join(modelsDir, '.downloads', 'var_a.pth'))).size;
    expect(kept).toBeGreaterThan(0);
    expect(paused).toMatchObject({ received: 300_000 + kept, total: 1_000_000 });

    const second = await open();
    expect(second.m.status('var-a')).toEqual(paused);
    server.faults.get('var_a.pth')!.chunkDelayMs = 0;
    expect((await second.m.pull('var-a')).state).toBe('ready');
    expect(cdnRequests('var_a.pth').at(-1)!.range).toBe(`bytes=${kept}-`);
    expect(cdnRequests('vae.pth')).toHaveLength(1);
  });

  it('a download running when the app closed is shown as paused after a restart', async () => {
    serve({ a: { chunkDelayMs: 10 } });
    const first = await open();
    first.m.on((e) => { if (e.type === 'status' && e.status.state === 'downloading' && e.status.file === 'var_a.pth' && e.status.received > 450_000) void first.m.pause('var-a'); });
    await first.m.pull('var-a');
    // what a killed app leaves: its last persisted state says "downloading"
    const stateFile = join(modelsDir, '.downloads', 'manager.json');
    writeFileSync(stateFile, JSON.stringify({ version: 1, models: { 'var-a': { state: 'downloading', updatedAt: '' } } }));
    const second = await open();
    expect(second.m.status('var-a').state).toBe('paused');
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).models['var-a'].state).toBe('paused');
  });

  it('cancel deletes the partial checkpoint; the model is not downloaded', async () => {
    serve({ a: { chunkDelayMs: 10 } });
    const { m } = await open();
    m.on((e) => { if (e.type === 'status' && e.status.state === 'downloading' && e.status.file === 'var_a.pth' && e.status.received > 450_000) void m.cancel('var-a'); });
    expect(await m.pull('var-a')).toEqual({ state: 'not-downloaded' });
    expect(readdirSync(join(modelsDir, '.downloads')).sort()).toEqual(['manager.json', 'vae.pth']);
  });

  it('cancel on a paused model deletes its partial files (nothing is left to resume)', async () => {
    serve({ vae: { chunkDelayMs: 10 } });
    const { m } = await open();
    m.on((e) => { if (e.type === 'status' && e.status.state === 'downloading' && e.status.received > 100_000) void m.pause('var-a'); });
    expect((await m.pull('var-a')).state).toBe('paused');
    expect(existsSync(partPath(join(modelsDir, '.downloads', 'vae.pth')))).toBe(true);
    expect(await m.cancel('var-a')).toEqual({ state: 'not-downloaded' });
    expect(readdirSync(join(modelsDir, '.downloads'))).toEqual(['manager.json']);
    expect((await open()).m.status('var-a')).toEqual({ state: 'not-downloaded' });
  });

  it('remove keeps the shared VQVAE while another model needs it, deletes it with the last one (or when asked)', async () => {
    const { m } = await open();
    await m.pull('var-a');
    await m.pull('var-b');
    const r1 = await m.remove('var-a');
    expect(r1).toEqual({ removed: [join(modelsDir, 'var-a')], keptShared: join(modelsDir, '.downloads', 'vae.pth') });
    expect(m.status('var-a')).toEqual({ state: 'not-downloaded' });
    const r2 = await m.remove('var-b');
    expect(r2).toEqual({ removed: [join(modelsDir, 'var-b'), join(modelsDir, '.downloads', 'vae.pth')], keptShared: null });
    await m.pull('var-a');
    await m.pull('var-b');
    expect((await m.remove('var-a', { purgeShared: true })).keptShared).toBeNull();
    expect(existsSync(join(modelsDir, '.downloads', 'vae.pth'))).toBe(false);
    expect(m.status('var-b').state).toBe('ready'); // its bundle does not need the checkpoint
  });

  it('removalPlan names what remove deletes with its size (the shared VQVAE only with the last model), and deletes nothing', async () => {
    const { m } = await open();
    // the models folder does not exist yet: free space is that of the disk it will be on
    expect(existsSync(modelsDir)).toBe(false);
    expect(await m.freeSpace()).toBeGreaterThan(0);
    await m.pull('var-a');
    await m.pull('var-b');
    const bundleBytes = (dir: string) => readdirSync(dir).reduce((t, f) => t + statSync(join(dir, f)).size, 0);
    const vaePath = join(modelsDir, '.downloads', 'vae.pth');
    const planA = await m.removalPlan('var-a');
    expect(planA).toEqual({
      items: [{ path: join(modelsDir, 'var-a'), what: 'model bundle', bytes: bundleBytes(join(modelsDir, 'var-a')) }],
      bytes: bundleBytes(join(modelsDir, 'var-a')), keptShared: vaePath,
    });
    expect(m.status('var-a').state).toBe('ready');
    await m.remove('var-a');
    const planB = await m.removalPlan('var-b');
    expect(planB.items.map((i) => [i.path, i.what])).toEqual([[join(modelsDir, 'var-b'), 'model bundle'], [vaePath, 'shared VQVAE checkpoint']]);
    expect(planB.bytes).toBe(bundleBytes(join(modelsDir, 'var-b')) + vae.data.length);
    expect((await m.remove('var-b')).removed).toEqual(planB.items.map((i) => i.path));
  });

  it('removalPlan of a paused pull counts its partial download', async () => {
    server.faults.set('var_a.pth', { chunkDelayMs: 20 });
    const { m } = await open();
    m.on((e) => { if (e.type === 'status' && e.status.state === 'downloading' && e.status.file === 'var_a.pth' && e.status.received > vae.data.length + 100_000) void m.pause('var-a'); });
    expect((await m.pull('var-a')).state).toBe('paused');
    server.faults.set('var_a.pth', {});
    const part = partPath(join(modelsDir, '.downloads', 'var_a.pth'));
    const plan = await m.removalPlan('var-a');
    expect(plan.items.map((i) => i.what)).toEqual(['VAR checkpoint (partial download)', 'shared VQVAE checkpoint']);
    expect(plan.items[0]).toMatchObject({ path: part, bytes: statSync(part).size });
    await m.remove('var-a');
    expect(existsSync(part)).toBe(false);
    expect(readdirSync(join(modelsDir, '.downloads'))).toEqual(['manager.json']);
  });

  it('importFiles makes a bundle from local checkpoints; an existing folder is never overwritten', async () => {
    const { m } = await open();
    const dir = join(tmp, `local-${n}`);
    await mkdir(dir, { recursive: true });
    writeFileSync(join(dir, 'My_Finetune.pth'), a.data);
    writeFileSync(join(dir, 'vae.pth'), vae.data);
    const r = await m.importFiles(join(dir, 'My_Finetune.pth'), join(dir, 'vae.pth'));
    expect(r).toEqual({ name: 'my-finetune', dir: join(modelsDir, 'my-finetune') });
    expect(JSON.parse(readFileSync(join(r.dir, 'manifest.json'), 'utf8')).varSha256).toBe(a.sha256);
    expect((await m.importFiles(join(dir, 'My_Finetune.pth'), join(dir, 'vae.pth'))).name).toBe('my-finetune-2');
    await expect(m.importFiles(join(dir, 'none.pth'), join(dir, 'vae.pth'))).rejects.toThrow(/The VAR checkpoint .*none\.pth does not exist/);
  });

  it('browser mode imports only checkpoint files placed in the models folder, looked up by name', async () => {
    const { m } = await open();
    await mkdir(modelsDir, { recursive: true });
    writeFileSync(join(modelsDir, 'tuned.safetensors'), a.data);
    writeFileSync(join(modelsDir, 'vae.pth'), vae.data);
    writeFileSync(join(modelsDir, 'notes.txt'), 'x');
    expect(await m.localCheckpoints()).toEqual([{ file: 'tuned.safetensors', bytes: a.data.length }, { file: 'vae.pth', bytes: vae.data.length }]);
    await expect(m.importLocal('../../etc/passwd', 'vae.pth')).rejects.toThrow(/There is no checkpoint "\.\.\/\.\.\/etc\/passwd" in /);
    expect(await m.importLocal('tuned.safetensors', 'vae.pth', { title: 'Tuned' })).toEqual({ name: 'tuned', dir: join(modelsDir, 'tuned') });
  });

  it('unknown model names are refused with the known ones', async () => {
    const { m } = await open();
    expect(() => m.pull('var-zz')).toThrow('There is no model "var-zz" in the catalogue; known: var-a, var-b.');
  });
});
