// StudioApp: the state every workspace shares (model, settings, the run, history, undo, messages) and
// the actions on it. Workspaces (Generate now, the canvas editor later) receive it via Svelte context.
import type {
  AppInfo, EventOf, ExportFormat, GenerateSettings, ImageSettings, LoadedModel, ModelSummary, StudioEvent,
} from '../../../shared/contract';
import { sameSampling } from '../../../shared/contract';
import { describeSettings } from '../../../shared/settings';
import type { Studio } from '../studio/studio';
import { downloadBytes, randomSeed, sameImage } from '../image';
import { GenerationSettings, type SettingsSnapshot } from './settings.svelte';
import { History, type HistoryEntry } from './history.svelte';
import { Run } from './run.svelte';
import { Toasts } from './toasts.svelte';
import { UndoStack } from './undo.svelte';

export type View = { kind: 'run' } | { kind: 'entry'; id: string } | { kind: 'compare' };

export interface ExportChoice { format: ExportFormat; upscale: 1 | 2 | 4 | 8; kernel: 'nearest' | 'lanczos3'; quality: number }

let jobCounter = 0;
function newJobId(): string {
  jobCounter += 1;
  return `job-${Date.now().toString(36)}-${jobCounter}`;
}

function sameSettings(a: ImageSettings, b: ImageSettings): boolean {
  const tokensEqual = (x?: { fromScale: number; tokens: Int32Array[] }, y?: { fromScale: number; tokens: Int32Array[] }) =>
    (!x && !y) || (!!x && !!y && x.fromScale === y.fromScale && x.tokens.every((t, i) => t.length === y.tokens[i]?.length && t.every((v, j) => v === y.tokens[i][j])));
  return a.model.id === b.model.id && a.classIndex === b.classIndex && a.seed === b.seed && sameSampling(a.sampling, b.sampling) &&
    tokensEqual(a.prefix, b.prefix);
}

export class StudioApp {
  info = $state<AppInfo | null>(null);
  models = $state.raw<ModelSummary[]>([]);
  model = $state.raw<LoadedModel | null>(null);
  modelLoading = $state<string | null>(null);
  modelError = $state<string | null>(null);
  readonly settings = new GenerationSettings();
  readonly run = new Run();
  readonly history = new History();
  readonly toasts = new Toasts();
  readonly undoStack = new UndoStack();
  view = $state.raw<View>({ kind: 'run' });
  /** Which image of the running batch the main view follows. */
  runImageIndex = $state(0);
  /** With "vary from a scale": use the class picked on the left instead of the image's own class. */
  varyWithPickedClass = $state(false);
  exportChoice = $state<ExportChoice>({ format: 'png', upscale: 1, kernel: 'nearest', quality: 92 });
  /** The last opened file that carried settings: a re-generation is compared against it. */
  opened: { entryId: string; settings: ImageSettings } | null = null;
  private waitForHostFree: Promise<void> | null = null;
  private releaseHost: (() => void) | null = null;

  constructor(readonly studio: Studio) {
    studio.onEvent((e) => this.onEvent(e));
    studio.onProblem((p) => this.toasts.problem(p));
  }

  async start(): Promise<void> {
    try {
      this.info = await this.studio.call('app.info', {});
      await this.refreshModels();
      const usable = this.models.find((m) => m.source === 'embedded' && !m.problem) ?? this.models.find((m) => !m.problem);
      if (usable) await this.loadModel(usable.id, { applyDefaults: true });
      else
        this.modelError = `No usable model. The embedded model is missing (${this.models[0]?.problem ?? 'not found'}). Put a model bundle folder into ${this.info.modelsDir} and press "Rescan".`;
    } catch (e) {
      this.toasts.error('Could not start', e);
    }
  }

  async refreshModels(): Promise<void> {
    const { models } = await this.studio.call('models.list', {});
    this.models = models;
  }

  async loadModel(id: string, opts: { applyDefaults: boolean }): Promise<boolean> {
    if (this.run.active) {
      this.toasts.problem({ code: 'busy', message: 'A generation is running.', hint: 'Press Cancel (Esc) first, then pick the model.' });
      return false;
    }
    this.modelLoading = id;
    this.modelError = null;
    try {
      const model = await this.studio.call('models.load', { modelId: id });
      const changed = this.model?.id !== model.id;
      this.model = model;
      if (opts.applyDefaults && changed) {
        this.settings.applySampling(model.sampling);
        if (this.settings.classIndex !== null && this.settings.classIndex >= model.classes.length) this.settings.classIndex = null;
        this.settings.prefix = null;
      }
      return true;
    } catch (e) {
      this.modelError = e instanceof Error ? e.message : String(e);
      this.toasts.error('The model could not be loaded', e);
      return false;
    } finally {
      this.modelLoading = null;
    }
  }

  className(index: number): string {
    return this.model?.classes[index] ?? `class ${index}`;
  }

