/**
 * The bundle manifest (docs/model-bundle.md, format version 1) and its validation.
 * Every failure is a BundleError naming the bundle folder, the field, what was expected and what was found.
 */
import { BundleError } from './errors';
import type { SamplingSettings } from './sampler';

export const BUNDLE_FORMAT = 'var-studio-bundle';
export const KNOWN_FORMAT_VERSIONS: readonly number[] = [1];
export const GRAPH_NAMES = ['transformer', 'fhatStep', 'encoder', 'decoder', 'preview'] as const;
export type GraphName = (typeof GRAPH_NAMES)[number];

/** Precisions a graph can be stored in besides float32 (docs/model-bundle.md "Precision variants"). */
export const PRECISIONS = ['fp32', 'int8', 'int4', 'fp16', 'dq8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Measured against the fp32 graph by bench/fidelity.ts; `noVisibleLoss` is the bar the default choice uses. */
export interface VariantFidelity {
  noVisibleLoss: boolean;
  /** Time per image relative to fp32 on a device kind ('cpu', 'gpu'); below 1 = faster. */
  speedVsFp32?: Record<string, number>;
  [measure: string]: unknown;
}
export interface GraphVariant { model: string; weights: string; quantization: Record<string, unknown>; fidelity?: VariantFidelity }
export interface GraphFiles { model: string; weights: string; variants?: Partial<Record<Precision, GraphVariant>> }
export interface TransformerShape {
  depth: number; embedDim: number; numHeads: number; headDim: number;
  sharedAdaLN: boolean; attnL2Norm: boolean; numClasses: number;
}
export interface VaeShape { ch: number; chMult: number[]; numResBlocks: number; quantResi: number; shareQuantResi: number }
export interface WeightMapEntry {
  graph: string; initializer: string; source: 'var' | 'vae' | 'derived'; key: string;
  dtype: string; shape: number[]; offset: number; length: number;
}
export interface FileEntry { sha256: string; bytes: number }

export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  name: string; title: string; description: string; license: string;
  resolution: number;
  downsample: number;
  patchNums: number[];
  vocabSize: number;
  cvae: number;
  phiIndex: number[];
  classes: string[];
  transformer: TransformerShape;
  vae: VaeShape;
  /** The model's default sampling settings. */
  sampling: SamplingSettings;
  preview: { method: string; description: string };
  graphs: Record<GraphName, GraphFiles>;
  codebook: { file: string; shape: [number, number]; dtype: 'float32'; key: string };
  weightMap: WeightMapEntry[];
  files: Record<string, FileEntry>;
  source: Record<string, unknown>;
}

type Json = unknown;

/**
 * The legal sampling values. The engine imports nothing of the app, so it keeps its own copy of the
 * contract's bounds (src/shared/contract.ts); a unit test asserts the two agree.
 */
export const SAMPLING_BOUNDS = {
  cfg: { min: 0, max: 50 },
  topK: { min: 0, max: 1 << 20 },
  topP: { min: 0, max: 1 },
} as const;

/**
 * A file name a manifest may list: a plain name inside the bundle folder (no separators, no "..", no
 * leading dot or dash, so no absolute path, no hidden file, no way out of the folder).
 */
export const BUNDLE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export function isPlainFileName(name: string): boolean {
  return BUNDLE_FILE_NAME.test(name) && !name.includes('..');
}

function describe(v: Json): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

class Checker {
  constructor(private readonly dir: string) {}

  fail(code: string, field: string, expected: string, found: string, file = 'manifest.json'): never {
    throw new BundleError(code, `${this.dir}: ${file}: field "${field}": expected ${expected}, found ${found}`, this.dir, file, field);
  }

