/**
 * VarEngine: a loaded bundle with its sessions, and the generate / edit / encode operations of the public
 * API (./README.md). Generation events stream one per scale, then 'done'.
 */
import * as ort from 'onnxruntime-node';
import { loadBundle } from './bundle';
import { type CoreContext, type CoreDoneEvent, type CoreScaleEvent, type ForcedScale, Scale0Cache, checkAborted, runScales } from './core';
import { type EditMask, type EditRegion, checkEditInputs, pasteBack, planEdit } from './edit';
import { EngineError } from './errors';
import { BundleSessions } from './graphs';
import { type RgbImage, checkRgbImage, resizeFloat } from './image';
import { type GraphName, type Manifest, type Precision, tokenOffsets } from './manifest';
import type { ProviderName, ProviderReport, SessionTuning } from './providers';
import { checkPrefix, checkRunRequest } from './requests';
import { keepMasksPerScale } from './resample';
import { Xoshiro128, imageSeeds } from './rng';
import type { SamplingSettings } from './sampler';

export interface GenerateRequest {
  classIndex: number | null;
  seed: number;
  batch: number;
  sampling: SamplingSettings;
  prefix?: { tokens: Int32Array[] }[];
  /** Per-scale previews (default true). Off: 'scale' events carry an empty preview list. */
  previews?: boolean;
}

export interface EditRequest {
  image: RgbImage;
  mask: EditMask;
  region?: EditRegion;
  classIndex: number | null;
  fromScale?: number;
  seed: number;
  batch: number;
  sampling: SamplingSettings;
  feather: number;
  previews?: boolean;
}

export type EngineEvent =
  /** seeds: the seed of each image's stream (imageSeed(seed, b)), so no consumer recomputes them. */
  | { type: 'start'; scales: number; patchNums: number[]; batch: number; classIndices: number[]; seeds: number[] }
  | { type: 'scale'; index: number; patch: number; tokens: Int32Array[]; preview: RgbImage[]; elapsedMs: number }
  | {
      type: 'done'; images: RgbImage[]; tokens: Int32Array[][]; classIndices: number[];
      timings: { totalMs: number; perScaleMs: number[]; previewMs: number; decodeMs: number };
    };

export interface EngineOptions extends SessionTuning {
  provider?: ProviderName | 'auto';
  /** intraOpNumThreads of the transformer, encoder and decoder sessions (undefined = onnxruntime's default,
   * one per physical core); fhat_step and preview always use 1 (graphs.ts graphTuning). */
  threads?: number;
  /** Precision of every graph that has that variant (the others run fp32). 'auto' (default): per graph, the fastest
   * variant whose recorded fidelity meets the bar on the device in use, else fp32 (graphs.ts choosePrecision). */
  precision?: Precision | 'auto';
  /** Skip the sha256 check of the bundle files (sizes are still checked). Default false. */
  skipHashes?: boolean;
}

/** Bundles with at most this many classes (null class included) precompute the 1×1 scale at load. */
export const PRECOMPUTE_SCALE0_MAX_CLASSES = 64;

/** Internal extras used by tests and the benchmark (float outputs, per-scale timings). */
export interface RunExtras {
  keepFloat?: boolean;
  onCore?: (e: CoreScaleEvent | CoreDoneEvent) => void;
  onLogits?: (scale: number, logits: Float32Array) => void;
}

