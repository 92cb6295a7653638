/**
 * Assembling a bundle folder from two checkpoints and the graph templates of their architecture
 * (docs/model-bundle.md): the template graphs are copied, every checkpoint tensor is written at its weightMap
 * offset in its graph's `.weights` file (one tensor in memory at a time), the codebook is written, and the
 * preview map is fitted on the assembled fhat_step + decoder.
 */
import { copyFile, open, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GRAPH_NAMES, type WeightMapEntry } from '../manifest';
import { sessionOptions } from '../providers';
import { areaMatrix, identityMatrix } from '../resample';
import { Xoshiro128 } from '../rng';
import { type CheckpointReader, ImportError } from './checkpoint';
import { NormalEquations, type PreviewMap, applyPreview, psnr, solvePreview, sumSquaredError } from './preview-fit';
import type { VaeTemplate, VarTemplate } from './templates';

export type ImportPhase = 'hashing' | 'checking' | 'weights' | 'preview' | 'variants' | 'manifest' | 'done';

export interface ImportProgress {
  phase: ImportPhase;
  /** Bytes hashed (hashing) or written (weights) so far, of bytesTotal. */
  bytesDone?: number;
  bytesTotal?: number;
  tensorsDone?: number;
  tensorsTotal?: number;
  /** Decoder runs of the preview fit done, of decodesTotal. */
  decodesDone?: number;
  decodesTotal?: number;
  /** Precision variants written so far, of variantsTotal. */
  variantsDone?: number;
  variantsTotal?: number;
}

export type ProgressFn = (p: ImportProgress) => void;

export function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new ImportError('aborted', 'import cancelled');
}

