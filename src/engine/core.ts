/**
 * The next-scale loop shared by generation, resume-from-scale and editing (docs/var-model.md#sampling):
 * for each scale k, one transformer call on the 2B-row CFG batch with the KV cache of the earlier scales,
 * host-side sampling (sampler.ts) per image from its own seeded stream, optional forced (kept) tokens,
 * the f̂ update and next input (fhat_step.onnx), and a preview (preview.onnx). The final image comes
 * from decoder.onnx.
 */
import * as ort from 'onnxruntime-node';
import { EngineError } from './errors';
import type { BundleSessions } from './graphs';
import { planarToRgb, type RgbImage } from './image';
import { type Manifest, tokenOffsets } from './manifest';
import { areaMatrix, identityMatrix } from './resample';
import type { Xoshiro128 } from './rng';
import { type SamplingSettings, TokenSampler, guidanceAt, scaleRatio } from './sampler';

/** Tokens a scale must take from elsewhere: the source image (edit) or a prefix (resume). */
export interface ForcedScale {
  tokens: Int32Array;          // p_k² tokens, row-major
  keep: Uint8Array | null;     // 1 = take tokens[i]; null = take every token
}

export interface CoreRequest {
  labels: number[];            // per image; manifest.transformer.numClasses = the null class
  rngs: Xoshiro128[];          // per image, already past the class draw
  settings: SamplingSettings;
  forced?: (ForcedScale | undefined)[][];   // [image][scale]
  previews: boolean;
  /** Keep float outputs (f̂ per scale, final image) for exactness tests. */
  keepFloat?: boolean;
  /** Sees each scale's raw logits (N, l, V) before sampling (fidelity measurement of precision variants). */
  onLogits?: (scale: number, logits: Float32Array) => void;
}

export interface CoreScaleEvent {
  type: 'scale';
  index: number;
  patch: number;
  tokens: Int32Array[];        // per image
  preview: RgbImage[];         // per image; empty when previews are off
  elapsedMs: number;           // since the start of the run
  scaleMs: number;             // transformer + sampling + f̂ step of this scale
  /** The parts of scaleMs: the transformer call, host-side sampling, the f̂ step (profiling). */
  parts: { transformerMs: number; sampleMs: number; fhatMs: number };
  previewMs: number;
  fHat?: Float32Array;         // (B, Cvae, h, w) after this scale, with keepFloat
  previewFloat?: Float32Array; // (B, 3, R, R) preview graph output, with keepFloat and previews
}

export interface CoreDoneEvent {
  type: 'done';
  images: RgbImage[];
  imageFloat?: Float32Array;   // (B, 3, R, R) in [0, 1], with keepFloat
  tokens: Int32Array[][];      // [image][scale]
  decodeMs: number;
  totalMs: number;
}

export function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineError('aborted', 'generation cancelled');
}

/** Context the loop needs from an engine: the manifest, the sessions and the codebook. */
export interface CoreContext {
  manifest: Manifest;
  sessions: BundleSessions;
  codebook: Float32Array;
  /** Per-label results of the 1×1 scale; without it the first scale runs the transformer every time. */
  scale0?: Scale0Cache;
}

/**
 * The first (1×1) scale's transformer outputs depend only on the row's label (its input is the class token;
 * token_input is ignored and the cache is empty), so they are computed once per label and reused: the logits
 * row (V) and each layer's key/value for that row (H·c). Each row of the graph is computed independently of
 * the other rows, so an assembled batch equals a computed one (tested on the fixtures). Bounded LRU.
 */
export class Scale0Cache {
  private readonly entries = new Map<number, { logits: Float32Array; keys: Float32Array[]; values: Float32Array[] }>();

  constructor(private readonly manifest: Manifest, private readonly capacity = 256) {}

  get size(): number {
    return this.entries.size;
  }

