/**
 * `var-studio models list | pull <name> | import --var FILE --vae FILE --out DIR | rm <name>`: the same
 * model manager the app uses. Progress goes to stderr; --json prints one JSON object on stdout.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CatalogError, catalogFromEnv } from '../host/catalog/catalog';
import { ModelManager, ModelManagerError, type ModelRow, type ModelStatus, importFraction, importVariantsFor, loadImporter } from '../host/catalog/manager';
import { currentEnvironment } from '../host/gpu-doctor';
import { defaultUserModelsDir } from '../host/models';
import { DownloadError } from '../host/downloads/errors';
import { formatBytes, formatDuration } from '../host/downloads/rate';
import { type QuantPrecision, parsePrecisionList } from '../engine/import/quantize';
import { UsageError } from './args';
import { Progress } from './progress';

export const MODELS_USAGE = `  var-studio models list [--models-dir DIR] [--json]
  var-studio models pull <name> [--models-dir DIR] [--keep-checkpoint] [--json] [--quiet]
  var-studio models import --var FILE --vae FILE --out DIR [--name NAME] [--title TEXT] [--precision fp32,int8,int4,fp16,dq8] [--json] [--quiet]
  var-studio models rm <name> [--models-dir DIR] [--purge-shared] [--json]`;

export const MODELS_HELP = `models: the official FoundationVision/var checkpoints (Hugging Face, pinned revision), downloaded with
  resume (Ctrl+C pauses; the same command resumes), verified by sha256, and imported into a bundle folder
  <models-dir>/<name>. The models folder defaults to $VAR_STUDIO_MODELS_DIR or ~/.var-studio/models (the
  app's browser mode uses the same). VAR_STUDIO_MODEL_BASE_URL fetches the files from a mirror instead;
  VAR_STUDIO_MODEL_CATALOG replaces the catalogue file; HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured.
  rm keeps the shared VQVAE checkpoint while another model uses it (--purge-shared deletes it anyway).
  import turns local checkpoint files (.pth or .safetensors) into a bundle at --out; --precision lists the
  transformer variants written beside fp32 (int8 / int4: MatMulNBits, dq8: DynamicQuantizeMatMul, fp16 for GPUs;
  default: dq8 where models run on the CPU, none where a GPU runs them, as pull and the studio do;
  --precision fp32 writes none).`;

/** Errors of the model commands that are the user's situation (network, disk, input), not a bug. */
export function isModelsError(e: unknown): boolean {
  return e instanceof DownloadError || e instanceof ModelManagerError || e instanceof CatalogError || (e as Error)?.name === 'ImportError';
}

const common = { 'models-dir': { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

async function openManager(modelsDir: string | undefined, keepCheckpoints = false): Promise<ModelManager> {
  return ModelManager.open({ modelsDir: resolve(modelsDir ?? defaultUserModelsDir()), catalog: await catalogFromEnv(), keepCheckpoints, variants: importVariantsFor('auto', currentEnvironment()) });
}

function statusText(s: ModelStatus): string {
  switch (s.state) {
    case 'downloading': return `downloading ${s.percent.toFixed(0)} %`;
    case 'paused': return `paused at ${s.percent.toFixed(0)} %`;
    case 'failed': return `failed: ${s.message}`;
    case 'ready': return 'ready';
    case 'not-downloaded': return 'not downloaded';
    default: return s.state;
  }
}

function rowJson(r: ModelRow) {
  const e = r.entry;
  return {
    name: e.name, title: e.title, file: e.file, resolution: e.resolution, parameters: e.parameters,
    paramsLabel: e.readme?.paramsLabel ?? `${(e.parameters / 1e6).toFixed(0)}M`, fid: e.readme?.fid ?? null,
    bytes: e.bytes ?? null, bytesApprox: e.bytesApprox ?? null, downloadBytes: r.downloadBytes, diskNeeded: r.diskNeeded,
    approximate: r.approximate, licence: e.licence, vqvae: e.vqvae, status: r.status,
  };
}

function listTable(rows: ReturnType<typeof rowJson>[], modelsDir: string, baseUrl: string): string {
  const head = ['name', 'res', 'params', 'FID', 'download', 'disk needed', 'status'];
  const lines = rows.map((r) => [
    r.name, `${r.resolution}`, r.paramsLabel, r.fid === null ? '–' : r.fid.toFixed(2), `${r.approximate ? '≈ ' : ''}${formatBytes(r.downloadBytes)}`,
    `${r.approximate ? '≈ ' : ''}${formatBytes(r.diskNeeded)}`, statusText(r.status),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i]))).join('  ');
  return [fmt(head), ...lines.map(fmt), '', `models folder: ${modelsDir}`, `source: ${baseUrl}`].join('\n');
}

async function cmdList(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({ args: argv, options: common, strict: true, allowPositionals: false });
  if (v.help) return `${MODELS_USAGE}\n\n${MODELS_HELP}`;
  const m = await openManager(v['models-dir']);
  const rows = await m.list();
  return { ok: true, command: 'models list', modelsDir: m.modelsDir, baseUrl: m.baseUrl, models: rows.map(rowJson) };
}

/** A progress line per whole percent (or phase change), so a log stays short when stderr is not a terminal. */
function progressReporter(progress: Progress) {
  let lastKey = '';
  return (s: ModelStatus) => {
    let pct: number, label: string;
    if (s.state === 'downloading') {
      pct = s.percent;
      label = `${s.file} ${formatBytes(s.received)} of ${formatBytes(s.total)}${s.rate > 0 ? `, ${formatBytes(s.rate)}/s` : ''}${s.eta !== null && s.rate > 0 ? `, ${formatDuration(s.eta)} left` : ''}`;
    } else if (s.state === 'verifying') {
      pct = s.total > 0 ? (100 * s.checked) / s.total : 0;
      label = `checking ${s.file}`;
    } else if (s.state === 'importing') {
      pct = (s.fraction ?? 0) * 100;
      label = `importing${s.phase ? ` (${s.phase})` : ''}`;
    } else {
      return;
    }
    const key = `${s.state}:${Math.floor(pct)}`;
    if (key === lastKey) return;
    lastKey = key;
    progress.update(Math.floor(pct), 100, label);
  };
}

