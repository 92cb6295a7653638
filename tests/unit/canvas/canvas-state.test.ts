// The canvas document model: brush rasteriser, changes and their inverses, undo/redo with a memory bound,
// strokes, region geometry (outpaint growth, Extend canvas) and the edit payload crop.
import { describe, expect, it } from 'vitest';
import { brushCoverage, dab, strokeSegment, resizeBytes, cropBytes, countAtLeast, maskBounds } from '../../../src/renderer/lib/canvas-state/raster';
import { CanvasDocument, acceptChange, maskSnapshot, restoreMaskChange, wholeMaskChange, type Change } from '../../../src/renderer/lib/canvas-state/document';
import { EditHistory } from '../../../src/renderer/lib/canvas-state/history';
import { Stroke } from '../../../src/renderer/lib/canvas-state/stroke';
import { extendRegion, grownCanvas, regionCrop, regionProblem, defaultRegion, defaultBrushSize, regionScale } from '../../../src/renderer/lib/canvas-state/geometry';
import { buildEditPayload, EditInputError, regionAlpha } from '../../../src/renderer/lib/canvas-state/edit-request';
import { pack, unpack } from '../../../src/renderer/lib/canvas-state/packing';
import type { EditStep } from '../../../src/shared/edit';

function noiseImage(w: number, h: number, seed = 1): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function doc(w = 40, h = 30): CanvasDocument {
  return new CanvasDocument('doc-1', 'test', { kind: 'file', fileName: 'x.png', width: w, height: h }, { width: w, height: h, image: noiseImage(w, h), region: defaultRegion(w, h) });
}

const step = (over: Partial<EditStep> = {}): EditStep => ({
  op: 'inpaint', model: { id: 'embedded', name: 'tiny', resolution: 16 }, classIndex: null, resolvedClassIndex: -1, className: 'null class',
  seed: 7, sampling: { cfg: 2, topK: 16, topP: 0.9, moreSmooth: false }, feather: 2, region: { x: 0, y: 0, size: 16 }, maskedPixels: 10,
  canvas: { width: 40, height: 30, shiftX: 0, shiftY: 0 }, at: '2026-01-01T00:00:00.000Z', ...over,
});

