/**
 * Host-side resampling of the multi-scale quantizer and of edit masks (docs/var-model.md):
 * - `areaMatrix`: adaptive-average-pooling ("area") as a (q × h) matrix, fed to fhat_step.onnx.
 * - `resizeMaskBilinear` + threshold: the per-scale edit mask, bilinear (align_corners=False) > 0.5, in float32
 *   arithmetic; on 0/1 masks of the official and shipped grids this equals the float64 rule of docs/sampling.md.
 */

/** (out × in) averaging matrix, window [⌊i·in/out⌋, ⌈(i+1)·in/out⌉), row-major float32. */
export function areaMatrix(outSize: number, inSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const lo = Math.floor((i * inSize) / outSize);
    const hi = Math.ceil(((i + 1) * inSize) / outSize);
    const w = 1 / (hi - lo);
    for (let j = lo; j < hi; j++) m[i * inSize + j] = w;
  }
  return m;
}

/** h × h identity (the area matrix passed to fhat_step on the last scale). */
export function identityMatrix(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

const f32 = Math.fround;

/** Source index and weight of PyTorch's linear interpolation (align_corners=False), in float32. */
function linearTaps(outSize: number, inSize: number): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  const scale = f32(inSize / outSize);
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    let src = f32(f32(scale * f32(i + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const idx = Math.min(Math.floor(src), inSize - 1);
    const lambda = Math.min(Math.max(f32(src - idx), 0), 1);
    i0[i] = idx;
    i1[i] = Math.min(idx + 1, inSize - 1);
    w1[i] = lambda;
    w0[i] = f32(1 - lambda);
  }
  return { i0, i1, w0, w1 };
}

/** Bilinear resize (align_corners=False, no antialias) of a square single-channel map, float32 arithmetic. */
export function resizeMaskBilinear(src: Float32Array, inSize: number, outSize: number): Float32Array {
  const out = new Float32Array(outSize * outSize);
  const t = linearTaps(outSize, inSize);
  for (let y = 0; y < outSize; y++) {
    const ra = t.i0[y] * inSize;
    const rb = t.i1[y] * inSize;
    for (let x = 0; x < outSize; x++) {
      const c0 = t.i0[x];
      const c1 = t.i1[x];
      const top = f32(f32(src[ra + c0] * t.w0[x]) + f32(src[ra + c1] * t.w1[x]));
      const bot = f32(f32(src[rb + c0] * t.w0[x]) + f32(src[rb + c1] * t.w1[x]));
      out[y * outSize + x] = f32(f32(top * t.w0[y]) + f32(bot * t.w1[y]));
    }
  }
  return out;
}

/**
 * Per-scale keep masks of an edit (docs/sampling.md, Editing masks): `keepFinest` is the p_K × p_K map, 1 = keep
 * the source token; scale k keeps where bilinear(keep → p_k) > 0.5; scales with p_k² ≤ 3 keep every token.
 */
export function keepMasksPerScale(keepFinest: Float32Array, patchNums: readonly number[]): Uint8Array[] {
  const pK = patchNums[patchNums.length - 1];
  return patchNums.map((p) => {
    const m = new Uint8Array(p * p);
    if (p * p <= 3) return m.fill(1);
    const r = p === pK ? keepFinest : resizeMaskBilinear(keepFinest, pK, p);
    for (let i = 0; i < p * p; i++) m[i] = r[i] > 0.5 ? 1 : 0;
    return m;
  });
}
