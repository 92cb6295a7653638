import { describe, expect, it } from 'vitest';
import { Xoshiro128 } from '../../../src/engine/rng';
import { cfgMix, drawToken, guidanceAt, gumbelSoftEmbedding, gumbelTau, kthLargest, sortFloat64, topKFilter, topKTopPFilter, topPFilter } from '../../../src/engine/sampler';

function randomLogits(rng: Xoshiro128, V: number, spread = 3): Float64Array {
  const x = new Float64Array(V);
  for (let v = 0; v < V; v++) x[v] = (rng.nextUniform() - 0.5) * 2 * spread;
  return x;
}

function softmax(x: Float64Array): Float64Array {
  let m = -Infinity;
  for (const v of x) if (v > m) m = v;
  const e = x.map((v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Upper 0.999 quantile of chi-square with df degrees of freedom (Wilson–Hilferty). */
function chi2Critical(df: number): number {
  const z = 3.09;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

describe('sampler steps (docs/sampling.md "Per token")', () => {
  it('guidance ramps t = cfg·k/(K−1): 0 at the 1×1 scale, cfg at the last', () => {
    expect(guidanceAt(4, 0, 10)).toBe(0);
    expect(guidanceAt(4, 9, 10)).toBe(4);
    expect(guidanceAt(1.5, 3, 10)).toBe(1.5 * (3 / 9));
  });

  it('cfgMix computes (1+t)·a − t·b in float64', () => {
    const a = Float32Array.of(1, 2, -3);
    const b = Float32Array.of(0.5, 2, 1);
    const out = cfgMix(a, b, 2, new Float64Array(3));
    expect(Array.from(out)).toEqual([3 * 1 - 2 * 0.5, 3 * 2 - 2 * 2, 3 * -3 - 2 * 1]);
  });

  it('kthLargest agrees with a sort for many random rows, ties included', () => {
    const rng = new Xoshiro128(3);
    for (let trial = 0; trial < 200; trial++) {
      const V = 1 + Math.floor(rng.nextUniform() * 300);
      const x = new Float64Array(V).map(() => Math.floor(rng.nextUniform() * 20)); // many ties
      const k = 1 + Math.floor(rng.nextUniform() * V);
      const sorted = Array.from(x).sort((p, q) => q - p);
      expect(kthLargest(x, k, new Float64Array(V))).toBe(sorted[k - 1]);
    }
  });

  it('sortFloat64 sorts like a numeric sort (random sizes, many ties)', () => {
    const rng = new Xoshiro128(8);
    for (let trial = 0; trial < 100; trial++) {
      const n = Math.floor(rng.nextUniform() * 2000);
      const a = new Float64Array(n).map(() => Math.floor(rng.nextUniform() * 50) / 7);
      const want = Array.from(a).sort((p, q) => p - q);
      expect(Array.from(sortFloat64(a))).toEqual(want);
    }
  });

  it('top-p equals the literal definition (stable (x, v) order, softmax and cumulative sum in that order), ties included', () => {
    const literal = (x: Float64Array, p: number) => {
      const V = x.length;
      const order = Array.from({ length: V }, (_, v) => v).sort((i, j) => x[i] - x[j] || i - j);
      const xs = order.map((v) => x[v]);
      const e = xs.map((v) => Math.exp(v - xs[V - 1]));
      let z = 0;
      for (const v of e) z += v;
      let c = 0;
      const out = Float64Array.from(x);
      order.forEach((v, r) => {
        c += e[r] / z;
        if (c <= 1 - p && r < V - 1) out[v] = -Infinity;
      });
      return out;
    };
    const rng = new Xoshiro128(10);
    for (let trial = 0; trial < 400; trial++) {
      const V = 2 + Math.floor(rng.nextUniform() * 200);
      const x = new Float64Array(V).map(() => Math.floor(rng.nextUniform() * 5) * 0.5);
      const p = [0.2, 0.5, 0.7, 0.9, 0.99][Math.floor(rng.nextUniform() * 5)];
      expect(Array.from(topPFilter(Float64Array.from(x), p))).toEqual(Array.from(literal(x, p)));
    }
  });

  it('the fused top-k + top-p path equals topKFilter then topPFilter, ties at both thresholds included', () => {
    const rng = new Xoshiro128(9);
    for (let trial = 0; trial < 400; trial++) {
      const V = 2 + Math.floor(rng.nextUniform() * 300);
      const coarse = rng.nextUniform() < 0.5; // coarse values make ties at the cut points likely
      const x = new Float64Array(V).map(() => (coarse ? Math.floor(rng.nextUniform() * 6) : (rng.nextUniform() - 0.5) * 10));
      const k = Math.floor(rng.nextUniform() * (V + 2));
      const p = [0, 0.3, 0.5, 0.8, 0.9, 0.96, 1][Math.floor(rng.nextUniform() * 7)];
      const a = Float64Array.from(x);
      topPFilter(topKFilter(a, k), p);
      const b = topKTopPFilter(Float64Array.from(x), k, p, new Float64Array(V));
      expect(Array.from(b)).toEqual(Array.from(a));
    }
  });

  it('top-k keeps exactly the values ≥ the k-th largest (ties at the threshold all stay)', () => {
    const x = Float64Array.of(1, 5, 3, 5, 2, 3);
    topKFilter(x, 3);
    expect(Array.from(x)).toEqual([-Infinity, 5, 3, 5, -Infinity, 3]);
    const y = Float64Array.of(1, 2, 3);
    topKFilter(y, 0);
    expect(Array.from(y)).toEqual([1, 2, 3]); // k = 0 is off
  });

  it('top-p removes the low tail whose cumulative mass ≤ 1 − p and always keeps the largest token', () => {
    // probabilities 0.1, 0.2, 0.3, 0.4 → with p = 0.65, cumulative 0.1, 0.3 ≤ 0.35 removed; 0.6 kept
    const x = Float64Array.from([0.1, 0.2, 0.3, 0.4].map(Math.log));
    topPFilter(x, 0.65);
    expect(Array.from(x).map((v) => v === -Infinity)).toEqual([true, true, false, false]);
    const one = Float64Array.from([0.1, 0.2, 0.3, 0.4].map(Math.log));
    topPFilter(one, 1e-9);
    expect(Array.from(one).map((v) => v === -Infinity)).toEqual([true, true, true, false]);
  });

  it('drawToken inverts the CDF in index order; greedy (top-k 1) ignores the uniform', () => {
    const x = Float64Array.from([0.25, 0.25, 0.5].map(Math.log));
    expect(drawToken(x, 0)).toBe(0);
    expect(drawToken(x, 0.2499)).toBe(0);
    expect(drawToken(x, 0.2501)).toBe(1);
    expect(drawToken(x, 0.9999)).toBe(2);
    for (const u of [0, 0.3, 0.999999]) {
      const g = Float64Array.of(0.1, 3, 2.9, -1);
      topKFilter(g, 1);
      expect(drawToken(g, u)).toBe(1);
    }
    // ties under greedy: both tied tokens stay, the draw picks by index order
    const tie = Float64Array.of(0, 3, 3, 1);
    topKFilter(tie, 1);
    expect(drawToken(tie, 0.1)).toBe(1);
    expect(drawToken(tie, 0.9)).toBe(2);
  });

  for (const [topK, topP] of [[20, 0], [0, 0.8], [50, 0.9], [7, 0.5]] as const) {
    it(`statistics, top-k ${topK} top-p ${topP}: no token outside the kept set; frequencies match the filtered softmax (χ², p = 0.001)`, () => {
      const V = 128;
      const rng = new Xoshiro128(1234 + topK);
      const a = randomLogits(rng, V);
      const b = randomLogits(rng, V);
      const x = cfgMix(a, b, 1.5, new Float64Array(V));
      topKFilter(x, topK);
      topPFilter(x, topP);
      const kept = Array.from(x).map((v) => v !== -Infinity);
      const keptCount = kept.filter(Boolean).length;
      if (topK) expect(keptCount).toBeLessThanOrEqual(topK);
      const p = softmax(x);
      const n = 40000;
      const counts = new Float64Array(V);
      const draws = new Xoshiro128(99);
      let outsideKept = 0;
      for (let i = 0; i < n; i++) {
        const tok = drawToken(x, draws.nextUniform());
        if (!kept[tok]) outsideKept++;
        counts[tok]++;
      }
      expect(outsideKept).toBe(0);
      let chi2 = 0;
      let df = -1;
      for (let v = 0; v < V; v++) {
        if (!kept[v]) continue;
        const expected = n * p[v];
        chi2 += (counts[v] - expected) ** 2 / expected;
        df++;
      }
      expect(chi2).toBeLessThan(chi2Critical(Math.max(df, 1)));
    });
  }

  it('more-smooth: τ schedule and a convex combination of codebook rows over the kept tokens only', () => {
    expect(gumbelTau(0)).toBeCloseTo(0.27, 15);
    expect(gumbelTau(1)).toBeCloseTo(0.27 * 0.05, 15);
    const V = 16;
    const C = 3;
    const rng = new Xoshiro128(5);
    const codebook = new Float32Array(V * C).map(() => rng.nextUniform());
    const x = randomLogits(rng, V);
    topKFilter(x, 4);
    const u = new Float64Array(V).map(() => rng.nextUniform());
    const emb = gumbelSoftEmbedding(x, 0.5, u, codebook, C);
    // Each channel lies within the min/max of the kept rows.
    for (let c = 0; c < C; c++) {
      const vals = Array.from({ length: V }, (_, v) => v).filter((v) => x[v] !== -Infinity).map((v) => codebook[v * C + c]);
      expect(emb[c]).toBeGreaterThanOrEqual(Math.min(...vals) - 1e-12);
      expect(emb[c]).toBeLessThanOrEqual(Math.max(...vals) + 1e-12);
    }
    // At a very low temperature it collapses to one codebook row.
    const sharp = Float64Array.of(0, 50, -Infinity, 1);
    const e2 = gumbelSoftEmbedding(sharp, 1, Float64Array.of(0.5, 0.5, 0.5, 0.5), new Float32Array([0, 0, 1, 1, 2, 2, 3, 3]), 2);
    expect(Array.from(e2)).toEqual([1, 1]);
  });
});
