import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EditRequest, type EngineEvent, type RgbImage, VarEngine } from '../../../src/engine/index';
import { decodeImage } from '../../../src/host/image-io';
import { defaultRegion, planEdit } from '../../../src/engine/edit';
import { featherWeights } from '../../../src/engine/edit-pixels';
import { keepMasksPerScale } from '../../../src/engine/resample';
import { REPO, TINY_BUNDLE } from './helpers';

let engine: VarEngine;
let photo: RgbImage; // a real 72×56 image (two Fashion-MNIST test images over a gradient)
beforeAll(async () => {
  engine = await VarEngine.create(TINY_BUNDLE, { provider: 'cpu', threads: 1 });
  photo = await decodeImage(readFileSync(join(REPO, 'tests/fixtures/engine/fashion-72x56.png')));
});
afterAll(async () => {
  await engine.dispose();
});

function rectMask(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 255;
  return m;
}
async function run(req: EditRequest): Promise<Extract<EngineEvent, { type: 'done' }>> {
  let last: EngineEvent | undefined;
  for await (const e of engine.edit(req)) last = e;
  if (last?.type !== 'done') throw new Error('no done event');
  return last;
}
const settings = { sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, seed: 5, batch: 2 };

/** Pixels of `img` at which the paste weight is 0 (outside the feathered mask). */
function untouched(size: { w: number; h: number }, region: { x: number; y: number; size: number }, regen: Uint8Array, feather: number): (x: number, y: number) => boolean {
  const w = featherWeights(regen, region.size, region.size, feather);
  return (x, y) => {
    const rx = x - region.x, ry = y - region.y;
    if (rx < 0 || ry < 0 || rx >= region.size || ry >= region.size) return true;
    return w[ry * region.size + rx] === 0;
  };
}

