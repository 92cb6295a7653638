// StudioHost: the contract implemented on top of the engine. One instance per process (Electron main,
// or the browser-mode server), shared by every connected window; events of a job go to the session
// that started it. Electron-free and DOM-free, so both hosts use exactly this code.
import { type ProviderName, type ProviderReport, availablePrecisions } from '../engine/api';
import {
  parseParams, type ExportResult, type GenerateSettings, type LoadedModel, type ParamsOf, type PrecisionName, type RequestKind,
  type ResultOf, type StudioEvent,
} from '../shared/contract';
import { StudioError, toErrorInfo } from '../shared/errors';
import { ModelCatalog } from './models';
import { EngineWorker, WorkerEngine, type HostEngine, type ImageIo } from './engine-worker/worker-engine';
import type { OpenChannel } from './engine-worker/channel';
import { checkEditParams, runEditJob } from './edit';
import { checkGenerateSettings, runGenerateJob } from './generate';
import { DocumentStore, defaultDataDir } from './documents';
import { handleModelRequest, isModelRequestKind, modelEvent } from './catalog/contract';
import { ModelManager, type ModelManagerOptions, importVariantsFor } from './catalog/manager';
import { catalogFromEnv } from './catalog/catalog';
import { GalleryStore } from './gallery';
import { adviceFor, currentEnvironment } from './gpu-doctor';

/** One connected window / browser tab. */
export interface StudioSession {
  readonly id: string;
  emit(event: StudioEvent): void;
}

export interface StudioHostOptions {
  version: string;
  host: 'electron' | 'browser';
  catalog: ModelCatalog;
  provider?: ProviderName | 'auto';
  threads?: number;
  /** The GPU CUDA or DirectML uses (device id, default 0). */
  deviceId?: number;
  /**
   * Where exported bytes go: Electron shows a save dialog and writes only there; the server hands the
   * bytes back for the browser to download. The host itself never writes files.
   */
  deliverExport(file: { bytes: Uint8Array; mime: string; fileName: string }, session: StudioSession): Promise<ExportResult>;
  /** The app's data folder (the canvas autosave lives in <dataDir>/canvas); default ~/.var-studio or $VAR_STUDIO_DATA_DIR. */
  dataDir?: string;
  /** The model manager's options (catalogue, download source, importer); it works in catalog.userModelsDir. */
  modelManager?: Omit<ModelManagerOptions, 'modelsDir'>;
  /**
   * "Import checkpoint files…" where the host can ask the user for files (Electron's open dialog in main):
   * the chosen VAR and VQVAE checkpoints, or null when the user cancelled. Absent in browser mode, where the
   * page picks files placed in the models folder by name instead.
   */
  pickCheckpointFiles?(session: StudioSession): Promise<{ varFile: string; vaeFile: string } | null>;
  /** Told when a job failed on a GPU provider and the model was reloaded on the CPU (Electron logs it and tells the user). */
  onProviderFallback?(failed: ProviderName, error: string): void;
  /** Run the engine, the image decoders/encoders and checkpoint import in workers, so the main thread never stalls (default off). */
  engineInWorker?: boolean;
  /**
   * How a worker is started (default: a worker thread). Electron's main passes utility processes, so
   * untrusted images, bundles and checkpoints are never parsed in its own unsandboxed process.
   */
  openWorker?: OpenChannel;
}

interface RunningJob {
  jobId: string;
  session: StudioSession;
  controller: AbortController;
  done: Promise<void>;
}

export class StudioHost {
  private engine: { id: string; engine: HostEngine; info: LoadedModel; precisionAsked: PrecisionName | 'auto' } | null = null;
  /**
   * The engine's worker, one for image decode/encode (a decode never waits behind a job) and one for checkpoint
   * import (minutes of parsing and quantizing must hold up neither), each started on first use.
   */
  private readonly workers: { engine: EngineWorker; io: EngineWorker; importer: EngineWorker } | null;
  private readonly io: ImageIo;
  private loading: Promise<LoadedModel> | null = null;
  private job: RunningJob | null = null;
  private documents: DocumentStore | null = null;
  private manager: Promise<ModelManager> | null = null;
  /** Every session that sent a request: download progress goes to all windows, not only the one that asked. */
  private readonly sessions = new Map<string, StudioSession>();
  private galleryStore: GalleryStore | null = null;
  /** Set after a GPU provider failed during a run: the rest of this session runs on the CPU. */
  private cpuFallback = false;
  /** The reload after the engine's worker died: true once the model is back. */
  private reloaded: Promise<boolean> | null = null;
  private disposed = false;

