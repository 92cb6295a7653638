/**
 * Zero-shot editing on the host side (docs/var-model.md#zero-shot-editing): the region of a larger image
 * sent to the model, the token-level keep mask, and the feathered paste-back of the result.
 *
 * - Region: a square (x, y, size) in image pixels; it may reach past the image (outpainting): pixels
 *   outside the image are regenerated whatever the mask says.
 * - Resize: region ⇄ model resolution with the triangle filter of image.ts.
 * - Token mask: token (ty, tx) of the finest p_K grid covers region pixels [⌊ty·size/p_K⌋, ⌈(ty+1)·size/p_K⌉)
 *   (same for x); it is regenerated if any of its pixels is (mask ≥ 0.5), otherwise its source token is kept.
 *   Coarser scales use bilinear(keep) > 0.5 (resample.ts keepMasksPerScale).
 * - Paste-back: weight 1 on regenerated pixels, falling linearly to 0 at distance feather+1 outside them,
 *   0 outside the region; pixels of weight 0 are copied byte for byte from the source image.
 */
import { EngineError } from './errors';
import { cropSquare, featherWeights } from './edit-pixels';
import { type RgbImage, checkRgbImage, resizeFloat } from './image';
import type { Manifest } from './manifest';

export interface EditRegion { x: number; y: number; size: number }
export interface EditMask { width: number; height: number; data: Float32Array | Uint8Array }

export interface EditPlan {
  region: EditRegion;
  /** (1, 3, R, R) planar float in [0, 1]: the region at model resolution, encoder input. */
  modelInput: Float32Array;
  /** p_K × p_K, 1 = keep the source token. */
  keepFinest: Float32Array;
  /** size × size, 1 = the region pixel is regenerated (mask ≥ 0.5, or outside the image). */
  regenPixels: Uint8Array;
  /** Number of regenerated region pixels. */
  regenCount: number;
}

const uint8Scale = new WeakMap<Uint8Array, number>();

/**
 * Mask value of pixel i in [0, 1]: float masks are 0..1; Uint8Array masks are 0..255, except that a
 * Uint8Array holding only 0 and 1 is read as 0/1 (both conventions occur in callers).
 */
function maskValue(mask: EditMask, i: number): number {
  const d = mask.data;
  if (!(d instanceof Uint8Array)) return d[i];
  let scale = uint8Scale.get(d);
  if (scale === undefined) {
    let max = 0;
    for (let j = 0; j < d.length; j++) if (d[j] > max) max = d[j];
    scale = max <= 1 ? 1 : 255;
    uint8Scale.set(d, scale);
  }
  return d[i] / scale;
}

/**
 * The largest edit region side: its float crop (size²·3 float64) stays near 100 MB. The same number as the
 * contract's EDIT_LIMITS.maxRegion (the engine imports nothing of the app; a unit test checks they agree).
 */
export const MAX_REGION = 2048;

/**
 * The default region when none is given: the whole image if it is square (and at most MAX_REGION); otherwise
 * the square of side min(w, h, MAX_REGION) centred on the mask's bounding box, shifted to lie inside the image.
 */
export function defaultRegion(img: RgbImage, mask: EditMask): EditRegion {
  const { width: w, height: h } = img;
  if (w === h && w <= MAX_REGION) return { x: 0, y: 0, size: w };
  const size = Math.min(w, h, MAX_REGION);
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (maskValue(mask, y * w + x) >= 0.5) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  const cx = x1 >= 0 ? (x0 + x1 + 1) / 2 : w / 2;
  const cy = y1 >= 0 ? (y0 + y1 + 1) / 2 : h / 2;
  const x = Math.min(Math.max(Math.round(cx - size / 2), 0), w - size);
  const y = Math.min(Math.max(Math.round(cy - size / 2), 0), h - size);
  return { x, y, size };
}