describe('editing (docs/var-model.md#zero-shot-editing)', () => {
  it('per-scale keep masks: bilinear(keep) > 0.5, scales with ≤ 3 tokens kept entirely', () => {
    const pn = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16];
    const keep = new Float32Array(256).fill(1);
    for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) keep[y * 16 + x] = 0; // regenerate the centre
    const masks = keepMasksPerScale(keep, pn);
    expect(Array.from(masks[0])).toEqual([1]);
    expect(Array.from(masks[1])).toEqual([1, 1, 1, 1]); // 4 tokens > 3, but bilinear gives 0.75 > 0.5 … kept
    expect(masks[9].reduce((a, b) => a + b, 0)).toBe(256 - 64);
    expect(masks[3][1 * 4 + 1]).toBe(0);
    expect(masks[3][0]).toBe(1);
  });

  it('the engine\'s float32 keep masks equal the float64 rule of docs/sampling.md on every 0/1 mask of the official and shipped grids', () => {
    // The float64 rule, written from docs/sampling.md ("Editing masks"): a cell exactly half inside is not kept.
    const taps = (out: number, n: number) => Array.from({ length: out }, (_, i) => {
      const src = Math.max(((2 * i + 1) * n - out) / (2 * out), 0);
      const i0 = Math.floor(src);
      return { i0, i1: Math.min(i0 + 1, n - 1), w: src - i0 };
    });
    const sets = [[1, 2, 3, 4], [1, 2, 3, 4, 6, 8], [1, 2, 3, 4, 5, 6, 8, 10, 13, 16], [1, 2, 3, 4, 6, 9, 13, 18, 24, 32]];
    for (const pn of sets) {
      const n = pn[pn.length - 1];
      // A cell reads a 2×2 corner of the mask; the 16 masks with period 2 show each cell every corner pattern.
      for (let pattern = 0; pattern < 16; pattern++) {
        const keep = new Float32Array(n * n).map((_, j) => (pattern >> ((Math.floor(j / n) % 2) * 2 + ((j % n) % 2))) & 1);
        const masks = keepMasksPerScale(keep, pn);
        pn.forEach((p, k) => {
          if (p * p <= 3) return;
          const t = taps(p, n);
          const want = Array.from({ length: p * p }, (_, c) => {
            const { i0: y0, i1: y1, w: wy } = t[Math.floor(c / p)];
            const { i0: x0, i1: x1, w: wx } = t[c % p];
            const m = (y: number, x: number) => keep[y * n + x];
            return (1 - wy) * ((1 - wx) * m(y0, x0) + wx * m(y0, x1)) + wy * ((1 - wx) * m(y1, x0) + wx * m(y1, x1)) > 0.5 ? 1 : 0;
          });
          expect(Array.from(masks[k]), `grid ${n} → ${p}, pattern ${pattern}`).toEqual(want);
        });
      }
    }
  });

  it('inpainting a real image: pixels outside the feathered mask are byte-identical, inside they change', async () => {
    const mask = rectMask(photo.width, photo.height, 40, 20, 60, 40);
    const region = { x: 20, y: 4, size: 48 };
    const feather = 3;
    const d = await run({ ...settings, image: photo, mask: { width: photo.width, height: photo.height, data: mask }, region, classIndex: null, feather });
    const plan = planEdit(photo, { width: photo.width, height: photo.height, data: mask }, region, engine.manifest);
    const isUntouched = untouched({ w: photo.width, h: photo.height }, region, plan.regenPixels, feather);
    for (const img of d.images) {
      expect([img.width, img.height]).toEqual([photo.width, photo.height]);
      let same = 0, outsideDiff = 0, insideDiff = 0;
      for (let y = 0; y < photo.height; y++) {
        for (let x = 0; x < photo.width; x++) {
          const i = (y * photo.width + x) * 3;
          const eq = img.data[i] === photo.data[i] && img.data[i + 1] === photo.data[i + 1] && img.data[i + 2] === photo.data[i + 2];
          if (isUntouched(x, y)) { if (!eq) outsideDiff++; else same++; }
          else if (!eq && mask[y * photo.width + x]) insideDiff++;
        }
      }
      expect(outsideDiff).toBe(0);
      expect(same).toBeGreaterThan(photo.width * photo.height - 30 * 30);
      expect(insideDiff).toBeGreaterThan(100);
    }
    // Kept tokens: the first scale (1 token) is the source image's own token.
    const src = await regionTokens(photo, region);
    expect(d.tokens[0][0]).toEqual(src[0]);
  });

  it('class-conditional edit: labels the run with the class; same seed ⇒ same bytes', async () => {
    const mask = rectMask(photo.width, photo.height, 0, 0, 56, 56);
    const req: EditRequest = { ...settings, image: photo, mask: { width: photo.width, height: photo.height, data: mask }, region: { x: 0, y: 0, size: 56 }, classIndex: 4, feather: 0 };
    const a = await run(req);
    const b = await run(req);
    expect(a.classIndices).toEqual([4, 4]);
    expect(Buffer.from(a.images[0].data).equals(Buffer.from(b.images[0].data))).toBe(true);
  });

  it('outpainting: a region past the right edge grows the image; the original pixels outside the feather stay', async () => {
    const mask = new Uint8Array(photo.width * photo.height); // nothing painted: only the area past the edge is new
    const region = { x: 40, y: 0, size: 56 };
    const feather = 2;
    const d = await run({ ...settings, batch: 1, image: photo, mask: { width: photo.width, height: photo.height, data: mask }, region, classIndex: null, feather });
    const img = d.images[0];
    expect([img.width, img.height]).toEqual([96, 56]);
    const plan = planEdit(photo, { width: photo.width, height: photo.height, data: mask }, region, engine.manifest);
    const isUntouched = untouched({ w: photo.width, h: photo.height }, region, plan.regenPixels, feather);
    let diff = 0;
    for (let y = 0; y < photo.height; y++) {
      for (let x = 0; x < photo.width; x++) {
        if (!isUntouched(x, y)) continue;
        for (let c = 0; c < 3; c++) if (img.data[(y * img.width + x) * 3 + c] !== photo.data[(y * photo.width + x) * 3 + c]) diff++;
      }
    }
    expect(diff).toBe(0);
    expect(isUntouched(70, 10)).toBe(false); // pixels within the feather of the new area blend
  });

  it('scale-locked edit (fromScale k): scales 1..k are the region\'s own tokens everywhere', async () => {
    const mask = rectMask(photo.width, photo.height, 8, 8, 48, 48);
    const region = { x: 0, y: 0, size: 56 };
    const d = await run({ ...settings, image: photo, mask: { width: photo.width, height: photo.height, data: mask }, region, classIndex: 7, fromScale: 3, feather: 1 });
    const src = await regionTokens(photo, region);
    for (const toks of d.tokens) for (let k = 0; k < 3; k++) expect(toks[k]).toEqual(src[k]);
  });

  it('refuses a mask of the wrong size, an empty mask, a region off the image, a bad fromScale', async () => {
    const good = { ...settings, image: photo, classIndex: null, feather: 0 };
    await expect(run({ ...good, mask: { width: 10, height: 10, data: new Uint8Array(100) } })).rejects.toMatchObject({ code: 'bad-mask' });
    await expect(run({ ...good, mask: { width: photo.width, height: photo.height, data: new Uint8Array(photo.width * photo.height) } })).rejects.toMatchObject({ code: 'empty-mask' });
    const mask = { width: photo.width, height: photo.height, data: rectMask(photo.width, photo.height, 0, 0, 5, 5) };
    await expect(run({ ...good, mask, region: { x: 500, y: 0, size: 16 } })).rejects.toMatchObject({ code: 'bad-region' });
    await expect(run({ ...good, mask, fromScale: 9 })).rejects.toMatchObject({ code: 'bad-from-scale' });
  });

  it('default region of a non-square image: a square of side min(w, h) around the mask, inside the image', () => {
    const mask = { width: 72, height: 56, data: rectMask(72, 56, 60, 10, 70, 20) };
    expect(defaultRegion(photo, mask)).toEqual({ x: 16, y: 0, size: 56 });
  });

  it('feather weights: 1 on the mask, linear fall-off, exactly 0 beyond feather pixels', () => {
    const m = new Uint8Array(15 * 15);
    m[7 * 15 + 7] = 1;
    const w = featherWeights(m, 15, 15, 3);
    expect(w[7 * 15 + 7]).toBe(1);
    expect(w[7 * 15 + 8]).toBeCloseTo(0.75, 6);
    expect(w[7 * 15 + 10]).toBeCloseTo(0.25, 6);
    expect(w[7 * 15 + 11]).toBe(0);
    expect(w[0]).toBe(0);
  });
});

