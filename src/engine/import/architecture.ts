/**
 * The architecture of a VAR + VQVAE pair read off their tensors, and the strict key/shape layout each implies.
 *
 * Field names are those of the Python reference configuration (tools/var_ref/config.py, `config_to_json`), so a
 * configuration inferred here and one inferred by tools/checkpoints.py compare equal as JSON. The layout rules
 * follow the module structure of FoundationVision/VAR models/var.py, models/basic_var.py, models/vqvae.py,
 * models/basic_vae.py and models/quant.py (state-dict order).
 */
import { type CheckpointReader, ImportError } from './checkpoint';

export const PATCH_NUMS_256: readonly number[] = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16];
export const PATCH_NUMS_512: readonly number[] = [1, 2, 3, 4, 6, 9, 13, 18, 24, 32];
/** The official patch schedules by output resolution (680 and 2240 tokens). */
export const PATCH_SETS_BY_RESOLUTION: Readonly<Record<number, readonly number[]>> = {
  256: PATCH_NUMS_256,
  512: PATCH_NUMS_512,
};

/** The VAR transformer's configuration (tools/var_ref/config.py `VARConfig`). */
export interface VarArchitecture {
  depth: number;
  /** C, the width (= the condition width D). */
  embed_dim: number;
  num_heads: number;
  num_classes: number;
  mlp_ratio: number;
  norm_eps: number;
  /** One AdaLN projection shared by every block (the 512-px d36-s). */
  shared_aln: boolean;
  attn_l2_norm: boolean;
  cond_drop_rate: number;
  drop_path_rate: number;
  patch_nums: number[];
  /** V, the codebook size. */
  vocab_size: number;
  /** Cvae, the latent width. */
  z_channels: number;
}

/** The multi-scale VQVAE's configuration (tools/var_ref/config.py `VQVAEConfig`). */
export interface VaeArchitecture {
  vocab_size: number;
  z_channels: number;
  ch: number;
  ch_mult: number[];
  num_res_blocks: number;
  beta: number;
  quant_conv_ks: number;
  quant_resi: number;
  share_quant_resi: number;
  patch_nums: number[];
  using_sa: boolean;
  using_mid_sa: boolean;
}

export interface PairArchitecture {
  var: VarArchitecture;
  vae: VaeArchitecture;
}

/** key → shape, in the checkpoint's state-dict order. */
export type ExpectedLayout = Map<string, number[]>;

/** Keys that hold integers (every other tensor of both models is floating point). */
export const INTEGER_KEYS: ReadonlySet<string> = new Set(['lvl_1L']);
/** The official VQVAE loader replaces this training statistic when the scale count differs, so its first
 * dimension is not checked (FoundationVision/VAR models/vqvae.py `load_state_dict`). */
export const LENIENT_FIRST_DIM: ReadonlySet<string> = new Set(['quantize.ema_vocab_hit_SV']);

export function tokenCount(patchNums: readonly number[]): number {
  return patchNums.reduce((sum, p) => sum + p * p, 0);
}

export function vaeDownsample(vae: VaeArchitecture): number {
  return 2 ** (vae.ch_mult.length - 1);
}

/** Output image side in pixels: last patch size × the VQVAE's downsampling. */
export function vaeResolution(vae: VaeArchitecture): number {
  return vae.patch_nums[vae.patch_nums.length - 1] * vaeDownsample(vae);
}