  constructor(private readonly opts: StudioHostOptions) {
    this.workers = opts.engineInWorker
      ? { engine: new EngineWorker('engine', opts.openWorker), io: new EngineWorker('image-codecs', opts.openWorker), importer: new EngineWorker('importer', opts.openWorker) }
      : null;
    // in process, the codecs (sharp) load on first use, so a host whose codecs run in a worker never loads them
    this.io = this.workers ? this.workers.io.imageIo() : lazyImageIo();
    this.workers?.engine.onExit(() => this.engineLost());
  }

  /**
   * The engine's worker died (crash, out of memory, killed) and took the model with it: load it again in a
   * fresh worker at once, so the next request finds it; a model that was on a GPU comes back on the CPU.
   */
  private engineLost(): void {
    const lost = this.engine;
    this.engine = null;
    if (!lost || this.disposed) return;
    const gpu = lost.info.provider.inUse;
    if (gpu !== 'cpu') {
      this.cpuFallback = true;
      this.opts.onProviderFallback?.(gpu, 'the engine process stopped while using this provider');
    }
    const task = this.loadFresh(lost.id, lost.precisionAsked);
    this.loading = task;
    this.reloaded = task.then(() => true, () => false).finally(() => { if (this.loading === task) this.loading = null; });
  }

  /** Validates params against the contract, then runs the request. Throws StudioError / ContractError. */
  async handle<K extends RequestKind>(kind: K, rawParams: unknown, session: StudioSession): Promise<ResultOf<K>> {
    const params = parseParams(kind, rawParams);
    this.sessions.set(session.id, session);
    if (isModelRequestKind(kind)) return (await handleModelRequest(await this.models(), kind, params as never)) as ResultOf<K>;
    return (await this.dispatch(kind, params, session)) as ResultOf<K>;
  }

  private async dispatch<K extends RequestKind>(kind: K, params: ParamsOf<K>, session: StudioSession): Promise<unknown> {
    switch (kind) {
      case 'app.info':
        return { version: this.opts.version, host: this.opts.host, modelsDir: this.opts.catalog.userModelsDir };
      case 'models.list':
        return { models: await this.opts.catalog.list() };
      case 'models.load':
        return this.load((params as ParamsOf<'models.load'>).modelId, (params as ParamsOf<'models.load'>).precision ?? 'auto');
      case 'generate.start': {
        const p = params as ParamsOf<'generate.start'>;
        return this.start(p.jobId, p.settings, session);
      }
      case 'generate.cancel':
        return { cancelled: this.cancel((params as ParamsOf<'generate.cancel'>).jobId, session) };
      case 'image.export': {
        const file = await this.io.encodeExport(params as ParamsOf<'image.export'>);
        return this.opts.deliverExport(file, session);
      }
      case 'image.inspect':
        return this.io.inspectImage((params as ParamsOf<'image.inspect'>).bytes);
      // ---- the canvas editor (handlers in ./edit.ts, ./documents.ts and ./image-io.ts) ----
      case 'edit.start':
        return this.startEdit(params as ParamsOf<'edit.start'>, session);
      case 'edit.cancel':
        return { cancelled: this.cancel((params as ParamsOf<'edit.cancel'>).jobId, session) };
      case 'canvas.open': {
        const p = params as ParamsOf<'canvas.open'>;
        return this.io.openCanvasImage(p.bytes, p.fileName);
      }
      case 'document.save':
        return this.documentStore().save(params as ParamsOf<'document.save'>);
      case 'document.restore':
        return this.documentStore().restore((params as ParamsOf<'document.restore'>).docId);
      case 'document.list':
        return { documents: await this.documentStore().list() };
      case 'document.tabs':
        return this.documentStore().tabs();
      case 'document.setTabs':
        return { saved: await this.documentStore().setTabs(params as ParamsOf<'document.setTabs'>) };
      case 'document.discard':
        return { discarded: await this.documentStore().discard((params as ParamsOf<'document.discard'>).docId) };
      case 'models.importDialog':
        return { imported: await this.importPicked(session) };
      case 'document.export':
        return this.opts.deliverExport(await this.io.encodeDocumentExport(params as ParamsOf<'document.export'>), session);
      // ---- the gallery (./gallery.ts) ----
      case 'gallery.list': {
        const p = params as ParamsOf<'gallery.list'>;
        return this.gallery().list(p.offset, p.limit);
      }
      case 'gallery.add':
        return this.gallery().add((params as ParamsOf<'gallery.add'>).entries);
      case 'gallery.delete':
        return this.gallery().delete((params as ParamsOf<'gallery.delete'>).ids);
      case 'gallery.clear':
        return this.gallery().clear();
      case 'image.encode':
        return this.encode(params as ParamsOf<'image.encode'>);
      default:
        throw new StudioError('bad-message', `Unknown request ${String(kind)}.`, 'Reload the app.');
    }
  }