/** Token maps of the region crop at model resolution, exactly as the engine encodes it. */
async function regionTokens(img: RgbImage, region: { x: number; y: number; size: number }): Promise<Int32Array[]> {
  const plan = planEdit(img, { width: img.width, height: img.height, data: new Uint8Array(img.width * img.height).fill(255) }, region, engine.manifest);
  return (await engine.encodePlanar(plan.modelInput, 1))[0];
}

describe('edit mask conventions', () => {
  it('Uint8Array masks: 0..255 (≥ 128 regenerates) or 0/1; Float32Array masks: 0..1 (≥ 0.5 regenerates)', async () => {
    const photo2 = await decodeImage(readFileSync(join(REPO, 'tests/fixtures/engine/fashion-72x56.png')));
    const w = photo2.width, h = photo2.height;
    const region = { x: 0, y: 0, size: 56 };
    const ones = new Uint8Array(w * h);
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) ones[y * w + x] = 1;
    const bytes = ones.map((v) => v * 200);
    const floats = Float32Array.from(ones, (v) => v * 0.6);
    const m = engine.manifest;
    const a = planEdit(photo2, { width: w, height: h, data: ones }, region, m);
    const b = planEdit(photo2, { width: w, height: h, data: bytes }, region, m);
    const c = planEdit(photo2, { width: w, height: h, data: floats }, region, m);
    expect(a.regenCount).toBe(400);
    expect(b.regenPixels).toEqual(a.regenPixels);
    expect(c.regenPixels).toEqual(a.regenPixels);
    const faint = planEdit(photo2, { width: w, height: h, data: ones.map((v) => v * 100) }, region, m);
    expect(faint.regenCount).toBe(0); // 100/255 < 0.5
  });
});
