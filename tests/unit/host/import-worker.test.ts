// Checkpoint import in the importer worker: the same bundle, progress, cancel and typed errors as the importer
// run in this thread, and a host that runs engines in workers imports there (never in its own thread).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/engine/api';
import { ImportError, type ImportProgress, importCheckpoints } from '../../../src/engine/import/index';
import { threadChannel, type WorkerRole } from '../../../src/host/engine-worker/channel';
import { EngineWorker } from '../../../src/host/engine-worker/worker-engine';
import { writeSmallPair } from './small-pair';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'var-import-worker-'));
const worker = new EngineWorker('importer');
let pair: ReturnType<typeof writeSmallPair>;

beforeAll(() => {
  pair = writeSmallPair(join(tmp, 'fx'));
}, 300_000);
afterAll(async () => {
  await worker.terminate();
  rmSync(tmp, { recursive: true, force: true });
});

const inProcess = importCheckpoints;
const inWorker = worker.importer();

function options(outDir: string) {
  return { varFile: pair.varFile, vaeFile: pair.vaeFile, outDir, name: 'pair-a', templatesDir: pair.templatesDir, resourcesDir: join(REPO, 'resources'), previewSamples: 2, threads: 1 };
}

/** Every file of a bundle with its bytes; the manifest without its creation date. */
function bundleContents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    const bytes = readFileSync(join(dir, f));
    if (f !== 'manifest.json') out[f] = bytes.toString('base64');
    else {
      const m = JSON.parse(bytes.toString('utf8')) as { source: { date?: string } };
      delete m.source.date;
      out[f] = JSON.stringify(m);
    }
  }
  return out;
}

/** What the parent of an output folder holds besides finished bundles: half-written import folders. */
function hiddenLeftovers(parent: string): string[] {
  return readdirSync(parent).filter((f) => f.startsWith('.'));
}

async function failure(p: Promise<unknown>): Promise<ImportError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ImportError);
  return e as ImportError;
}