  /** Applies a settings change and records it for Ctrl+Z. */
  changeSettings(label: string, apply: (s: GenerationSettings) => void): void {
    const before: SettingsSnapshot = this.settings.snapshot();
    apply(this.settings);
    const after = this.settings.snapshot();
    if (JSON.stringify({ ...before, prefix: !!before.prefix }) === JSON.stringify({ ...after, prefix: !!after.prefix }) && before.prefix === after.prefix) return;
    this.undoStack.push({ label, undo: () => this.settings.restore(before) });
  }

  resetToModelDefaults(): void {
    const model = this.model;
    if (model) this.changeSettings('reset sampling to defaults', (s) => s.applySampling(model.sampling));
  }

  undo(): void {
    const label = this.undoStack.undo();
    if (label) this.toasts.info('Undone', label, 2500);
    else this.toasts.info('Nothing to undo', 'Ctrl+Z undoes settings changes and history deletions.', 2500);
  }

  // ---------- generate / cancel / vary ----------

  async generate(): Promise<void> {
    if (!this.model) {
      this.toasts.problem({ code: 'no-model', message: 'No model is loaded.', hint: this.modelError ?? 'Pick a model first.' });
      return;
    }
    if (this.run.active) return;
    if (!this.settings.seedLocked) this.settings.seed = randomSeed();
    const s = this.settings;
    await this.startJob({
      modelId: this.model.id, classIndex: s.classIndex, seed: s.seed, batch: s.batch, sampling: s.sampling,
      ...(s.prefix ? { prefix: s.prefix } : {}),
    }, null);
  }

  /** Regenerates scales k+1..K of a history image, keeping its scales 1..k (the engine's prefix). */
  async varyFrom(entry: HistoryEntry, fromScale: number): Promise<void> {
    const model = this.model;
    if (!model || this.run.active) return;
    if (!entry.settings || entry.settings.model.id !== model.id || entry.tokens.length !== model.patchNums.length) {
      this.toasts.problem({ code: 'cannot-vary', message: 'This image was made with another model (or has no tokens).', hint: 'Pick the model it was made with, or vary an image generated in this session.' });
      return;
    }
    if (fromScale < 1 || fromScale >= model.patchNums.length) return;
    const s = this.settings;
    const seed = s.seedLocked ? s.seed : randomSeed();
    const classIndex = this.varyWithPickedClass && s.classIndex !== null ? s.classIndex : entry.settings.resolvedClassIndex;
    await this.startJob({
      modelId: model.id, classIndex, seed, batch: s.batch, sampling: s.sampling,
      prefix: { fromScale, tokens: entry.tokens.slice(0, fromScale) },
    }, { entryId: entry.id, fromScale });
  }

  private async startJob(settings: GenerateSettings, variedFrom: Run['variedFrom']): Promise<void> {
    // After a Cancel the host may still be finishing the scale it was on; start as soon as it is free.
    if (this.waitForHostFree) await Promise.race([this.waitForHostFree, new Promise((r) => setTimeout(r, 15_000))]);
    const jobId = newJobId();
    this.run.reset(jobId, settings, variedFrom);
    this.runImageIndex = 0;
    this.view = { kind: 'run' };
    this.waitForHostFree = new Promise<void>((resolve) => (this.releaseHost = resolve));
    try {
      await this.studio.call('generate.start', { jobId, settings });
    } catch (e) {
      this.hostFree();
      if (this.run.jobId === jobId) {
        this.run.status = 'error';
        this.run.error = { code: 'start-failed', message: e instanceof Error ? e.message : String(e), hint: '' };
      }
      this.toasts.error('Generation did not start', e);
    }
  }

  private hostFree(): void {
    this.releaseHost?.();
    this.releaseHost = null;
    this.waitForHostFree = null;
  }

  /** Stops at once: the UI drops the run immediately; the host stops before its next scale. */
  cancel(): void {
    const jobId = this.run.jobId;
    if (!jobId || !this.run.active) return;
    this.run.status = 'cancelled';
    this.studio.call('generate.cancel', { jobId }).catch((e) => this.toasts.error('Cancel failed', e));
  }

