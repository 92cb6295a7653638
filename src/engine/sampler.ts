/**
 * The studio sampler (docs/sampling.md "Per token"), as small pure steps on float64 vectors of length V.
 * The math of each step is the official one (docs/var-model.md#sampling); the randomness comes from the
 * caller's uniforms so every step is testable alone and identical to tools/var_ref/sampler.py.
 *
 *   cfgMix → topKFilter → topPFilter → drawToken   (+ gumbelSoftEmbedding on the more-smooth path)
 */

/** The ratio r = k/(K−1) of scale k (0-based) of K; 0 for a single scale. */
export function scaleRatio(k: number, K: number): number {
  return K > 1 ? k / (K - 1) : 0;
}

/** Guidance at scale k of K: t = cfg·(k/(K−1)), zero at the 1×1 scale (official models/var.py); this
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
 * Quickselect on a[0, n): afterwards a[target] holds the value of rank `target` (ascending), everything
 * before it is ≤ it and everything after it is ≥ it. Deterministic median-of-three pivots.
 */
function selectInPlace(a: Float64Array, n: number, target: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    let p0 = a[lo], p1 = a[mid];
    const p2 = a[hi];
    if (p0 > p1) { const t = p0; p0 = p1; p1 = t; }
    if (p1 > p2) p1 = p2;
    const pivot = p0 > p1 ? p0 : p1; // median of the three
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
    else break; // a[j+1 .. i-1] all equal the pivot
  }
  return a[target];
}

/**
 * The k-th largest value of x counted with multiplicity. `scratch` must have room for x.length values;
 * x is not modified.
 */
export function kthLargest(x: Float64Array, k: number, scratch: Float64Array): number {
  const n = x.length;
  scratch.set(x);
  return selectInPlace(scratch, n, n - k);
}

/** Ascending in-place sort of a[lo, hi) (quicksort + insertion sort; V8's typed-array sort is far slower). */
export function sortFloat64(a: Float64Array, lo = 0, hi = a.length): Float64Array {
  const stack: number[] = [lo, hi - 1];
  while (stack.length) {
    let r = stack.pop()!;
    let l = stack.pop()!;
    while (r - l > 16) {
      const mid = (l + r) >>> 1;
      let p0 = a[l], p1 = a[mid];
      const p2 = a[r];
      if (p0 > p1) { const t = p0; p0 = p1; p1 = t; }
      if (p1 > p2) p1 = p2;
      const pivot = p0 > p1 ? p0 : p1;
      let i = l;
      let j = r;
      while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) {
          const t = a[i]; a[i] = a[j]; a[j] = t;
          i++; j--;
        }
      }
      // recurse into the smaller side later, loop on the larger one
      if (j - l < r - i) { stack.push(i, r); r = j; } else { stack.push(l, j); l = i; }
    }
    for (let i = l + 1; i <= r; i++) {
      const v = a[i];
      let j = i - 1;
      while (j >= l && a[j] > v) { a[j + 1] = a[j]; j--; }
      a[j + 1] = v;
    }
  }
  return a;
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
 * Tokens already at −∞ have probability 0 and stay at −∞, so only the finite ones take part.
 */
export function topPFilter(x: Float64Array, p: number, scratch: Float64Array = new Float64Array(x.length)): Float64Array {
  if (!(p > 0 && p < 1)) return x;
  let m = 0;
  for (let v = 0; v < x.length; v++) if (x[v] !== -Infinity) scratch[m++] = x[v];
  if (m <= 1) return x;
  removeNucleusTail(x, sortFloat64(scratch, 0, m).subarray(0, m), p);
  return x;
}

/**
 * The top-p step on `sorted` = the finite values of x in ascending order. Equal values have equal
 * probabilities, so the running sums equal those of the (x_v, v) order; if the removed prefix ends inside a
 * group of equal values, the tokens of that group with the smallest indices are removed — exactly the
 * (x_v, v) order of docs/sampling.md.
 */
function removeNucleusTail(x: Float64Array, sorted: Float64Array, p: number): void {
  const m = sorted.length;
  const maxX = sorted[m - 1];
  let sum = 0;
  for (let r = 0; r < m; r++) sum += Math.exp(sorted[r] - maxX);
  const threshold = 1 - p;
  let cum = 0;
  let removed = 0; // length of the removed prefix in sorted order (never the last token)
  while (removed < m - 1) {
    cum += Math.exp(sorted[removed] - maxX) / sum;
    if (cum <= threshold) removed++;
    else break; // cumulative sums only grow: every later token is kept
  }
  if (removed === 0) return;
  const cut = sorted[removed - 1];
  let below = 0; // removed tokens strictly below the cut value
  while (below < removed && sorted[below] < cut) below++;
  let tiesToRemove = removed - below;
  for (let v = 0; v < x.length; v++) {
    const xv = x[v];
    if (xv < cut) x[v] = -Infinity;
    else if (xv === cut && tiesToRemove > 0) {
      x[v] = -Infinity;
      tiesToRemove--;
    }
  }
}

/**
 * top-k then top-p, sharing one selection (the fast path of TokenSampler); the same result as topKFilter
 * followed by topPFilter (tested). `scratch` needs room for x.length values.
 */
export function topKTopPFilter(x: Float64Array, k: number, p: number, scratch: Float64Array): Float64Array {
  const n = x.length;
  const useK = k > 0 && k < n;
  const useP = p > 0 && p < 1;
  if (!useK) return useP ? topPFilter(x, p, scratch) : x;
  scratch.set(x);
  const m = selectInPlace(scratch, n, n - k); // scratch[n−k, n) ≥ m ≥ scratch[0, n−k)
  for (let v = 0; v < n; v++) if (x[v] < m) x[v] = -Infinity;
  if (!useP) return x;
  // The kept values: the upper part plus any value equal to m left in the lower part (ties stay).
  let start = n - k;
  for (let i = n - k - 1; i >= 0; i--) {
    if (scratch[i] === m) {
      start--;
      const t = scratch[i]; scratch[i] = scratch[start]; scratch[start] = t;
    }
  }
  let first = start;
  while (first < n && scratch[first] === -Infinity) first++;
  if (n - first > 1) removeNucleusTail(x, sortFloat64(scratch, first, n).subarray(first, n), p);
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

/** Gumbel temperature τ = max(0.27·(1 − 0.95·r), 0.005) at r = k/(K−1) (official models/var.py). */
export function gumbelTau(r: number): number {
  return Math.max(0.27 * (1 - 0.95 * r), 0.005);
}

/**
 * The more-smooth embedding (official gumbel_softmax_with_rng, models/helpers.py): g_v = −log(−log1p(−u_v)),
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
  private readonly e: Float64Array;

  constructor(readonly vocabSize: number) {
    this.x = new Float64Array(vocabSize);
    this.scratch = new Float64Array(vocabSize);
    this.e = new Float64Array(vocabSize);
  }

  /** CFG mix + top-k + top-p into this.x, then draw with u. Leaves the filtered logits in this.x. */
  sampleToken(cond: ArrayLike<number>, uncond: ArrayLike<number>, t: number, topK: number, topP: number, u: number): number {
    cfgMix(cond, uncond, t, this.x);
    topKTopPFilter(this.x, topK, topP, this.scratch);
    return drawToken(this.x, u, this.e);
  }

  /** The more-smooth embedding of the logits left in this.x by the last sampleToken. */
  smoothEmbedding(r: number, uniforms: ArrayLike<number>, codebook: Float32Array, cvae: number, out: Float64Array): Float64Array {
    return gumbelSoftEmbedding(this.x, r, uniforms, codebook, cvae, out, this.e);
  }
}