async function writeAt(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

function asBytes(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Graph file entries of the bundle, in bundle order, each from the template that has it. */
export function bundleGraphs(templates: { var: VarTemplate; vae: VaeTemplate }) {
  return GRAPH_NAMES.map((g) => {
    const t = templates.var.graphs[g] ? templates.var : templates.vae;
    const entry = t.graphs[g];
    if (!entry) throw new ImportError('bad-template', `${templates.vae.dir}: no ${g} graph in the templates ${templates.var.name} + ${templates.vae.name}`);
    return { graph: g, template: t, entry };
  });
}

/**
 * Copy the template graphs into `dir` and write every checkpoint tensor at its weightMap offsets (a key may
 * serve several graphs) plus codebook.f32. Tensors are visited in each file's own order (sequential reads).
 * Returns the weightMap of the checkpoint tensors (derived rows included, to be filled by the preview fit).
 */
export async function writeCheckpointWeights(dir: string, templates: { var: VarTemplate; vae: VaeTemplate },
  readers: { var: CheckpointReader; vae: CheckpointReader }, onProgress?: ProgressFn, signal?: AbortSignal): Promise<WeightMapEntry[]> {
  const graphs = bundleGraphs(templates);
  const handles = new Map<string, FileHandle>();
  const weightMap: WeightMapEntry[] = [];
  try {
    for (const { graph, template, entry } of graphs) {
      await copyFile(join(template.dir, entry.model), join(dir, entry.model));
      const fh = await open(join(dir, entry.weights), 'w+');
      handles.set(graph, fh);
      await fh.truncate(entry.weightsBytes); // zero padding between the 64-byte-aligned tensors
      weightMap.push(...template.weightMap.filter((r) => r.graph === graph).map((r) => ({ ...r, shape: [...r.shape] })));
    }
    const targets = new Map<string, WeightMapEntry[]>();
    for (const row of weightMap) {
      if (row.source === 'derived') continue;
      const id = `${row.source}\u0000${row.key}`;
      targets.set(id, [...(targets.get(id) ?? []), row]);
    }
    const codebookKey = templates.vae.bundle.codebook.key;
    const tensorsTotal = targets.size + (targets.has(`vae\u0000${codebookKey}`) ? 0 : 1);
    const bytesTotal = weightMap.filter((r) => r.source !== 'derived').reduce((s, r) => s + r.length, 0)
      + templates.vae.bundle.codebook.shape[0] * templates.vae.bundle.codebook.shape[1] * 4;
    let tensorsDone = 0;
    let bytesDone = 0;
    const seen = new Set<string>();
    for (const source of ['var', 'vae'] as const) {
      const reader = readers[source];
      for (const key of reader.keys()) {
        const rows = targets.get(`${source}\u0000${key}`) ?? [];
        const isCodebook = source === 'vae' && key === codebookKey;
        if (rows.length === 0 && !isCodebook) continue; // e.g. the masking bias and VQ statistics no graph uses
        checkAbort(signal);
        const info = reader.info(key);
        for (const r of rows) {
          if (!sameShape(info.shape, r.shape) || (info.dtype === 'int64') !== (r.dtype === 'int64')) {
            throw new ImportError('shape', `${reader.file}: key '${key}': the ${templates[source].name} template expects ` +
              `${r.dtype} [${r.shape.join(', ')}], found ${info.dtype} [${info.shape.join(', ')}]`, reader.file, key);
          }
        }
        const data = info.dtype === 'int64' ? await reader.readInt64(key) : await reader.readFloat32(key);
        const bytes = asBytes(data);
        for (const r of rows) {
          if (bytes.length !== r.length) {
            throw new ImportError('shape', `${reader.file}: key '${key}': expected ${r.length} bytes for the weightMap entry, read ${bytes.length}`, reader.file, key);
          }
          await writeAt(handles.get(r.graph)!, bytes, r.offset);
          bytesDone += r.length;
        }
        if (isCodebook) {
          const [V, C] = templates.vae.bundle.codebook.shape;
          if (!sameShape(info.shape, [V, C]) || info.dtype === 'int64') {
            throw new ImportError('shape', `${reader.file}: key '${key}': expected the codebook [${V}, ${C}], found ${info.dtype} [${info.shape.join(', ')}]`, reader.file, key);
          }
          await writeFile(join(dir, 'codebook.f32'), bytes);
          bytesDone += bytes.length;
        }
        seen.add(`${source}\u0000${key}`);
        onProgress?.({ phase: 'weights', tensorsDone: ++tensorsDone, tensorsTotal, bytesDone, bytesTotal });
      }
    }
    for (const [id, rows] of targets) {
      if (!seen.has(id)) {
        const [source, key] = id.split('\u0000');
        throw new ImportError('missing-key', `${readers[source as 'var' | 'vae'].file}: missing key '${key}' (needed by ${rows.map((r) => r.graph).join(', ')})`, readers[source as 'var' | 'vae'].file, key);
      }
    }
    if (!seen.has(`vae\u0000${codebookKey}`)) {
      throw new ImportError('missing-key', `${readers.vae.file}: missing key '${codebookKey}' (the codebook)`, readers.vae.file, codebookKey);
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
  return weightMap;
}

export interface PreviewFitResult {
  map: PreviewMap;
  stats: { kernel: number; fitSamples: number; fitSource: string; ridge: number; psnrVsDecoder: number; psnrConstantBaseline: number };
}

export interface PreviewFitOptions {
  /** Random token pyramids (each = one f̂ per scale = K decoder runs). */
  samples: number;
  seed: number;
  ridge: number;
  threads?: number;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x;
}

/**
 * Fit the preview map on the assembled bundle folder `dir` (its fhat_step and decoder graphs and codebook):
 * `samples` random token pyramids, f̂ after every scale, decoded, and the ridge fit of preview-fit.ts.
 */
export async function fitPreviewOnBundle(dir: string, t: VaeTemplate, codebook: Float32Array, opts: PreviewFitOptions): Promise<PreviewFitResult> {
  const { patchNums, cvae: C, vocabSize: V, phiIndex, downsample: s } = t.bundle;
  const kernel = t.bundle.preview.kernel;
  const K = patchNums.length;
  const h = patchNums[K - 1];
  const R = h * s;
  const B = opts.samples;
  const tuning = { intraOpNumThreads: opts.threads };
  const fhatStep = await ort.InferenceSession.create(join(dir, t.graphs.fhatStep!.model), sessionOptions('cpu', { ...tuning, intraOpNumThreads: 1 }));
  const decoder = await ort.InferenceSession.create(join(dir, t.graphs.decoder!.model), sessionOptions('cpu', tuning));
  try {
    const rng = new Xoshiro128(opts.seed);
    // f̂ after every scale, per scale (B, C, h, h): the token pyramids are drawn scale by scale for all samples.
    const fhats: Float32Array[] = [];
    let fHat = new Float32Array(B * C * h * h);
    for (let k = 0; k < K; k++) {
      checkAbort(opts.signal);
      const p = patchNums[k];
      const hScale = new Float32Array(B * C * p * p);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < p * p; i++) {
          const tok = rng.nextUint32() % V;
          for (let c = 0; c < C; c++) hScale[(b * C + c) * p * p + i] = codebook[tok * C + c];
        }
      }
      const q = k + 1 < K ? patchNums[k + 1] : h;
      const out = await fhatStep.run({
        f_hat: new ort.Tensor('float32', fHat, [B, C, h, h]),
        h_scale: new ort.Tensor('float32', hScale, [B, C, p, p]),
        phi_index: new ort.Tensor('int64', BigInt64Array.from([BigInt(phiIndex[k])]), [1]),
        area_matrix: new ort.Tensor('float32', k + 1 < K ? areaMatrix(q, h) : identityMatrix(h), [q, h]),
      });
      fHat = Float32Array.from(out.f_hat_next.data as Float32Array);
      fhats.push(fHat);
    }
    // Decode each f̂ (one image per run keeps the decoder's activations small), accumulate the equations.
    const eq = new NormalEquations(C, kernel, s);
    const targets: Float32Array[] = [];
    const cell = C * h * h;
    const decodesTotal = B * K;
    for (let k = 0; k < K; k++) {
      for (let b = 0; b < B; b++) {
        checkAbort(opts.signal);
        const f = fhats[k].subarray(b * cell, (b + 1) * cell);
        const out = await decoder.run({ f_hat: new ort.Tensor('float32', Float32Array.from(f), [1, C, h, h]) });
        const img = Float32Array.from(out.image.data as Float32Array);
        eq.add(f, img, h, h);
        targets.push(img);
        opts.onProgress?.({ phase: 'preview', decodesDone: targets.length, decodesTotal });
      }
    }
    const map = solvePreview(eq, opts.ridge);
    // PSNR of the fitted map against the decoder on the fit set, and of the best constant colour per channel.
    let sse = 0;
    const mean = [0, 0, 0];
    for (let k = 0, n = 0; k < K; k++) {
      for (let b = 0; b < B; b++, n++) {
        const pred = applyPreview(map, fhats[k].subarray(b * cell, (b + 1) * cell), h, h);
        sse += sumSquaredError(pred, targets[n]);
        for (let c = 0; c < 3; c++) for (let i = 0; i < R * R; i++) mean[c] += targets[n][c * R * R + i];
      }
    }
    const count = targets.length * 3 * R * R;
    for (let c = 0; c < 3; c++) mean[c] /= targets.length * R * R;
    let base = 0;
    for (const img of targets) for (let c = 0; c < 3; c++) for (let i = 0; i < R * R; i++) base += (img[c * R * R + i] - mean[c]) ** 2;
    return {
      map,
      stats: {
        kernel, fitSamples: B * K, fitSource: 'random-token-pyramids', ridge: opts.ridge,
        psnrVsDecoder: round3(psnr(sse / count)), psnrConstantBaseline: round3(psnr(base / count)),
      },
    };
  } finally {
    await fhatStep.release();
    await decoder.release();
  }
}

/** Write the fitted map into preview.weights at its weightMap offsets and name the fit in those rows' keys. */
export async function writePreviewWeights(dir: string, t: VaeTemplate, weightMap: WeightMapEntry[], fit: PreviewFitResult, description: string): Promise<void> {
  const g = t.graphs.preview!;
  const fh = await open(join(dir, g.weights), 'r+');
  try {
    for (const row of weightMap) {
      if (row.graph !== 'preview' || row.source !== 'derived') continue;
      const name = row.initializer;
      const data = name === 'preview.weight' ? fit.map.weight : name === 'preview.bias' ? fit.map.bias : undefined;
      if (!data || data.byteLength !== row.length) {
        throw new ImportError('bad-template', `${t.dir}: preview initializer ${name} [${row.shape.join(', ')}] does not fit the preview map (${data?.length ?? 0} values)`);
      }
      await writeAt(fh, asBytes(data), row.offset);
      row.key = `${name}: ${description}`;
    }
  } finally {
    await fh.close();
  }
}

