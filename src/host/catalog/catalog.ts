/**
 * The catalogue of official VAR checkpoints (resources/official-models.json): what the model manager offers
 * to download, where from, and how to verify it. Validated on load, so a broken catalogue fails with the
 * path of the bad field rather than as a download of the wrong thing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  ContractError, type Infer, arr, bool, int, literal, nullable, num, obj, optional, str, tagged,
} from '../../shared/schema';

const SHA256 = /^[0-9a-f]{64}$/;
/** A plain file name at the repo root: no folders, no "..", nothing a path join could escape with. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Model names double as bundle folder names in the user's models folder. */
const MODEL_NAME = /^[a-z0-9][a-z0-9.-]{0,63}$/;
const MAX_BYTES = 2 ** 45;

const samplingSchema = obj({ cfg: num(0, 100), topK: int(0, 1_000_000), topP: num(0, 1), moreSmooth: bool });

const common = {
  name: str({ min: 1, max: 64, pattern: MODEL_NAME }),
  file: str({ min: 1, max: 128, pattern: FILE_NAME }),
  title: str({ min: 1, max: 200 }),
  parameters: int(1, 1e13),
  sha256: str({ min: 64, max: 64, pattern: SHA256 }),
  /** Exact size in bytes, where known. */
  bytes: optional(int(1, MAX_BYTES)),
  /** The rounded size shown by the host, for estimates only; the exact size then comes from the server. */
  bytesApprox: optional(int(1, MAX_BYTES)),
  licence: str({ min: 1, max: 64 }),
};

const vqvaeSchema = obj({ kind: literal('vqvae'), ...common });

const varSchema = obj({
  kind: literal('var'),
  ...common,
  depth: int(1, 256),
  resolution: int(16, 8192),
  patchNums: arr(int(1, 1024), { min: 1, max: 64 }),
  sharedAdaLN: bool,
  /** File name of the VQVAE checkpoint this transformer was trained with. */
  vqvae: str({ min: 1, max: 128, pattern: FILE_NAME }),
  readme: nullable(obj({
    fid: num(0, 1000), fidRejectionSampling: optional(num(0, 1000)), relCost: nullable(num(0, 1000)), paramsLabel: str({ min: 1, max: 16 }),
  })),
  paper: nullable(obj({ fid: num(0, 1000), is: num(0, 10_000) })),
  /** The official demo's sampling settings: what a new image uses. */
  sampling: samplingSchema,
  /** The setting the README's FID was measured with. */
  fidSampling: samplingSchema,
});

const catalogSchema = obj({
  schemaVersion: literal(1),
  repo: str({ min: 1, max: 200 }),
  revision: str({ min: 40, max: 40, pattern: /^[0-9a-f]{40}$/ }),
  baseUrl: str({ min: 8, max: 2000, pattern: /^https?:\/\/\S+[^/]$/ }),
  licence: str({ min: 1, max: 64 }),
  licenceUrl: str({ min: 8, max: 2000 }),
  notes: arr(str({ max: 2000 }), { max: 50 }),
  files: arr(tagged('kind', { var: varSchema, vqvae: vqvaeSchema }), { min: 1, max: 200 }),
});

export type VqvaeEntry = Infer<typeof vqvaeSchema>;
export type VarEntry = Infer<typeof varSchema>;
export type CatalogEntry = VqvaeEntry | VarEntry;
export type SamplingDefaults = Infer<typeof samplingSchema>;
export type Catalog = Infer<typeof catalogSchema>;

/** A catalogue that cannot be used: says which field is wrong and why. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  readonly code = 'bad-catalog';
}

function checkRelations(c: Catalog): void {
  const names = new Set<string>(), files = new Set<string>();
  c.files.forEach((e, i) => {
    const at = `files[${i}] (${e.file})`;
    if (names.has(e.name)) throw new CatalogError(`${at}: the name "${e.name}" is used twice`);
    if (files.has(e.file)) throw new CatalogError(`${at}: the file is listed twice`);
    names.add(e.name);
    files.add(e.file);
    if ((e.bytes === undefined) === (e.bytesApprox === undefined)) throw new CatalogError(`${at}: give exactly one of bytes (exact) and bytesApprox (rounded)`);
  });
  for (const e of c.files) {
    if (e.kind !== 'var') continue;
    if (!c.files.some((v) => v.kind === 'vqvae' && v.file === e.vqvae)) throw new CatalogError(`${e.file}: needs the VQVAE "${e.vqvae}", which the catalogue does not list`);
    if (e.patchNums.at(-1)! * 16 !== e.resolution) throw new CatalogError(`${e.file}: the last scale ${e.patchNums.at(-1)} × 16 px is not the resolution ${e.resolution}`);
  }
  if (!c.baseUrl.includes(c.revision)) throw new CatalogError(`baseUrl ${c.baseUrl} is not pinned to the revision ${c.revision}`);
}

/** Checks a parsed catalogue document and returns it typed; throws CatalogError naming the first problem. */
export function parseCatalog(value: unknown): Catalog {
  let catalog: Catalog;
  try {
    catalog = catalogSchema.parse(value);
  } catch (e) {
    if (e instanceof ContractError) throw new CatalogError(`model catalogue: ${e.message}`);
    throw e;
  }
  checkRelations(catalog);
  return catalog;
}

/** Reads and checks a catalogue file (the official one is bundled; see officialCatalog). */
export async function loadCatalogFile(path: string): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CatalogError(`cannot read the model catalogue ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CatalogError(`the model catalogue ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseCatalog(json);
}

/** resources/official-models.json: three folders up from this file in the source tree, two from out/main in a build. */
export function officialCatalogPath(): string {
  const candidates = ['../../../resources/official-models.json', '../../resources/official-models.json'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

let official: Catalog | undefined;
/** The official FoundationVision/var catalogue shipped in resources/ (read and checked once). */
export function officialCatalog(): Catalog {
  if (!official) {
    const path = officialCatalogPath();
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new CatalogError(`cannot read the official model catalogue ${path}: ${(e as Error).message}; reinstall VAR Studio.`);
    }
    official = parseCatalog(json);
  }
  return official;
}

/** The official catalogue, or the file VAR_STUDIO_MODEL_CATALOG names (a mirror's own list, or a test's). */
export async function catalogFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Catalog> {
  const path = env.VAR_STUDIO_MODEL_CATALOG?.trim();
  return path ? loadCatalogFile(path) : officialCatalog();
}

/** Where a catalogue file is fetched from; `baseUrl` overrides the catalogue's own (tests, mirrors). */
export function fileUrl(catalog: Catalog, file: string, baseUrl?: string): string {
  return `${(baseUrl ?? catalog.baseUrl).replace(/\/+$/, '')}/${encodeURIComponent(file)}`;
}

/** The catalogue's base URL, unless VAR_STUDIO_MODEL_BASE_URL points elsewhere (a mirror, or a test server). */
export function baseUrlFromEnv(catalog: Catalog, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.VAR_STUDIO_MODEL_BASE_URL?.trim();
  return fromEnv ? fromEnv.replace(/\/+$/, '') : catalog.baseUrl;
}

export function varEntries(c: Catalog): VarEntry[] {
  return c.files.filter((e): e is VarEntry => e.kind === 'var');
}

export function findEntry(c: Catalog, name: string): CatalogEntry | undefined {
  return c.files.find((e) => e.name === name || e.file === name);
}

/** Best known size: exact when the catalogue has it, else the rounded one. */
export function sizeOf(e: CatalogEntry): number {
  return e.bytes ?? e.bytesApprox!;
}
