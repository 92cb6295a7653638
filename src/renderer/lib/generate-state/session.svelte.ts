// The Generate workspace's state and actions: the run in flight (through the shared job runner), the
// gallery of results, what the main view shows, export and opening image files.
import type { EventOf, ExportFormat, GenerateSettings, ImageSettings, PrecisionName, StudioEvent } from '../../../shared/contract';
import { GALLERY_LIMITS, LIMITS, sameSampling } from '../../../shared/contract';
import { describeSettings, precisionMismatchNote } from '../../../shared/settings';
import type { StudioApp } from '../state/app.svelte';
import { downloadBytes, randomSeed, sameImage } from '../image';
import { Gallery, PAGE_LIMIT, type GalleryEntry } from './gallery.svelte';
import { RunTimings } from './timings';
import { Run } from './run.svelte';
import type { Job } from '../studio/jobs';

/** What the main view shows: the run in flight, one gallery entry, or two entries side by side. */
export type Shown = { kind: 'run' } | { kind: 'entry'; id: string } | { kind: 'compare' };

/** A run waiting for its turn (FIFO); its seed was drawn when it was queued, so it runs as it was asked. */
export interface QueueItem { id: string; settings: GenerateSettings; variedFrom: Run['variedFrom']; label: string }

export interface ExportChoice { format: ExportFormat; upscale: 1 | 2 | 4 | 8; kernel: 'nearest' | 'lanczos3'; quality: number }

let openedCounter = 0;

function sameSettings(a: ImageSettings, b: ImageSettings): boolean {
  const tokensEqual = (x?: { fromScale: number; tokens: Int32Array[] }, y?: { fromScale: number; tokens: Int32Array[] }) =>
    (!x && !y) || (!!x && !!y && x.fromScale === y.fromScale && x.tokens.every((t, i) => t.length === y.tokens[i]?.length && t.every((v, j) => v === y.tokens[i][j])));
  return a.model.id === b.model.id && a.classIndex === b.classIndex && a.seed === b.seed && sameSampling(a.sampling, b.sampling) &&
    tokensEqual(a.prefix, b.prefix);
}

export class GenerateSession {
  readonly run = new Run();
  readonly gallery = new Gallery();
  shown = $state.raw<Shown>({ kind: 'run' });
  /** Which image of the running batch the main view follows. */
  runImageIndex = $state(0);
  /** With "vary from a scale": use the class picked on the left instead of the image's own class. */
  varyWithPickedClass = $state(false);
  exportChoice = $state<ExportChoice>({ format: 'png', upscale: 1, kernel: 'nearest', quality: 92 });
  /** The last opened file that carried settings: a re-generation is compared against it. */
  opened: { entryId: string; settings: ImageSettings; exact: boolean } | null = null;
  /** The main view's zoom: 'fit' fills it; a number is screen pixels per image pixel (1 = 1:1). */
  zoom = $state<'fit' | number>('fit');
  /** What 'fit' is in screen pixels per image pixel (the main view keeps it current). */
  fitZoom = 1;
  /** Runs waiting behind the one in flight, first to run first. */
  queue = $state.raw<QueueItem[]>([]);
  /** The gallery could not be loaded from or saved to the host (shown in the gallery panel). */
  galleryProblem = $state<string | null>(null);
  /** Measured per-scale times per model (ETA). */
  readonly timings = new RunTimings();
  private job: Job | null = null;
  private queueCounter = 0;

  constructor(readonly app: StudioApp) {
    // Back from a reconnect: re-read the gallery, then carry on with the queue (kept while the host was away).
    app.onReconnected(() => void this.loadGallery().then(() => this.startNext()));
    void this.loadGallery();
  }

