/**
 * Graph templates (written by tools/graph_templates.py): a bundle's ONNX graphs without weights plus
 * `template.json` (weightMap rows with offsets, the architecture, the bundle fields that depend only on it).
 * A `var` template holds transformer.onnx; a `vae` template fhat_step, encoder, decoder and preview.onnx.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { defaultModelDir } from '../app-root';
import type { GraphName, TransformerShape, VaeShape, WeightMapEntry } from '../manifest';
import type { PairArchitecture, VaeArchitecture, VarArchitecture } from './architecture';
import { ImportError } from './checkpoint';

export const TEMPLATE_FORMAT = 'var-studio-graph-template';
export const TEMPLATE_FORMAT_VERSION = 1;

export interface TemplateGraph { model: string; weights: string; sha256: string; bytes: number; weightsBytes: number }

interface TemplateBase {
  dir: string;
  name: string;
  graphs: Partial<Record<GraphName, TemplateGraph>>;
  weightMap: WeightMapEntry[];
}
export interface VarTemplate extends TemplateBase {
  kind: 'var';
  architecture: VarArchitecture;
  bundle: { patchNums: number[]; vocabSize: number; cvae: number; transformer: TransformerShape };
}
export interface VaeTemplate extends TemplateBase {
  kind: 'vae';
  architecture: VaeArchitecture;
  bundle: {
    resolution: number; downsample: number; patchNums: number[]; vocabSize: number; cvae: number; phiIndex: number[];
    vae: VaeShape;
    preview: { kernel: number; previewMacs: number; decoderMacs: number; costRatio: number };
    codebook: { key: string; shape: [number, number] };
  };
}
export type GraphTemplate = VarTemplate | VaeTemplate;

/** resources/graph-templates next to the embedded model's folder (right for the source and the built layout). */
export function defaultTemplatesDir(): string {
  return join(dirname(dirname(defaultModelDir())), 'resources', 'graph-templates');
}

// Fields that shape the graphs; training-only settings (dropout rates, the VQ loss weight) do not.
const VAR_FIELDS = ['depth', 'embed_dim', 'num_heads', 'num_classes', 'mlp_ratio', 'norm_eps', 'shared_aln', 'attn_l2_norm',
  'patch_nums', 'vocab_size', 'z_channels'] as const;
const VAE_FIELDS = ['vocab_size', 'z_channels', 'ch', 'ch_mult', 'num_res_blocks', 'quant_conv_ks', 'quant_resi',
  'share_quant_resi', 'patch_nums', 'using_sa', 'using_mid_sa'] as const;

function sameFields(a: object, b: object, fields: readonly string[]): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return fields.every((f) => JSON.stringify(x[f]) === JSON.stringify(y[f]));
}

function bad(dir: string, what: string): never {
  throw new ImportError('bad-template', `${dir}: ${what}; regenerate it with tools/graph_templates.py`, dir);
}

/** Read one template folder's template.json and check its graph files against their recorded sha256. */
export async function readTemplate(dir: string): Promise<GraphTemplate> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readFile(join(dir, 'template.json'), 'utf8')) as Record<string, unknown>;
  } catch (e) {
    bad(dir, `template.json is missing or not JSON (${(e as Error).message})`);
  }
  if (raw.format !== TEMPLATE_FORMAT || raw.formatVersion !== TEMPLATE_FORMAT_VERSION) {
    bad(dir, `expected format ${TEMPLATE_FORMAT} version ${TEMPLATE_FORMAT_VERSION}, found ${String(raw.format)} version ${String(raw.formatVersion)}`);
  }
  if (raw.kind !== 'var' && raw.kind !== 'vae') bad(dir, `expected kind "var" or "vae", found ${String(raw.kind)}`);
  if (!Array.isArray(raw.weightMap) || typeof raw.graphs !== 'object' || raw.graphs === null) bad(dir, 'template.json lacks graphs or weightMap');
  return { ...(raw as unknown as GraphTemplate), dir };
}

/** Check the template's .onnx files are the ones it was generated with (a damaged install shows here). */
export async function verifyTemplateGraphs(t: GraphTemplate): Promise<void> {
  for (const g of Object.values(t.graphs)) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(t.dir, g.model));
    } catch {
      bad(t.dir, `${g.model} is missing`);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== g.bytes || sha !== g.sha256) bad(t.dir, `${g.model}: expected sha256 ${g.sha256} (${g.bytes} bytes), found ${sha} (${bytes.length} bytes)`);
  }
}

/** Every readable template; an unreadable folder does not stop imports of other architectures (it is listed). */
export async function listTemplates(templatesDir: string): Promise<{ templates: GraphTemplate[]; unreadable: string[] }> {
  let names: string[];
  try {
    names = (await readdir(templatesDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    throw new ImportError('no-templates', `${templatesDir}: no graph-templates folder (expected the app's resources/graph-templates)`, templatesDir);
  }
  const templates: GraphTemplate[] = [];
  const unreadable: string[] = [];
  for (const n of names) {
    try {
      templates.push(await readTemplate(join(templatesDir, n)));
    } catch (e) {
      unreadable.push(`${n} (${(e as Error).message})`);
    }
  }
  return { templates, unreadable };
}

/** The VAR and VQVAE templates of this architecture; an architecture without one is refused by name. */
export async function findTemplates(templatesDir: string, arch: PairArchitecture): Promise<{ var: VarTemplate; vae: VaeTemplate }> {
  const { templates: all, unreadable } = await listTemplates(templatesDir);
  const varT = all.find((t): t is VarTemplate => t.kind === 'var' && sameFields(t.architecture, arch.var, VAR_FIELDS));
  const vaeT = all.find((t): t is VaeTemplate => t.kind === 'vae' && sameFields(t.architecture, arch.vae, VAE_FIELDS));
  const known = (kind: string) => (all.filter((t) => t.kind === kind).map((t) => t.name).join(', ') || 'none') +
    (unreadable.length ? `; unreadable: ${unreadable.join('; ')}` : '');
  if (!varT) {
    const a = arch.var;
    throw new ImportError('no-template', `no graph template for a VAR of depth ${a.depth}, width ${a.embed_dim}, ${a.num_heads} heads` +
      `${a.shared_aln ? ', shared AdaLN' : ''}, ${a.num_classes} classes, patch_nums (${a.patch_nums.join(', ')}), V=${a.vocab_size}, Cvae=${a.z_channels}` +
      ` (this app has templates for: ${known('var')}); only the official VAR architectures can be imported`);
  }
  if (!vaeT) {
    const a = arch.vae;
    throw new ImportError('no-template', `no graph template for a VQVAE ch=${a.ch}, ch_mult (${a.ch_mult.join(', ')}), V=${a.vocab_size}, ` +
      `Cvae=${a.z_channels}, patch_nums (${a.patch_nums.join(', ')}) (this app has templates for: ${known('vae')})`);
  }
  await verifyTemplateGraphs(varT);
  await verifyTemplateGraphs(vaeT);
  return { var: varT, vae: vaeT };
}
