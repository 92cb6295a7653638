/**
 * Images on the host: PNG/JPEG/WebP in and PNG out (sharp, plus tEXt chunks), float⇄uint8 conversion,
 * the resize filter used for edit regions, and the paste-back's feather weights (edit.ts blends).
 *
 * Resize filter (edit regions, documented in src/engine/README.md): separable triangle ("bilinear") filter whose
 * support grows with the reduction factor (antialiased when shrinking, plain bilinear when enlarging), pixel
 * centres aligned (half-pixel), edge taps clamped, computed in float64. It is our own code, so the same
 * input gives the same bytes on every platform.
 */
import sharp from 'sharp';
import extractChunks from 'png-chunks-extract';
import encodeChunks from 'png-chunks-encode';
import * as pngText from 'png-chunk-text';
import { EngineError } from './errors';

export interface RgbImage { width: number; height: number; data: Uint8Array }

export function checkRgbImage(img: RgbImage, what = 'image'): void {
  if (!img || !Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new EngineError('bad-image', `${what}: expected positive integer width and height, found ${img?.width}×${img?.height}`);
  }
  if (!(img.data instanceof Uint8Array) || img.data.length !== img.width * img.height * 3) {
    throw new EngineError('bad-image', `${what}: expected ${img.width * img.height * 3} bytes of RGB data (${img.width}×${img.height}×3), found ${img.data?.length}`);
  }
}

/** PNG bytes of an RGB image; `text` entries become tEXt chunks placed right after IHDR (libvips reads only those). */
export async function encodePng(img: RgbImage, text?: Record<string, string>): Promise<Buffer> {
  checkRgbImage(img);
  const png = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  }).png().toBuffer();
  if (!text || Object.keys(text).length === 0) return png;
  const chunks = extractChunks(png);
  const textChunks = Object.entries(text).map(([k, v]) => pngText.encode(k, v));
  chunks.splice(1, 0, ...textChunks);
  return Buffer.from(encodeChunks(chunks));
}

/** The tEXt entries of a PNG (empty for other formats). */
export function readPngText(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  if (bytes.length < 8 || bytes[0] !== 0x89 || bytes[1] !== 0x50) return out;
  for (const c of extractChunks(bytes)) {
    if (c.name === 'tEXt') {
      const { keyword, text } = pngText.decode(c.data);
      out[keyword] = text;
    }
  }
  return out;
}

/** Decode PNG/JPEG/WebP (anything sharp reads) to RGB; alpha is composited over white. */
export async function decodeImage(bytes: Uint8Array): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: 20000 * 20000 })
      .rotate() // honour EXIF orientation
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, found ${info.channels}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new EngineError('bad-image', `cannot decode the image (${bytes.length} bytes; PNG, JPEG or WebP expected): ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Decode a mask image to one channel in [0, 1] (white = 1 = regenerate); colour masks use their luminance. */
export async function decodeMask(bytes: Uint8Array): Promise<{ width: number; height: number; data: Float32Array }> {
  const img = await decodeImage(bytes);
  const n = img.width * img.height;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = img.data[3 * i], g = img.data[3 * i + 1], b = img.data[3 * i + 2];
    data[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
  }
  return { width: img.width, height: img.height, data };
}

/** float [0,1] → byte: round(clamp(v)·255). (The official demo truncates; rounding is the unbiased choice.) */
export function toByte(v: number): number {
  const x = v <= 0 ? 0 : v >= 1 ? 1 : v;
  return Math.round(x * 255);
}

/** Planar float image (3, H, W) at `offset` in `src` → interleaved RGB bytes. */
export function planarToRgb(src: Float32Array, width: number, height: number, offset = 0): RgbImage {
  const n = width * height;
  const data = new Uint8Array(n * 3);
  for (let c = 0; c < 3; c++) {
    const base = offset + c * n;
    for (let i = 0; i < n; i++) data[3 * i + c] = toByte(src[base + i]);
  }
  return { width, height, data };
}

/** Interleaved RGB bytes → planar float (3, H, W) in [0, 1]. */
export function rgbToPlanar(img: RgbImage, out = new Float32Array(img.width * img.height * 3), offset = 0): Float32Array {
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[offset + c * n + i] = img.data[3 * i + c] / 255;
  }
  return out;
}

interface Taps { start: Int32Array; count: Int32Array; weights: Float64Array; maxTaps: number }

/** Triangle-filter taps for resizing inSize → outSize (support scaled by the reduction factor). */
function triangleTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let total = 0;
    let n = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support));
      weights[i * maxTaps + n] = w;
      total += w;
      n++;
    }
    for (let t = 0; t < n; t++) weights[i * maxTaps + t] /= total;
    start[i] = lo;
    count[i] = n;
  }
  return { start, count, weights, maxTaps };
}

/** Resize a channels-interleaved float image (values any range) with the triangle filter. */
export function resizeFloat(src: Float64Array | Float32Array, w: number, h: number, channels: number, ow: number, oh: number): Float64Array {
  if (ow === w && oh === h) return Float64Array.from(src);
  const tx = triangleTaps(w, ow);
  const ty = triangleTaps(h, oh);
  const tmp = new Float64Array(ow * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      const o = (y * ow + x) * channels;
      for (let t = 0; t < tx.count[x]; t++) {
        const wgt = tx.weights[x * tx.maxTaps + t];
        const s = (y * w + tx.start[x] + t) * channels;
        for (let c = 0; c < channels; c++) tmp[o + c] += wgt * src[s + c];
      }
    }
  }
  const out = new Float64Array(ow * oh * channels);
  for (let y = 0; y < oh; y++) {
    for (let t = 0; t < ty.count[y]; t++) {
      const wgt = ty.weights[y * ty.maxTaps + t];
      const row = (ty.start[y] + t) * ow * channels;
      const o = y * ow * channels;
      for (let i = 0; i < ow * channels; i++) out[o + i] += wgt * tmp[row + i];
    }
  }
  return out;
}

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