  obj(v: Json, field: string): Record<string, Json> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail('bad-field', field, 'an object', describe(v));
    return v as Record<string, Json>;
  }

  str(o: Record<string, Json>, key: string, path: string): string {
    const v = o[key];
    if (typeof v !== 'string') this.fail(v === undefined ? 'missing-field' : 'bad-field', `${path}${key}`, 'a string', describe(v));
    return v;
  }

  int(o: Record<string, Json>, key: string, path: string, min = 1): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      this.fail(v === undefined ? 'missing-field' : 'bad-field', `${path}${key}`, `an integer ≥ ${min}`, describe(v));
    }
    return v;
  }

  num(o: Record<string, Json>, key: string, path: string): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(v === undefined ? 'missing-field' : 'bad-field', `${path}${key}`, 'a finite number', describe(v));
    return v;
  }

  bool(o: Record<string, Json>, key: string, path: string): boolean {
    const v = o[key];
    if (typeof v !== 'boolean') this.fail(v === undefined ? 'missing-field' : 'bad-field', `${path}${key}`, 'true or false', describe(v));
    return v;
  }

  intArray(o: Record<string, Json>, key: string, path: string, min = 0): number[] {
    const v = o[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min)) {
      this.fail(v === undefined ? 'missing-field' : 'bad-field', `${path}${key}`, `a non-empty array of integers ≥ ${min}`, describe(v));
    }
    return v as number[];
  }
}

