import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelCatalog } from '../../../src/host/models';
import { StudioHost } from '../../../src/host/service';
import { decodeImage, encodeImage, inspectImage, openCanvasImage, readPngText } from '../../../src/host/image-io';
import type { EventOf, StudioEvent } from '../../../src/shared/contract';
import { EDIT_CHAIN_KEY, editChainFromJson } from '../../../src/shared/edit';
import { REPO, TINY_BUNDLE } from '../engine/helpers';

const encodePng = (img: { width: number; height: number; data: Uint8Array }) => encodeImage(img, { format: 'png', quality: 100 });

const BIN = join(REPO, 'bin/var-studio.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'var-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, SOURCE_DATE_EPOCH: '1767225600' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const tiny = ['--model', TINY_BUNDLE, '--provider', 'cpu'];

/** One-line reason on stderr, non-zero exit. */
function expectRefusal(r: ReturnType<typeof cli>, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('var-studio: error:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('var-studio CLI (spawned)', () => {
  it('generate: PNGs with the settings in a tEXt chunk right after IHDR, token maps as JSON, --json result', async () => {
    const out = join(tmp, 'gen.png');
    const tokensOut = join(tmp, 'tokens.json');
    const r = cli('generate', ...tiny, '--class', 'class 4', '--seed', '77', '--cfg', '2.5', '--top-k', '10', '--top-p', '0.9', '--batch', '2', '--out', out, '--tokens-out', tokensOut, '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.ok).toBe(true);
    expect(res.files).toEqual([join(tmp, 'gen-0.png'), join(tmp, 'gen-1.png')]);
    expect(res.classIndices).toEqual([4, 4]);
    expect(r.stderr).toMatch(/4\/4 scale 4\/4/); // progress on stderr
    const png = readFileSync(res.files[1]);
    expect(png.subarray(37, 41).toString('latin1')).toBe('tEXt');
    const meta = JSON.parse(readPngText(png)['var-studio']);
    expect(meta).toMatchObject({ format: 'var-studio-settings', classIndex: 4, resolvedClassIndex: 4, seed: 78, sampling: { cfg: 2.5, topK: 10, topP: 0.9, moreSmooth: false }, model: { name: 'tiny', id: 'user:bundle' } });
    const img = await decodeImage(png);
    expect([img.width, img.height]).toEqual([16, 16]);
    const tokens = JSON.parse(readFileSync(tokensOut, 'utf8'));
    expect(tokens.images).toHaveLength(2);
    expect(tokens.images[0].tokens.map((t: number[]) => t.length)).toEqual([1, 4, 9, 16]);
  });

  it('a PNG made by the CLI opens in the studio with its settings and regenerates identically there', async () => {
    const out = join(tmp, 'studio.png');
    const tokensOut = join(tmp, 'studio-tokens.json');
    const r = cli('generate', ...tiny, '--class', 'random', '--seed', '4294967295', '--cfg', '2.5', '--top-k', '10', '--top-p', '0.9', '--more-smooth', '--out', out, '--tokens-out', tokensOut, '--quiet');
    expect(r.code).toBe(0);
    const file = readFileSync(out);
    // The studio's open path: the settings come back whole, not "damaged".
    const opened = await inspectImage(file);
    expect(opened.note).toMatch(/^Settings restored/);
    const s = opened.settings!;
    expect(s).toMatchObject({ classIndex: null, seed: 4294967295, sampling: { cfg: 2.5, topK: 10, topP: 0.9, moreSmooth: true } });
    expect((await openCanvasImage(file, 'studio.png')).settingsJson).not.toBeNull();
    // The studio regenerates from those settings, on the model the record names (the bundle in the user's models folder).
    const host = new StudioHost({ version: 't', host: 'browser', catalog: new ModelCatalog(join(tmp, 'no-embedded'), dirname(TINY_BUNDLE)), threads: 1, deliverExport: async () => ({ kind: 'cancelled' }) });
    try {
      const events: StudioEvent[] = [];
      const session = { id: 's', emit: (e: StudioEvent) => events.push(e) };
      await host.handle('models.load', { modelId: s.model.id }, session);
      await host.handle('generate.start', { jobId: 'again', settings: { modelId: s.model.id, classIndex: s.classIndex, seed: s.seed, batch: 1, sampling: s.sampling } }, session);
      await host.idle();
      const done = events.find((e): e is EventOf<'job.done'> => e.type === 'job.done')!;
      expect(done.classIndices).toEqual([s.resolvedClassIndex]);
      expect(Buffer.from(done.images[0].data).equals(Buffer.from(opened.image.data))).toBe(true);
      const tokens = JSON.parse(readFileSync(tokensOut, 'utf8')).images[0].tokens as number[][];
      expect(done.tokens[0].map((t) => Array.from(t))).toEqual(tokens);
    } finally {
      await host.dispose();
    }
  });

  it('generate is reproducible: same seed ⇒ identical PNG bytes', () => {
    const a = join(tmp, 'a.png'), b = join(tmp, 'b.png');
    expect(cli('generate', ...tiny, '--class', '2', '--seed', '5', '--more-smooth', '--out', a, '--quiet').code).toBe(0);
    expect(cli('generate', ...tiny, '--class', '2', '--seed', '5', '--more-smooth', '--out', b, '--quiet').code).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('edit: class edit with --region reaching past the left edge (outpaint) grows the image; far pixels unchanged', async () => {
    const w = 24, h = 24;
    const img = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
    const mask = new Uint8Array(w * h * 3);
    for (let y = 6; y < 18; y++) for (let x = 6; x < 18; x++) mask.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    writeFileSync(join(tmp, 'in.png'), await encodePng({ width: w, height: h, data: img }));
    writeFileSync(join(tmp, 'mask.png'), await encodePng({ width: w, height: h, data: mask }));
    const out = join(tmp, 'edit.png');
    const r = cli('edit', ...tiny, '--image', join(tmp, 'in.png'), '--mask', join(tmp, 'mask.png'), '--class', '3', '--from-scale', '1', '--feather', '2', '--region=-4,0,28', '--seed', '9', '--out', out, '--json');
    expect(r.code).toBe(0);
    // the union of the 24×24 image and the 28×28 region at (−4, 0): 4 new columns left, 4 new rows below
    expect(JSON.parse(r.stdout).size).toEqual([28, 28]);
    const res = await decodeImage(readFileSync(out));
    // the source's top-right pixel (far from the mask and the new strips) is unchanged, shifted by 4 columns
    const src = (w - 1) * 3;
    const dst = (w - 1 + 4) * 3;
    expect(Array.from(res.data.subarray(dst, dst + 3))).toEqual(Array.from(img.subarray(src, src + 3)));
    const chain = editChainFromJson(readPngText(readFileSync(out))[EDIT_CHAIN_KEY]);
    expect(chain.source).toMatchObject({ kind: 'file', fileName: 'in.png', width: 24, height: 24 });
    expect(chain.steps[0]).toMatchObject({ op: 'class-edit', classIndex: 3, resolvedClassIndex: 3, seed: 9, fromScale: 1, feather: 2, region: { x: -4, y: 0, size: 28 }, canvas: { width: 28, height: 28, shiftX: 4, shiftY: 0 } });
    expect((await openCanvasImage(readFileSync(out), 'edit.png')).chain).toEqual(chain); // the canvas continues its chain
  });

  it('bad input: class out of range', () => {
    expectRefusal(cli('generate', ...tiny, '--class', '10', '--out', join(tmp, 'x.png')), /class must be an integer 0\.\.9.*got 10/);
  });

  it('bad input: the studio\'s limits (LIMITS): batch, cfg, top-p out of range are refused, not clamped silently', () => {
    expectRefusal(cli('generate', ...tiny, '--class', '1', '--batch', '64', '--out', join(tmp, 'x.png')), /--batch must be a whole number in 1\.\.16, got "64"/);
    expectRefusal(cli('generate', ...tiny, '--class', '1', '--cfg', '99', '--out', join(tmp, 'x.png')), /--cfg must be a number in 0\.\.50, got "99"/);
    expectRefusal(cli('generate', ...tiny, '--class', '1', '--top-p', '1.7', '--out', join(tmp, 'x.png')), /--top-p must be a number in 0\.\.1, got "1\.7"/);
  });

  it('auto provider on a machine without GPU libraries: no "Failed to load shared library" noise', () => {
    const r = cli('generate', '--model', TINY_BUNDLE, '--class', '1', '--seed', '1', '--out', join(tmp, 'auto.png'));
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/Failed to load shared library/i);
    expect(r.stdout).toMatch(/seed 1, [\d.]+ s on \w+/);
  });

  it('bad input: NaN cfg, unknown class name, unknown option', () => {
    expectRefusal(cli('generate', ...tiny, '--class', '1', '--cfg', 'NaN', '--out', join(tmp, 'x.png')), /--cfg must be a number in 0..50, got "NaN"/);
    expectRefusal(cli('generate', ...tiny, '--class', 'zebra', '--out', join(tmp, 'x.png')), /no class named "zebra"/);
    expectRefusal(cli('generate', ...tiny, '--class', '1', '--bogus', '--out', join(tmp, 'x.png')), /bogus/);
  });

  it('bad input: missing image file, mask of the wrong size, corrupt image', async () => {
    writeFileSync(join(tmp, 'small-mask.png'), await encodePng({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(255) }));
    writeFileSync(join(tmp, 'big.png'), await encodePng({ width: 20, height: 20, data: new Uint8Array(20 * 20 * 3) }));
    writeFileSync(join(tmp, 'corrupt.png'), Buffer.from('\x89PNG\r\n\x1a\nthis is not really a png'));
    const out = join(tmp, 'x.png');
    expectRefusal(cli('edit', ...tiny, '--image', join(tmp, 'nope.png'), '--mask', join(tmp, 'small-mask.png'), '--out', out), /--image file not found/);
    expectRefusal(cli('edit', ...tiny, '--image', join(tmp, 'big.png'), '--mask', join(tmp, 'small-mask.png'), '--out', out), /--mask is 8×8 but --image is 20×20/);
    expectRefusal(cli('edit', ...tiny, '--image', join(tmp, 'corrupt.png'), '--mask', join(tmp, 'small-mask.png'), '--out', out), /cannot decode the image/);
  });

  it('bad input: a bundle folder that does not exist; --json reports the error as JSON too', () => {
    const r = cli('generate', '--model', join(tmp, 'no-such-bundle'), '--class', '1', '--out', join(tmp, 'x.png'), '--json');
    expectRefusal(r, /no-such-bundle: no such folder/);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'missing-bundle' } });
  });
});