describe('brush rasteriser', () => {
  it('coverage is 1 inside the hard core, 0 outside the radius, smooth between', () => {
    expect(brushCoverage(0, 10, 0.5)).toBe(1);
    expect(brushCoverage(5, 10, 0.5)).toBe(1);
    expect(brushCoverage(10, 10, 0.5)).toBe(0);
    const mid = brushCoverage(7.5, 10, 0.5);
    expect(mid).toBeGreaterThan(0.4);
    expect(mid).toBeLessThan(0.6);
    expect(brushCoverage(9.99, 10, 1)).toBe(1);
  });

  it('a hard dab paints a disc of the right area; the eraser removes it again', () => {
    const w = 50, h = 50;
    const mask = new Uint8Array(w * h);
    const r = dab(mask, w, h, 25, 25, 10, 1, 'brush');
    expect(r).toEqual({ x: 15, y: 15, width: 20, height: 20 });
    const painted = countAtLeast(mask, 255);
    expect(Math.abs(painted - Math.PI * 100)).toBeLessThan(12);
    expect(mask[0]).toBe(0);
    dab(mask, w, h, 25, 25, 10, 1, 'eraser');
    expect(countAtLeast(mask, 1)).toBe(0);
  });

  it('repeated dabs of a soft brush do not build up beyond one dab (max, not sum)', () => {
    const w = 30, h = 30;
    const a = new Uint8Array(w * h), b = new Uint8Array(w * h);
    dab(a, w, h, 15, 15, 8, 0.2, 'brush');
    for (let i = 0; i < 5; i++) dab(b, w, h, 15, 15, 8, 0.2, 'brush');
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('a segment is continuous: every pixel on the line is painted', () => {
    const w = 100, h = 20;
    const mask = new Uint8Array(w * h);
    strokeSegment(mask, w, h, 5, 10, 95, 10, 3, 1, 'brush');
    for (let x = 5; x < 95; x++) expect(mask[10 * w + x]).toBe(255);
  });

  it('dabs clip at the document edge', () => {
    const mask = new Uint8Array(10 * 10);
    expect(dab(mask, 10, 10, -20, -20, 5, 1, 'brush')).toBeNull();
    expect(dab(mask, 10, 10, 0, 0, 5, 1, 'brush')).toEqual({ x: 0, y: 0, width: 5, height: 5 });
  });

  it('resizeBytes moves content and fills the new area', () => {
    const src = Uint8Array.from([1, 2, 3, 4]); // 2×2, one channel
    expect(Array.from(resizeBytes(src, 2, 2, 1, 3, 3, 1, 1, 9))).toEqual([9, 9, 9, 9, 1, 2, 9, 3, 4]);
    expect(Array.from(resizeBytes(src, 2, 2, 1, 1, 1, -1, -1))).toEqual([4]);
  });
});

describe('changes, undo and redo', () => {
  it('a whole-mask change and its inverse round-trip exactly', () => {
    const d = doc();
    const h = new EditHistory();
    h.apply(d, 'fill', wholeMaskChange(d, () => 255));
    expect(countAtLeast(d.mask, 255)).toBe(d.width * d.height);
    h.apply(d, 'invert', wholeMaskChange(d, (v) => 255 - v));
    expect(countAtLeast(d.mask, 1)).toBe(0);
    expect(h.undo(d)).toBe('invert');
    expect(countAtLeast(d.mask, 255)).toBe(d.width * d.height);
    expect(h.undo(d)).toBe('fill');
    expect(countAtLeast(d.mask, 1)).toBe(0);
    expect(h.redo(d)).toBe('fill');
    expect(countAtLeast(d.mask, 255)).toBe(d.width * d.height);
    expect(h.undo(d)).toBe('fill');
    expect(h.undo(d)).toBeNull();
  });

  it('a stroke records only its bounding rectangle and undoes to the exact previous mask', () => {
    const d = doc(300, 200);
    const h = new EditHistory();
    // an earlier, partly overlapped mask
    dab(d.mask, d.width, d.height, 100, 100, 20, 1, 'brush');
    const before = d.mask.slice();
    const s = new Stroke(d, { size: 30, hardness: 0.6, mode: 'brush' });
    s.to(50, 50);
    s.to(120, 90);
    s.to(200, 150);
    const done = s.finish()!;
    h.record('brush stroke', done.forward, done.inverse);
    const after = d.mask.slice();
    expect(after).not.toEqual(before);
    const p = done.forward.patches[0];
    expect(p.width * p.height).toBeLessThan(d.width * d.height);
    h.undo(d);
    expect(Array.from(d.mask)).toEqual(Array.from(before));
    h.redo(d);
    expect(Array.from(d.mask)).toEqual(Array.from(after));
  });

  it('an eraser stroke over nothing records nothing', () => {
    const d = doc();
    const s = new Stroke(d, { size: 10, hardness: 1, mode: 'eraser' });
    s.to(10, 10);
    s.to(20, 20);
    expect(s.finish()).toBeNull();
  });

  it('accepting an in-image candidate replaces exactly the region square; undo/redo restore both images', () => {
    const d = doc(64, 48);
    const h = new EditHistory();
    const before = d.image.slice();
    const region = { x: 10, y: 5, size: 20 };
    const cand = noiseImage(20, 20, 99);
    h.apply(d, 'accept', acceptChange(d, region, cand, step()));
    expect(d.width).toBe(64);
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 64; x++) {
        const inside = x >= 10 && x < 30 && y >= 5 && y < 25;
        const i = (y * 64 + x) * 3;
        const want = inside ? cand.subarray(((y - 5) * 20 + (x - 10)) * 3, ((y - 5) * 20 + (x - 10)) * 3 + 3) : before.subarray(i, i + 3);
        expect(Array.from(d.image.subarray(i, i + 3))).toEqual(Array.from(want));
      }
    }
    expect(d.steps).toHaveLength(1);
    const edited = d.image.slice();
    h.undo(d);
    expect(Array.from(d.image)).toEqual(Array.from(before));
    expect(d.steps).toHaveLength(0);
    h.redo(d);
    expect(Array.from(d.image)).toEqual(Array.from(edited));
    expect(d.steps).toHaveLength(1);
  });

  it('an outpaint to the left and up grows the canvas, shifts the old image, and undo shrinks it back', () => {
    const d = doc(40, 30);
    d.mask.fill(0);
    dab(d.mask, 40, 30, 20, 15, 4, 1, 'brush');
    const beforeImg = d.image.slice(), beforeMask = d.mask.slice();
    const h = new EditHistory();
    const region = { x: -8, y: -4, size: 24 };
    const g = grownCanvas(region, 40, 30);
    expect(g).toEqual({ width: 48, height: 34, shiftX: 8, shiftY: 4 });
    h.apply(d, 'outpaint', acceptChange(d, region, noiseImage(24, 24, 5), step({ op: 'outpaint' })));
    expect([d.width, d.height]).toEqual([48, 34]);
    // the old image, shifted, outside the region is untouched
    for (let y = 0; y < 30; y++) for (let x = 0; x < 40; x++) {
      if (x < 16 && y < 20) continue; // inside the region (doc coords -8..16, -4..20)
      for (let c = 0; c < 3; c++) expect(d.image[((y + 4) * 48 + x + 8) * 3 + c]).toBe(beforeImg[(y * 40 + x) * 3 + c]);
      expect(d.mask[(y + 4) * 48 + x + 8]).toBe(0); // Accept used the mask up
    }
    expect(beforeMask.some((v) => v > 0)).toBe(true);
    // new area outside the region and the old image (right of the region, above the old image) is black and masked
    expect(d.mask[0 * 48 + 30]).toBe(255);
    expect(Array.from(d.image.subarray((0 * 48 + 30) * 3, (0 * 48 + 30) * 3 + 3))).toEqual([0, 0, 0]);
    // the generated part of the region is not masked
    expect(d.mask[0]).toBe(0);
    expect(d.region.x).toBe(defaultRegion(40, 30).x + 8);
    h.undo(d);
    expect([d.width, d.height]).toEqual([40, 30]);
    expect(Array.from(d.image)).toEqual(Array.from(beforeImg));
    expect(Array.from(d.mask)).toEqual(Array.from(beforeMask));
    expect(d.region).toEqual(defaultRegion(40, 30));
  });

  it('the memory bound drops the oldest entries and keeps the newest', () => {
    const d = doc(100, 100);
    const h = new EditHistory({ maxEntries: 100, maxBytes: 50_000 });
    for (let i = 0; i < 10; i++) h.apply(d, `fill ${i}`, wholeMaskChange(d, () => (i % 2 ? 0 : 255))); // 2 × 10 kB per entry
    expect(h.memoryBytes).toBeLessThanOrEqual(50_000);
    expect(h.size.undo).toBe(2);
    expect(h.dropped).toBe(8);
    expect(h.undoLabel).toBe('fill 9');
    const h2 = new EditHistory({ maxEntries: 3, maxBytes: 1e9 });
    for (let i = 0; i < 5; i++) h2.apply(d, `s${i}`, wholeMaskChange(d, () => i));
    expect(h2.size.undo).toBe(3);
    // a new change clears the redo stack
    h2.undo(d);
    expect(h2.canRedo).toBe(true);
    h2.apply(d, 'new', wholeMaskChange(d, () => 1));
    expect(h2.canRedo).toBe(false);
  });

  it('the inverse of a change is exact on random patches', () => {
    const d = doc(33, 17);
    const before = { image: d.image.slice(), mask: d.mask.slice() };
    const c: Change = { patches: [{ x: 3, y: 2, width: 10, height: 5, image: noiseImage(10, 5, 3), mask: new Uint8Array(50).fill(200) }] };
    const inv = d.apply(c);
    d.apply(inv);
    expect(Array.from(d.image)).toEqual(Array.from(before.image));
    expect(Array.from(d.mask)).toEqual(Array.from(before.mask));
  });
});

