// Pixel-level helpers of the canvas document: the brush rasteriser (mask = one byte per pixel, 255 =
// regenerate) and rectangle copies of RGB / mask buffers. Pure TypeScript (no DOM), so it is unit-tested
// in Node and is the single source of truth for what the mask holds; the Konva layer only displays it.

export interface Rect { x: number; y: number; width: number; height: number }

export function intersect(a: Rect, b: Rect): Rect | null {
  const x0 = Math.max(a.x, b.x), y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width), y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

export function union(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) return b;
  if (!b) return a;
  const x0 = Math.min(a.x, b.x), y0 = Math.min(a.y, b.y);
  return { x: x0, y: y0, width: Math.max(a.x + a.width, b.x + b.width) - x0, height: Math.max(a.y + a.height, b.y + b.height) - y0 };
}

/**
 * Brush coverage in [0, 1] at distance `d` from the centre of a dab of radius `r`: 1 inside r·hardness,
 * then a smoothstep fall-off to 0 at r (hardness 1 = a hard disc; 0 = soft all the way from the centre).
 */
export function brushCoverage(d: number, r: number, hardness: number): number {
  if (d >= r) return 0;
  const inner = r * Math.min(Math.max(hardness, 0), 1);
  if (d <= inner) return 1;
  const t = (r - d) / (r - inner);
  return t * t * (3 - 2 * t);
}

export type BrushMode = 'brush' | 'eraser';

/**
 * One dab of the brush at (cx, cy) (pixel centres at +0.5). The brush raises the mask to the dab's coverage
 * (max), the eraser lowers it (min with 255 − coverage): repeated dabs within one stroke do not build up,
 * so a stroke looks the same however fast the pointer moved. Returns the touched rectangle (or null).
 */
export function dab(mask: Uint8Array, w: number, h: number, cx: number, cy: number, radius: number, hardness: number, mode: BrushMode): Rect | null {
  const r = Math.max(radius, 0.5);
  const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(w, Math.ceil(cx + r));
  const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(h, Math.ceil(cy + r));
  if (x1 <= x0 || y1 <= y0) return null;
  for (let y = y0; y < y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x < x1; x++) {
      const dx = x + 0.5 - cx;
      const c = brushCoverage(Math.sqrt(dx * dx + dy * dy), r, hardness);
      if (c <= 0) continue;
      const v = Math.round(c * 255);
      const i = y * w + x;
      if (mode === 'brush') {
        if (mask[i] < v) mask[i] = v;
      } else if (mask[i] > 255 - v) mask[i] = 255 - v;
    }
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Dabs along the segment (x0, y0) → (x1, y1), spaced a quarter radius apart (the start point included). */
export function strokeSegment(
  mask: Uint8Array, w: number, h: number, x0: number, y0: number, x1: number, y1: number, radius: number, hardness: number, mode: BrushMode,
): Rect | null {
  const len = Math.hypot(x1 - x0, y1 - y0);
  const step = Math.max(radius / 4, 0.5);
  const n = Math.max(1, Math.ceil(len / step));
  let dirty: Rect | null = null;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    dirty = union(dirty, dab(mask, w, h, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, hardness, mode));
  }
  return dirty;
}

/** Copy of a rectangle of a buffer with `channels` bytes per pixel (the rectangle must lie inside). */
export function cropBytes(src: Uint8Array, w: number, channels: number, r: Rect): Uint8Array {
  const out = new Uint8Array(r.width * r.height * channels);
  const row = r.width * channels;
  for (let y = 0; y < r.height; y++) {
    const s = ((r.y + y) * w + r.x) * channels;
    out.set(src.subarray(s, s + row), y * row);
  }
  return out;
}

/** Writes a rectangle of bytes into a buffer (the rectangle must lie inside). */
export function pasteBytes(dst: Uint8Array, w: number, channels: number, r: Rect, data: Uint8Array): void {
  const row = r.width * channels;
  for (let y = 0; y < r.height; y++) dst.set(data.subarray(y * row, (y + 1) * row), ((r.y + y) * w + r.x) * channels);
}

/**
 * A buffer of a new size with the old content moved by (shiftX, shiftY) (negative = cropped away);
 * pixels that were not in the old buffer get `fill`.
 */
export function resizeBytes(src: Uint8Array, w: number, h: number, channels: number, nw: number, nh: number, shiftX: number, shiftY: number, fill = 0): Uint8Array {
  const out = new Uint8Array(nw * nh * channels);
  if (fill) out.fill(fill);
  const overlap = intersect({ x: shiftX, y: shiftY, width: w, height: h }, { x: 0, y: 0, width: nw, height: nh });
  if (!overlap) return out;
  const row = overlap.width * channels;
  for (let y = overlap.y; y < overlap.y + overlap.height; y++) {
    const s = ((y - shiftY) * w + (overlap.x - shiftX)) * channels;
    out.set(src.subarray(s, s + row), (y * nw + overlap.x) * channels);
  }
  return out;
}

export function countAtLeast(mask: Uint8Array, threshold: number): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] >= threshold) n++;
  return n;
}

/** The smallest rectangle holding every non-zero mask byte, or null for an empty mask. */
export function maskBounds(mask: Uint8Array, w: number, h: number): Rect | null {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (mask[row + x] === 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}