  private async fill(sessions: BundleSessions, labels: number[]): Promise<void> {
    const { depth, numHeads: H, headDim: c } = this.manifest.transformer;
    const Cv = this.manifest.cvae;
    const V = this.manifest.vocabSize;
    const n = labels.length;
    const empty = new ort.Tensor('float32', new Float32Array(0), [n, H, 0, c]);
    const feeds: Record<string, ort.Tensor> = {
      labels: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [n]),
      token_input: new ort.Tensor('float32', new Float32Array(n * Cv), [n, 1, Cv]),
      begin: new ort.Tensor('int64', BigInt64Array.of(0n), [1]),
    };
    for (let i = 0; i < depth; i++) {
      feeds[`past_key_${i}`] = empty;
      feeds[`past_value_${i}`] = empty;
    }
    const out = await sessions.transformer.run(feeds);
    const logits = (out.logits as ort.Tensor).data as Float32Array;
    const hc = H * c;
    labels.forEach((label, r) => {
      const keys: Float32Array[] = [];
      const values: Float32Array[] = [];
      for (let i = 0; i < depth; i++) {
        keys.push(((out[`present_key_${i}`] as ort.Tensor).data as Float32Array).slice(r * hc, (r + 1) * hc));
        values.push(((out[`present_value_${i}`] as ort.Tensor).data as Float32Array).slice(r * hc, (r + 1) * hc));
      }
      this.entries.set(label, { logits: logits.slice(r * V, (r + 1) * V), keys, values });
    });
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Logits (N, 1, V) and the cache after the 1×1 scale, for rows with these labels. */
  async rows(sessions: BundleSessions, labels: number[]): Promise<{ logits: Float32Array; past: Record<string, ort.Tensor> }> {
    const missing = [...new Set(labels)].filter((l) => !this.entries.has(l));
    if (missing.length) await this.fill(sessions, missing);
    const { depth, numHeads: H, headDim: c } = this.manifest.transformer;
    const V = this.manifest.vocabSize;
    const N = labels.length;
    const hc = H * c;
    const logits = new Float32Array(N * V);
    const keys = Array.from({ length: depth }, () => new Float32Array(N * hc));
    const values = Array.from({ length: depth }, () => new Float32Array(N * hc));
    labels.forEach((label, r) => {
      const e = this.entries.get(label)!;
      this.entries.delete(label); // LRU: re-insert as most recent
      this.entries.set(label, e);
      logits.set(e.logits, r * V);
      for (let i = 0; i < depth; i++) {
        keys[i].set(e.keys[i], r * hc);
        values[i].set(e.values[i], r * hc);
      }
    });
    const past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < depth; i++) {
      past[`past_key_${i}`] = new ort.Tensor('float32', keys[i], [N, H, 1, c]);
      past[`past_value_${i}`] = new ort.Tensor('float32', values[i], [N, H, 1, c]);
    }
    return { logits, past };
  }
}

const areaCache = new WeakMap<Manifest, ort.Tensor[]>();

/** Area matrix tensors fed to fhat_step at each scale (identity on the last scale, which is not resized: models/quant.py). */
function areaTensors(m: Manifest): ort.Tensor[] {
  let t = areaCache.get(m);
  if (!t) {
    const h = m.patchNums[m.patchNums.length - 1];
    t = m.patchNums.map((_, k) => {
      if (k === m.patchNums.length - 1) return new ort.Tensor('float32', identityMatrix(h), [h, h]);
      const q = m.patchNums[k + 1];
      return new ort.Tensor('float32', areaMatrix(q, h), [q, h]);
    });
    areaCache.set(m, t);
  }
  return t;
}

/**
 * The loop is strictly sequential on purpose: onnxruntime-node 1.30's `session.run` executes on the calling JS
 * thread (its promise only defers the call with setImmediate), so nothing on this thread can overlap an ORT call;
 * starting the next scale's transformer before this scale's preview only delayed the preview (measured,
 * bench/RESULTS.md "Where the time goes").
 */
