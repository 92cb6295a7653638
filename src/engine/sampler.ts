/**
 * The studio sampler (docs/sampling.md "Per token"), as small pure steps on float64 vectors of length V.
 * The math of each step is the official one (var-reference.md §6); the randomness comes from the
 * caller's uniforms so every step is testable alone and identical to tools/var_ref/sampler.py.
 *
 *   cfgMix → topKFilter → topPFilter → drawToken   (+ gumbelSoftEmbedding on the more-smooth path)
 */

/** The ratio r = k/(K−1) of scale k (0-based) of K; 0 for a single scale. */
export function scaleRatio(k: number, K: number): number {
  return K > 1 ? k / (K - 1) : 0;
}

/** Guidance at scale k of K: t = cfg·(k/(K−1)), zero at the 1×1 scale (var-reference.md §6.5.2); this
 * order of operations is the one of tools/var_ref/sampler.py, so t is bit-identical. */
export function guidanceAt(cfg: number, k: number, K: number): number {
  return cfg * scaleRatio(k, K);
}

/** x_v = (1 + t)·a_v − t·b_v in float64; a = conditional row, b = unconditional row. */
export function cfgMix(cond: ArrayLike<number>, uncond: ArrayLike<number>, t: number, out: Float64Array): Float64Array {
  const n = out.length;
  const wa = 1 + t;
  for (let v = 0; v < n; v++) out[v] = wa * cond[v] - t * uncond[v];
  return out;
}

/**
 * The k-th largest value of x counted with multiplicity (quickselect on a scratch copy).
 * `scratch` must have room for x.length values; x is not modified.
 */