describe('importCheckpoints in the importer worker', () => {
  it('writes the same bundle as in this thread and reports the same progress phases', async () => {
    const [mine, theirs]: ImportProgress[][] = [[], []];
    await inProcess({ ...options(join(tmp, 'here', 'b')), onProgress: (p) => mine.push(p) });
    const result = (await inWorker({ ...options(join(tmp, 'worker', 'b')), onProgress: (p) => theirs.push(p) })) as { dir: string; manifest: { name: string } };
    expect(result.dir).toBe(join(tmp, 'worker', 'b'));
    expect(result.manifest.name).toBe('pair-a');
    const a = bundleContents(join(tmp, 'here', 'b'));
    expect(Object.keys(a)).toContain('transformer.onnx');
    expect(bundleContents(join(tmp, 'worker', 'b'))).toEqual(a);
    const phases = (events: ImportProgress[]) => [...new Set(events.map((e) => e.phase))];
    expect(phases(theirs)).toEqual(phases(mine));
    expect(phases(theirs)).toEqual(expect.arrayContaining(['hashing', 'weights', 'preview']));
    // the last byte count of hashing is the two files' size, as in this thread
    const hashed = (events: ImportProgress[]) => events.filter((e) => e.phase === 'hashing').at(-1);
    expect(hashed(theirs)).toEqual(hashed(mine));
  }, 300_000);

  it('an abort stops it with the importer\'s own aborted error and leaves no half-written folder', async () => {
    const cancelAt = (run: (o: Parameters<typeof inProcess>[0]) => Promise<unknown>, out: string) => {
      const controller = new AbortController();
      return run({ ...options(out), signal: controller.signal, onProgress: () => controller.abort() });
    };
    const mine = await failure(cancelAt(inProcess, join(tmp, 'here', 'cancelled')));
    const theirs = await failure(cancelAt(inWorker, join(tmp, 'worker', 'cancelled')));
    expect([theirs.code, theirs.message]).toEqual([mine.code, mine.message]);
    expect(theirs.code).toBe('aborted');
    expect(readdirSync(join(tmp, 'worker')).filter((f) => f.includes('cancelled'))).toEqual([]);
    expect(hiddenLeftovers(join(tmp, 'worker'))).toEqual([]);
    // an import aborted before it starts never begins either
    const early = new AbortController();
    early.abort();
    expect((await failure(inWorker({ ...options(join(tmp, 'worker', 'never')), signal: early.signal }))).code).toBe('aborted');
  }, 120_000);

  it('an importer that dies mid-import fails the import with worker-exited, and the next import starts a new one', async () => {
    const own = new EngineWorker('importer');
    const channel = () => (own as unknown as { channel: { kill(): Promise<void> } | null }).channel;
    try {
      // killed while hashing (no ONNX Runtime session is running in the thread then)
      const err = await own.importer()({ ...options(join(tmp, 'killed', 'b')), onProgress: () => void channel()?.kill() }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('worker-exited');
      expect((err as Error).message).toMatch(/^The checkpoint importer stopped \(.+\); it is started again on the next request\.$/);
      const bad = await failure(own.importer()({ ...options(join(tmp, 'killed', 'c')), varFile: join(tmp, 'no-such.pth') }));
      expect(bad.code).toBe('missing-file');
    } finally {
      await own.terminate();
    }
  }, 120_000);

  it('a malformed checkpoint gives the same typed error (code, message, file, key) as in this thread', async () => {
    const bad = join(tmp, 'bad');
    mkdirSync(bad, { recursive: true });
    const garbage = join(bad, 'var.pth');
    writeFileSync(garbage, Buffer.from('PK\u0003\u0004 this is not a torch checkpoint'.repeat(40)));
    const truncated = join(bad, 'vae.pth');
    writeFileSync(truncated, readFileSync(pair.vaeFile).subarray(0, 4096));
    for (const [varFile, vaeFile] of [[garbage, pair.vaeFile], [pair.varFile, truncated]]) {
      const opts = { ...options(join(bad, 'out')), varFile, vaeFile };
      const mine = await failure(inProcess(opts));
      const theirs = await failure(inWorker(opts));
      expect({ code: theirs.code, message: theirs.message, file: theirs.file, key: theirs.key }).toEqual({ code: mine.code, message: mine.message, file: mine.file, key: mine.key });
      expect(theirs.code).not.toBe('internal');
    }
    expect(readdirSync(bad).filter((f) => f.startsWith('.') || f === 'out')).toEqual([]);
  }, 120_000);
});

describe('StudioHost with engineInWorker', () => {
  it('imports checkpoints from the models folder in its importer worker, with progress events, giving the same bundle', async () => {
    const { StudioHost } = await import('../../../src/host/service');
    const { ModelCatalog } = await import('../../../src/host/models');
    const { loadImporter } = await import('../../../src/host/catalog/importer');
    const modelsDir = join(tmp, 'host-models');
    mkdirSync(modelsDir);
    copyFileSync(pair.varFile, join(modelsDir, 'var_a.pth'));
    copyFileSync(pair.vaeFile, join(modelsDir, 'vae_a.pth'));
    const before = process.env.VAR_STUDIO_GRAPH_TEMPLATES;
    process.env.VAR_STUDIO_GRAPH_TEMPLATES = pair.templatesDir;
    const opened: WorkerRole[] = [];
    const host = new StudioHost({
      version: 't', host: 'browser', catalog: new ModelCatalog(join(REPO, 'models', 'var-fashion-32'), modelsDir), threads: 1, engineInWorker: true,
      openWorker: (role) => { opened.push(role); return threadChannel(); }, deliverExport: async () => ({ kind: 'cancelled' }),
    });
    const events: { type: string; name?: string; phase?: string | null }[] = [];
    try {
      const result = await host.handle('models.import', { varFile: 'var_a.pth', vaeFile: 'vae_a.pth', name: 'from-host' }, { id: 's', emit: (e) => events.push(e as never) });
      expect(result).toEqual({ name: 'from-host', dir: join(modelsDir, 'from-host') });
      expect(opened).toEqual(['importer']);
      expect(events.filter((e) => e.type === 'models.import-progress' && e.name === 'from-host').map((e) => e.phase)).toEqual(expect.arrayContaining(['hashing', 'weights', 'preview']));
      // the same importer with the same defaults (the variants the host writes on this machine), run in this thread
      const { importVariantsFor } = await import('../../../src/host/catalog/manager');
      const { currentEnvironment } = await import('../../../src/host/gpu-doctor');
      const reference = join(tmp, 'host-reference', 'from-host');
      await (await loadImporter())({ varFile: join(modelsDir, 'var_a.pth'), vaeFile: join(modelsDir, 'vae_a.pth'), outDir: reference, name: 'from-host', precisions: importVariantsFor('auto', currentEnvironment()) });
      expect(bundleContents(join(modelsDir, 'from-host'))).toEqual(bundleContents(reference));
    } finally {
      await host.dispose();
      if (before === undefined) delete process.env.VAR_STUDIO_GRAPH_TEMPLATES;
      else process.env.VAR_STUDIO_GRAPH_TEMPLATES = before;
    }
  }, 300_000);
});