export function checkEditInputs(img: RgbImage, mask: EditMask, region: EditRegion | undefined, feather: number): void {
  checkRgbImage(img, 'edit image');
  if (!mask || mask.width !== img.width || mask.height !== img.height) {
    throw new EngineError('bad-mask', `the mask must be the size of the image (${img.width}×${img.height}), got ${mask?.width}×${mask?.height}`);
  }
  if (!(mask.data instanceof Uint8Array || mask.data instanceof Float32Array) || mask.data.length !== img.width * img.height) {
    throw new EngineError('bad-mask', `the mask must hold ${img.width * img.height} values (one per pixel, Uint8Array 0..255 or Float32Array 0..1), got ${mask.data?.length}`);
  }
  if (region) {
    if (![region.x, region.y, region.size].every(Number.isInteger) || region.size < 1) {
      throw new EngineError('bad-region', `region must be integers x, y and size ≥ 1, got ${JSON.stringify(region)}`);
    }
    if (region.x >= img.width || region.y >= img.height || region.x + region.size <= 0 || region.y + region.size <= 0) {
      throw new EngineError('bad-region', `region ${region.x},${region.y} size ${region.size} does not overlap the ${img.width}×${img.height} image`);
    }
    if (region.size > MAX_REGION) throw new EngineError('bad-region', `region size ${region.size} is larger than ${MAX_REGION} pixels (the region is resized to the model's resolution anyway; pick a smaller one)`);
  }
  if (!Number.isFinite(feather) || feather < 0) throw new EngineError('bad-feather', `feather must be a number ≥ 0 (pixels), got ${feather}`);
}

export function planEdit(img: RgbImage, mask: EditMask, regionIn: EditRegion | undefined, m: Manifest): EditPlan {
  const region = regionIn ?? defaultRegion(img, mask);
  const { x: rx, y: ry, size } = region;
  const R = m.resolution;
  const pK = m.patchNums[m.patchNums.length - 1];

  const { rgb, inside } = cropSquare(img, rx, ry, size);
  const resized = resizeFloat(rgb, size, size, 3, R, R);
  const modelInput = new Float32Array(3 * R * R);
  for (let i = 0; i < R * R; i++) {
    for (let c = 0; c < 3; c++) {
      const v = resized[3 * i + c] / 255;
      modelInput[c * R * R + i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }

  const regenPixels = new Uint8Array(size * size);
  let regenCount = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const regen = inside[i] ? maskValue(mask, (ry + y) * img.width + (rx + x)) >= 0.5 : true;
      if (regen) {
        regenPixels[i] = 1;
        regenCount++;
      }
    }
  }

  const keepFinest = new Float32Array(pK * pK).fill(1);
  for (let ty = 0; ty < pK; ty++) {
    const ya = Math.floor((ty * size) / pK), yb = Math.max(ya + 1, Math.ceil(((ty + 1) * size) / pK));
    for (let tx = 0; tx < pK; tx++) {
      const xa = Math.floor((tx * size) / pK), xb = Math.max(xa + 1, Math.ceil(((tx + 1) * size) / pK));
      let regen = false;
      for (let y = ya; y < yb && !regen; y++) {
        for (let x = xa; x < xb; x++) {
          if (regenPixels[y * size + x]) { regen = true; break; }
        }
      }
      if (regen) keepFinest[ty * pK + tx] = 0;
    }
  }
  return { region, modelInput, keepFinest, regenPixels, regenCount };
}

/**
 * Composite one generated region (planar float (3, R, R) at `offset` of `gen`) into the source image.
 * The result covers the union of the image and the region (outpainting grows the image); canvas pixels
 * in neither are black. Returns the canvas and where the source image sits in it.
 */
export function pasteBack(
  img: RgbImage, plan: EditPlan, gen: Float32Array, offset: number, R: number, feather: number,
): { image: RgbImage; imageOffset: { x: number; y: number } } {
  const { x: rx, y: ry, size } = plan.region;
  const cx0 = Math.min(0, rx), cy0 = Math.min(0, ry);
  const cx1 = Math.max(img.width, rx + size), cy1 = Math.max(img.height, ry + size);
  const W = cx1 - cx0, H = cy1 - cy0;
  const out = new Uint8Array(W * H * 3);
  const ox = -cx0, oy = -cy0; // source image position in the canvas
  for (let y = 0; y < img.height; y++) {
    out.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y + oy) * W + ox) * 3);
  }
  // Generated region back at region size, interleaved, 0..255.
  const n = R * R;
  const inter = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) inter[3 * i + c] = gen[offset + c * n + i] * 255;
  const back = resizeFloat(inter, R, R, 3, size, size);
  const weight = featherWeights(plan.regenPixels, size, size, feather);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const wgt = weight[y * size + x];
      if (wgt === 0) continue;
      const sx = rx + x, sy = ry + y; // image coordinates
      const o = ((sy - cy0) * W + (sx - cx0)) * 3;
      const s = (y * size + x) * 3;
      const insideImage = sx >= 0 && sy >= 0 && sx < img.width && sy < img.height;
      for (let c = 0; c < 3; c++) {
        const g = back[s + c];
        const v = insideImage ? wgt * g + (1 - wgt) * img.data[(sy * img.width + sx) * 3 + c] : g;
        out[o + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
  }
  return { image: { width: W, height: H, data: out }, imageOffset: { x: ox, y: oy } };
}