  private async load(modelId: string, precision: PrecisionName | 'auto' = 'auto'): Promise<LoadedModel> {
    const same = () => this.engine?.id === modelId && this.engine.precisionAsked === precision;
    if (same()) return this.engine!.info;
    if (this.job) throw new StudioError('busy', 'A generation is running; the model cannot change now.', 'Wait for it to finish or press Cancel (Esc), then pick the model again.');
    if (this.loading) await this.loading.catch(() => undefined);
    if (same()) return this.engine!.info;
    const task = this.loadFresh(modelId, precision);
    this.loading = task;
    try {
      return await task;
    } finally {
      if (this.loading === task) this.loading = null;
    }
  }

  private async loadFresh(modelId: string, precision: PrecisionName | 'auto'): Promise<LoadedModel> {
    const summary = await this.opts.catalog.resolve(modelId);
    let engine: HostEngine;
    try {
      const options = { provider: this.cpuFallback ? 'cpu' : (this.opts.provider ?? 'auto'), precision, threads: this.opts.threads, deviceId: this.opts.deviceId } as const;
      engine = this.workers ? await WorkerEngine.create(this.workers.engine, summary.dir, options) : await (await import('../engine/index')).VarEngine.create(summary.dir, options);
    } catch (e) {
      const info = toErrorInfo(e);
      throw new StudioError(info.code === 'internal' ? 'bad-bundle' : info.code, `The model in ${summary.dir} could not be loaded: ${info.message}`,
        'Check that the bundle folder is complete (re-copy or re-export it), or pick another model.');
    }
    const old = this.engine;
    const m = engine.manifest;
    const info: LoadedModel = {
      id: modelId,
      name: m.name,
      title: m.title,
      description: m.description,
      license: m.license,
      resolution: m.resolution,
      patchNums: [...m.patchNums],
      vocabSize: m.vocabSize,
      classes: [...m.classes],
      sampling: { ...m.sampling },
      previewMethod: `${m.preview.method}: ${m.preview.description ?? ''}`.slice(0, 1000),
      precision: engine.precision.transformer,
      precisions: availablePrecisions(m),
      graphPrecisions: { ...engine.precision },
      provider: { inUse: engine.provider.inUse, requested: engine.provider.requested, skipped: engine.provider.skipped.map((s) => ({ provider: s.provider, reason: adviceFor(s.provider, s.reason, currentEnvironment()).slice(0, 2000) })) },
    };
    this.engine = { id: modelId, engine, info, precisionAsked: precision };
    if (old) await old.engine.dispose();
    return info;
  }

  // The slot is claimed synchronously unless a reload is awaited, so a cancel sent right after the start finds its job.
  // A model being loaded again after its worker died is waited for, not reported missing.
  private async start(jobId: string, settings: GenerateSettings, session: StudioSession): Promise<{ jobId: string }> {
    if (!this.engine && this.reloaded) await this.reloaded;
    const loaded = this.claimable(settings.modelId);
    checkGenerateSettings(settings, loaded.info);
    this.claimSlot(jobId, session, (job, emit) => runGenerateJob(loaded.engine, jobId, settings, job.controller.signal, emit));
    return { jobId };
  }

  /** The loaded engine, when the job slot is free and it holds the model the request names. */
  private claimable(modelId: string): { engine: HostEngine; info: LoadedModel } {
    if (this.job) throw new StudioError('busy', 'A generation or edit is already running.', 'Wait for it to finish or press Cancel (Esc).');
    const loaded = this.engine;
    if (!loaded || loaded.id !== modelId)
      throw new StudioError('model-not-loaded', `The model "${modelId}" is not loaded.`, 'Pick the model in the model picker first; it loads in a few seconds.');
    return loaded;
  }