  /** One zoom step in (+1) or out (-1) from the current zoom. */
  zoomStep(dir: 1 | -1): void {
    const steps = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32];
    const current = this.zoom === 'fit' ? this.fitZoom : this.zoom;
    this.zoom = (dir > 0 ? steps.find((z) => z > current) : [...steps].reverse().find((z) => z < current)) ?? current;
  }

  /** Ticks an image for comparison; says so when two are ticked already rather than replacing one. */
  toggleCompare(id: string): void {
    if (!this.gallery.toggleCompare(id))
      this.app.toasts.info('Two images are ticked', 'Untick one of them first, or press Compare.', 3000);
  }

  // ---------- the gallery on the host ----------

  /** Loads the newest entries the host keeps (after start, and again after a reconnect). */
  async loadGallery(): Promise<void> {
    try {
      const loaded: GalleryEntry[] = [];
      for (let offset = 0; offset < PAGE_LIMIT; ) {
        const page = await this.app.studio.call('gallery.list', { offset, limit: Math.min(GALLERY_LIMITS.pageSize, PAGE_LIMIT - offset) });
        loaded.push(...page.entries);
        offset += GALLERY_LIMITS.pageSize;
        if (offset >= page.total || page.entries.length === 0) break;
      }
      // Entries made while the host was away stay (they are saved again below).
      const unsaved = this.gallery.entries.filter((e) => !loaded.some((l) => l.id === e.id));
      this.gallery.setAll([...loaded, ...unsaved]);
      if (unsaved.length) await this.persist(unsaved);
      this.galleryProblem = null;
    } catch (e) {
      this.galleryProblem = `The gallery could not be loaded: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  private async persist(entries: GalleryEntry[]): Promise<void> {
    try {
      for (let i = 0; i < entries.length; i += LIMITS.maxBatch) {
        const chunk = entries.slice(i, i + LIMITS.maxBatch).map(({ matchesOpened: _m, ...entry }) => entry);
        await this.app.studio.call('gallery.add', { entries: chunk });
      }
      this.galleryProblem = null;
    } catch (e) {
      this.galleryProblem = `Not yet saved to the data folder (${e instanceof Error ? e.message : String(e)}); saved again once the host is back.`;
    }
  }

  /** Deletes entries here (at once) and on the host; Ctrl+Z brings them back, Ctrl+Shift+Z deletes them again. */
  async deleteEntries(ids: string[], label = 'delete from the gallery'): Promise<void> {
    const { gone, stored } = this.removeEntries(ids);
    if (!gone.length) return;
    this.app.undoStack.push({
      label,
      undo: () => { this.gallery.add(gone); void this.persist(gone); },
      redo: () => void this.removeEntries(gone.map((e) => e.id)).stored,
    });
    await stored;
  }

  private removeEntries(ids: string[]): { gone: GalleryEntry[]; stored: Promise<void> } {
    const gone = this.gallery.removeMany(ids);
    if (!gone.length) return { gone, stored: Promise.resolve() };
    if (this.shown.kind === 'entry' && ids.includes(this.shown.id)) this.shown = { kind: 'run' };
    const stored = this.app.studio.call('gallery.delete', { ids: gone.map((e) => e.id) }).then(
      () => undefined,
      (e: unknown) => this.app.toasts.error('Could not delete from the data folder', e),
    );
    return { gone, stored };
  }

  /** Deletes everything, on the host too (the caller asks the user first; there is no undo). */
  async clearGallery(): Promise<void> {
    try {
      await this.app.studio.call('gallery.clear', {});
      this.gallery.setAll([]);
      this.shown = { kind: 'run' };
      this.app.undoStack.clear();
    } catch (e) {
      this.app.toasts.error('Could not clear the gallery', e);
    }
  }

  // ---------- generate / cancel / vary ----------

  async generate(): Promise<void> {
    const app = this.app;
    if (!app.model) {
      app.toasts.problem({ code: 'no-model', message: 'No model is loaded.', hint: app.modelError ?? 'Pick a model first.' });
      return;
    }
    if (!app.settings.seedLocked) app.settings.seed = randomSeed();
    const s = app.settings;
    await this.submit({
      modelId: app.model.id, classIndex: s.classIndex, seed: s.seed, batch: s.batch, sampling: s.sampling,
      ...(s.prefix ? { prefix: s.prefix } : {}),
    }, null);
  }

  /** Starts now, or queues behind the run in flight (Ctrl+Enter during a run). */
  private async submit(settings: GenerateSettings, variedFrom: Run['variedFrom']): Promise<void> {
    if (this.run.active || this.queue.length) {
      this.queueCounter += 1;
      const className = settings.classIndex === null ? 'random class' : this.app.className(settings.classIndex);
      const label = `${settings.batch} × ${className} · seed ${settings.seed}${variedFrom ? ` · vary@${variedFrom.fromScale}` : ''}`;
      this.queue = [...this.queue, { id: `q${this.queueCounter}`, settings, variedFrom, label }];
      this.app.queuedCount = this.queue.length;
      return;
    }
    await this.startJob(settings, variedFrom);
  }

  /** Removes a waiting run from the queue. */
  removeQueued(id: string): void {
    this.queue = this.queue.filter((q) => q.id !== id);
    this.app.queuedCount = this.queue.length;
  }

  /** Moves a waiting run one place earlier (-1) or later (+1). */
  moveQueued(id: string, by: -1 | 1): void {
    const i = this.queue.findIndex((q) => q.id === id);
    const j = i + by;
    if (i < 0 || j < 0 || j >= this.queue.length) return;
    const next = [...this.queue];
    [next[i], next[j]] = [next[j], next[i]];
    this.queue = next;
  }

  /** The next queued run, once the current one has ended (done, cancelled or failed). */
  private startNext(): void {
    if (this.run.active || this.app.connection !== 'connected') return;
    const [next, ...rest] = this.queue;
    if (!next) return;
    this.queue = rest;
    this.app.queuedCount = rest.length;
    void this.startJob(next.settings, next.variedFrom);
  }

  /** Regenerates scales k+1..K of a gallery image, keeping its scales 1..k (the engine's prefix). */
  async varyFrom(entry: GalleryEntry, fromScale: number): Promise<void> {
    const app = this.app;
    const model = app.model;
    if (!model) return;
    const tokensModel = entry.tokensModelId ?? entry.settings?.model.id;
    if (tokensModel !== model.id || entry.tokens.length !== model.patchNums.length) {
      app.toasts.problem({ code: 'cannot-vary', message: 'This image\'s tokens belong to another model (or it has none yet).', hint: 'Pick the model it was made or opened with, or open the file again with this model loaded.' });
      return;
    }
    if (fromScale < 1 || fromScale >= model.patchNums.length) return;
    const s = app.settings;
    const seed = s.seedLocked ? s.seed : randomSeed();
    const own = entry.settings?.resolvedClassIndex ?? null;
    const classIndex = (this.varyWithPickedClass || own === null) && s.classIndex !== null ? s.classIndex : own;
    await this.submit({
      modelId: model.id, classIndex, seed, batch: s.batch, sampling: s.sampling,
      prefix: { fromScale, tokens: entry.tokens.slice(0, fromScale) },
    }, { entryId: entry.id, fromScale });
  }

  private async startJob(settings: GenerateSettings, variedFrom: Run['variedFrom']): Promise<void> {
    const job = this.app.jobs.create('generate', (e) => this.onEvent(e));
    this.job = job;
    this.run.reset(job.id, settings, variedFrom);
    this.runImageIndex = 0;
    this.shown = { kind: 'run' };
    try {
      // After a Cancel (here or in the canvas) the host may still be finishing; this waits for its slot.
      await this.app.jobs.start(job, { settings });
    } catch (e) {
      if (this.run.jobId === job.id) {
        this.run.status = 'error';
        this.run.error = { code: 'start-failed', message: e instanceof Error ? e.message : String(e), hint: '' };
      }
      this.app.toasts.error('Generation did not start', e);
      this.startNext();
    }
  }

  /** Stops at once: the UI drops the run immediately; the host stops before its next scale. */
  cancel(): void {
    const job = this.job;
    if (!job || this.run.jobId !== job.id || !this.run.active) return;
    this.run.status = 'cancelled';
    this.app.jobs.cancel(job).catch((e) => this.app.toasts.error('Cancel failed', e));
    this.startNext();
  }

  /** Cancels the run in flight and empties the queue. */
  cancelAll(): void {
    this.queue = [];
    this.app.queuedCount = 0;
    this.cancel();
  }

  private onEvent(e: StudioEvent): void {
    const run = this.run;
    if (!('jobId' in e) || e.jobId !== run.jobId) return; // model-manager events carry no job
    if (e.type === 'job.error') {
      if (run.status !== 'cancelled') {
        run.status = 'error';
        run.error = e.error;
        this.app.toasts.problem(e.error);
        this.startNext();
      }
      return;
    }
    if (run.status === 'cancelled') return; // a cancelled run shows nothing more
    switch (e.type) {
      case 'job.start':
        run.status = 'running';
        run.startedAt = performance.now();
        run.patchNums = e.patchNums;
        run.batch = e.batch;
        run.seeds = e.seeds;
        run.classIndices = e.classIndices;
        break;
      case 'job.scale': {
        const previews = [...run.previews];
        previews[e.index] = e.previews;
        run.previews = previews;
        run.tokens[e.index] = e.tokens;
        run.scalesDone = Math.max(run.scalesDone, e.index + 1);
        run.elapsedMs = e.elapsedMs;
        break;
      }
      case 'job.done':
        this.finish(e);
        break;
      case 'job.cancelled':
        run.status = 'cancelled';
        this.startNext();
        break;
    }
  }

  private finish(e: EventOf<'job.done'>): void {
    const run = this.run;
    const model = this.app.model;
    const used = run.settings;
    if (!model || !used) return;
    run.status = 'done';
    run.scalesDone = run.scales;
    run.elapsedMs = e.timings.totalMs;
    this.timings.record(model.id, used.batch, e.timings);
    const createdAt = new Date().toISOString();
    const entries: GalleryEntry[] = e.images.map((image, b) => {
      const settings: ImageSettings = {
        format: 'var-studio-settings', version: 2,
        model: { id: model.id, name: model.name, title: model.title, resolution: model.resolution },
        classIndex: used.classIndex, resolvedClassIndex: e.classIndices[b], className: this.app.className(e.classIndices[b]),
        seed: e.seeds[b], sampling: used.sampling,
        ...(used.prefix ? { prefix: used.prefix } : {}),
        precision: model.graphPrecisions ?? { transformer: model.precision }, createdAt,
      };
      const entry: GalleryEntry = {
        id: `${e.jobId}-${b}`, jobId: e.jobId, indexInBatch: b, origin: 'generated', createdAt, image, tokensModelId: model.id,
        // The last scale shows the decoded final image rather than its cheap preview.
        scalePreviews: run.previews.map((p, k) => (k === run.previews.length - 1 ? image : p[b])), tokens: e.tokens[b], patchNums: run.patchNums, settings, totalMs: e.timings.totalMs,
      };
      const opened = this.opened;
      if (opened && e.images.length === 1 && sameSettings(settings, opened.settings)) {
        const original = this.gallery.get(opened.entryId);
        entry.matchesOpened = !!original && sameImage(original.image, image);
      }
      return entry;
    });
    this.gallery.add(entries);
    void this.persist(entries);
    const shown = entries[Math.min(this.runImageIndex, entries.length - 1)];
    this.shown = { kind: 'entry', id: shown.id };
    // How long the user waited (from the host's start as this page saw it), not only the engine's own time.
    const waitedMs = run.startedAt !== null ? Math.max(e.timings.totalMs, performance.now() - run.startedAt) : e.timings.totalMs;
    this.app.notifyDone(`${entries.length} image${entries.length > 1 ? 's' : ''} of ${entries[0].settings?.className ?? 'the run'} finished`, waitedMs);
    this.startNext();
    if (entries[0].matchesOpened !== undefined) {
      if (entries[0].matchesOpened) this.app.toasts.info('Reproduced', 'The re-generated image is identical to the opened file.');
      else if (!this.opened?.exact) this.app.toasts.info('Settings restored', 'Settings restored; the pixel check is only for 1× PNG exports.');
      else this.app.toasts.problem({ code: 'not-identical', message: 'The re-generated image differs from the opened file.', hint: 'A JPEG/WebP or upscaled export is not pixel-exact; compare with a 1× PNG export. Otherwise the model files differ.' });
    }
  }

  // ---------- gallery ----------

  activeEntry(): GalleryEntry | undefined {
    return this.shown.kind === 'entry' ? this.gallery.get(this.shown.id) : undefined;
  }

  show(entryId: string): void {
    this.shown = { kind: 'entry', id: entryId };
  }

  deleteEntry(id: string): void {
    void this.deleteEntries([id]);
  }

  /** Puts an image's settings back into the panel (for re-generating it, or tweaking). */
  useSettingsOf(entry: GalleryEntry): void {
    const s = entry.settings;
    if (!s) return;
    this.app.changeSettings('use settings of an image', (x) => {
      x.classIndex = s.classIndex;
      x.seed = s.seed;
      x.seedLocked = true;
      x.batch = 1;
      x.applySampling(s.sampling);
      x.prefix = s.prefix ?? null;
    });
    this.checkPrecision(s);
  }

  /** Says so (without blocking) when the loaded model runs other precisions than the image was made with. */
  private checkPrecision(s: ImageSettings): void {
    const model = this.app.model;
    if (!model || model.id !== s.model.id) return;
    const note = precisionMismatchNote(s.precision, model.graphPrecisions ?? { transformer: model.precision });
    if (!note) return;
    const want = s.precision?.transformer ?? 'fp32';
    if (want !== 'fp32' && !model.precisions.includes(want)) {
      this.app.toasts.notice('Different precision', `${note} This bundle has no ${want} variant.`);
      return;
    }
    this.app.toasts.notice('Different precision', `${note} Load it at ${want}?`, { label: `Load at ${want}`, run: () => void this.reloadAt(want, s) });
  }

  /** Reloads the model at the precision a record was made with, then checks again (a graph may still differ). */
  private async reloadAt(precision: PrecisionName, s: ImageSettings): Promise<void> {
    if (await this.app.reloadAtPrecision(precision)) this.checkPrecision(s);
  }

  // ---------- export / open ----------

  async exportActive(): Promise<void> {
    const app = this.app;
    const entry = this.activeEntry();
    if (!entry || !entry.settings) {
      app.toasts.problem({ code: 'nothing-to-export', message: 'There is no finished image selected.', hint: 'Generate an image or pick one in the gallery, then export (Ctrl+S).' });
      return;
    }
    const c = this.exportChoice;
    const base = `var-${entry.settings.model.name}-${entry.settings.className}-${entry.settings.seed}${c.upscale > 1 ? `-x${c.upscale}` : ''}`
      .replace(/[^A-Za-z0-9._ -]+/g, '_').slice(0, 110);
    try {
      const result = await app.studio.call('image.export', {
        format: c.format, upscale: c.upscale, kernel: c.kernel, quality: c.quality, image: entry.image, settings: entry.settings, fileName: base,
      });
      if (result.kind === 'download') {
        downloadBytes(result.bytes, result.mime, result.fileName);
        app.toasts.info('Exported', `${result.fileName} (${Math.round(result.bytes.length / 1024)} KB), settings embedded.`);
      } else if (result.kind === 'saved') {
        app.toasts.info('Exported', `Saved ${result.path} (${Math.round(result.bytes / 1024)} KB), settings embedded.`);
      }
    } catch (e) {
      app.toasts.error('Export failed', e);
    }
  }

  /** Gives an opened image the loaded model's tokens (its encoder), so "vary from scale k" works on it, and saves it. */
  private async encodeOpened(entry: GalleryEntry): Promise<void> {
    const model = this.app.model;
    let stored: GalleryEntry = entry;
    if (model) {
      try {
        const { tokens, patchNums } = await this.app.studio.call('image.encode', { modelId: model.id, image: entry.image });
        stored = { ...entry, tokens, patchNums, tokensModelId: model.id };
        this.gallery.add([stored]);
      } catch (e) {
        this.app.toasts.error('The image could not be encoded (vary from a scale needs its tokens)', e);
      }
    }
    await this.persist([stored]);
  }

  /** Opens an image file into the gallery; its VAR Studio settings (if any) go back into the panel. */
  async openFile(file: File): Promise<void> {
    const app = this.app;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const result = await app.studio.call('image.inspect', { fileName: file.name.slice(0, 500), bytes });
      openedCounter += 1;
      const jobId = `opened-${Date.now().toString(36)}-${openedCounter}`;
      const entry: GalleryEntry = {
        id: `${jobId}-0`, jobId, indexInBatch: 0, origin: 'opened', createdAt: new Date().toISOString(), image: result.image, scalePreviews: [],
        tokens: [], patchNums: [], settings: result.settings, fileName: file.name.slice(0, 500),
      };
      this.gallery.add([entry]);
      this.shown = { kind: 'entry', id: entry.id };
      // Only a 1× PNG holds the exact pixels; a JPEG/WebP or an upscaled export cannot be compared pixel for pixel.
      const exact = !!result.settings && result.format === 'png' && result.image.width === result.settings.model.resolution && result.image.height === result.settings.model.resolution;
      await this.restoreOpenedSettings(entry, result.note, exact);
      // After its settings had their say on the model: the tokens come from the model now loaded.
      await this.encodeOpened(entry);
    } catch (e) {
      app.toasts.error(`Could not open ${file.name}`, e);
    }
  }

  private async restoreOpenedSettings(entry: GalleryEntry, note: string, exact: boolean): Promise<void> {
    const app = this.app;
    const s = entry.settings;
    if (!s) {
      this.opened = null;
      app.toasts.info('Opened', note, 7000);
      return;
    }
    this.opened = { entryId: entry.id, settings: s, exact };
    if (app.model?.id !== s.model.id) {
      const available = app.models.find((m) => m.id === s.model.id && !m.problem);
      if (!available) {
        app.toasts.problem({ code: 'model-missing', message: `This image was made with the model "${s.model.title}" (${s.model.id}), which is not installed.`, hint: `Put that bundle into ${app.info?.modelsDir ?? 'your models folder'}, press Rescan, then open the file again.` });
        return;
      }
      if (!(await app.loadModel(s.model.id, { applyDefaults: false }))) return;
    }
    this.useSettingsOf(entry);
    app.toasts.info('Settings restored', `${describeSettings(s)}. Press Generate (Ctrl+Enter) to re-create it.`, 7000);
  }
}