export class VarEngine {
  private disposed = false;
  private activeRuns = 0;
  private idleWaiters: (() => void)[] = [];

  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly codebook: Float32Array,
    private readonly sessions: BundleSessions,
  ) {
    this.scale0 = new Scale0Cache(manifest);
  }

  private readonly scale0: Scale0Cache;

  get provider(): ProviderReport {
    return this.sessions.provider;
  }

  /** The precision each graph runs in (fp32 unless a variant was chosen). */
  get precision(): Record<GraphName, Precision> {
    return { ...this.sessions.precision };
  }

  static async create(bundleDir: string, opts: EngineOptions = {}): Promise<VarEngine> {
    const bundle = await loadBundle(bundleDir, { verifyHashes: !opts.skipHashes });
    const tuning: SessionTuning = {
      intraOpNumThreads: opts.threads ?? opts.intraOpNumThreads,
      interOpNumThreads: opts.interOpNumThreads,
      graphOptimizationLevel: opts.graphOptimizationLevel,
      executionMode: opts.executionMode,
      spinning: opts.spinning,
      deviceId: opts.deviceId,
      cpuMemArenaOff: opts.cpuMemArenaOff,
    };
    const sessions = await BundleSessions.create(bundle.dir, bundle.manifest, opts.provider ?? 'auto', tuning, opts.precision ?? 'auto');
    const engine = new VarEngine(bundle.dir, bundle.manifest, bundle.codebook, sessions);
    // Models with few classes get the 1×1 scale of every class (and the null class) computed now, in one
    // transformer call of numClasses + 1 rows, so that every generation's first preview is immediate.
    const n = bundle.manifest.transformer.numClasses;
    if (n + 1 <= PRECOMPUTE_SCALE0_MAX_CLASSES) await engine.scale0.rows(sessions, Array.from({ length: n + 1 }, (_, i) => i));
    return engine;
  }

  /** Internal (tests, benchmark): the manifest, sessions and codebook the next-scale loop runs on. */
  coreContext(): CoreContext {
    this.ensureOpen();
    return { manifest: this.manifest, sessions: this.sessions, codebook: this.codebook, scale0: this.scale0 };
  }

  private ensureOpen(): void {
    if (this.disposed) throw new EngineError('disposed', 'this engine was disposed; create a new one');
  }

  /** Per-image streams and labels; a random class takes the first uniform of its image's stream. */
  private streams(seed: number, batch: number, classIndex: number | null): { rngs: Xoshiro128[]; labels: number[]; seeds: number[] } {
    const n = this.manifest.classes.length;
    const rngs: Xoshiro128[] = [];
    const labels: number[] = [];
    const seeds = imageSeeds(seed, batch);
    for (let b = 0; b < batch; b++) {
      const rng = new Xoshiro128(seeds[b]);
      labels.push(classIndex ?? Math.min(Math.floor(rng.nextUniform() * n), n - 1));
      rngs.push(rng);
    }
    return { rngs, labels, seeds };
  }

  async *generate(req: GenerateRequest, signal?: AbortSignal, extras: RunExtras = {}): AsyncGenerator<EngineEvent> {
    this.ensureOpen();
    const m = this.manifest;
    checkRunRequest(req, m);
    let forced: (ForcedScale | undefined)[][] | undefined;
    if (req.prefix !== undefined) {
      if (!Array.isArray(req.prefix) || (req.prefix.length !== 1 && req.prefix.length !== req.batch)) {
        throw new EngineError('bad-prefix', `prefix: give one prefix for all images or one per image (${req.batch}), got ${Array.isArray(req.prefix) ? req.prefix.length : typeof req.prefix}`);
      }
      req.prefix.forEach((p, i) => checkPrefix(p?.tokens, m, `prefix ${i}`));
      forced = Array.from({ length: req.batch }, (_, b) => {
        const pre = req.prefix![req.prefix!.length === 1 ? 0 : b].tokens;
        return pre.map((tokens) => ({ tokens, keep: null }));
      });
    }
    checkAborted(signal);
    const { rngs, labels, seeds } = this.streams(req.seed, req.batch, req.classIndex);
    yield* this.run(labels, rngs, seeds, req.sampling, forced, req.previews ?? true, signal, extras);
  }

  private async *run(
    labels: number[], rngs: Xoshiro128[], seeds: number[], settings: SamplingSettings, forced: (ForcedScale | undefined)[][] | undefined,
    previews: boolean, signal: AbortSignal | undefined, extras: RunExtras,
    finish?: (done: CoreDoneEvent) => RgbImage[],
  ): AsyncGenerator<EngineEvent> {
    const m = this.manifest;
    const classIndices = labels.map((l) => (l === m.transformer.numClasses ? -1 : l));
    yield { type: 'start', scales: m.patchNums.length, patchNums: [...m.patchNums], batch: labels.length, classIndices, seeds: [...seeds] };
    const perScaleMs: number[] = [];
    let previewMs = 0;
    const core = runScales(
      { manifest: m, sessions: this.sessions, codebook: this.codebook, scale0: this.scale0 },
      { labels, rngs, settings, forced, previews, keepFloat: extras.keepFloat, onLogits: extras.onLogits },
      signal,
    );
    for (;;) {
      if (this.disposed) {
        await core.return(undefined);
        throw new EngineError('disposed', 'the engine was disposed during the run');
      }
      // Count only the time inside the loop's ONNX work, so dispose() waits for an in-flight run call but
      // never for a consumer that stopped iterating.
      this.activeRuns++;
      let step: IteratorResult<CoreScaleEvent | CoreDoneEvent>;
      try {
        step = await core.next();
      } finally {
        this.activeRuns--;
        if (this.activeRuns === 0) this.idleWaiters.splice(0).forEach((w) => w());
      }
      if (step.done) return;
      if (this.disposed) throw new EngineError('disposed', 'the engine was disposed during the run');
      const e = step.value;
      extras.onCore?.(e);
      if (e.type === 'scale') {
        perScaleMs.push(e.scaleMs);
        previewMs += e.previewMs;
        yield { type: 'scale', index: e.index, patch: e.patch, tokens: e.tokens, preview: e.preview, elapsedMs: e.elapsedMs };
      } else {
        const images = finish ? finish(e) : e.images;
        yield {
          type: 'done', images, tokens: e.tokens, classIndices,
          timings: { totalMs: e.totalMs, perScaleMs, previewMs, decodeMs: e.decodeMs },
        };
      }
    }
  }

  /** Token maps per scale of an image (resized to the model resolution with the triangle filter if needed). */
  async encode(image: RgbImage): Promise<Int32Array[]> {
    this.ensureOpen();
    checkRgbImage(image, 'encode image');
    const R = this.manifest.resolution;
    const planar = new Float32Array(3 * R * R);
    if (image.width === R && image.height === R) {
      for (let i = 0; i < R * R; i++) for (let c = 0; c < 3; c++) planar[c * R * R + i] = image.data[3 * i + c] / 255;
    } else {
      const src = Float64Array.from(image.data);
      const r = resizeFloat(src, image.width, image.height, 3, R, R);
      for (let i = 0; i < R * R; i++) for (let c = 0; c < 3; c++) planar[c * R * R + i] = Math.min(Math.max(r[3 * i + c] / 255, 0), 1);
    }
    return (await this.encodePlanar(planar, 1))[0];
  }

  /** Encoder on B planar images (B, 3, R, R) in [0, 1] → per image, per scale token maps. */
  async encodePlanar(planar: Float32Array, batch: number): Promise<Int32Array[][]> {
    const m = this.manifest;
    const R = m.resolution;
    const encoder = await this.sessions.encoder();
    const out = await encoder.run({ image: new ort.Tensor('float32', planar, [batch, 3, R, R]) });
    const tok = (out.tokens as ort.Tensor).data as BigInt64Array;
    const { L, begins } = tokenOffsets(m.patchNums);
    const res: Int32Array[][] = [];
    for (let b = 0; b < batch; b++) {
      res.push(m.patchNums.map((p, k) => {
        const t = new Int32Array(p * p);
        for (let i = 0; i < p * p; i++) t[i] = Number(tok[b * L + begins[k] + i]);
        return t;
      }));
    }
    return res;
  }

  async *edit(req: EditRequest, signal?: AbortSignal, extras: RunExtras = {}): AsyncGenerator<EngineEvent> {
    this.ensureOpen();
    const m = this.manifest;
    checkRunRequest(req, m);
    checkEditInputs(req.image, req.mask, req.region, req.feather);
    const K = m.patchNums.length;
    if (req.fromScale !== undefined && (!Number.isInteger(req.fromScale) || req.fromScale < 0 || req.fromScale > K)) {
      throw new EngineError('bad-from-scale', `fromScale must be an integer 0..${K} (scales of the region kept), got ${req.fromScale}`);
    }
    const plan = planEdit(req.image, req.mask, req.region, m);
    const fromScale = req.fromScale ?? 0;
    if (plan.regenCount === 0 && fromScale === 0) {
      throw new EngineError('empty-mask', 'the mask selects no pixel to regenerate inside the region (paint white where the image should change)');
    }
    checkAborted(signal);
    const source = (await this.encodePlanar(plan.modelInput, 1))[0];
    const keeps = keepMasksPerScale(plan.keepFinest, m.patchNums);
    // Scales below fromScale keep the region's own tokens everywhere (scale-locked edit); later scales keep
    // the source tokens outside the mask only (docs/var-model.md#zero-shot-editing).
    const perImage: ForcedScale[] = m.patchNums.map((_, k) => ({ tokens: source[k], keep: k < fromScale ? null : keeps[k] }));
    const forced = Array.from({ length: req.batch }, () => perImage);
    const label = req.classIndex ?? m.transformer.numClasses; // null class = inpainting
    const seeds = imageSeeds(req.seed, req.batch);
    const rngs = seeds.map((s) => new Xoshiro128(s));
    const R = m.resolution;
    const finish = (done: CoreDoneEvent): RgbImage[] => {
      // Paste back from the decoder's float output so the region is resized once, from full precision.
      const px = done.imageFloat!;
      return done.images.map((_, b) => pasteBack(req.image, plan, px, b * 3 * R * R, R, req.feather).image);
    };
    yield* this.run(new Array(req.batch).fill(label), rngs, seeds, req.sampling, forced, req.previews ?? true, signal, { ...extras, keepFloat: true }, finish);
  }

  /** Release the sessions. A run in progress stops at its next scale (EngineError 'disposed') first. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.activeRuns > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.sessions.release();
  }
}