describe('region geometry', () => {
  it('crop and growth', () => {
    expect(regionCrop({ x: -5, y: 10, size: 20 }, 30, 25)).toEqual({ x: 0, y: 10, width: 15, height: 15 });
    expect(regionCrop({ x: 40, y: 0, size: 5 }, 30, 25)).toBeNull();
    expect(grownCanvas({ x: 20, y: 0, size: 20 }, 30, 25)).toEqual({ width: 40, height: 25, shiftX: 0, shiftY: 0 });
    expect(regionProblem({ x: 40, y: 0, size: 10 }, 30, 25)).toMatch(/does not overlap/);
    expect(regionProblem({ x: 0, y: 0, size: 4000 }, 30, 25)).toMatch(/at most 2048/);
    expect(regionProblem({ x: 8000, y: 0, size: 1000 }, 8100, 500)).toMatch(/at most 8192/);
    expect(regionProblem({ x: 0, y: 0, size: 20 }, 30, 25)).toBeNull();
  });

  it('Extend canvas places a square that reaches exactly n past the chosen edge and grows only that side', () => {
    const W = 300, H = 200;
    const cur = { x: 50, y: 20, size: 100 };
    for (const [dir, n] of [['right', 64], ['left', 64], ['up', 40], ['down', 150]] as const) {
      const r = extendRegion(W, H, cur, dir, n);
      const g = grownCanvas(r, W, H);
      if (dir === 'right' || dir === 'left') expect([g.width, g.height]).toEqual([W + n, H]);
      else expect([g.width, g.height]).toEqual([W, H + n]);
      expect(regionCrop(r, W, H)).not.toBeNull();
      expect(r.size).toBeGreaterThan(n);
    }
    // the box keeps as much context as the image allows across the direction
    expect(extendRegion(W, H, cur, 'right', 64).size).toBe(128);
    expect(extendRegion(W, H, { x: 0, y: 0, size: 180 }, 'right', 64).size).toBe(180);
  });

  it('the edit payload crops the region and makes it relative to the crop', () => {
    const d = doc(40, 30);
    dab(d.mask, 40, 30, 5, 5, 3, 1, 'brush');
    const p = buildEditPayload(d, { x: -6, y: 2, size: 20 });
    expect(p.image.width).toBe(14);
    expect(p.image.height).toBe(20);
    expect(p.region).toEqual({ x: -6, y: 0, size: 20 });
    expect(p.origin).toEqual({ x: 0, y: 2 });
    expect(p.outside).toBe(400 - 14 * 20);
    expect(p.masked).toBeGreaterThan(0);
    expect(Array.from(p.image.data.subarray(0, 3))).toEqual(Array.from(d.image.subarray(2 * 40 * 3, 2 * 40 * 3 + 3)));
    expect(() => buildEditPayload(d, { x: 100, y: 0, size: 10 })).toThrow(EditInputError);
  });
});

