/**
 * From two opened checkpoints to a finished bundle folder: templates, weights, preview fit, manifest with the
 * sha256 of every file, then one rename. Nothing half-written is visible under the bundle's name: the work
 * happens in a hidden sibling folder that is removed on any error or cancel.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { sha256File } from '../bundle';
import { BUNDLE_FORMAT, type Manifest } from '../manifest';
import type { SamplingSettings } from '../sampler';
import { type PairArchitecture, inferArchitecture, vaeResolution } from './architecture';
import { type ImportProgress, type ProgressFn, bundleGraphs, checkAbort, fitPreviewOnBundle, writeCheckpointWeights, writePreviewWeights } from './assemble';
import { type CheckpointReader, ImportError } from './checkpoint';
import { type QuantPrecision, type QuantSpec, quantSpec, quantizationRecord, writeQuantizedVariant } from './quantize';
import { type VaeTemplate, type VarTemplate, defaultTemplatesDir, findTemplates } from './templates';

export const IMPORTER_VERSION = '1.0.0';
/** The official demo's settings: the visual-quality choice (as tools/convert_official.py). */
export const OFFICIAL_DEMO_SAMPLING: SamplingSettings = { cfg: 4, topK: 900, topP: 0.95, moreSmooth: false };
export const UPSTREAM = { code: 'https://github.com/FoundationVision/VAR', weights: 'https://huggingface.co/FoundationVision/var', paper: 'arXiv:2404.02905' };
export const PREVIEW_RIDGE = 1e-3;

export interface InputFileDigest { file: string; sha256: string; bytes: number }

export interface AssembleOptions {
  outDir: string;
  name?: string;
  title?: string;
  description?: string;
  license?: string;
  sampling?: SamplingSettings;
  /** resources/graph-templates (default: the app's). */
  templatesDir?: string;
  /** resources/imagenet-classes.json's folder (default: next to the templates folder). */
  resourcesDir?: string;
  /** Random token pyramids of the preview fit (default 4, as tools/convert_official.py). */
  previewSamples?: number;
  previewSeed?: number;
  threads?: number;
  /** Reduced-precision variants of the transformer to add (int8, int4, dq8), each with its preset or `quantization` overrides. */
  precisions?: (QuantPrecision | QuantSpec)[];
  onProgress?: (p: ImportProgress) => void;
  signal?: AbortSignal;
}

export interface AssembleResult { dir: string; manifest: Manifest; timings: Record<string, number> }

export function defaultNames(a: PairArchitecture): { name: string; title: string } {
  const tag = `d${a.var.depth}${a.var.shared_aln ? '-s' : ''}`;
  const res = vaeResolution(a.vae);
  return { name: `var-${tag}${res === 256 ? '' : `-${res}`}`, title: `VAR-${tag} · ImageNet ${res}×${res}` };
}

async function loadClasses(resourcesDir: string): Promise<string[]> {
  const path = join(resourcesDir, 'imagenet-classes.json');
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as { classes?: unknown };
    if (Array.isArray(raw.classes) && raw.classes.every((c) => typeof c === 'string')) return raw.classes as string[];
  } catch { /* reported below */ }
  throw new ImportError('no-classes', `${path}: expected the ImageNet class names ({"classes": [...]}), found no such file or another format`, path);
}

async function removeQuietly(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch(() => undefined);
}