/** Validate a parsed manifest.json. `dir` is the bundle folder, used in every message. */
export function validateManifest(raw: Json, dir: string): Manifest {
  const c = new Checker(dir);
  const m = c.obj(raw, '(root)');

  if (m.format !== BUNDLE_FORMAT) c.fail('unknown-format', 'format', JSON.stringify(BUNDLE_FORMAT), describe(m.format));
  if (typeof m.formatVersion !== 'number' || !KNOWN_FORMAT_VERSIONS.includes(m.formatVersion)) {
    c.fail('unknown-format-version', 'formatVersion', `one of the versions this engine knows (${KNOWN_FORMAT_VERSIONS.join(', ')})`, describe(m.formatVersion));
  }
  for (const k of ['name', 'title', 'description', 'license']) c.str(m, k, '');
  const resolution = c.int(m, 'resolution', '');
  const downsample = c.int(m, 'downsample', '');
  const patchNums = c.intArray(m, 'patchNums', '', 1);
  for (let i = 1; i < patchNums.length; i++) {
    if (patchNums[i] <= patchNums[i - 1]) c.fail('bad-field', `patchNums[${i}]`, `> patchNums[${i - 1}] = ${patchNums[i - 1]} (coarse → fine)`, String(patchNums[i]));
  }
  const vocabSize = c.int(m, 'vocabSize', '', 2);
  const cvae = c.int(m, 'cvae', '');
  const phiIndex = c.intArray(m, 'phiIndex', '', 0);
  if (phiIndex.length !== patchNums.length) {
    c.fail('length-mismatch', 'phiIndex', `${patchNums.length} entries (one per scale, as patchNums)`, `${phiIndex.length}`);
  }
  if (resolution !== patchNums[patchNums.length - 1] * downsample) {
    c.fail('bad-field', 'resolution', `patchNums[-1]·downsample = ${patchNums[patchNums.length - 1]}·${downsample} = ${patchNums[patchNums.length - 1] * downsample}`, String(resolution));
  }
  const classesRaw = m.classes;
  if (!Array.isArray(classesRaw) || classesRaw.length === 0 || !classesRaw.every((x) => typeof x === 'string')) {
    c.fail(classesRaw === undefined ? 'missing-field' : 'bad-field', 'classes', 'a non-empty array of class names', describe(classesRaw));
  }
  const classes = classesRaw as string[];

  const t = c.obj(m.transformer, 'transformer');
  const transformer: TransformerShape = {
    depth: c.int(t, 'depth', 'transformer.'),
    embedDim: c.int(t, 'embedDim', 'transformer.'),
    numHeads: c.int(t, 'numHeads', 'transformer.'),
    headDim: c.int(t, 'headDim', 'transformer.'),
    sharedAdaLN: c.bool(t, 'sharedAdaLN', 'transformer.'),
    attnL2Norm: c.bool(t, 'attnL2Norm', 'transformer.'),
    numClasses: c.int(t, 'numClasses', 'transformer.'),
  };
  if (classes.length !== transformer.numClasses) {
    c.fail('class-count-mismatch', 'classes', `${transformer.numClasses} class names (transformer.numClasses)`, `${classes.length}`);
  }
  if (transformer.numHeads * transformer.headDim !== transformer.embedDim) {
    c.fail('bad-field', 'transformer.headDim', `embedDim / numHeads = ${transformer.embedDim / transformer.numHeads}`, String(transformer.headDim));
  }

  const va = c.obj(m.vae, 'vae');
  const vae: VaeShape = {
    ch: c.int(va, 'ch', 'vae.'),
    chMult: c.intArray(va, 'chMult', 'vae.', 1),
    numResBlocks: c.int(va, 'numResBlocks', 'vae.'),
    quantResi: c.num(va, 'quantResi', 'vae.'),
    shareQuantResi: c.int(va, 'shareQuantResi', 'vae.', 0),
  };
  if (2 ** (vae.chMult.length - 1) !== downsample) {
    c.fail('bad-field', 'downsample', `2^(vae.chMult.length − 1) = ${2 ** (vae.chMult.length - 1)}`, String(downsample));
  }
  const nPhi = Math.max(vae.shareQuantResi, 1);
  phiIndex.forEach((p, i) => {
    if (p >= nPhi) c.fail('bad-field', `phiIndex[${i}]`, `< ${nPhi} (vae.shareQuantResi φ convs)`, String(p));
  });

  const s = c.obj(m.sampling, 'sampling');
  const sampling: SamplingSettings = {
    cfg: c.num(s, 'cfg', 'sampling.'),
    topK: c.int(s, 'topK', 'sampling.', 0),
    topP: c.num(s, 'topP', 'sampling.'),
    moreSmooth: c.bool(s, 'moreSmooth', 'sampling.'),
  };
  // A default the engine would refuse must fail here, naming the manifest, not later in a user's run.
  const inRange = (key: 'cfg' | 'topK' | 'topP', max: number) => {
    const v = sampling[key];
    if (v < SAMPLING_BOUNDS[key].min || v > max) c.fail('bad-field', `sampling.${key}`, `a value in ${SAMPLING_BOUNDS[key].min}..${max}`, String(v));
  };
  inRange('cfg', SAMPLING_BOUNDS.cfg.max);
  inRange('topK', Math.min(SAMPLING_BOUNDS.topK.max, vocabSize));
  inRange('topP', SAMPLING_BOUNDS.topP.max);
  const pv = c.obj(m.preview, 'preview');
  const preview = { method: c.str(pv, 'method', 'preview.'), description: c.str(pv, 'description', 'preview.') };

  const files = c.obj(m.files, 'files');
  // No prototype: a name such as "toString" or "constructor" is listed only if the manifest lists it.
  const fileEntries: Record<string, FileEntry> = Object.create(null) as Record<string, FileEntry>;
  const listed = (name: string) => Object.hasOwn(fileEntries, name);
  for (const [name, entry] of Object.entries(files)) {
    if (!isPlainFileName(name)) {
      c.fail('bad-file-name', `files[${JSON.stringify(name)}]`, 'a plain file name inside the bundle folder (letters, digits, ".", "_", "-"; no "/", "\\" or "..")', JSON.stringify(name));
    }
    const e = c.obj(entry, `files.${name}`);
    const sha = c.str(e, 'sha256', `files.${name}.`);
    if (!/^[0-9a-f]{64}$/.test(sha)) c.fail('bad-field', `files.${name}.sha256`, '64 lowercase hex digits', describe(sha));
    fileEntries[name] = { sha256: sha, bytes: c.int(e, 'bytes', `files.${name}.`, 0) };
  }

  const g = c.obj(m.graphs, 'graphs');
  const graphs = {} as Record<GraphName, GraphFiles>;
  for (const name of GRAPH_NAMES) {
    const ge = c.obj(g[name], `graphs.${name}`);
    const files2: GraphFiles = { model: c.str(ge, 'model', `graphs.${name}.`), weights: c.str(ge, 'weights', `graphs.${name}.`) };
    for (const key of ['model', 'weights'] as const) {
      if (!listed(files2[key])) c.fail('file-not-listed', `graphs.${name}.${key}`, `a file listed in "files"`, `"${files2[key]}", which "files" does not list`);
    }
    if (ge.variants !== undefined) files2.variants = readVariants(c, ge.variants, `graphs.${name}.variants`, fileEntries);
    graphs[name] = files2;
  }

  const cb = c.obj(m.codebook, 'codebook');
  const cbFile = c.str(cb, 'file', 'codebook.');
  if (!listed(cbFile)) c.fail('file-not-listed', 'codebook.file', 'a file listed in "files"', `"${cbFile}", which "files" does not list`);
  const cbShape = cb.shape;
  if (!Array.isArray(cbShape) || cbShape.length !== 2 || cbShape[0] !== vocabSize || cbShape[1] !== cvae) {
    c.fail('bad-field', 'codebook.shape', `[vocabSize, cvae] = [${vocabSize}, ${cvae}]`, JSON.stringify(cbShape));
  }
  if (cb.dtype !== 'float32') c.fail('bad-field', 'codebook.dtype', '"float32"', describe(cb.dtype));
  const cbBytes = fileEntries[cbFile].bytes;
  if (cbBytes !== vocabSize * cvae * 4) {
    c.fail('bad-codebook-size', `files.${cbFile}.bytes`, `V·Cvae·4 = ${vocabSize}·${cvae}·4 = ${vocabSize * cvae * 4} bytes`, `${cbBytes}`);
  }
  const codebook = { file: cbFile, shape: [vocabSize, cvae] as [number, number], dtype: 'float32' as const, key: typeof cb.key === 'string' ? cb.key : '' };

  if (!Array.isArray(m.weightMap)) c.fail(m.weightMap === undefined ? 'missing-field' : 'bad-field', 'weightMap', 'an array', describe(m.weightMap));
  const source = m.source === undefined ? {} : c.obj(m.source, 'source');

  return {
    format: BUNDLE_FORMAT, formatVersion: m.formatVersion as number,
    name: m.name as string, title: m.title as string, description: m.description as string, license: m.license as string,
    resolution, downsample, patchNums, vocabSize, cvae, phiIndex, classes, transformer, vae, sampling, preview,
    graphs, codebook, weightMap: m.weightMap as WeightMapEntry[], files: fileEntries, source: source as Record<string, unknown>,
  };
}