describe('the mask and the model resolution', () => {
  it('Accept clears the mask; Restore mask paints it back merged with new paint', () => {
    const d = doc(40, 30);
    d.mask.fill(0);
    dab(d.mask, 40, 30, 10, 10, 4, 1, 'brush');
    dab(d.mask, 40, 30, 35, 25, 3, 1, 'brush'); // outside the region: cleared too
    const before = d.mask.slice();
    const saved = maskSnapshot(d)!;
    expect(saved.bounds).toEqual(maskBounds(before, 40, 30));
    new EditHistory().apply(d, 'inpaint', acceptChange(d, { x: 0, y: 0, size: 24 }, noiseImage(24, 24, 2), step({})));
    expect(countAtLeast(d.mask, 1)).toBe(0);
    d.mask[0] = 200;
    const back = restoreMaskChange(d, saved, 0, 0)!;
    d.apply(back);
    for (let i = 0; i < before.length; i++) expect(d.mask[i]).toBe(i === 0 ? Math.max(200, before[0]) : before[i]);
  });

  it('outpaint strip-only sends an empty mask; the preview alpha covers the mask and the part past the edge', () => {
    const d = doc(40, 30);
    d.mask.fill(0);
    dab(d.mask, 40, 30, 30, 15, 3, 1, 'brush');
    const region = { x: 24, y: 2, size: 24 }; // 8 px past the right edge
    const strip = buildEditPayload(d, region, { stripOnly: true });
    expect(strip.masked).toBe(0);
    expect(strip.outside).toBe(8 * 24);
    const a = regionAlpha(strip);
    expect(countAtLeast(a, 128)).toBe(8 * 24);
    expect(a[0 * 24 + 16]).toBe(255); // x = 40: past the edge
    expect(a[0 * 24 + 15]).toBe(0);
    const all = buildEditPayload(d, region);
    expect(all.masked).toBeGreaterThan(0);
    expect(countAtLeast(regionAlpha(all), 128)).toBe(8 * 24 + all.masked);
  });

  it('brush default is a tenth of the shorter side; a region far larger than the model gets a smaller suggested box', () => {
    expect(defaultBrushSize(32, 32)).toBe(3);
    expect(defaultBrushSize(1024, 768)).toBe(77);
    expect(defaultBrushSize(4, 4)).toBe(1);
    expect(regionScale({ x: 0, y: 0, size: 512 }, 32, 1024, 768, null)).toMatchObject({ factor: 16, text: '512 px → 32 px model: 16× softer' });
    const far = regionScale({ x: 0, y: 0, size: 512 }, 32, 1024, 768, { x: 600, y: 700, width: 20, height: 20 });
    expect(far.suggested).toEqual({ x: 546, y: 640, size: 128 }); // centred on the paint, kept inside the image
    const ok = regionScale({ x: 0, y: 0, size: 128 }, 32, 1024, 768, null);
    expect(ok.factor).toBe(4);
    expect(ok.suggested).toBeNull();
    expect(regionScale({ x: 0, y: 0, size: 32 }, 32, 32, 32, null).text).toBe('32 px → 32 px model: pixel for pixel');
  });
});

describe('packing', () => {
  it('gzip round-trips exactly and checks the length', async () => {
    const data = noiseImage(50, 50);
    const packed = await pack(data);
    expect(Array.from(await unpack(packed, data.length, 'image'))).toEqual(Array.from(data));
    await expect(unpack(packed, data.length + 1, 'image')).rejects.toThrow(/holds 7500 bytes/);
  });

  it('a stroke touching many tiles still records before/after exactly', () => {
    const d = doc(500, 400);
    d.mask.fill(0);
    const ref = d.mask.slice();
    const s = new Stroke(d, { size: 80, hardness: 0.3, mode: 'brush' });
    for (let i = 0; i <= 20; i++) s.to(10 + i * 24, 20 + i * 18);
    const f = s.finish()!;
    const p = f.inverse.patches[0];
    expect(Array.from(p.mask!)).toEqual(Array.from(cropBytes(ref, 500, 1, p)));
  });
});