/** A hidden sibling of outDir (same file system, so the final rename is atomic). */
function tempSibling(outDir: string): string {
  return join(dirname(outDir), `.${basename(outDir)}.importing-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Hidden folders of earlier imports to this name whose process died (killed, power cut) are removed. */
async function removeStaleTemps(outDir: string): Promise<void> {
  const prefix = `.${basename(outDir)}.importing-`;
  const names = await readdir(dirname(outDir)).catch(() => [] as string[]);
  for (const n of names) {
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (n.startsWith(prefix) && Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) await removeQuietly(join(dirname(outDir), n));
  }
}

/**
 * Assemble a bundle from opened readers. `inputs` are the digests of the two files (provenance). The readers
 * stay open (the caller closes them). Throws ImportError; on any error nothing is left at outDir or beside it.
 */
export async function assembleBundle(readers: { var: CheckpointReader; vae: CheckpointReader },
  inputs: { var: InputFileDigest; vae: InputFileDigest }, opts: AssembleOptions): Promise<AssembleResult> {
  const t0 = performance.now();
  const outDir = resolve(opts.outDir);
  const templatesDir = resolve(opts.templatesDir ?? defaultTemplatesDir());
  const resourcesDir = resolve(opts.resourcesDir ?? dirname(templatesDir));
  const progress: ProgressFn = (p) => opts.onProgress?.(p);
  if (await stat(outDir).then(() => true, () => false)) {
    throw new ImportError('out-exists', `${outDir} already exists; remove it or choose another folder for the imported model`, outDir);
  }
  const previewSamples = opts.previewSamples ?? 4;
  if (!Number.isInteger(previewSamples) || previewSamples < 1) throw new ImportError('bad-option', `previewSamples must be a positive integer, got ${previewSamples}`);

  progress({ phase: 'checking' });
  const arch = await inferArchitecture(readers.var, readers.vae);
  const classes = await loadClasses(resourcesDir);
  if (arch.var.num_classes !== classes.length) {
    throw new ImportError('shape', `${readers.var.file}: key 'class_emb.weight': expected shape (${classes.length + 1}, ${arch.var.embed_dim}) for the ` +
      `${classes.length} ImageNet classes plus the null class, found (${arch.var.num_classes + 1}, ${arch.var.embed_dim})`, readers.var.file, 'class_emb.weight');
  }
  const templates = await findTemplates(templatesDir, arch);
  checkAbort(opts.signal);
  const t1 = performance.now();

  await mkdir(dirname(outDir), { recursive: true });
  await removeStaleTemps(outDir);
  const tmp = tempSibling(outDir);
  await mkdir(tmp);
  try {
    const weightMap = await writeCheckpointWeights(tmp, templates, readers, progress, opts.signal);
    const t2 = performance.now();
    const codebookBytes = await readFile(join(tmp, 'codebook.f32'));
    const codebook = new Float32Array(codebookBytes.buffer.slice(codebookBytes.byteOffset, codebookBytes.byteOffset + codebookBytes.byteLength));
    progress({ phase: 'preview', decodesDone: 0, decodesTotal: previewSamples * templates.vae.bundle.patchNums.length });
    const fit = await fitPreviewOnBundle(tmp, templates.vae, codebook, {
      samples: previewSamples, seed: opts.previewSeed ?? 0, ridge: PREVIEW_RIDGE, threads: opts.threads, onProgress: progress, signal: opts.signal,
    });
    const previewDescription = describePreview(templates.vae, previewSamples);
    await writePreviewWeights(tmp, templates.vae, weightMap, fit, previewDescription);
    const t3 = performance.now();

    checkAbort(opts.signal);
    progress({ phase: 'manifest' });
    const manifest = buildManifest(arch, templates, { classes, weightMap, previewDescription, fitStats: fit.stats, inputs, opts });
    const variantFiles = await addTransformerVariants(tmp, manifest, opts.precisions ?? [], progress, opts.signal);
    for (const f of [...bundleGraphs(templates).flatMap((g) => [g.entry.model, g.entry.weights]), 'codebook.f32', ...variantFiles]) {
      const path = join(tmp, f);
      manifest.files[f] = { sha256: await sha256File(path), bytes: (await stat(path)).size };
    }
    await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
    checkAbort(opts.signal);
    await rename(tmp, outDir);
    const t4 = performance.now();
    progress({ phase: 'done' });
    const ms = (a: number, b: number) => Math.round(b - a);
    return { dir: outDir, manifest, timings: { checkMs: ms(t0, t1), weightsMs: ms(t1, t2), previewMs: ms(t2, t3), manifestMs: ms(t3, t4), totalMs: ms(t0, t4) } };
  } catch (e) {
    await removeQuietly(tmp);
    throw e;
  }
}

/** Quantized transformer variants written beside the fp32 graph and recorded in the manifest; returns their files. */
export async function addTransformerVariants(dir: string, manifest: Manifest, precisions: (QuantPrecision | QuantSpec)[],
  progress: ProgressFn = () => undefined, signal?: AbortSignal): Promise<string[]> {
  const files: string[] = [];
  const entry = manifest.graphs.transformer;
  precisions.forEach((p) => {
    if (typeof p === 'string' && (p as string) === 'fp32') throw new ImportError('bad-option', 'fp32 is always written; list only the extra precisions');
  });
  for (const [i, p] of precisions.entries()) {
    checkAbort(signal);
    progress({ phase: 'variants', variantsDone: i, variantsTotal: precisions.length });
    const spec = typeof p === 'string' ? quantSpec(p) : p;
    const v = await writeQuantizedVariant(dir, entry.model, spec);
    entry.variants = { ...entry.variants, [spec.precision]: { model: v.model, weights: v.weights, quantization: quantizationRecord(spec, v.quantized) } };
    files.push(v.model, v.weights);
  }
  return files;
}

/**
 * Add variants to a finished bundle folder (the TypeScript twin of tools/quantize_bundle.py): variant files
 * beside the fp32 graph, their sha256 in `files`, manifest.json replaced by temp + rename. Returns the manifest.
 */
export async function addVariantsToBundle(dir: string, precisions: (QuantPrecision | QuantSpec)[]): Promise<Manifest> {
  const path = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(path, 'utf8')) as Manifest;
  const files = await addTransformerVariants(dir, manifest, precisions);
  for (const f of files) manifest.files[f] = { sha256: await sha256File(join(dir, f)), bytes: (await stat(join(dir, f))).size };
  await writeFile(`${path}.tmp`, `${JSON.stringify(manifest, null, 1)}\n`);
  await rename(`${path}.tmp`, path);
  return manifest;
}

function describePreview(t: VaeTemplate, samples: number): string {
  const { kernel: k } = t.bundle.preview;
  const s = t.bundle.downsample;
  return `ridge least-squares fit of a ${k}x${k} conv ${t.bundle.cvae}->${3 * s * s} (+pixel shuffle x${s}) to ` +
    `decoder outputs on f_hat after every scale of ${samples} random token pyramids`;
}

interface ManifestParts {
  classes: string[];
  weightMap: Manifest['weightMap'];
  previewDescription: string;
  fitStats: Record<string, number | string>;
  inputs: { var: InputFileDigest; vae: InputFileDigest };
  opts: AssembleOptions;
}

/** The manifest in the field order of tools/export_bundle.py (files are filled in by the caller). */
export function buildManifest(arch: PairArchitecture, templates: { var: VarTemplate; vae: VaeTemplate }, p: ManifestParts): Manifest {
  const vb = templates.vae.bundle;
  const names = defaultNames(arch);
  // top-k beyond the vocabulary keeps every token; it is stored clamped so the manifest passes its range check
  const asked = p.opts.sampling ?? OFFICIAL_DEMO_SAMPLING;
  const sampling = { ...asked, topK: Math.min(asked.topK, vb.vocabSize) };
  const tag = `depth ${arch.var.depth}${arch.var.shared_aln ? ' with shared AdaLN' : ''}`;
  const description = p.opts.description ?? (
    `Official VAR (Tian et al., NeurIPS 2024) class-conditional ImageNet model, ${tag}, ${vb.resolution}×${vb.resolution}, imported from ` +
    `${p.inputs.var.file} and ${p.inputs.vae.file}. Default sampling is the official demo's ` +
    `(cfg ${sampling.cfg}, top-k ${sampling.topK}, top-p ${sampling.topP}).`);
  const graphs = Object.fromEntries(bundleGraphs(templates).map((g) => [g.graph, { model: g.entry.model, weights: g.entry.weights }]));
  return {
    format: BUNDLE_FORMAT, formatVersion: 1,
    name: p.opts.name ?? names.name, title: p.opts.title ?? names.title, description,
    license: p.opts.license ?? 'MIT (FoundationVision/VAR code and released weights)',
    resolution: vb.resolution, downsample: vb.downsample, patchNums: [...vb.patchNums], vocabSize: vb.vocabSize, cvae: vb.cvae,
    phiIndex: [...vb.phiIndex], classes: p.classes,
    transformer: { ...templates.var.bundle.transformer },
    vae: { ...vb.vae, chMult: [...vb.vae.chMult] },
    sampling: { ...sampling },
    preview: { method: 'linear-conv-pixelshuffle', description: p.previewDescription, ...p.fitStats, ...vb.preview } as Manifest['preview'],
    graphs: graphs as Manifest['graphs'],
    codebook: { file: 'codebook.f32', shape: [vb.vocabSize, vb.cvae], dtype: 'float32', key: vb.codebook.key },
    weightMap: p.weightMap,
    files: {},
    source: {
      tool: 'var-studio import (src/engine/import)', toolVersion: IMPORTER_VERSION,
      date: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      kind: 'official-checkpoints', upstream: UPSTREAM, var: p.inputs.var, vae: p.inputs.vae,
      templates: { var: templates.var.name, vae: templates.vae.name },
    },
  };
}
