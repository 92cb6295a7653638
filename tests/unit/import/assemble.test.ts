/**
 * The TypeScript importer against the Python converter: `.pth` files written by torch in the official layout
 * (random weights, small width; pair a: 256-px schedule, pair b: shared AdaLN and the 512-px schedule) are
 * imported by `importCheckpoints` and by tools/convert_official.py. The bundles must hold the same graphs and
 * the same weight bytes, and generate the same tokens; the preview maps differ (fitted on other random
 * pyramids) but must be useful. Broken inputs must fail clearly and leave nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VarEngine } from '../../../src/engine';
import type { Manifest } from '../../../src/engine/manifest';
import { type AssembleResult, ImportError, type ImportProgress, importCheckpoints } from '../../../src/engine/import';
import { NormalEquations, applyPreview, psnr, solvePreview, sumSquaredError } from '../../../src/engine/import/preview-fit';
import { REPO } from '../engine/helpers';

const PY = '/usr/bin/python3';
let root: string;
let fx: string;
const imported: Record<string, AssembleResult> = {};

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function importPair(tag: string, outName: string, extra: Partial<Parameters<typeof importCheckpoints>[0]> = {}) {
  return importCheckpoints({
    varFile: join(fx, tag, 'var.pth'), vaeFile: join(fx, tag, 'vae.pth'), outDir: join(root, 'out', outName),
    templatesDir: join(fx, 'templates'), resourcesDir: join(REPO, 'resources'), previewSamples: 2, threads: 1, ...extra,
  });
}

/** Nothing named like the bundle, and no hidden temp folder, in the output parent. */
function leftovers(name: string): string[] {
  const parent = join(root, 'out');
  return existsSync(parent) ? readdirSync(parent).filter((f) => f === name || f.startsWith(`.${name}.`)) : [];
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'var-import-test-'));
  fx = join(root, 'fixtures');
  // VAR_IMPORT_FIXTURES: a folder make_import_fixtures.py already wrote (to iterate on the TypeScript side only).
  if (process.env.VAR_IMPORT_FIXTURES) {
    fx = process.env.VAR_IMPORT_FIXTURES;
    return;
  }
  execFileSync(PY, [join(REPO, 'tools/make_import_fixtures.py'), '--out', fx], { cwd: REPO, stdio: 'pipe', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
}, 400_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.each(['a', 'b'])('pair %s: TypeScript import vs tools/convert_official.py', (tag) => {
  let ts: Manifest;
  let py: Manifest;
  let tsDir: string;
  let pyDir: string;
  const events: ImportProgress[] = [];

  // What a killed import leaves: a hidden folder named after a process that no longer runs.
  const stale = () => join(root, 'out', `.ts-${tag}.importing-999999999-dead`);

  beforeAll(async () => {
    mkdirSync(join(stale(), 'x'), { recursive: true });
    imported[tag] = await importPair(tag, `ts-${tag}`, { onProgress: (p) => events.push(p) });
    tsDir = imported[tag].dir;
    pyDir = join(fx, `py-${tag}`);
    ts = readManifest(tsDir);
    py = readManifest(pyDir);
  }, 300_000);

  it('writes the same graphs and codebook, and every weightMap entry with the same bytes', () => {
    for (const g of Object.values(py.graphs)) {
      expect(readFileSync(join(tsDir, g.model)).equals(readFileSync(join(pyDir, g.model))), g.model).toBe(true);
    }
    expect(readFileSync(join(tsDir, 'codebook.f32')).equals(readFileSync(join(pyDir, 'codebook.f32')))).toBe(true);
    const strip = (m: Manifest) => m.weightMap.map((r) => ({ ...r, key: r.source === 'derived' ? r.initializer : r.key }));
    expect(strip(ts)).toEqual(strip(py));
    const blobs = new Map<string, [Buffer, Buffer]>();
    let compared = 0;
    for (const r of ts.weightMap) {
      if (r.source === 'derived') continue;
      const w = ts.graphs[r.graph as keyof Manifest['graphs']].weights;
      if (!blobs.has(w)) blobs.set(w, [readFileSync(join(tsDir, w)), readFileSync(join(pyDir, w))]);
      const [a, b] = blobs.get(w)!;
      expect(a.subarray(r.offset, r.offset + r.length).equals(b.subarray(r.offset, r.offset + r.length)), `${r.graph} ${r.initializer}`).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
    // Between the tensors only zero padding: the weights files differ at most in the preview map.
    for (const [w, [a, b]] of blobs) if (w !== ts.graphs.preview.weights) expect(a.equals(b), w).toBe(true);
  });

  it('writes the manifest fields the Python converter writes, with files hashed and provenance', () => {
    for (const k of ['resolution', 'downsample', 'patchNums', 'vocabSize', 'cvae', 'phiIndex', 'classes', 'transformer', 'vae', 'sampling', 'graphs', 'codebook', 'name', 'title'] as const) {
      expect(ts[k], k).toEqual(py[k]);
    }
    expect(Object.keys(ts.files).sort()).toEqual(Object.keys(py.files).sort());
    for (const [f, e] of Object.entries(ts.files)) expect(statSync(join(tsDir, f)).size).toBe(e.bytes);
    // the official demo's settings, top-k stored clamped to the vocabulary (beyond it top-k keeps every token)
    expect(ts.sampling).toEqual({ cfg: 4, topK: Math.min(900, ts.vocabSize), topP: 0.95, moreSmooth: false });
    const src = ts.source as { var: { sha256: string; bytes: number }; vae: { sha256: string } };
    expect(src.var.sha256).toBe((py.source as typeof src).var.sha256);
    expect(src.vae.sha256).toBe((py.source as typeof src).vae.sha256);
    const { previewMacs, decoderMacs, costRatio, kernel, ridge, fitSource } = py.preview as unknown as Record<string, unknown>;
    expect(ts.preview).toMatchObject({ previewMacs, decoderMacs, costRatio, kernel, ridge, fitSource, fitSamples: 2 * ts.patchNums.length });
  });

  it('fits a preview map that beats the best constant colour', () => {
    const p = ts.preview as unknown as { psnrVsDecoder: number; psnrConstantBaseline: number };
    expect(Number.isFinite(p.psnrVsDecoder)).toBe(true);
    expect(p.psnrVsDecoder).toBeGreaterThan(p.psnrConstantBaseline + 1);
  });

  it('removes the hidden folder of an earlier, killed import and leaves only the bundle', () => {
    expect(existsSync(stale())).toBe(false);
    expect(leftovers(`ts-${tag}`)).toEqual([`ts-${tag}`]);
  });

  it('reports progress through every phase, tensors counted up to the total', () => {
    const phases = [...new Set(events.map((e) => e.phase))];
    expect(phases).toEqual(['hashing', 'checking', 'weights', 'preview', 'manifest', 'done']);
    const last = events.filter((e) => e.phase === 'weights').at(-1)!;
    expect(last.tensorsDone).toBe(last.tensorsTotal);
    expect(last.bytesDone).toBe(last.bytesTotal);
  });

  it('generates token-identical images, greedy and seeded, through VarEngine', async () => {
    const a = await VarEngine.create(tsDir, { threads: 1 });
    const b = await VarEngine.create(pyDir, { threads: 1 });
    try {
      const run = async (e: VarEngine, req: Parameters<VarEngine['generate']>[0]) => {
        let tokens: Int32Array[][] = [];
        for await (const ev of e.generate(req)) if (ev.type === 'done') tokens = ev.tokens;
        return tokens.map((img) => img.map((t) => Array.from(t)));
      };
      const greedy = { classIndex: 3, seed: 1, batch: 1, sampling: { cfg: 1.5, topK: 1, topP: 1, moreSmooth: false }, previews: false };
      const seeded = { classIndex: null, seed: 77, batch: 2, sampling: { cfg: 4, topK: 900, topP: 0.95, moreSmooth: false }, previews: false };
      for (const req of [greedy, seeded]) {
        const [x, y] = [await run(a, req), await run(b, req)];
        expect(x.length).toBe(req.batch);
        expect(x[0].length).toBe(ts.patchNums.length);
        expect(x).toEqual(y);
      }
    } finally {
      await a.dispose();
      await b.dispose();
    }
  }, 120_000);
});

describe('float16 / bfloat16 checkpoints', () => {
  it('are widened exactly: the same weight bytes as the Python bundle of the float32 values', async () => {
    const r = await importPair('a', 'half', { varFile: join(fx, 'a', 'var_half.pth'), vaeFile: join(fx, 'a', 'vae_half.pth'), previewSamples: 1 });
    const pyDir = join(fx, 'py-a-half');
    const py = readManifest(pyDir);
    for (const g of Object.keys(py.graphs) as (keyof Manifest['graphs'])[]) {
      if (g === 'preview') continue;
      expect(readFileSync(join(r.dir, py.graphs[g].weights)).equals(readFileSync(join(pyDir, py.graphs[g].weights))), g).toBe(true);
    }
    expect(readFileSync(join(r.dir, 'codebook.f32')).equals(readFileSync(join(pyDir, 'codebook.f32')))).toBe(true);
    // and they really were half precision: not the float32 originals of pair a
    expect(readFileSync(join(r.dir, 'transformer.weights')).equals(readFileSync(join(fx, 'py-a', 'transformer.weights')))).toBe(false);
  }, 120_000);
});

describe('the TypeScript preview fit', () => {
  it('reproduces tools/export/preview_fit.py on the same f̂ and decoder outputs', () => {
    const dir = join(fx, 'preview-fit');
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as {
      fhatShape: number[]; targetShape: number[]; downsample: number; ridge: number; psnrVsDecoder: number; kernel: number;
    };
    const [M, C, h, w] = ref.fhatShape;
    const R = ref.targetShape[2];
    const fh = f32(join(dir, 'fhat.f32'));
    const target = f32(join(dir, 'target.f32'));
    const eq = new NormalEquations(C, ref.kernel, ref.downsample);
    for (let m = 0; m < M; m++) eq.add(fh.subarray(m * C * h * w, (m + 1) * C * h * w), target.subarray(m * 3 * R * R, (m + 1) * 3 * R * R), h, w);
    const map = solvePreview(eq, ref.ridge);
    const wRef = f32(join(dir, 'weight.f32'));
    const bRef = f32(join(dir, 'bias.f32'));
    let maxW = 0;
    let maxDiff = 0;
    wRef.forEach((v, i) => {
      maxW = Math.max(maxW, Math.abs(v));
      maxDiff = Math.max(maxDiff, Math.abs(v - map.weight[i]));
    });
    expect(maxDiff / maxW).toBeLessThan(1e-4);
    bRef.forEach((v, i) => expect(map.bias[i]).toBeCloseTo(v, 4));
    let sse = 0;
    for (let m = 0; m < M; m++) {
      sse += sumSquaredError(applyPreview(map, fh.subarray(m * C * h * w, (m + 1) * C * h * w), h, w), target.subarray(m * 3 * R * R, (m + 1) * 3 * R * R));
    }
    expect(psnr(sse / target.length)).toBeCloseTo(ref.psnrVsDecoder, 2);
  });
});

describe('broken inputs: a clear error and no bundle left behind', () => {
  it('refuses a file whose sha256 is not the expected one, before writing anything', async () => {
    const err = await importPair('a', 'bad-hash', { expectedSha256: { var: '0'.repeat(64) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as ImportError).code).toBe('sha256-mismatch');
    expect((err as Error).message).toMatch(/var\.pth: expected sha256 0{64}, found [0-9a-f]{64}/);
    expect(leftovers('bad-hash')).toEqual([]);
  });

  it('names an unknown key', async () => {
    const err = await importPair('a', 'extra-key', { varFile: join(fx, 'a', 'var_extra_key.pth') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as Error).message).toContain("unexpected key 'blocks.0.attn.extra_bias'");
    expect(leftovers('extra-key')).toEqual([]);
  });

  it('refuses a truncated checkpoint', async () => {
    const cut = join(root, 'truncated-var.pth');
    copyFileSync(join(fx, 'a', 'var.pth'), cut);
    truncateSync(cut, Math.floor(statSync(cut).size * 0.6));
    const err = await importPair('a', 'truncated', { varFile: cut }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as Error).message).toContain('truncated-var.pth');
    expect(leftovers('truncated')).toEqual([]);
  });

  it('refuses an architecture without a template, naming it', async () => {
    // Only pair b's templates: pair a's VAR (depth 2, 256-px schedule) has none.
    const only = join(root, 'templates-b');
    for (const t of readdirSync(join(fx, 'templates')).filter((n) => n.endsWith('-512'))) cpSync(join(fx, 'templates', t), join(only, t), { recursive: true });
    const err = await importPair('a', 'no-template', { templatesDir: only }).catch((e: unknown) => e);
    expect((err as ImportError).code).toBe('no-template');
    expect((err as Error).message).toMatch(/no graph template for a VAR of depth 2, width 64, .*patch_nums \(1, 2, 3, 4, 5, 6, 8, 10, 13, 16\).*templates for: var-d2-s-c64-512/);
    expect(leftovers('no-template')).toEqual([]);
  });

  it('stops when cancelled mid-way and removes the partial folder', async () => {
    const ac = new AbortController();
    const err = await importPair('a', 'cancelled', {
      signal: ac.signal,
      onProgress: (p) => { if (p.phase === 'weights' && (p.tensorsDone ?? 0) >= 5) ac.abort(); },
    }).catch((e: unknown) => e);
    expect((err as ImportError).code).toBe('aborted');
    expect(leftovers('cancelled')).toEqual([]);
  });

  it('will not replace an existing folder', async () => {
    const err = await importPair('a', 'ts-a').catch((e: unknown) => e);
    expect((err as ImportError).code).toBe('out-exists');
    expect(readManifest(imported.a.dir).name).toBe(imported.a.manifest.name);
  });
});

describe('precision variants at import', () => {
  it('writes each asked variant beside fp32, lists it with its sha256, and the engine runs it', async () => {
    const phases: string[] = [];
    const r = await importPair('a', 'ts-a-int8', { precisions: ['int8', 'dq8'], onProgress: (p) => phases.push(p.phase) });
    const m = readManifest(r.dir);
    expect(Object.keys(m.graphs.transformer.variants ?? {}).sort()).toEqual(['dq8', 'int8']);
    expect(m.graphs.transformer.variants?.int8?.quantization).toMatchObject({ method: 'MatMulNBits', bits: 8, blockSize: 128, accuracyLevel: 4 });
    for (const v of Object.values(m.graphs.transformer.variants ?? {})) {
      expect(m.files[v!.weights].bytes).toBe(statSync(join(r.dir, v!.weights)).size);
    }
    expect(phases.indexOf('variants')).toBeGreaterThan(phases.indexOf('preview'));
    expect(phases.indexOf('variants')).toBeLessThan(phases.indexOf('done'));
    const e = await VarEngine.create(r.dir, { provider: 'cpu', precision: 'int8', threads: 1 });
    expect(e.precision.transformer).toBe('int8');
    await e.dispose();
  }, 300_000);
});
