// The Generate workspace's state and actions: the run in flight (through the shared job runner), the
// gallery of results, what the main view shows, export and opening image files.
import type { EventOf, ExportFormat, GenerateSettings, ImageSettings, StudioEvent } from '../../../shared/contract';
import { sameSampling } from '../../../shared/contract';
import { describeSettings } from '../../../shared/settings';
import type { StudioApp } from '../state/app.svelte';
import { downloadBytes, randomSeed, sameImage } from '../image';
import { Gallery, type GalleryEntry } from './gallery.svelte';
import { Run } from './run.svelte';
import type { Job } from '../studio/jobs';

/** What the main view shows: the run in flight, one gallery entry, or two entries side by side. */
export type Shown = { kind: 'run' } | { kind: 'entry'; id: string } | { kind: 'compare' };

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
  private job: Job | null = null;

  constructor(readonly app: StudioApp) {}

  // ---------- generate / cancel / vary ----------

  async generate(): Promise<void> {
    const app = this.app;
    if (!app.model) {
      app.toasts.problem({ code: 'no-model', message: 'No model is loaded.', hint: app.modelError ?? 'Pick a model first.' });
      return;
    }
    if (this.run.active) return;
    if (!app.settings.seedLocked) app.settings.seed = randomSeed();
    const s = app.settings;
    await this.startJob({
      modelId: app.model.id, classIndex: s.classIndex, seed: s.seed, batch: s.batch, sampling: s.sampling,
      ...(s.prefix ? { prefix: s.prefix } : {}),
    }, null);
  }

  /** Regenerates scales k+1..K of a gallery image, keeping its scales 1..k (the engine's prefix). */
  async varyFrom(entry: GalleryEntry, fromScale: number): Promise<void> {
    const app = this.app;
    const model = app.model;
    if (!model || this.run.active) return;
    if (!entry.settings || entry.settings.model.id !== model.id || entry.tokens.length !== model.patchNums.length) {
      app.toasts.problem({ code: 'cannot-vary', message: 'This image was made with another model (or has no tokens).', hint: 'Pick the model it was made with, or vary an image generated in this session.' });
      return;
    }
    if (fromScale < 1 || fromScale >= model.patchNums.length) return;
    const s = app.settings;
    const seed = s.seedLocked ? s.seed : randomSeed();
    const classIndex = this.varyWithPickedClass && s.classIndex !== null ? s.classIndex : entry.settings.resolvedClassIndex;
    await this.startJob({
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
    }
  }

  /** Stops at once: the UI drops the run immediately; the host stops before its next scale. */
  cancel(): void {
    const job = this.job;
    if (!job || this.run.jobId !== job.id || !this.run.active) return;
    this.run.status = 'cancelled';
    this.app.jobs.cancel(job).catch((e) => this.app.toasts.error('Cancel failed', e));
  }

  private onEvent(e: StudioEvent): void {
    const run = this.run;
    if (e.jobId !== run.jobId) return;
    if (e.type === 'job.error') {
      if (run.status !== 'cancelled') {
        run.status = 'error';
        run.error = e.error;
        this.app.toasts.problem(e.error);
      }
      return;
    }
    if (run.status === 'cancelled') return; // a cancelled run shows nothing more
    switch (e.type) {
      case 'job.start':
        run.status = 'running';
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
    const createdAt = new Date().toISOString();
    const entries: GalleryEntry[] = e.images.map((image, b) => {
      const settings: ImageSettings = {
        format: 'var-studio-settings', version: 2,
        model: { id: model.id, name: model.name, title: model.title, resolution: model.resolution },
        classIndex: used.classIndex, resolvedClassIndex: e.classIndices[b], className: this.app.className(e.classIndices[b]),
        seed: e.seeds[b], sampling: used.sampling,
        ...(used.prefix ? { prefix: used.prefix } : {}), createdAt,
      };
      const entry: GalleryEntry = {
        id: `${e.jobId}-${b}`, jobId: e.jobId, indexInBatch: b, origin: 'generated', image,
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
    const shown = entries[Math.min(this.runImageIndex, entries.length - 1)];
    this.shown = { kind: 'entry', id: shown.id };
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
    const restore = this.gallery.remove(id);
    if (!restore) return;
    if (this.shown.kind === 'entry' && this.shown.id === id) this.shown = { kind: 'run' };
    this.app.undoStack.push({ label: 'delete from the gallery', undo: restore });
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

  /** Opens an image file into the gallery; its VAR Studio settings (if any) go back into the panel. */
  async openFile(file: File): Promise<void> {
    const app = this.app;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const result = await app.studio.call('image.inspect', { fileName: file.name.slice(0, 500), bytes });
      openedCounter += 1;
      const jobId = `opened-${Date.now().toString(36)}-${openedCounter}`;
      const entry: GalleryEntry = {
        id: `${jobId}-0`, jobId, indexInBatch: 0, origin: 'opened', image: result.image, scalePreviews: [], tokens: [], patchNums: [],
        settings: result.settings, fileName: file.name,
      };
      this.gallery.add([entry]);
      this.shown = { kind: 'entry', id: entry.id };
      const s = result.settings;
      if (!s) {
        this.opened = null;
        app.toasts.info('Opened', result.note, 7000);
        return;
      }
      // Only a 1× PNG holds the exact pixels; a JPEG/WebP or an upscaled export cannot be compared pixel for pixel.
      this.opened = { entryId: entry.id, settings: s, exact: result.format === 'png' && result.image.width === s.model.resolution && result.image.height === s.model.resolution };
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
    } catch (e) {
      app.toasts.error(`Could not open ${file.name}`, e);
    }
  }
}