export async function* runScales(ctx: CoreContext, req: CoreRequest, signal?: AbortSignal): AsyncGenerator<CoreScaleEvent | CoreDoneEvent> {
  const { manifest: m, sessions, codebook } = ctx;
  const B = req.labels.length;
  const N = 2 * B;
  const K = m.patchNums.length;
  const V = m.vocabSize;
  const Cv = m.cvae;
  const h = m.patchNums[K - 1];
  const R = m.resolution;
  const { depth, numHeads: H, headDim: c, numClasses } = m.transformer;
  const { begins } = tokenOffsets(m.patchNums);
  const { cfg, topK, topP, moreSmooth } = req.settings;
  const areas = areaTensors(m);
  const t0 = performance.now();

  // CFG batch: rows 0..B−1 carry the labels, rows B..2B−1 the null class (official models/var.py).
  const labels = new BigInt64Array(N);
  for (let b = 0; b < B; b++) {
    labels[b] = BigInt(req.labels[b]);
    labels[B + b] = BigInt(numClasses);
  }
  const labelsT = new ort.Tensor('int64', labels, [N]);

  let past: Record<string, ort.Tensor> = {};
  const emptyCache = new ort.Tensor('float32', new Float32Array(0), [N, H, 0, c]);
  for (let i = 0; i < depth; i++) {
    past[`past_key_${i}`] = emptyCache;
    past[`past_value_${i}`] = emptyCache;
  }
  let tokenInput: ort.Tensor = new ort.Tensor('float32', new Float32Array(N * Cv), [N, 1, Cv]); // ignored at scale 0
  let fHat: ort.Tensor = new ort.Tensor('float32', new Float32Array(B * Cv * h * h), [B, Cv, h, h]);

  const sampler = new TokenSampler(V);
  const tokenU = new Float64Array(h * h);
  const gumbelU = moreSmooth ? new Float64Array(V) : null;
  const emb = new Float64Array(Cv);
  const allTokens: Int32Array[][] = Array.from({ length: B }, () => []);

  for (let k = 0; k < K; k++) {
    checkAborted(signal);
    const tScale = performance.now();
    const p = m.patchNums[k];
    const l = p * p;
    let logits: Float32Array; // (N, l, V)
    if (k === 0 && ctx.scale0) {
      // The 1×1 scale depends on nothing but the label: rows come from the per-label cache.
      const first = await ctx.scale0.rows(sessions, Array.from(labels, Number));
      past = first.past;
      logits = first.logits;
    } else {
      const feeds = { labels: labelsT, token_input: tokenInput, begin: new ort.Tensor('int64', BigInt64Array.of(BigInt(begins[k])), [1]), ...past };
      past = {}; // the feeds hold the only reference, so the old cache can go as soon as this run returns
      // The last scale's cache is never read: fetching logits alone spares onnxruntime-node copying it into JS.
      const out = await (k < K - 1 ? sessions.transformer.run(feeds) : sessions.transformer.run(feeds, ['logits']));
      // KV cache: present_* become the next past_* as they are (no copy on the JS side).
      for (let i = 0; i < depth && k < K - 1; i++) {
        past[`past_key_${i}`] = out[`present_key_${i}`] as ort.Tensor;
        past[`past_value_${i}`] = out[`present_value_${i}`] as ort.Tensor;
      }
      logits = (out.logits as ort.Tensor).data as Float32Array;
    }

    const tSample = performance.now();
    req.onLogits?.(k, logits);
    const t = guidanceAt(cfg, k, K);
    const ratio = scaleRatio(k, K);
    const hScale = new Float32Array(B * Cv * l); // (B, Cvae, p, p), token y·p+x at [:, :, y, x]
    const scaleTokens: Int32Array[] = [];
    for (let b = 0; b < B; b++) {
      const rng = req.rngs[b];
      const forced = req.forced?.[b]?.[k];
      const toks = new Int32Array(l);
      const u = tokenU.subarray(0, l);
      rng.fillUniform(u);
      for (let i = 0; i < l; i++) {
        const keep = forced !== undefined && (forced.keep === null || forced.keep[i] === 1);
        let tok: number;
        let smooth = false;
        if (keep) {
          tok = forced!.tokens[i];
          if (gumbelU) rng.skipUniforms(V); // the stream does not depend on the mask (docs/sampling.md)
        } else {
          const condOff = (b * l + i) * V;
          const uncondOff = ((B + b) * l + i) * V;
          tok = sampler.sampleToken(logits.subarray(condOff, condOff + V), logits.subarray(uncondOff, uncondOff + V), t, topK, topP, u[i]);
          if (gumbelU) {
            rng.fillUniform(gumbelU);
            sampler.smoothEmbedding(ratio, gumbelU, codebook, Cv, emb);
            smooth = true;
          }
        }
        toks[i] = tok;
        const base = b * Cv * l + i;
        if (smooth) {
          for (let ch = 0; ch < Cv; ch++) hScale[base + ch * l] = emb[ch];
        } else {
          const row = tok * Cv;
          for (let ch = 0; ch < Cv; ch++) hScale[base + ch * l] = codebook[row + ch];
        }
      }
      scaleTokens.push(toks);
      allTokens[b].push(toks);
    }

    const tFhat = performance.now();
    const step = await sessions.fhatStep.run({
      f_hat: fHat,
      h_scale: new ort.Tensor('float32', hScale, [B, Cv, p, p]),
      phi_index: new ort.Tensor('int64', BigInt64Array.of(BigInt(m.phiIndex[k])), [1]),
      area_matrix: areas[k],
    });
    fHat = step.f_hat_next as ort.Tensor;
    if (k < K - 1) {
      // Both CFG halves get identical next-scale tokens (official models/var.py).
      const next = (step.next_input as ort.Tensor).data as Float32Array; // (B, q², Cvae)
      const q = m.patchNums[k + 1];
      const doubled = new Float32Array(2 * next.length);
      doubled.set(next, 0);
      doubled.set(next, next.length);
      tokenInput = new ort.Tensor('float32', doubled, [N, q * q, Cv]);
    }
    const scaleMs = performance.now() - tScale;

    const tPrev = performance.now();
    const preview: RgbImage[] = [];
    let previewFloat: Float32Array | undefined;
    if (req.previews) {
      const pv = (await sessions.preview.run({ f_hat: fHat })).image as ort.Tensor;
      const px = pv.data as Float32Array;
      for (let b = 0; b < B; b++) preview.push(planarToRgb(px, R, R, b * 3 * R * R));
      if (req.keepFloat) previewFloat = Float32Array.from(px);
    }
    const previewMs = performance.now() - tPrev;
    yield {
      type: 'scale', index: k, patch: p, tokens: scaleTokens, preview,
      elapsedMs: performance.now() - t0, scaleMs, previewMs,
      parts: { transformerMs: tSample - tScale, sampleMs: tFhat - tSample, fhatMs: tScale + scaleMs - tFhat },
      ...(req.keepFloat ? { fHat: Float32Array.from(fHat.data as Float32Array), previewFloat } : {}),
    };
  }

  checkAborted(signal); // no trailing decode after a cancel
  const tDec = performance.now();
  const img = (await sessions.decoder.run({ f_hat: fHat })).image as ort.Tensor;
  const px = img.data as Float32Array;
  const images: RgbImage[] = [];
  for (let b = 0; b < B; b++) images.push(planarToRgb(px, R, R, b * 3 * R * R));
  const decodeMs = performance.now() - tDec;
  yield {
    type: 'done', images, tokens: allTokens, decodeMs, totalMs: performance.now() - t0,
    ...(req.keepFloat ? { imageFloat: Float32Array.from(px) } : {}),
  };
}