  /**
   * Runs one engine job in the single job slot. A job's last event (done / cancelled / error) is held back
   * until the slot is free again, so a client that starts the next run on that event is never told "busy".
   */
  private claimSlot(jobId: string, session: StudioSession, runner: (job: RunningJob, emit: (e: StudioEvent) => void) => Promise<void>): void {
    const controller = new AbortController();
    const job: RunningJob = { jobId, session, controller, done: Promise.resolve() };
    const final: StudioEvent[] = [];
    const emit = (e: StudioEvent) => {
      if (e.type === 'job.done' || e.type === 'edit.done' || e.type === 'job.cancelled' || e.type === 'job.error') final.push(e);
      else session.emit(e);
    };
    job.done = runner(job, emit)
      .catch((e: unknown) => final.push({ type: 'job.error', jobId, error: toErrorInfo(e) }))
      .then(() => this.fallBackIfGpuFailed(final))
      .finally(() => {
        if (this.job === job) this.job = null;
        for (const e of final) session.emit(e);
      })
      .then(() => undefined);
    this.job = job;
  }

  private async importPicked(session: StudioSession): Promise<{ name: string; dir: string } | null> {
    if (!this.opts.pickCheckpointFiles)
      throw new StudioError('not-available', 'This host has no file dialog for checkpoints.', `Put the .pth or .safetensors files into ${this.opts.catalog.userModelsDir}, press Refresh and pick them on the Models page.`);
    const picked = await this.opts.pickCheckpointFiles(session);
    return picked ? (await this.models()).importFiles(picked.varFile, picked.vaeFile) : null;
  }

  /** The model manager, opened on first use; its status events go to every session. */
  private models(): Promise<ModelManager> {
    // VAR_STUDIO_MODEL_CATALOG replaces the official catalogue (mirrors, tests), as in the CLI
    this.manager ??= catalogFromEnv().then((catalog) => ModelManager.open({
      catalog, variants: importVariantsFor(this.opts.provider ?? 'auto', currentEnvironment()), ...this.opts.modelManager, modelsDir: this.opts.catalog.userModelsDir,
      importCheckpoints: this.opts.modelManager?.importCheckpoints ?? this.workers?.importer.importer(),
    })).then((m) => {
      m.on((e) => {
        const event = modelEvent(e);
        for (const s of this.sessions.values()) s.emit(event);
      });
      return m;
    });
    this.manager.catch(() => { this.manager = null; });
    return this.manager;
  }

  private gallery(): GalleryStore {
    this.galleryStore ??= new GalleryStore(this.opts.dataDir ?? defaultDataDir());
    return this.galleryStore;
  }

  /** The loaded model's encoder on any image (onnxruntime sessions may run beside a job). */
  private async encode(p: ParamsOf<'image.encode'>): Promise<ResultOf<'image.encode'>> {
    if (!this.engine && this.reloaded) await this.reloaded;
    const loaded = this.engine;
    if (!loaded || loaded.id !== p.modelId)
      throw new StudioError('model-not-loaded', `The model "${p.modelId}" is not loaded.`, 'Pick the model in the model picker first; it loads in a few seconds.');
    const tokens = await loaded.engine.encode(p.image);
    return { tokens, patchNums: [...loaded.info.patchNums] };
  }

  /**
   * A run that fails on a GPU provider (driver reset, out of GPU memory, a provider bug) reloads the model on
   * the CPU while the job slot is still held, and the error tells the user to press Generate again.
   */
  private async fallBackIfGpuFailed(final: StudioEvent[]): Promise<void> {
    const failed = final.find((e): e is Extract<StudioEvent, { type: 'job.error' }> => e.type === 'job.error');
    if (failed?.error.code === 'worker-exited') return this.explainWorkerLoss(failed);
    const loaded = this.engine;
    if (!failed || !loaded || loaded.info.provider.inUse === 'cpu') return;
    const gpu = loaded.info.provider.inUse;
    this.cpuFallback = true;
    try {
      await this.loadFresh(loaded.id, loaded.precisionAsked);
      failed.error = {
        ...failed.error,
        message: `${failed.error.message} (on the ${gpu} provider)`.slice(0, 4000),
        hint: `The ${gpu} provider failed, so VAR Studio reloaded the model on the CPU for this session; press Generate again. To use the GPU again, fix its driver and restart the app.`,
      };
    } catch (e) {
      failed.error = { ...failed.error, hint: `The ${gpu} provider failed and the CPU could not load the model either (${toErrorInfo(e).message}). Restart the app.`.slice(0, 1000) };
    }
    this.opts.onProviderFallback?.(gpu, failed.error.message);
  }