export function kthLargest(x: Float64Array, k: number, scratch: Float64Array): number {
  const n = x.length;
  const a = scratch;
  for (let i = 0; i < n; i++) a[i] = x[i];
  // Select the element of rank (n − k) in ascending order.
  const target = n - k;
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as pivot, deterministic.
    let p0 = a[lo], p1 = a[mid], p2 = a[hi];
    let pivot: number;
    if (p0 > p1) { const t = p0; p0 = p1; p1 = t; }
    if (p1 > p2) { p1 = p2; }
    pivot = p0 > p1 ? p0 : p1;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++; j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/** top-k: with 0 < k < V, set x_v = −∞ where x_v is below the k-th largest (ties at the threshold stay). */
export function topKFilter(x: Float64Array, k: number, scratch: Float64Array = new Float64Array(x.length)): Float64Array {
  const n = x.length;
  if (!(k > 0 && k < n)) return x;
  const m = kthLargest(x, k, scratch);
  for (let v = 0; v < n; v++) if (x[v] < m) x[v] = -Infinity;
  return x;
}

/**
 * top-p (nucleus): with 0 < p < 1, order tokens by (x_v, v) ascending, softmax in that order, cumulative
 * sum in that order; x_v = −∞ where the cumulative sum ≤ 1 − p, except the largest token (always kept).
 * Tokens already at −∞ have probability 0 and stay at −∞, so only the finite ones are sorted.
 */
export function topPFilter(x: Float64Array, p: number, order: Uint32Array = new Uint32Array(x.length)): Float64Array {
  if (!(p > 0 && p < 1)) return x;
  let m = 0;
  for (let v = 0; v < x.length; v++) if (x[v] !== -Infinity) order[m++] = v;
  if (m === 0) return x;
  const idx = order.subarray(0, m);
  idx.sort((i, j) => (x[i] - x[j]) || (i - j));
  const maxX = x[idx[m - 1]];
  let sum = 0;
  for (let r = 0; r < m; r++) sum += Math.exp(x[idx[r]] - maxX);
  const threshold = 1 - p;
  let cum = 0;
  for (let r = 0; r < m - 1; r++) {
    cum += Math.exp(x[idx[r]] - maxX) / sum;
    if (cum <= threshold) x[idx[r]] = -Infinity;
    else break; // cumulative sums only grow: every later token is kept
  }
  return x;
}

/**
 * Draw one token with one uniform u ∈ [0, 1): e_v = exp(x_v − max x) (0 for −∞), S = Σ e_v in index
 * order; the smallest v with Σ_{j≤v} e_j > u·S; if rounding leaves none, the largest v with e_v > 0.
 */
export function drawToken(x: Float64Array, u: number, e: Float64Array = new Float64Array(x.length)): number {
  const n = x.length;
  let maxX = -Infinity;
  for (let v = 0; v < n; v++) if (x[v] > maxX) maxX = x[v];
  let sum = 0;
  let last = -1;
  for (let v = 0; v < n; v++) {
    const ev = x[v] === -Infinity ? 0 : Math.exp(x[v] - maxX);
    e[v] = ev;
    sum += ev;
    if (ev > 0) last = v;
  }
  const target = u * sum;
  let cum = 0;
  for (let v = 0; v < n; v++) {
    cum += e[v];
    if (cum > target) return v;
  }
  return last;
}

/** Gumbel temperature τ = max(0.27·(1 − 0.95·r), 0.005) at ratio r = k/(K−1) (var-reference.md §6.5.6). */
export function gumbelTau(r: number): number {
  return Math.max(0.27 * (1 - 0.95 * r), 0.005);
}

/**
 * The more-smooth embedding (var-reference.md §6.5.6): g_v = −log(−log1p(−u_v)),
 * y = softmax((x·(1+r) + g)/τ) over v (−∞ → 0), embedding = y · codebook (codebook V×Cvae, row-major).
 * `x` are the filtered (CFG + top-k + top-p) logits; `uniforms` has V entries.
 */
export function gumbelSoftEmbedding(
  x: Float64Array, r: number, uniforms: ArrayLike<number>, codebook: Float32Array, cvae: number,
  out: Float64Array = new Float64Array(cvae), y: Float64Array = new Float64Array(x.length),
): Float64Array {
  const n = x.length;
  const tau = gumbelTau(r);
  const scale = 1 + r;
  let maxZ = -Infinity;
  for (let v = 0; v < n; v++) {
    if (x[v] === -Infinity) { y[v] = -Infinity; continue; }
    const g = -Math.log(-Math.log1p(-uniforms[v]));
    const z = (x[v] * scale + g) / tau;
    y[v] = z;
    if (z > maxZ) maxZ = z;
  }
  let sum = 0;
  for (let v = 0; v < n; v++) {
    const ev = y[v] === -Infinity ? 0 : Math.exp(y[v] - maxZ);
    y[v] = ev;
    sum += ev;
  }
  out.fill(0);
  for (let v = 0; v < n; v++) {
    const w = y[v] / sum;
    if (w === 0) continue;
    const row = v * cvae;
    for (let c = 0; c < cvae; c++) out[c] += w * codebook[row + c];
  }
  return out;
}

export interface SamplingSettings { cfg: number; topK: number; topP: number; moreSmooth: boolean }

/**
 * Scratch buffers for sampling one token at a time (no allocation per token).
 * `sampleToken` applies the whole pipeline to one token's conditional/unconditional logits.
 */
export class TokenSampler {
  readonly x: Float64Array;
  private readonly scratch: Float64Array;
  private readonly order: Uint32Array;
  private readonly e: Float64Array;

  constructor(readonly vocabSize: number) {
    this.x = new Float64Array(vocabSize);
    this.scratch = new Float64Array(vocabSize);
    this.order = new Uint32Array(vocabSize);
    this.e = new Float64Array(vocabSize);
  }

  /** CFG mix + top-k + top-p into this.x, then draw with u. Leaves the filtered logits in this.x. */
  sampleToken(cond: ArrayLike<number>, uncond: ArrayLike<number>, t: number, topK: number, topP: number, u: number): number {
    cfgMix(cond, uncond, t, this.x);
    topKFilter(this.x, topK, this.scratch);
    topPFilter(this.x, topP, this.order);
    return drawToken(this.x, u, this.e);
  }

  /** The more-smooth embedding of the logits left in this.x by the last sampleToken. */
  smoothEmbedding(r: number, uniforms: ArrayLike<number>, codebook: Float32Array, cvae: number, out: Float64Array): Float64Array {
    return gumbelSoftEmbedding(this.x, r, uniforms, codebook, cvae, out, this.e);
  }
}