describe('the precision in CLI settings records (spawned, embedded model)', () => {
  const pixels = async (file: string) => Buffer.from((await decodeImage(readFileSync(file))).data);
  it('generate records the precision of each graph; --from regenerates at it, and warns when told another one', async () => {
    const made = join(tmp, 'dq8.png');
    const r = cli('generate', '--provider', 'cpu', '--precision', 'dq8', '--class', '2', '--seed', '31', '--out', made, '--quiet');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/on cpu \(dq8\)/);
    const meta = JSON.parse(readPngText(readFileSync(made))['var-studio']);
    expect(meta.precision).toEqual({ transformer: 'dq8', fhatStep: 'fp32', encoder: 'fp32', decoder: 'fp32', preview: 'fp32' });

    // No --precision: the recorded one is used, the same pixels come back, nothing is warned.
    const again = join(tmp, 'dq8-again.png');
    const same = cli('generate', '--provider', 'cpu', '--from', made, '--out', again, '--json', '--quiet');
    expect(same.code).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ precision: 'dq8', seed: 31, classIndices: [2] });
    expect(same.stderr).not.toMatch(/warning/);
    expect((await pixels(again)).equals(await pixels(made))).toBe(true);

    // --precision fp32 wins, and stderr says in one line that the image will differ.
    const other = join(tmp, 'fp32-from-dq8.png');
    const diff = cli('generate', '--provider', 'cpu', '--precision', 'fp32', '--from', made, '--out', other, '--quiet');
    expect(diff.code).toBe(0);
    const warnings = diff.stderr.split('\n').filter((l) => l.startsWith('var-studio: warning:'));
    expect(warnings).toEqual(['var-studio: warning: Made with dq8; the model runs fp32 here, so the image will differ.']);
    expect(JSON.parse(readPngText(readFileSync(other))['var-studio']).precision.transformer).toBe('fp32');
  }, 120_000);

  it('--from refuses an image without a settings record, and info / doctor name the precision in use', async () => {
    const plain = join(tmp, 'plain.png');
    writeFileSync(plain, await encodePng({ width: 2, height: 2, data: new Uint8Array(12) }));
    expectRefusal(cli('generate', '--provider', 'cpu', '--from', plain, '--out', join(tmp, 'x.png')), /--from .*no VAR Studio settings record/);
    const info = JSON.parse(cli('info', '--provider', 'cpu', '--precision', 'dq8', '--json').stdout);
    expect(info).toMatchObject({ precision: 'dq8', precisionText: 'dq8', graphPrecisions: { transformer: 'dq8', decoder: 'fp32' } });
    const doctor = cli('doctor', '--provider', 'cpu', '--precision', 'dq8');
    expect(doctor.stdout).toMatch(/^precision in use: dq8$/m);
  }, 120_000);
});