  private onEvent(e: StudioEvent): void {
    // Any job's end frees the host's single job slot (a canvas edit ends with edit.done).
    if (e.type === 'job.done' || e.type === 'edit.done' || e.type === 'job.cancelled' || e.type === 'job.error') this.hostFree();
    const run = this.run;
    if (e.jobId !== run.jobId) return;
    if (e.type === 'job.error') {
      if (run.status !== 'cancelled') {
        run.status = 'error';
        run.error = e.error;
        this.toasts.problem(e.error);
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
    const model = this.model;
    const used = run.settings;
    if (!model || !used) return;
    run.status = 'done';
    run.scalesDone = run.scales;
    run.elapsedMs = e.timings.totalMs;
    const createdAt = new Date().toISOString();
    const entries: HistoryEntry[] = e.images.map((image, b) => {
      const settings: ImageSettings = {
        format: 'var-studio-settings', version: 2,
        model: { id: model.id, name: model.name, title: model.title, resolution: model.resolution },
        classIndex: used.classIndex, resolvedClassIndex: e.classIndices[b], className: this.className(e.classIndices[b]),
        seed: e.seeds[b], sampling: used.sampling,
        ...(used.prefix ? { prefix: used.prefix } : {}), createdAt,
      };
      const entry: HistoryEntry = {
        id: `${e.jobId}-${b}`, jobId: e.jobId, indexInBatch: b, origin: 'generated', image,
        // The last scale shows the decoded final image rather than its cheap preview.
        scalePreviews: run.previews.map((p, k) => (k === run.previews.length - 1 ? image : p[b])), tokens: e.tokens[b], patchNums: run.patchNums, settings, totalMs: e.timings.totalMs,
      };
      const opened = this.opened;
      if (opened && e.images.length === 1 && sameSettings(settings, opened.settings)) {
        const original = this.history.get(opened.entryId);
        entry.matchesOpened = !!original && sameImage(original.image, image);
      }
      return entry;
    });
    this.history.add(entries);
    const shown = entries[Math.min(this.runImageIndex, entries.length - 1)];
    this.view = { kind: 'entry', id: shown.id };
    if (entries[0].matchesOpened !== undefined) {
      if (entries[0].matchesOpened) this.toasts.info('Reproduced', 'The re-generated image is identical to the opened file.');
      else this.toasts.problem({ code: 'not-identical', message: 'The re-generated image differs from the opened file.', hint: 'A JPEG/WebP or upscaled export is not pixel-exact; compare with a 1× PNG export. Otherwise the model files differ.' });
    }
  }

  // ---------- history ----------

  activeEntry(): HistoryEntry | undefined {
    return this.view.kind === 'entry' ? this.history.get(this.view.id) : undefined;
  }

  show(entryId: string): void {
    this.view = { kind: 'entry', id: entryId };
  }

  deleteEntry(id: string): void {
    const restore = this.history.remove(id);
    if (!restore) return;
    if (this.view.kind === 'entry' && this.view.id === id) this.view = { kind: 'run' };
    this.undoStack.push({ label: 'delete from history', undo: restore });
  }

  /** Puts an image's settings back into the panel (for re-generating it, or tweaking). */
  useSettingsOf(entry: HistoryEntry): void {
    const s = entry.settings;
    if (!s) return;
    this.changeSettings('use settings of an image', (x) => {
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
    const entry = this.activeEntry();
    if (!entry || !entry.settings) {
      this.toasts.problem({ code: 'nothing-to-export', message: 'There is no finished image selected.', hint: 'Generate an image or pick one in the history, then export (Ctrl+S).' });
      return;
    }
    const c = this.exportChoice;
    const base = `var-${entry.settings.model.name}-${entry.settings.className}-${entry.settings.seed}${c.upscale > 1 ? `-x${c.upscale}` : ''}`
      .replace(/[^A-Za-z0-9._ -]+/g, '_').slice(0, 110);
    try {
      const result = await this.studio.call('image.export', {
        format: c.format, upscale: c.upscale, kernel: c.kernel, quality: c.quality, image: entry.image, settings: entry.settings, fileName: base,
      });
      if (result.kind === 'download') {
        downloadBytes(result.bytes, result.mime, result.fileName);
        this.toasts.info('Exported', `${result.fileName} (${Math.round(result.bytes.length / 1024)} KB), settings embedded.`);
      } else if (result.kind === 'saved') {
        this.toasts.info('Exported', `Saved ${result.path} (${Math.round(result.bytes / 1024)} KB), settings embedded.`);
      }
    } catch (e) {
      this.toasts.error('Export failed', e);
    }
  }

  async openFile(file: File): Promise<void> {
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const result = await this.studio.call('image.inspect', { fileName: file.name.slice(0, 500), bytes });
      const jobId = newJobId();
      const entry: HistoryEntry = {
        id: `${jobId}-0`, jobId, indexInBatch: 0, origin: 'opened', image: result.image, scalePreviews: [], tokens: [], patchNums: [],
        settings: result.settings, fileName: file.name,
      };
      this.history.add([entry]);
      this.view = { kind: 'entry', id: entry.id };
      const s = result.settings;
      if (!s) {
        this.opened = null;
        this.toasts.info('Opened', result.note, 7000);
        return;
      }
      this.opened = { entryId: entry.id, settings: s };
      if (this.model?.id !== s.model.id) {
        const available = this.models.find((m) => m.id === s.model.id && !m.problem);
        if (!available) {
          this.toasts.problem({ code: 'model-missing', message: `This image was made with the model "${s.model.title}" (${s.model.id}), which is not installed.`, hint: `Put that bundle into ${this.info?.modelsDir ?? 'your models folder'}, press Rescan, then open the file again.` });
          return;
        }
        if (!(await this.loadModel(s.model.id, { applyDefaults: false }))) return;
      }
      this.useSettingsOf(entry);
      this.toasts.info('Settings restored', `${describeSettings(s)}. Press Generate (Ctrl+Enter) to re-create it.`, 7000);
    } catch (e) {
      this.toasts.error(`Could not open ${file.name}`, e);
    }
  }
}
