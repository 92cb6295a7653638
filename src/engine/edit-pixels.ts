/**
 * Pixel helpers of zero-shot editing (edit.ts): the square crop of a region that may reach past the image,
 * and the feathered paste-back weights (an exact Euclidean distance transform).
 */
import type { RgbImage } from './image';

/**
 * A square crop of side `size` at (x, y) of an RGB image; it may reach past the edges. Pixels outside the
 * image repeat the nearest edge pixel (a neutral start for the encoder; they are regenerated anyway).
 * Returns interleaved float RGB in [0, 255] and a map of which crop pixels lie inside the image.
 */
export function cropSquare(img: RgbImage, x0: number, y0: number, size: number): { rgb: Float64Array; inside: Uint8Array } {
  const rgb = new Float64Array(size * size * 3);
  const inside = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const sy = y0 + y;
    const cy = Math.min(Math.max(sy, 0), img.height - 1);
    for (let x = 0; x < size; x++) {
      const sx = x0 + x;
      const cx = Math.min(Math.max(sx, 0), img.width - 1);
      const s = (cy * img.width + cx) * 3;
      const o = (y * size + x) * 3;
      rgb[o] = img.data[s];
      rgb[o + 1] = img.data[s + 1];
      rgb[o + 2] = img.data[s + 2];
      inside[y * size + x] = sx >= 0 && sy >= 0 && sx < img.width && sy < img.height ? 1 : 0;
    }
  }
  return { rgb, inside };
}

/** 1-D squared Euclidean distance transform (Felzenszwalb & Huttenlocher) of f, in place into d. */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    if (f[q] === Infinity) continue;
    if (f[v[k]] === Infinity) { v[k] = q; continue; }
    let s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = ((f[q] + q * q) - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (f[v[0]] === Infinity) { d.fill(Infinity, 0, n); return; }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = (q - v[k]) * (q - v[k]) + f[v[k]];
  }
}

/**
 * Feathered paste weights over a w×h map: 1 on `mask` pixels, falling linearly to 0 at Euclidean distance
 * feather + 1 from the nearest mask pixel (so exactly 0 — pixel untouched — beyond `feather` pixels).
 */
export function featherWeights(mask: Uint8Array, w: number, h: number, feather: number): Float32Array {
  const out = new Float32Array(w * h);
  if (feather <= 0) {
    for (let i = 0; i < w * h; i++) out[i] = mask[i] ? 1 : 0;
    return out;
  }
  const n = Math.max(w, h);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const dist2 = new Float64Array(w * h);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = mask[y * w + x] ? 0 : Infinity;
    edt1d(f, h, d, v, z);
    for (let y = 0; y < h; y++) dist2[y * w + x] = d[y];
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = dist2[y * w + x];
    edt1d(f, w, d, v, z);
    for (let x = 0; x < w; x++) dist2[y * w + x] = d[x];
  }
  const r = feather + 1;
  for (let i = 0; i < w * h; i++) {
    const dist = Math.sqrt(dist2[i]);
    out[i] = dist >= r ? 0 : 1 - dist / r;
  }
  return out;
}
