/**
 * RGB images in the engine: the type and its check, float → byte conversion, and the resize filter used for
 * edit regions. File formats are not the engine's business (the host's image-io.ts decodes and encodes).
 *
 * Resize filter (edit regions, documented in src/engine/README.md): separable triangle ("bilinear") filter whose
 * support grows with the reduction factor (antialiased when shrinking, plain bilinear when enlarging), pixel
 * centres aligned (half-pixel), edge taps clamped, computed in float64. It is our own code, so the same
 * input gives the same bytes on every platform.
 */
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