  /** A job whose engine worker died: once the reload is done, the error says what happened and what to press. */
  private async explainWorkerLoss(failed: Extract<StudioEvent, { type: 'job.error' }>): Promise<void> {
    const back = (await this.reloaded) ?? false;
    failed.error = {
      ...failed.error,
      hint: back
        ? `It may have run out of memory or been stopped. VAR Studio started it again and reloaded the model${this.cpuFallback ? ' on the CPU' : ''}; press Generate again.`
        : 'VAR Studio could not load the model again; pick the model in the model picker, or restart the app.',
    };
  }

  /**
   * New provider / thread settings. The loaded engine is dropped (when no job runs) so the next models.load
   * creates it with them; a choice made by the user also clears a CPU fallback.
   */
  async configure(settings: { provider: ProviderName | 'auto'; threads: number | null; gpu?: number }): Promise<void> {
    if (this.job) throw new StudioError('busy', 'A generation or edit is running; the provider cannot change now.', 'Wait for it to finish or press Cancel (Esc).');
    this.opts.provider = settings.provider;
    this.opts.threads = settings.threads ?? undefined;
    if (settings.gpu !== undefined) this.opts.deviceId = settings.gpu;
    this.cpuFallback = false;
    const old = this.engine;
    this.engine = null;
    await old?.engine.dispose();
  }

  /** The engine's own provider report of the loaded model (null when none is loaded). */
  loadedProvider(): ProviderReport | null {
    return this.engine?.engine.provider ?? null;
  }

  private documentStore(): DocumentStore {
    this.documents ??= new DocumentStore(this.opts.dataDir ?? defaultDataDir());
    return this.documents;
  }

  /** A canvas edit takes the same single job slot as a generation (one engine run at a time). */
  private async startEdit(p: ParamsOf<'edit.start'>, session: StudioSession): Promise<{ jobId: string }> {
    if (!this.engine && this.reloaded) await this.reloaded;
    const loaded = this.claimable(p.modelId);
    checkEditParams(p, loaded.info);
    this.claimSlot(p.jobId, session, (job, emit) => runEditJob(loaded.engine, p, job.controller.signal, emit));
    return { jobId: p.jobId };
  }

  /** Aborts the job; the engine stops before the next scale. Only the session that started it may cancel it. */
  cancel(jobId: string, session: StudioSession): boolean {
    const job = this.job;
    if (!job || job.jobId !== jobId || job.session.id !== session.id) return false;
    job.controller.abort();
    return true;
  }

  /** A window closed: stop its job so the engine is free for others. */
  sessionClosed(session: StudioSession): void {
    this.sessions.delete(session.id);
    if (this.job?.session.id === session.id) this.job.controller.abort();
  }

  /** Waits for the current job (tests, shutdown). */
  async idle(): Promise<void> {
    await this.job?.done;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.job?.controller.abort();
    // running downloads stop with their bytes on disk; the next start shows them paused
    await (await this.manager?.catch(() => null))?.pauseAll();
    await this.idle();
    await this.engine?.engine.dispose();
    this.engine = null;
    await Promise.all([this.workers?.engine.terminate(), this.workers?.io.terminate(), this.workers?.importer.terminate()]);
  }
}

/** image-io loaded on first call (sharp and libvips stay unloaded in a host whose codecs run in a worker). */
function lazyImageIo(): ImageIo {
  const load = () => import('./image-io');
  return {
    encodeExport: async (...a) => (await load()).encodeExport(...a),
    encodeDocumentExport: async (...a) => (await load()).encodeDocumentExport(...a),
    inspectImage: async (...a) => (await load()).inspectImage(...a),
    openCanvasImage: async (...a) => (await load()).openCanvasImage(...a),
  };
}