function readVariants(c: Checker, raw: Json, path: string, files: Record<string, FileEntry>): Partial<Record<Precision, GraphVariant>> {
  const o = c.obj(raw, path);
  const out: Partial<Record<Precision, GraphVariant>> = {};
  for (const [key, v] of Object.entries(o)) {
    if (!(PRECISIONS as readonly string[]).includes(key) || key === 'fp32') {
      c.fail('bad-field', `${path}.${key}`, `a precision name (${PRECISIONS.filter((p) => p !== 'fp32').join(', ')})`, JSON.stringify(key));
    }
    const e = c.obj(v, `${path}.${key}`);
    const variant: GraphVariant = {
      model: c.str(e, 'model', `${path}.${key}.`),
      weights: c.str(e, 'weights', `${path}.${key}.`),
      quantization: c.obj(e.quantization, `${path}.${key}.quantization`),
    };
    for (const f of ['model', 'weights'] as const) {
      if (!(variant[f] in files)) c.fail('file-not-listed', `${path}.${key}.${f}`, 'a file listed in "files"', `"${variant[f]}", which "files" does not list`);
    }
    if (e.fidelity !== undefined) {
      const fid = c.obj(e.fidelity, `${path}.${key}.fidelity`);
      c.bool(fid, 'noVisibleLoss', `${path}.${key}.fidelity.`);
      variant.fidelity = fid as VariantFidelity;
    }
    out[key as Precision] = variant;
  }
  return out;
}

/** Σ p_k², and the offset of each scale's first token in the L-sequence. */
export function tokenOffsets(patchNums: readonly number[]): { L: number; begins: number[] } {
  const begins: number[] = [];
  let L = 0;
  for (const p of patchNums) {
    begins.push(L);
    L += p * p;
  }
  return { L, begins };
}

/** The precisions a bundle offers for its transformer (fp32 always). */
export function availablePrecisions(m: Manifest): Precision[] {
  return PRECISIONS.filter((p) => p === 'fp32' || GRAPH_NAMES.some((g) => m.graphs[g].variants?.[p] !== undefined));
}
