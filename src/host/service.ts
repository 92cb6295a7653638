// StudioHost: the contract implemented on top of the engine. One instance per process (Electron main,
// or the browser-mode server), shared by every connected window; events of a job go to the session
// that started it. Electron-free and DOM-free, so both hosts use exactly this code.
import { VarEngine, type ProviderName } from '../engine/index';
import {
  parseParams, type ExportResult, type GenerateSettings, type LoadedModel, type ParamsOf, type RequestKind,
  type ResultOf, type StudioEvent,
} from '../shared/contract';
import { StudioError, toErrorInfo } from '../shared/errors';
import { ModelCatalog } from './models';
import { encodeDocumentExport, encodeExport, inspectImage, openCanvasImage } from './image-io';
import { checkEditParams, runEditJob } from './edit';
import { checkGenerateSettings, runGenerateJob } from './generate';
import { DocumentStore, defaultDataDir } from './documents';

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
  /**
   * Where exported bytes go: Electron shows a save dialog and writes only there; the server hands the
   * bytes back for the browser to download. The host itself never writes files.
   */
  deliverExport(file: { bytes: Uint8Array; mime: string; fileName: string }, session: StudioSession): Promise<ExportResult>;
  /** The app's data folder (the canvas autosave lives in <dataDir>/canvas); default ~/.var-studio or $VAR_STUDIO_DATA_DIR. */
  dataDir?: string;
}

interface RunningJob {
  jobId: string;
  session: StudioSession;
  controller: AbortController;
  done: Promise<void>;
}

export class StudioHost {
  private engine: { id: string; engine: VarEngine; info: LoadedModel } | null = null;
  private loading: Promise<LoadedModel> | null = null;
  private job: RunningJob | null = null;
  private documents: DocumentStore | null = null;

  constructor(private readonly opts: StudioHostOptions) {}

  /** Validates params against the contract, then runs the request. Throws StudioError / ContractError. */
  async handle<K extends RequestKind>(kind: K, rawParams: unknown, session: StudioSession): Promise<ResultOf<K>> {
    const params = parseParams(kind, rawParams);
    return (await this.dispatch(kind, params, session)) as ResultOf<K>;
  }

  private async dispatch<K extends RequestKind>(kind: K, params: ParamsOf<K>, session: StudioSession): Promise<unknown> {
    switch (kind) {
      case 'app.info':
        return { version: this.opts.version, host: this.opts.host, modelsDir: this.opts.catalog.userModelsDir };
      case 'models.list':
        return { models: await this.opts.catalog.list() };
      case 'models.load':
        return this.load((params as ParamsOf<'models.load'>).modelId);
      case 'generate.start': {
        const p = params as ParamsOf<'generate.start'>;
        return this.start(p.jobId, p.settings, session);
      }
      case 'generate.cancel':
        return { cancelled: this.cancel((params as ParamsOf<'generate.cancel'>).jobId, session) };
      case 'image.export': {
        const file = await encodeExport(params as ParamsOf<'image.export'>);
        return this.opts.deliverExport(file, session);
      }
      case 'image.inspect':
        return inspectImage((params as ParamsOf<'image.inspect'>).bytes);
      // ---- the canvas editor (handlers in ./edit.ts, ./documents.ts and ./image-io.ts) ----
      case 'edit.start':
        return this.startEdit(params as ParamsOf<'edit.start'>, session);
      case 'edit.cancel':
        return { cancelled: this.cancel((params as ParamsOf<'edit.cancel'>).jobId, session) };
      case 'canvas.open': {
        const p = params as ParamsOf<'canvas.open'>;
        return openCanvasImage(p.bytes, p.fileName);
      }
      case 'document.save':
        return this.documentStore().save(params as ParamsOf<'document.save'>);
      case 'document.restore':
        return this.documentStore().restore((params as ParamsOf<'document.restore'>).docId);
      case 'document.list':
        return { documents: await this.documentStore().list() };
      case 'document.discard':
        return { discarded: await this.documentStore().discard((params as ParamsOf<'document.discard'>).docId) };
      case 'document.export':
        return this.opts.deliverExport(await encodeDocumentExport(params as ParamsOf<'document.export'>), session);
      default:
        throw new StudioError('bad-message', `Unknown request ${String(kind)}.`, 'Reload the app.');
    }
  }

  private async load(modelId: string): Promise<LoadedModel> {
    if (this.engine?.id === modelId) return this.engine.info;
    if (this.job) throw new StudioError('busy', 'A generation is running; the model cannot change now.', 'Wait for it to finish or press Cancel (Esc), then pick the model again.');
    if (this.loading) await this.loading.catch(() => undefined);
    if (this.engine?.id === modelId) return this.engine.info;
    const task = this.loadFresh(modelId);
    this.loading = task;
    try {
      return await task;
    } finally {
      if (this.loading === task) this.loading = null;
    }
  }

  private async loadFresh(modelId: string): Promise<LoadedModel> {
    const summary = await this.opts.catalog.resolve(modelId);
    let engine: VarEngine;
    try {
      engine = await VarEngine.create(summary.dir, { provider: this.opts.provider ?? 'auto', threads: this.opts.threads });
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
      provider: { inUse: engine.provider.inUse, requested: engine.provider.requested, skipped: engine.provider.skipped.map((s) => ({ provider: s.provider, reason: s.reason.slice(0, 2000) })) },
    };
    this.engine = { id: modelId, engine, info };
    if (old) await old.engine.dispose();
    return info;
  }

  private start(jobId: string, settings: GenerateSettings, session: StudioSession): { jobId: string } {
    const loaded = this.claimable(settings.modelId);
    checkGenerateSettings(settings, loaded.info);
    this.claimSlot(jobId, session, (job, emit) => runGenerateJob(loaded.engine, jobId, settings, job.controller.signal, emit));
    return { jobId };
  }

  /** The loaded engine, when the job slot is free and it holds the model the request names. */
  private claimable(modelId: string): { engine: VarEngine; info: LoadedModel } {
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
      .finally(() => {
        if (this.job === job) this.job = null;
        for (const e of final) session.emit(e);
      })
      .then(() => undefined);
    this.job = job;
  }

  private documentStore(): DocumentStore {
    this.documents ??= new DocumentStore(this.opts.dataDir ?? defaultDataDir());
    return this.documents;
  }

  /** A canvas edit takes the same single job slot as a generation (one engine run at a time). */
  private startEdit(p: ParamsOf<'edit.start'>, session: StudioSession): { jobId: string } {
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
    if (this.job?.session.id === session.id) this.job.controller.abort();
  }

  /** Waits for the current job (tests, shutdown). */
  async idle(): Promise<void> {
    await this.job?.done;
  }

  async dispose(): Promise<void> {
    this.job?.controller.abort();
    await this.idle();
    await this.engine?.engine.dispose();
    this.engine = null;
  }
}