async function cmdPull(argv: string[]): Promise<unknown> {
  const { values: v, positionals } = parseArgs({ args: argv, options: { ...common, 'keep-checkpoint': { type: 'boolean' } }, strict: true, allowPositionals: true });
  if (v.help) return `${MODELS_USAGE}\n\n${MODELS_HELP}`;
  if (positionals.length !== 1) throw new UsageError('models pull needs one model name (see `var-studio models list`)');
  const m = await openManager(v['models-dir'], Boolean(v['keep-checkpoint']));
  const name = positionals[0];
  m.status(name); // unknown names fail here, before anything starts
  const progress = new Progress(!v.quiet);
  const report = progressReporter(progress);
  m.on((e) => { if (e.type === 'status' && e.name === name) report(e.status); });
  const onSigint = () => m.pause(name);
  process.once('SIGINT', onSigint);
  try {
    const final = await m.pull(name);
    progress.end();
    if (final.state === 'paused') {
      return { ok: true, command: 'models pull', name, status: final, message: `paused at ${final.percent.toFixed(0)} %; run the same command to resume` };
    }
    return { ok: true, command: 'models pull', name, status: final, dir: final.state === 'ready' ? final.dir : null };
  } finally {
    progress.end();
    process.removeListener('SIGINT', onSigint);
  }
}

/** --precision as the importer reads it; a wrong name is the user's usage error. */
function parsePrecisions(text: string): QuantPrecision[] {
  try {
    return parsePrecisionList(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function cmdImport(argv: string[]): Promise<unknown> {
  const { values: v } = parseArgs({
    args: argv,
    options: { json: common.json, quiet: common.quiet, help: common.help, var: { type: 'string' }, vae: { type: 'string' }, out: { type: 'string' }, name: { type: 'string' }, title: { type: 'string' }, precision: { type: 'string' } },
    strict: true, allowPositionals: false,
  });
  if (v.help) return `${MODELS_USAGE}\n\n${MODELS_HELP}`;
  if (!v.var || !v.vae || !v.out) throw new UsageError('models import needs --var FILE --vae FILE --out DIR');
  const precisions = v.precision === undefined ? importVariantsFor('auto', currentEnvironment()) : parsePrecisions(v.precision);
  for (const [flag, f] of [['--var', v.var], ['--vae', v.vae]] as const) if (!existsSync(f)) throw new UsageError(`${flag} file not found: ${f}`);
  const outDir = resolve(v.out);
  if (existsSync(outDir)) throw new UsageError(`--out ${outDir} already exists; choose a new folder`);
  const importCheckpoints = await loadImporter();
  const progress = new Progress(!v.quiet);
  const report = progressReporter(progress);
  let last = 0;
  await importCheckpoints({
    varFile: resolve(v.var), vaeFile: resolve(v.vae), outDir, name: v.name, title: v.title, precisions,
    onProgress: (p) => {
      const fraction = importFraction(p);
      const now = Date.now();
      if (now - last > 200 || fraction === 1) { last = now; report({ state: 'importing', phase: p.phase, fraction }); }
    },
  });
  progress.end();
  return { ok: true, command: 'models import', dir: outDir };
}

async function cmdRemove(argv: string[]): Promise<unknown> {
  const { values: v, positionals } = parseArgs({ args: argv, options: { ...common, 'purge-shared': { type: 'boolean' } }, strict: true, allowPositionals: true });
  if (v.help) return `${MODELS_USAGE}\n\n${MODELS_HELP}`;
  if (positionals.length !== 1) throw new UsageError('models rm needs one model name');
  const m = await openManager(v['models-dir']);
  const r = await m.remove(positionals[0], { purgeShared: Boolean(v['purge-shared']) });
  return { ok: true, command: 'models rm', name: positionals[0], ...r };
}

/** Runs `models <sub> …`; returns the result object (or help text). */
export async function cmdModels(argv: string[]): Promise<unknown> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list': case 'ls': return cmdList(rest);
    case 'pull': return cmdPull(rest);
    case 'import': return cmdImport(rest);
    case 'rm': case 'remove': return cmdRemove(rest);
    case undefined: case '-h': case '--help': case 'help': return `${MODELS_USAGE}\n\n${MODELS_HELP}`;
    default: throw new UsageError(`unknown models command "${sub}" (expected list, pull, import or rm)`);
  }
}

/** The human form of a models result. */
export function modelsHuman(r: Record<string, unknown>): string | null {
  switch (r.command) {
    case 'models list': return listTable(r.models as ReturnType<typeof rowJson>[], String(r.modelsDir), String(r.baseUrl));
    case 'models pull': return r.dir ? `${r.name} is ready in ${r.dir}` : `${r.name}: ${String(r.message ?? statusText(r.status as ModelStatus))}`;
    case 'models import': return `imported into ${r.dir}`;
    case 'models rm': {
      const removed = (r.removed as string[]).length ? `removed ${(r.removed as string[]).join(', ')}` : 'nothing to remove';
      return r.keptShared ? `${removed}\nkept the shared VQVAE ${r.keptShared} (another model uses it; --purge-shared deletes it)` : removed;
    }
    default: return null;
  }
}
