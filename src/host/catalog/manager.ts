/**
 * The model manager: for every official checkpoint its status, and pull / pause / cancel / remove / import.
 *
 * Layout of the user's models folder:
 *   <modelsDir>/<name>/            a ready bundle (written by the importer under a hidden name, then renamed)
 *   <modelsDir>/.downloads/        checkpoints: verified files, `.part` files and their `.part.json` state
 *   <modelsDir>/.downloads/manager.json   what was going on per model (so a restart shows "paused", not nothing)
 * Dot-folders are never listed as models, so nothing half-written is ever shown as one.
 * Pulls run one at a time (a queue): the shared VQVAE is then downloaded once, and bandwidth is not split.
 */
import { mkdir, readFile, readdir, rm, stat, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { Precision, ProbeEnvironment, ProviderName } from '../../engine/api';
import { runsOnCpu } from '../gpu-doctor';
import type { ImportProgress } from '../../engine/import/index';
import { type ImportCheckpoints, loadImporter } from './importer';
import { Download, type DownloadOptions, discardPartial, partPath, partialProgress } from '../downloads/download';
import { DownloadError } from '../downloads/errors';
import { formatBytes } from '../downloads/rate';
import { writeFileSafely } from '../safe-write';
import {
  type Catalog, type CatalogEntry, type VarEntry, type VqvaeEntry, baseUrlFromEnv, fileUrl, officialCatalog, sizeOf, varEntries,
} from './catalog';

export { type ImportCheckpoints, loadImporter } from './importer';

export type ModelStatus =
  | { state: 'not-downloaded' }
  | { state: 'queued' }
  | { state: 'downloading'; file: string; received: number; total: number; percent: number; rate: number; eta: number | null }
  | { state: 'paused'; received: number; total: number; percent: number }
  | { state: 'verifying'; file: string; checked: number; total: number }
  | { state: 'importing'; phase: string | null; fraction: number | null }
  | { state: 'ready'; dir: string }
  | { state: 'failed'; code: string; message: string };

export interface ModelRow {
  entry: VarEntry;
  status: ModelStatus;
  /** Bytes to download for this model now (the shared VQVAE counts until it is on disk). */
  downloadBytes: number;
  /** Disk space a pull needs at its peak: the checkpoints plus the bundle made from them. */
  diskNeeded: number;
  /** Whether the sizes above are estimates (a catalogue size is only approximate). */
  approximate: boolean;
}

/** What removing a model deletes: each path with what it is and its size. */
export interface RemovalPlan {
  items: { path: string; what: string; bytes: number }[];
  bytes: number;
  /** The shared VQVAE checkpoint that stays because another model needs it. */
  keptShared: string | null;
}

export type ManagerEvent =
  | { type: 'status'; name: string; status: ModelStatus }
  | { type: 'import-progress'; name: string; phase: string | null; fraction: number | null };


export interface ModelManagerOptions {
  modelsDir: string;
  catalog?: Catalog;
  /** Where files are fetched from (default: VAR_STUDIO_MODEL_BASE_URL, else the catalogue's pinned URL). */
  baseUrl?: string;
  /** HTTP dispatcher (default: a proxy-aware undici agent per download). */
  dispatcher?: Dispatcher;
  /** The importer (default: importCheckpoints of src/engine/import, loaded on first use). */
  importCheckpoints?: ImportCheckpoints;
  /** Passed to every Download (retries, progress interval, a free-space probe in tests). */
  downloadOptions?: Partial<Pick<DownloadOptions, 'retries' | 'retryDelayMs' | 'progressIntervalMs' | 'maxRedirects' | 'freeBytes'>>;
  /** Keep the VAR checkpoint after a successful import (default false: the bundle holds the same weights). */
  keepCheckpoints?: boolean;
  /**
   * Reduced-precision transformer variants every import writes beside fp32 (default DEFAULT_IMPORT_VARIANTS; hosts
   * pass importVariantsFor(their provider)), so the precision select can offer them; 'auto' still runs fp32 until
   * a variant's fidelity is measured.
   */
  variants?: readonly QuantizedPrecision[];
}

type QuantizedPrecision = Exclude<Precision, 'fp32'>;

/**
 * dq8 is the fastest variant on CPU (d16: 0.22× the PyTorch reference's time against fp32's 0.43×) and passed the
 * class test on the embedded model; it adds about half the fp32 transformer's size (bench/RESULTS.md).
 */
export const DEFAULT_IMPORT_VARIANTS: readonly QuantizedPrecision[] = ['dq8'];

/**
 * Size of a variant's weights per byte of the fp32 checkpoint, rounded up from the d16 bundle (dq8 637.8 MB,
 * int8 644 MB, int4 block 32 562 MB, fp16 621 MB against 1241 MB): a checkpoint holds little beside the weights.
 */
const VARIANT_SIZE_PER_FP32_BYTE: Record<QuantizedPrecision, number> = { dq8: 0.52, int8: 0.52, int4: 0.46, fp16: 0.5 };

/**
 * The variants an import writes on this machine: the default ones where models run on the CPU, none where a GPU
 * provider runs them (dq8 is a CPU kernel: there it would only take disk space).
 */
export function importVariantsFor(requested: ProviderName | 'auto', env: ProbeEnvironment): QuantizedPrecision[] {
  return runsOnCpu(requested, env) ? [...DEFAULT_IMPORT_VARIANTS] : [];
}

/** Disk bytes the variants of a model whose VAR checkpoint is `varBytes` long will take. */
export function variantBytes(varBytes: number, variants: readonly QuantizedPrecision[]): number {
  return Math.ceil(variants.reduce((sum, p) => sum + VARIANT_SIZE_PER_FP32_BYTE[p] * varBytes, 0));
}

export class ModelManagerError extends Error {
  override readonly name = 'ModelManagerError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

interface Persisted { version: 1; models: Record<string, { state: string; code?: string; message?: string; updatedAt: string }> }

const IN_PROGRESS = new Set(['queued', 'downloading', 'verifying', 'importing']);

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/** Bytes of the files under a folder; null when there is no such folder. */
async function folderSize(dir: string): Promise<number | null> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  let total = 0;
  for (const e of entries) {
    const path = join(dir, e.name);
    total += e.isDirectory() ? ((await folderSize(path)) ?? 0) : ((await fileSize(path)) ?? 0);
  }
  return total;
}

interface Active {
  download?: Download;
  importAbort?: AbortController;
  stop?: 'pause' | 'cancel';
  promise: Promise<ModelStatus>;
}

export class ModelManager {
  readonly catalog: Catalog;
  readonly baseUrl: string;
  readonly downloadsDir: string;
  private readonly statuses = new Map<string, ModelStatus>();
  private readonly active = new Map<string, Active>();
  private readonly listeners = new Set<(e: ManagerEvent) => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private persistChain: Promise<void> = Promise.resolve();
  private persisted: Persisted = { version: 1, models: {} };
  private importer?: ImportCheckpoints;

  private constructor(private readonly o: ModelManagerOptions) {
    this.catalog = o.catalog ?? officialCatalog();
    this.baseUrl = o.baseUrl ?? baseUrlFromEnv(this.catalog);
    this.downloadsDir = join(o.modelsDir, '.downloads');
    this.importer = o.importCheckpoints;
    this.variants = o.variants ?? DEFAULT_IMPORT_VARIANTS;
  }

  private readonly variants: readonly QuantizedPrecision[];

  /** Opens the manager on a models folder; a pull that was running when the app closed shows as paused. */
  static async open(options: ModelManagerOptions): Promise<ModelManager> {
    const m = new ModelManager(options);
    await m.load();
    return m;
  }

  get modelsDir(): string {
    return this.o.modelsDir;
  }

  on(listener: (e: ManagerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every VAR model of the catalogue with its status and sizes. */
  async list(): Promise<ModelRow[]> {
    const vaeOnDisk = new Map<string, boolean>();
    for (const v of this.catalog.files) if (v.kind === 'vqvae') vaeOnDisk.set(v.file, await exists(this.checkpointPath(v)));
    return varEntries(this.catalog).map((entry) => {
      const vae = this.vqvaeOf(entry);
      const vaeNeeded = !vaeOnDisk.get(vae.file);
      const downloadBytes = sizeOf(entry) + (vaeNeeded ? sizeOf(vae) : 0);
      return {
        entry,
        status: this.status(entry.name),
        downloadBytes,
        // the checkpoints, plus a bundle of about the same size (fp32 weights either way) and its variants
        diskNeeded: downloadBytes + sizeOf(entry) + sizeOf(vae) + variantBytes(sizeOf(entry), this.variants),
        approximate: entry.bytes === undefined || vae.bytes === undefined,
      };
    });
  }

  status(name: string): ModelStatus {
    return this.statuses.get(this.entry(name).name) ?? { state: 'not-downloaded' };
  }

  /**
   * Downloads the model's checkpoint and its VQVAE (once, shared) and imports them into <modelsDir>/<name>.
   * Resumes whatever a previous pull left. Resolves with the final status (ready, paused, or not-downloaded
   * after a cancel); rejects with a DownloadError / ImportError / ModelManagerError (the status is then failed).
   */
  pull(name: string): Promise<ModelStatus> {
    const entry = this.entry(name);
    const running = this.active.get(entry.name);
    if (running) return running.promise;
    const act: Active = { promise: Promise.resolve<ModelStatus>({ state: 'queued' }) };
    act.promise = this.queue.then(() => this.runPull(entry, act)).finally(() => this.active.delete(entry.name));
    this.queue = act.promise.catch(() => undefined);
    this.active.set(entry.name, act);
    if (this.status(entry.name).state !== 'ready') this.set(entry.name, { state: 'queued' });
    return act.promise;
  }

  /** Stops a pull and keeps what was downloaded (a later pull resumes). Resolves once it has stopped. */
  async pause(name: string): Promise<ModelStatus> {
    const entry = this.entry(name);
    const act = this.active.get(entry.name);
    if (act) {
      this.stopActive(act, 'pause');
      await act.promise.catch(() => undefined);
    }
    return this.status(entry.name);
  }

  /** Stops a pull, or forgets a paused one, and deletes this model's partial files (a complete shared VQVAE stays). */
  async cancel(name: string): Promise<ModelStatus> {
    const entry = this.entry(name);
    const act = this.active.get(entry.name);
    if (act) {
      this.stopActive(act, 'cancel');
      await act.promise.catch(() => undefined);
    } else if (this.status(entry.name).state !== 'ready') {
      await this.discardDownloads(entry);
      this.set(entry.name, { state: 'not-downloaded' });
      await this.persist();
    }
    return this.status(entry.name);
  }

  /** Pauses every running or queued pull (the app is closing). */
  async pauseAll(): Promise<void> {
    await Promise.all([...this.active.keys()].map((name) => this.pause(name)));
  }

  private stopActive(act: Active, how: 'pause' | 'cancel'): void {
    act.stop = how;
    if (how === 'pause') act.download?.pause();
    else act.download?.cancel();
    act.importAbort?.abort();
  }

  /** Deletes this model's checkpoint (partial or complete) and a partial shared VQVAE no other model is waiting for. */
  private async discardDownloads(entry: VarEntry): Promise<void> {
    const ckpt = this.checkpointPath(entry);
    await rm(ckpt, { force: true });
    await discardPartial(ckpt);
    const vae = this.vqvaeOf(entry);
    const waiting = varEntries(this.catalog).some((e) => e.name !== entry.name && e.vqvae === vae.file && (this.active.has(e.name) || this.status(e.name).state === 'paused'));
    if (!waiting) await discardPartial(this.checkpointPath(vae));
  }

  /** Checkpoint files placed directly in the models folder (what browser mode offers to import). */
  async localCheckpoints(): Promise<{ file: string; bytes: number }[]> {
    let names: string[] = [];
    try {
      names = await readdir(this.modelsDir);
    } catch {
      return [];
    }
    const out: { file: string; bytes: number }[] = [];
    for (const file of names.sort()) {
      if (file.startsWith('.') || !/\.(pth|pt|bin|safetensors)$/i.test(file)) continue;
      const s = await stat(join(this.modelsDir, file)).catch(() => null);
      if (s?.isFile()) out.push({ file, bytes: s.size });
    }
    return out;
  }

  /** importFiles for two files of localCheckpoints(): names are looked up in that listing, never joined as paths. */
  async importLocal(varName: string, vaeName: string, opts: { name?: string; title?: string; signal?: AbortSignal } = {}): Promise<{ name: string; dir: string }> {
    const local = await this.localCheckpoints();
    const find = (what: string, file: string) => {
      const hit = local.find((l) => l.file === file);
      if (!hit) throw new ModelManagerError('no-such-file', `There is no checkpoint "${file}" in ${this.modelsDir}; put the ${what} file there first.`);
      return join(this.modelsDir, hit.file);
    };
    return this.importFiles(find('VAR', varName), find('VQVAE', vaeName), opts);
  }

  /**
   * What remove() deletes, with sizes (the Models page asks before deleting): the bundle, this model's
   * checkpoint and partial download, and the shared VQVAE unless another model of the catalogue still needs it.
   */
  async removalPlan(name: string, opts: { purgeShared?: boolean } = {}): Promise<RemovalPlan> {
    const entry = this.entry(name);
    const items: RemovalPlan['items'] = [];
    const add = (path: string, what: string, bytes: number | null) => {
      if (bytes !== null) items.push({ path, what, bytes });
    };
    const bundle = this.bundleDir(entry);
    add(bundle, 'model bundle', await folderSize(bundle));
    const files = async (f: CatalogEntry, what: string) => {
      const path = this.checkpointPath(f);
      add(path, what, await fileSize(path));
      add(partPath(path), `${what} (partial download)`, await fileSize(partPath(path)));
    };
    await files(entry, 'VAR checkpoint');
    const vae = this.vqvaeOf(entry);
    let keptShared: string | null = null;
    if (this.dropsShared(entry, opts)) await files(vae, 'shared VQVAE checkpoint');
    else if (await exists(this.checkpointPath(vae))) keptShared = this.checkpointPath(vae);
    return { items, bytes: items.reduce((a, i) => a + i.bytes, 0), keptShared };
  }

  /**
   * Deletes the model's bundle and checkpoints. The shared VQVAE checkpoint stays while another model of
   * the catalogue is ready or part-downloaded, unless `purgeShared`.
   */
  async remove(name: string, opts: { purgeShared?: boolean } = {}): Promise<{ removed: string[]; keptShared: string | null }> {
    const entry = this.entry(name);
    if (this.active.has(entry.name)) await this.cancel(entry.name);
    const plan = await this.removalPlan(entry.name, opts);
    const vae = this.checkpointPath(this.vqvaeOf(entry));
    for (const item of plan.items) await rm(item.path, { recursive: true, force: true });
    for (const f of [this.checkpointPath(entry), ...(this.dropsShared(entry, opts) ? [vae] : [])]) await discardPartial(f);
    this.set(entry.name, { state: 'not-downloaded' });
    await this.persist();
    return { removed: plan.items.filter((i) => !i.path.endsWith('.part')).map((i) => i.path), keptShared: plan.keptShared };
  }

  /** Whether removing this model deletes the shared VQVAE too: asked to, or no other catalogue model is ready or under way. */
  private dropsShared(entry: VarEntry, opts: { purgeShared?: boolean }): boolean {
    const vae = this.vqvaeOf(entry);
    const others = varEntries(this.catalog).filter((e) => e.name !== entry.name && e.vqvae === vae.file);
    return opts.purgeShared === true || !others.some((e) => !['not-downloaded', 'failed'].includes(this.status(e.name).state));
  }

  /** Free bytes on the models folder's disk, asked of its nearest existing folder (null when the system cannot tell). */
  async freeSpace(): Promise<number | null> {
    let dir = this.o.modelsDir;
    while (!(await exists(dir)) && dirname(dir) !== dir) dir = dirname(dir);
    return this.freeBytes(dir);
  }

  /**
   * "Import checkpoint files…": makes a bundle in <modelsDir>/<name> from checkpoint files the user has.
   * The name defaults to the VAR file's name; an existing folder is never overwritten.
   */
  async importFiles(varFile: string, vaeFile: string, opts: { name?: string; title?: string; signal?: AbortSignal } = {}): Promise<{ name: string; dir: string }> {
    for (const [flag, f] of [['VAR', varFile], ['VQVAE', vaeFile]] as const) {
      if (!(await exists(f))) throw new ModelManagerError('no-such-file', `The ${flag} checkpoint ${f} does not exist.`);
    }
    const base = (opts.name ?? basename(varFile).replace(/\.(pth|pt|bin|safetensors)$/i, '')).toLowerCase().replace(/[^a-z0-9.-]+/g, '-').slice(0, 56).replace(/^[-.]+|-+$/g, '') || 'imported-model';
    let name = base;
    for (let i = 2; await exists(join(this.modelsDir, name)); i++) name = `${base}-${i}`;
    const dir = join(this.modelsDir, name);
    await mkdir(this.modelsDir, { recursive: true });
    await this.runImport(name, { varFile, vaeFile, outDir: dir, name, title: opts.title, precisions: [...this.variants] }, opts.signal);
    return { name, dir };
  }

  /** Where the manager keeps a catalogue file. */
  checkpointPath(e: CatalogEntry): string {
    return join(this.downloadsDir, e.file);
  }

  bundleDir(e: VarEntry): string {
    return join(this.modelsDir, e.name);
  }

  // ---------- internals ----------

  private entry(name: string): VarEntry {
    const e = varEntries(this.catalog).find((v) => v.name === name || v.file === name);
    if (!e) {
      throw new ModelManagerError('unknown-model', `There is no model "${name}" in the catalogue; known: ${varEntries(this.catalog).map((v) => v.name).join(', ')}.`);
    }
    return e;
  }

  private vqvaeOf(e: VarEntry): VqvaeEntry {
    return this.catalog.files.find((v): v is VqvaeEntry => v.kind === 'vqvae' && v.file === e.vqvae)!;
  }

  private set(name: string, status: ModelStatus): void {
    this.statuses.set(name, status);
    for (const l of this.listeners) l({ type: 'status', name, status });
  }

  private async load(): Promise<void> {
    try {
      const p = JSON.parse(await readFile(join(this.downloadsDir, 'manager.json'), 'utf8')) as Persisted;
      if (p.version === 1 && p.models && typeof p.models === 'object') this.persisted = p;
    } catch {
      // no state yet (or unreadable): every status is derived from the files
    }
    for (const e of varEntries(this.catalog)) this.statuses.set(e.name, await this.statusFromDisk(e));
    // only rewrite the state when a run was cut off (listing alone never writes to the models folder)
    if (Object.values(this.persisted.models).some((m) => IN_PROGRESS.has(m.state))) await this.persist();
  }

  /** Ready if the bundle is there; else paused if anything was downloaded; else what was persisted. */
  private async statusFromDisk(e: VarEntry): Promise<ModelStatus> {
    if (await exists(join(this.bundleDir(e), 'manifest.json'))) return { state: 'ready', dir: this.bundleDir(e) };
    const saved = this.persisted.models[e.name];
    const progress = await this.onDisk(e);
    if (saved?.state === 'failed') return { state: 'failed', code: saved.code ?? 'failed', message: saved.message ?? 'The last attempt failed.' };
    const wasRunning = saved !== undefined && (IN_PROGRESS.has(saved.state) || saved.state === 'paused');
    if (progress.own > 0 || (progress.sharedPartial > 0 && wasRunning)) {
      return { state: 'paused', received: progress.received, total: progress.total, percent: percentOf(progress.received, progress.total) };
    }
    return { state: 'not-downloaded' };
  }

  /**
   * Bytes of this model's files on disk (complete or partial) of the estimated total; `own` counts its
   * VAR checkpoint alone, `sharedPartial` a partly downloaded shared VQVAE.
   */
  private async onDisk(e: VarEntry): Promise<{ received: number; total: number; own: number; sharedPartial: number }> {
    let received = 0, total = 0, own = 0, sharedPartial = 0;
    for (const f of [this.vqvaeOf(e), e] as CatalogEntry[]) {
      const path = this.checkpointPath(f);
      const complete = await fileSize(path);
      const part = complete === null ? await partialProgress(path) : null;
      const got = complete ?? part?.received ?? 0;
      received += got;
      total += complete ?? part?.total ?? sizeOf(f);
      if (f === e) own = got;
      else if (complete === null) sharedPartial = got;
    }
    return { received, total, own, sharedPartial };
  }

  private persist(): Promise<void> {
    const models: Persisted['models'] = {};
    for (const [name, s] of this.statuses) {
      if (s.state === 'ready' || s.state === 'not-downloaded') continue;
      models[name] = { state: s.state, ...(s.state === 'failed' ? { code: s.code, message: s.message } : {}), updatedAt: new Date().toISOString() };
    }
    this.persisted = { version: 1, models };
    const text = JSON.stringify(this.persisted, null, 1);
    this.persistChain = this.persistChain.then(async () => {
      await mkdir(this.downloadsDir, { recursive: true });
      await writeFileSafely(join(this.downloadsDir, 'manager.json'), text);
    }).catch(() => undefined);
    return this.persistChain;
  }

  private async freeBytes(dir: string): Promise<number | null> {
    try {
      if (this.o.downloadOptions?.freeBytes) return await this.o.downloadOptions.freeBytes(dir);
      const s = await statfs(dir);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      return null;
    }
  }

  private async runPull(entry: VarEntry, act: Active): Promise<ModelStatus> {
    const name = entry.name;
    if (act.stop) return this.afterStop(entry, act);
    if (await exists(join(this.bundleDir(entry), 'manifest.json'))) {
      this.set(name, { state: 'ready', dir: this.bundleDir(entry) });
      return this.status(name);
    }
    const vae = this.vqvaeOf(entry);
    try {
      await mkdir(this.downloadsDir, { recursive: true });
      await this.checkPullSpace(entry, vae);
      // overall progress across both files: what was on disk already plus what each transfer adds
      let doneBefore = 0;
      const totals = new Map<string, number>();
      for (const f of [vae, entry] as CatalogEntry[]) totals.set(f.file, sizeOf(f));
      const overallTotal = () => [...totals.values()].reduce((a, b) => a + b, 0);
      for (const f of [vae, entry] as CatalogEntry[]) {
        const dest = this.checkpointPath(f);
        const d = new Download({
          url: fileUrl(this.catalog, f.file, this.baseUrl), dest, sha256: f.sha256, bytes: f.bytes, sizeHint: f.bytesApprox,
          dispatcher: this.o.dispatcher, ...this.o.downloadOptions,
          onEvent: (e) => {
            if (e.type === 'connected' && e.total !== null) totals.set(f.file, e.total);
            if (e.type === 'checking') this.set(name, { state: 'verifying', file: f.file, checked: e.checked, total: e.total });
            if (e.type === 'progress') {
              const received = doneBefore + e.received, total = overallTotal();
              this.set(name, { state: 'downloading', file: f.file, received, total, percent: percentOf(received, total), rate: e.rate, eta: e.eta });
            }
            if (e.type === 'verifying') this.set(name, { state: 'verifying', file: f.file, checked: totals.get(f.file)!, total: totals.get(f.file)! });
          },
        });
        act.download = d;
        if (this.status(name).state === 'queued') {
          const s = await this.onDisk(entry);
          this.set(name, { state: 'downloading', file: f.file, received: s.received, total: s.total, percent: percentOf(s.received, s.total), rate: 0, eta: null });
          await this.persist();
        }
        if (act.stop) return this.afterStop(entry, act);
        const r = await d.start();
        act.download = undefined;
        if (r.status !== 'complete') return this.afterStop(entry, act);
        totals.set(f.file, r.bytes);
        doneBefore += r.bytes;
      }
      if (act.stop) return this.afterStop(entry, act);
      act.importAbort = new AbortController();
      await this.runImport(name, {
        varFile: this.checkpointPath(entry), vaeFile: this.checkpointPath(vae), outDir: this.bundleDir(entry), name, title: entry.title,
        expectedSha256: { var: entry.sha256, vae: vae.sha256 }, sampling: entry.sampling,
        license: `${entry.licence} (${this.catalog.repo} weights, ${this.catalog.licenceUrl})`, precisions: [...this.variants],
      }, act.importAbort.signal);
      if (!this.o.keepCheckpoints) await rm(this.checkpointPath(entry), { force: true });
      this.set(name, { state: 'ready', dir: this.bundleDir(entry) });
      await this.persist();
      return this.status(name);
    } catch (e) {
      if (act.stop) return this.afterStop(entry, act);
      const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'failed';
      this.set(name, { state: 'failed', code: code.slice(0, 64), message: (e as Error).message.split('\n')[0].slice(0, 4000) });
      await this.persist();
      throw e;
    }
  }

  /** Status after a pause or cancel; a cancel also deletes this model's partial and unimported files. */
  private async afterStop(entry: VarEntry, act: Active): Promise<ModelStatus> {
    if (act.stop === 'cancel') {
      await this.discardDownloads(entry);
      this.set(entry.name, { state: 'not-downloaded' });
    } else {
      const p = await this.onDisk(entry);
      const started = p.own > 0 || p.sharedPartial > 0;
      this.set(entry.name, started ? { state: 'paused', received: p.received, total: p.total, percent: percentOf(p.received, p.total) } : { state: 'not-downloaded' });
    }
    await this.persist();
    return this.status(entry.name);
  }

  /** Refuses up front when the whole pull (checkpoints + bundle) cannot fit. */
  private async checkPullSpace(entry: VarEntry, vae: VqvaeEntry): Promise<void> {
    const p = await this.onDisk(entry);
    const needed = p.total - p.received + sizeOf(entry) + sizeOf(vae) + variantBytes(sizeOf(entry), this.variants);
    const free = await this.freeBytes(this.o.modelsDir);
    if (free !== null && free < needed) {
      throw new DownloadError('disk-full', `Not enough disk space for ${entry.name}: downloading and importing it needs about ${formatBytes(needed)} in ${this.o.modelsDir}, only ${formatBytes(free)} are free. Free some space or move the models folder.`);
    }
  }

  private async runImport(name: string, args: Parameters<ImportCheckpoints>[0], signal?: AbortSignal): Promise<void> {
    if (await exists(args.outDir)) {
      throw new ModelManagerError('exists', `${args.outDir} already exists; remove that model first.`);
    }
    const isCatalogue = this.statuses.has(name);
    const emitImport = (phase: string | null, fraction: number | null) => {
      if (isCatalogue) this.set(name, { state: 'importing', phase, fraction });
      for (const l of this.listeners) l({ type: 'import-progress', name, phase, fraction });
    };
    emitImport(null, null);
    if (isCatalogue) await this.persist();
    this.importer ??= await loadImporter();
    let last = 0;
    await this.importer({
      ...args,
      signal,
      onProgress: (p) => {
        const now = Date.now();
        const fraction = importFraction(p);
        if (now - last >= 200 || fraction === 1) { last = now; emitImport(p.phase, fraction); }
      },
    });
  }
}

function percentOf(received: number, total: number): number {
  return total > 0 ? Math.min(100, (100 * received) / total) : 0;
}

/** How far the current import phase is (bytes hashed or written, tensors, preview decodes), 0..1. */
export function importFraction(p: ImportProgress): number | null {
  if (p.bytesTotal) return (p.bytesDone ?? 0) / p.bytesTotal;
  if (p.tensorsTotal) return (p.tensorsDone ?? 0) / p.tensorsTotal;
  if (p.decodesTotal) return (p.decodesDone ?? 0) / p.decodesTotal;
  if (p.variantsTotal) return (p.variantsDone ?? 0) / p.variantsTotal;
  return null;
}