export function formatShape(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

/** The VAR state-dict layout of an architecture (FoundationVision/VAR models/var.py). */
export function expectedVarKeys(a: VarArchitecture): ExpectedLayout {
  const C = a.embed_dim;
  const L = tokenCount(a.patch_nums);
  const hidden = Math.round(a.mlp_ratio * C);
  const m: ExpectedLayout = new Map();
  m.set('pos_start', [1, a.patch_nums[0] ** 2, C]);
  m.set('pos_1LC', [1, L, C]);
  m.set('lvl_1L', [1, L]);
  m.set('attn_bias_for_masking', [1, 1, L, L]);
  m.set('word_embed.weight', [C, a.z_channels]);
  m.set('word_embed.bias', [C]);
  m.set('class_emb.weight', [a.num_classes + 1, C]);
  m.set('lvl_embed.weight', [a.patch_nums.length, C]);
  if (a.shared_aln) {
    m.set('shared_ada_lin.1.weight', [6 * C, C]);
    m.set('shared_ada_lin.1.bias', [6 * C]);
  }
  for (let i = 0; i < a.depth; i++) {
    const b = `blocks.${i}.`;
    if (a.shared_aln) m.set(b + 'ada_gss', [1, 1, 6, C]);
    if (a.attn_l2_norm) m.set(b + 'attn.scale_mul_1H11', [1, a.num_heads, 1, 1]);
    m.set(b + 'attn.q_bias', [C]);
    m.set(b + 'attn.v_bias', [C]);
    m.set(b + 'attn.zero_k_bias', [C]);
    m.set(b + 'attn.mat_qkv.weight', [3 * C, C]);
    m.set(b + 'attn.proj.weight', [C, C]);
    m.set(b + 'attn.proj.bias', [C]);
    m.set(b + 'ffn.fc1.weight', [hidden, C]);
    m.set(b + 'ffn.fc1.bias', [hidden]);
    m.set(b + 'ffn.fc2.weight', [C, hidden]);
    m.set(b + 'ffn.fc2.bias', [C]);
    if (!a.shared_aln) {
      m.set(b + 'ada_lin.1.weight', [6 * C, C]);
      m.set(b + 'ada_lin.1.bias', [6 * C]);
    }
  }
  m.set('head_nm.ada_lin.1.weight', [2 * C, C]);
  m.set('head_nm.ada_lin.1.bias', [2 * C]);
  m.set('head.weight', [a.vocab_size, C]);
  m.set('head.bias', [a.vocab_size]);
  return m;
}

function setConv(m: ExpectedLayout, name: string, cout: number, cin: number, k: number): void {
  m.set(`${name}.weight`, [cout, cin, k, k]);
  m.set(`${name}.bias`, [cout]);
}

function setNorm(m: ExpectedLayout, name: string, c: number): void {
  m.set(`${name}.weight`, [c]);
  m.set(`${name}.bias`, [c]);
}

function setResBlock(m: ExpectedLayout, name: string, cin: number, cout: number): void {
  setNorm(m, `${name}.norm1`, cin);
  setConv(m, `${name}.conv1`, cout, cin, 3);
  setNorm(m, `${name}.norm2`, cout);
  setConv(m, `${name}.conv2`, cout, cout, 3);
  if (cin !== cout) setConv(m, `${name}.nin_shortcut`, cout, cin, 1);
}

function setAttn(m: ExpectedLayout, name: string, c: number): void {
  setNorm(m, `${name}.norm`, c);
  setConv(m, `${name}.qkv`, 3 * c, c, 1);
  setConv(m, `${name}.proj_out`, c, c, 1);
}

/** The VQVAE state-dict layout of an architecture (FoundationVision/VAR models/vqvae.py, basic_vae.py, quant.py). */
export function expectedVaeKeys(a: VaeArchitecture): ExpectedLayout {
  const m: ExpectedLayout = new Map();
  const n = a.ch_mult.length;
  const nrb = a.num_res_blocks;
  setConv(m, 'encoder.conv_in', a.ch, 3, 3);
  let cin = a.ch;
  for (let i = 0; i < n; i++) {
    const cout = a.ch * a.ch_mult[i];
    for (let j = 0; j < nrb; j++) {
      setResBlock(m, `encoder.down.${i}.block.${j}`, cin, cout);
      cin = cout;
    }
    if (i === n - 1 && a.using_sa) for (let j = 0; j < nrb; j++) setAttn(m, `encoder.down.${i}.attn.${j}`, cin);
    if (i !== n - 1) setConv(m, `encoder.down.${i}.downsample.conv`, cin, cin, 3);
  }
  setResBlock(m, 'encoder.mid.block_1', cin, cin);
  if (a.using_mid_sa) setAttn(m, 'encoder.mid.attn_1', cin);
  setResBlock(m, 'encoder.mid.block_2', cin, cin);
  setNorm(m, 'encoder.norm_out', cin);
  setConv(m, 'encoder.conv_out', a.z_channels, cin, 3);

  const top = a.ch * a.ch_mult[n - 1];
  setConv(m, 'decoder.conv_in', top, a.z_channels, 3);
  setResBlock(m, 'decoder.mid.block_1', top, top);
  if (a.using_mid_sa) setAttn(m, 'decoder.mid.attn_1', top);
  setResBlock(m, 'decoder.mid.block_2', top, top);
  // Decoder levels are built from the top level down but stored as up.0 … up.{n-1}.
  const levels: ExpectedLayout[] = [];
  cin = top;
  for (let i = n - 1; i >= 0; i--) {
    const lvl: ExpectedLayout = new Map();
    const cout = a.ch * a.ch_mult[i];
    for (let j = 0; j < nrb + 1; j++) {
      setResBlock(lvl, `decoder.up.${i}.block.${j}`, cin, cout);
      cin = cout;
    }
    if (i === n - 1 && a.using_sa) for (let j = 0; j < nrb + 1; j++) setAttn(lvl, `decoder.up.${i}.attn.${j}`, cin);
    if (i !== 0) setConv(lvl, `decoder.up.${i}.upsample.conv`, cin, cin, 3);
    levels[i] = lvl;
  }
  for (const lvl of levels) for (const [k, s] of lvl) m.set(k, s);
  setNorm(m, 'decoder.norm_out', a.ch);
  setConv(m, 'decoder.conv_out', 3, a.ch, 3);

  m.set('quantize.ema_vocab_hit_SV', [a.patch_nums.length, a.vocab_size]);
  for (let i = 0; i < a.share_quant_resi; i++) setConv(m, `quantize.quant_resi.qresi_ls.${i}`, a.z_channels, a.z_channels, 3);
  m.set('quantize.embedding.weight', [a.vocab_size, a.z_channels]);
  setConv(m, 'quant_conv', a.z_channels, a.z_channels, a.quant_conv_ks);
  setConv(m, 'post_quant_conv', a.z_channels, a.z_channels, a.quant_conv_ks);
  return m;
}

// ------------------------------------------------------------------------------------------- inference
/** What inference sees of a checkpoint: its keys and their shapes (no tensor data). */
export interface ShapeTable {
  file: string;
  shapes: Map<string, number[]>;
}

export function shapeTable(ckpt: CheckpointReader): ShapeTable {
  const shapes = new Map<string, number[]>();
  for (const k of ckpt.keys()) shapes.set(k, ckpt.info(k).shape);
  return { file: ckpt.file, shapes };
}

function fail(t: ShapeTable, code: string, message: string, key?: string): ImportError {
  return new ImportError(code, `${t.file}: ${message}`.replace(/\s+/g, ' '), t.file, key);
}

function missing(t: ShapeTable, key: string, why: string): ImportError {
  return fail(t, 'missing-key', `missing key '${key}'${why ? ` (${why})` : ''}`, key);
}

type Source = readonly [key: string, dim: number];

/** The size most present sources agree on, so one corrupted tensor is reported by the layout check as the odd
 * one out instead of skewing the architecture (ties go to `prefer`, else to the first source seen). */
function vote(t: ShapeTable, sources: readonly Source[], why: string, prefer?: number, fallback?: number): number {
  const counts = new Map<number, number>();
  for (const [k, d] of sources) {
    const s = t.shapes.get(k);
    if (s && s.length > d) counts.set(s[d], (counts.get(s[d]) ?? 0) + 1);
  }
  if (counts.size === 0) {
    if (fallback !== undefined) return fallback;
    throw missing(t, sources[0][0], why);
  }
  const best = Math.max(...counts.values());
  const tied = [...counts].filter(([, n]) => n === best).map(([v]) => v);
  return prefer !== undefined && tied.includes(prefer) ? prefer : tied[0];
}

/** A size read from the first present (key, dim) of sources. */
function firstDim(t: ShapeTable, sources: readonly Source[], why: string, fallback?: number): number {
  for (const [k, d] of sources) {
    const s = t.shapes.get(k);
    if (s && s.length > d) return s[d];
  }
  if (fallback !== undefined) return fallback;
  throw missing(t, sources[0][0], why);
}

/** Sorted distinct indices i of keys that start with `${prefix}${i}.`. */
function indices(t: ShapeTable, prefix: string): number[] {
  const found = new Set<number>();
  for (const k of t.shapes.keys()) {
    if (!k.startsWith(prefix)) continue;
    const m = /^(\d+)\./.exec(k.slice(prefix.length));
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

function hasPrefix(t: ShapeTable, ...prefixes: string[]): boolean {
  for (const k of t.shapes.keys()) if (prefixes.some((p) => k.startsWith(p))) return true;
  return false;
}

/** The patch sizes of a `lvl_1L` buffer: level k repeated p_k² times, levels rising 0, 1, 2, … */
export function patchNumsFromLevels(levels: ArrayLike<bigint | number>, file: string): number[] {
  const counts: number[] = [];
  for (let i = 0; i < levels.length; i++) {
    const lv = Number(levels[i]);
    if (lv === counts.length) counts.push(0);
    if (lv !== counts.length - 1) {
      throw new ImportError('buffer', `${file}: key 'lvl_1L': levels must rise 0,1,2,… scale by scale; position ${i} has ${lv}`, file, 'lvl_1L');
    }
    counts[counts.length - 1]++;
  }
  return counts.map((n, k) => {
    const p = Math.round(Math.sqrt(n));
    if (p * p !== n) {
      throw new ImportError('buffer', `${file}: key 'lvl_1L': scale ${k} has ${n} tokens, not a square p²`, file, 'lvl_1L');
    }
    return p;
  });
}

function officialVar(depth: number, patchNums: number[], shared: boolean): VarArchitecture {
  // The official `build_vae_var` rule: width 64·depth, one head per 64 channels, drop-path 0.1·depth/24.
  return {
    depth, embed_dim: 64 * depth, num_heads: depth, num_classes: 1000, mlp_ratio: 4, norm_eps: 1e-6,
    shared_aln: shared, attn_l2_norm: true, cond_drop_rate: 0.1, drop_path_rate: (0.1 * depth) / 24,
    patch_nums: patchNums, vocab_size: 4096, z_channels: 32,
  };
}

export interface InferOptions {
  /** Expected patch sizes; by default read from `lvl_1L` (or the token count of `pos_1LC`). */
  patchNums?: readonly number[];
  /** Expected depth; by default the number of `blocks.*`. */
  depth?: number;
}

/** The VQVAE configuration read off its tensors; patch sizes come from the VAR. */
export function inferVaeArchitecture(t: ShapeTable, patchNums: readonly number[] = PATCH_NUMS_256): VaeArchitecture {
  if (hasPrefix(t, 'blocks.') && !hasPrefix(t, 'encoder.')) {
    throw fail(t, 'not-vae', "has 'blocks.*' keys and no encoder: this is a VAR transformer, not a VQVAE (swapped the VAR and VQVAE files?)", 'encoder.conv_in.weight');
  }
  const V = vote(t, [['quantize.embedding.weight', 0], ['quantize.ema_vocab_hit_SV', 1]], 'codebook: gives the vocabulary size V');
  const Cvae = vote(t, [['quantize.embedding.weight', 1], ['quant_conv.weight', 0], ['post_quant_conv.weight', 1],
    ['encoder.conv_out.weight', 0], ['decoder.conv_in.weight', 1]], 'codebook: gives the latent width Cvae');
  const ch = vote(t, [['encoder.conv_in.weight', 0], ['encoder.conv_in.bias', 0], ['decoder.conv_out.weight', 1],
    ['decoder.norm_out.weight', 0], ['decoder.norm_out.bias', 0], ['encoder.down.0.block.0.norm1.weight', 0]],
  'encoder input conv: gives the base width ch');
  const enc = indices(t, 'encoder.down.');
  const dec = indices(t, 'decoder.up.');
  if (enc.length === 0 && dec.length === 0) {
    throw fail(t, 'not-vae', "missing keys 'encoder.down.0.*': this is not a VQVAE checkpoint", 'encoder.down.0');
  }
  const nLevels = Math.max(...enc, ...dec) + 1;
  const chMult: number[] = [];
  for (let i = 0; i < nLevels; i++) {
    const srcs: Source[] = [];
    for (const j of [0, 1]) for (const m of ['conv1.weight', 'conv1.bias', 'norm2.weight', 'conv2.weight']) srcs.push([`encoder.down.${i}.block.${j}.${m}`, 0]);
    for (const j of [0, 1, 2]) for (const m of ['conv1.weight', 'conv2.weight']) srcs.push([`decoder.up.${i}.block.${j}.${m}`, 0]);
    const width = vote(t, srcs, `encoder level ${i}`);
    if (width % ch) {
      throw fail(t, 'shape', `key '${srcs[0][0]}': ${width} output channels is not a multiple of the base width ${ch}`, srcs[0][0]);
    }
    chMult.push(width / ch);
  }
  let nrb = indices(t, 'encoder.down.0.block.').length;
  for (let i = 0; i < nLevels; i++) nrb = Math.max(nrb, indices(t, `decoder.up.${i}.block.`).length - 1);
  const phis = indices(t, 'quantize.quant_resi.qresi_ls.');
  const share = phis.length ? phis[phis.length - 1] + 1 : 0;
  if (share < 2) {
    // The official VQVAE shares 4 φ convs; fewer than 2 is no layout of this family.
    const key = `quantize.quant_resi.qresi_ls.${share}.weight`;
    throw missing(t, key, `expected shape ${formatShape([Cvae, Cvae, 3, 3])}: the φ convs of the quantizer`);
  }
  const ks = firstDim(t, [['quant_conv.weight', 3], ['post_quant_conv.weight', 3]], 'quant_conv', 3);
  const last = nLevels - 1;
  return {
    vocab_size: V, z_channels: Cvae, ch, ch_mult: chMult, num_res_blocks: nrb, beta: 0.25, quant_conv_ks: ks,
    quant_resi: 0.5, share_quant_resi: share, patch_nums: [...patchNums],
    using_sa: hasPrefix(t, `encoder.down.${last}.attn.`, `decoder.up.${last}.attn.`),
    using_mid_sa: hasPrefix(t, 'encoder.mid.attn_1.', 'decoder.mid.attn_1.'),
  };
}

/** The VAR configuration read off its tensors; `levels` is the `lvl_1L` buffer when present. */
export function inferVarArchitecture(t: ShapeTable, levels: ArrayLike<bigint> | undefined, vaeHint?: VaeArchitecture,
  opts: InferOptions = {}): VarArchitecture {
  const blocks = indices(t, 'blocks.');
  if (blocks.length === 0) {
    const hint = t.shapes.has('quantize.embedding.weight') ? ' but a VQVAE (swapped the VAR and VQVAE files?)' : '';
    throw fail(t, 'not-var', `no 'blocks.{i}.*' keys: this is not a VAR transformer checkpoint${hint}`, 'blocks.0');
  }
  const n = blocks[blocks.length - 1] + 1;
  for (let i = 0; i < n; i++) {
    if (!blocks.includes(i)) throw fail(t, 'missing-key', `missing keys 'blocks.${i}.*' (blocks 0..${n - 1} are otherwise present)`, `blocks.${i}`);
  }
  const range = Array.from({ length: n }, (_, i) => i);
  const C = vote(t, [['class_emb.weight', 1], ['pos_start', 2], ['pos_1LC', 2], ['word_embed.weight', 0], ['word_embed.bias', 0],
    ['lvl_embed.weight', 1], ['head.weight', 1], ['head_nm.ada_lin.1.weight', 1],
    ...range.flatMap((i) => ['q_bias', 'v_bias', 'proj.weight', 'proj.bias'].map((m): Source => [`blocks.${i}.attn.${m}`, 0]))],
  'class embedding: gives the width C');
  const numClasses = firstDim(t, [['class_emb.weight', 0]], '', 1001) - 1;
  const V = vote(t, [['head.weight', 0], ['head.bias', 0]], 'output head: gives the vocabulary size V', vaeHint?.vocab_size, vaeHint?.vocab_size);
  const Cvae = firstDim(t, [['word_embed.weight', 1]], 'token embedding: gives the latent width Cvae', vaeHint?.z_channels);
  const shared = hasPrefix(t, 'shared_ada_lin.') || [...t.shapes.keys()].some((k) => /^blocks\.\d+\.ada_gss$/.test(k));
  const scaleMul = range.map((i): Source => [`blocks.${i}.attn.scale_mul_1H11`, 1]);
  const attnL2Norm = scaleMul.some(([k]) => t.shapes.has(k));
  const heads = vote(t, scaleMul, '', Math.floor(C / 64), Math.floor(C / 64));
  const hidden = vote(t, range.flatMap((i) => [[`blocks.${i}.ffn.fc1.weight`, 0], [`blocks.${i}.ffn.fc1.bias`, 0],
    [`blocks.${i}.ffn.fc2.weight`, 1]] as Source[]), 'FFN', 4 * C, 4 * C);
  let depth = opts.depth;
  if (depth === undefined) {
    depth = n;
    // The official builder has heads = depth: blocks stopping short of the head count mean lost blocks.
    if (C === 64 * heads && heads > depth) {
      throw fail(t, 'missing-key', `missing keys 'blocks.${depth}.*': width ${C} and ${heads} heads mean depth ${heads} by the official rule (heads = depth) but blocks stop at ${depth - 1}`, `blocks.${depth}`);
    }
  }
  let patchNums = opts.patchNums ? [...opts.patchNums] : undefined;
  if (!patchNums) {
    if (levels) patchNums = patchNumsFromLevels(levels, t.file);
    else {
      const L = firstDim(t, [['pos_1LC', 1], ['attn_bias_for_masking', 2]], 'position table: gives the token count L');
      const known = [PATCH_NUMS_256, PATCH_NUMS_512].find((s) => tokenCount(s) === L);
      if (!known) {
        throw fail(t, 'shape', `key 'pos_1LC' has ${L} positions, which is neither the 256-px set (680) nor the 512-px set (2240)`, 'pos_1LC');
      }
      patchNums = [...known];
    }
  }
  return {
    ...officialVar(depth, patchNums, shared), num_classes: numClasses, vocab_size: V, z_channels: Cvae,
    embed_dim: C, num_heads: heads, mlp_ratio: hidden / C, attn_l2_norm: attnL2Norm,
  };
}

export function describeVar(a: VarArchitecture): string {
  const set = Object.entries(PATCH_SETS_BY_RESOLUTION).find(([, s]) => s.join() === a.patch_nums.join());
  return `VAR depth ${a.depth} (C=${a.embed_dim}, ${a.num_heads} heads, ${a.shared_aln ? 'shared AdaLN, ' : ''}patch_nums ` +
    `${set ? `${set[0]}-px set ` : ''}${formatShape(a.patch_nums)}, V=${a.vocab_size}, Cvae=${a.z_channels})`;
}

export function describeVae(a: VaeArchitecture): string {
  return `VQVAE ch=${a.ch}, ch_mult=${formatShape(a.ch_mult)}, V=${a.vocab_size}, Cvae=${a.z_channels}`;
}

function sameShape(found: readonly number[], want: readonly number[], lenientFirst: boolean): boolean {
  if (found.length !== want.length) return false;
  return found.every((d, i) => d === want[i] || (lenientFirst && i === 0));
}

/** Throws on the first missing key, wrong shape, wrong kind of element type, or extra key (in that order),
 * saying how many more problems there are. */
export function checkLayout(ckpt: CheckpointReader, expected: ExpectedLayout, what: string): void {
  const file = ckpt.file;
  const problems: ImportError[] = [];
  const present = new Set(ckpt.keys());
  for (const [k, shape] of expected) {
    if (!present.has(k)) {
      problems.push(new ImportError('missing-key', `missing key '${k}' (expected shape ${formatShape(shape)} for ${what})`, file, k));
      continue;
    }
    const info = ckpt.info(k);
    if (!sameShape(info.shape, shape, LENIENT_FIRST_DIM.has(k))) {
      problems.push(new ImportError('shape', `key '${k}': expected shape ${formatShape(shape)} for ${what}, found ${formatShape(info.shape)}`, file, k));
    } else if ((info.dtype === 'int64') !== INTEGER_KEYS.has(k)) {
      problems.push(new ImportError('dtype', `key '${k}': expected a ${INTEGER_KEYS.has(k) ? 'int64' : 'floating-point'} tensor for ${what}, found ${info.dtype}`, file, k));
    }
  }
  for (const k of ckpt.keys()) {
    if (!expected.has(k)) {
      problems.push(new ImportError('unexpected-key', `unexpected key '${k}' (shape ${formatShape(ckpt.info(k).shape)}), not part of ${what}`, file, k));
    }
  }
  if (problems.length) {
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw new ImportError(first.code, `${file}: ${first.message}${more}`, file, first.key);
  }
}

/** The deterministic VAR buffers must equal what the architecture implies. */
async function checkVarBuffers(ckpt: CheckpointReader, a: VarArchitecture, levels: BigInt64Array): Promise<void> {
  const file = ckpt.file;
  let pos = 0;
  let ok = levels.length === tokenCount(a.patch_nums);
  a.patch_nums.forEach((p, k) => {
    for (let j = 0; j < p * p && ok; j++) ok = levels[pos++] === BigInt(k);
  });
  if (!ok) {
    const trained = patchNumsFromLevels(levels, file);
    throw new ImportError('buffer', `${file}: key 'lvl_1L': its levels describe patch sizes ${formatShape(trained)}, not ${formatShape(a.patch_nums)}`, file, 'lvl_1L');
  }
  for (let i = 0; i < a.depth; i++) {
    const key = `blocks.${i}.attn.zero_k_bias`;
    const bias = await ckpt.readFloat32(key);
    let maxAbs = 0;
    for (const x of bias) maxAbs = Math.max(maxAbs, Math.abs(x));
    if (maxAbs !== 0) {
      throw new ImportError('buffer', `${file}: key '${key}': must be all zeros (the key bias is fixed at 0), found max |x| = ${Number(maxAbs.toPrecision(3))}`, file, key);
    }
  }
}

/**
 * Infer both architectures from the tensors, check them against each other, and check every key and shape of
 * both files strictly. Throws ImportError (one line naming the file, the key, expected vs found) on any problem.
 */
export async function inferArchitecture(varCkpt: CheckpointReader, vaeCkpt: CheckpointReader,
  opts: InferOptions = {}): Promise<PairArchitecture> {
  const varT = shapeTable(varCkpt);
  const vaeT = shapeTable(vaeCkpt);
  const vaeGuess = inferVaeArchitecture(vaeT);
  const levels = varT.shapes.has('lvl_1L') && varCkpt.info('lvl_1L').dtype === 'int64' ? await varCkpt.readInt64('lvl_1L') : undefined;
  const varArch = inferVarArchitecture(varT, levels, vaeGuess, opts);
  if (opts.patchNums && levels && varT.shapes.has('pos_1LC')) {
    const trained = patchNumsFromLevels(levels, varT.file);
    if (trained.join() !== opts.patchNums.join()) {
      const res = Object.entries(PATCH_SETS_BY_RESOLUTION).find(([, s]) => s.join() === trained.join());
      const want = [1, tokenCount(opts.patchNums), varArch.embed_dim];
      throw fail(varT, 'shape', `key 'pos_1LC': expected shape ${formatShape(want)} for patch_nums ${formatShape(opts.patchNums)}, found ` +
        `${formatShape(varT.shapes.get('pos_1LC')!)}: this checkpoint was trained for the ${res ? `${res[0]} px patch set` : `patch_nums ${formatShape(trained)}`}`, 'pos_1LC');
    }
  }
  checkLayout(varCkpt, expectedVarKeys(varArch), describeVar(varArch));
  await checkVarBuffers(varCkpt, varArch, levels!);

  const vaeArch: VaeArchitecture = { ...vaeGuess, patch_nums: [...varArch.patch_nums] };
  // The two halves meet in the codebook: VAR predicts V codes whose Cvae-wide embeddings it reads back.
  if (vaeArch.vocab_size !== varArch.vocab_size || vaeArch.z_channels !== varArch.z_channels) {
    const want = [varArch.vocab_size, varArch.z_channels];
    throw fail(vaeT, 'vae-mismatch', `key 'quantize.embedding.weight': expected shape ${formatShape(want)} to match the VAR checkpoint ` +
      `(head.weight gives V=${want[0]}, word_embed.weight gives Cvae=${want[1]}), found ` +
      `${formatShape([vaeArch.vocab_size, vaeArch.z_channels])}: a VQVAE of another configuration`, 'quantize.embedding.weight');
  }
  checkLayout(vaeCkpt, expectedVaeKeys(vaeArch), describeVae(vaeArch));
  return { var: varArch, vae: vaeArch };
}
