/**
 * The preview map fitted at import (docs/model-bundle.md, preview.onnx): a k×k conv Cvae → 3·s² followed by
 * pixel shuffle ×s, fitted by ridge least squares (float64 normal equations, ridge 1e-3·mean diagonal, bias
 * not penalised, Cholesky) to the decoder's [0, 1] output on f̂ after every scale of random token pyramids.
 * Same arithmetic as tools/export/preview_fit.py; the samples are drawn from the engine's seeded generator.
 */

/** Running XᵀX and XᵀY of the fit; rows are latent cells, features the k×k×Cvae neighbourhood plus a 1. */
export class NormalEquations {
  readonly nx: number;
  readonly ny: number;
  readonly gram: Float64Array;   // nx × nx, upper triangle accumulated
  readonly xty: Float64Array;    // nx × ny
  rows = 0;

  constructor(readonly cvae: number, readonly kernel: number, readonly downsample: number) {
    this.nx = cvae * kernel * kernel + 1;
    this.ny = 3 * downsample * downsample;
    this.gram = new Float64Array(this.nx * this.nx);
    this.xty = new Float64Array(this.nx * this.ny);
  }

  /** Add one image: f̂ (Cvae, h, w) and the decoder's output (3, h·s, w·s) in [0, 1]. */
  add(fhat: Float32Array, image: Float32Array, h: number, w: number): void {
    const { nx, ny, gram, xty } = this;
    const x = new Float64Array(nx);
    const y = new Float64Array(ny);
    const nz = new Int32Array(nx);
    for (let cy = 0; cy < h; cy++) {
      for (let cx = 0; cx < w; cx++) {
        unfoldCell(fhat, this.cvae, h, w, this.kernel, cy, cx, x);
        pixelBlock(image, h * this.downsample, w * this.downsample, this.downsample, cy, cx, y);
        // Rank-1 update over the non-zero features only (zero padding at the borders).
        let n = 0;
        for (let i = 0; i < nx; i++) if (x[i] !== 0) nz[n++] = i;
        for (let a = 0; a < n; a++) {
          const i = nz[a];
          const xi = x[i];
          const gRow = i * nx;
          for (let b = a; b < n; b++) gram[gRow + nz[b]] += xi * x[nz[b]];
          const yRow = i * ny;
          for (let j = 0; j < ny; j++) xty[yRow + j] += xi * y[j];
        }
        this.rows++;
      }
    }
  }
}

/** Features of latent cell (cy, cx): f̂[c, cy+i−k/2, cx+j−k/2] in (c, i, j) order (zero outside), then 1. */
export function unfoldCell(f: Float32Array, C: number, h: number, w: number, k: number, cy: number, cx: number, out: Float64Array): void {
  const pad = k >> 1;
  let o = 0;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < k; i++) {
      const y = cy + i - pad;
      for (let j = 0; j < k; j++) {
        const xx = cx + j - pad;
        out[o++] = y >= 0 && y < h && xx >= 0 && xx < w ? f[(c * h + y) * w + xx] : 0;
      }
    }
  }
  out[o] = 1;
}

/** The s×s pixel block of cell (cy, cx) in pixel-unshuffle order: channel c·s² + dy·s + dx. */
export function pixelBlock(img: Float32Array, H: number, W: number, s: number, cy: number, cx: number, out: Float64Array): void {
  let o = 0;
  for (let c = 0; c < 3; c++) {
    for (let dy = 0; dy < s; dy++) {
      const row = (c * H + cy * s + dy) * W + cx * s;
      for (let dx = 0; dx < s; dx++) out[o++] = img[row + dx];
    }
  }
}

/** Solve (A)·X = B for symmetric positive-definite A (n×n, upper triangle used) and B (n×m), in place on a copy. */
export function choleskySolve(A: Float64Array, B: Float64Array, n: number, m: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j];
    for (let p = 0; p < j; p++) d -= L[j * n + p] * L[j * n + p];
    if (!(d > 0)) throw new Error(`preview fit: the normal equations are not positive definite (pivot ${j} = ${d})`);
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let v = A[j * n + i]; // upper triangle: A[j][i] = A[i][j]
      for (let p = 0; p < j; p++) v -= L[i * n + p] * L[j * n + p];
      L[i * n + j] = v / ljj;
    }
  }
  const X = Float64Array.from(B);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {      // L z = b
      let v = X[i * m + c];
      for (let p = 0; p < i; p++) v -= L[i * n + p] * X[p * m + c];
      X[i * m + c] = v / L[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) { // Lᵀ x = z
      let v = X[i * m + c];
      for (let p = i + 1; p < n; p++) v -= L[p * n + i] * X[p * m + c];
      X[i * m + c] = v / L[i * n + i];
    }
  }
  return X;
}

export interface PreviewMap { weight: Float32Array; bias: Float32Array; kernel: number; cvae: number; downsample: number }

/** Ridge solution of the accumulated equations: W [3s², Cvae, k, k] and b [3s²] as float32. */
export function solvePreview(eq: NormalEquations, ridge: number): PreviewMap {
  const { nx, ny } = eq;
  const A = Float64Array.from(eq.gram);
  let diag = 0;
  for (let i = 0; i < nx - 1; i++) diag += A[i * nx + i];
  const reg = (ridge * diag) / (nx - 1);
  for (let i = 0; i < nx - 1; i++) A[i * nx + i] += reg; // the bias (last feature) is not penalised
  const sol = choleskySolve(A, eq.xty, nx, ny);
  const nw = nx - 1;
  const weight = new Float32Array(ny * nw);
  const bias = new Float32Array(ny);
  for (let o = 0; o < ny; o++) {
    for (let f = 0; f < nw; f++) weight[o * nw + f] = sol[f * ny + o];
    bias[o] = sol[nw * ny + o];
  }
  return { weight, bias, kernel: eq.kernel, cvae: eq.cvae, downsample: eq.downsample };
}

/** The preview of one f̂ (Cvae, h, w) → (3, h·s, w·s): clamp(pixel_shuffle(conv(f̂)), 0, 1). */
export function applyPreview(p: PreviewMap, fhat: Float32Array, h: number, w: number): Float32Array {
  const s = p.downsample;
  const nx = p.cvae * p.kernel * p.kernel + 1;
  const x = new Float64Array(nx);
  const H = h * s;
  const W = w * s;
  const out = new Float32Array(3 * H * W);
  for (let cy = 0; cy < h; cy++) {
    for (let cx = 0; cx < w; cx++) {
      unfoldCell(fhat, p.cvae, h, w, p.kernel, cy, cx, x);
      let o = 0;
      for (let c = 0; c < 3; c++) {
        for (let dy = 0; dy < s; dy++) {
          for (let dx = 0; dx < s; dx++, o++) {
            let v = p.bias[o];
            const wr = o * (nx - 1);
            for (let f = 0; f < nx - 1; f++) v += p.weight[wr + f] * x[f];
            out[(c * H + cy * s + dy) * W + cx * s + dx] = Math.min(Math.max(v, 0), 1);
          }
        }
      }
    }
  }
  return out;
}

export function psnr(mse: number): number {
  return mse === 0 ? Infinity : -10 * Math.log10(mse);
}

/** Σ (a − b)² over the elements, for the preview's mean squared error against the decoder. */
export function sumSquaredError(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}
