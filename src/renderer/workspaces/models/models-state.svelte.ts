// The Models page's state: the official catalogue with a live status per model (from 'models.status'
// events), the checkpoint files offered for import, free disk, and the actions. The host owns the truth
// (its manager persists downloads across restarts); this only mirrors it.
import type { ManagedModel, ModelStatusMsg } from '../../../shared/model-manager';
import type { ResultOf } from '../../../shared/contract';
import type { StudioApp } from '../../lib/state/app.svelte';

type Catalog = ResultOf<'models.catalog'>;
export type LocalFile = Catalog['localFiles'][number];

export interface ImportRun {
  /** The bundle's name once the host reports it (import-progress events name it). */
  name: string | null;
  phase: string | null;
  fraction: number | null;
}

export class ModelsPage {
  models = $state.raw<ManagedModel[]>([]);
  modelsDir = $state('');
  source = $state('');
  localFiles = $state.raw<LocalFile[]>([]);
  freeBytes = $state<number | null>(null);
  loaded = $state(false);
  loadError = $state<string | null>(null);
  /** Models whose request is on its way (their buttons wait). */
  pending = $state.raw<ReadonlySet<string>>(new Set());
  importRun = $state<ImportRun | null>(null);
  private readonly unsubscribe: () => void;
  private refreshQueued = false;

  constructor(private readonly app: StudioApp) {
    this.unsubscribe = app.studio.onEvent((e) => {
      if (e.type === 'models.status') this.onStatus(e.name, e.status);
      else if (e.type === 'models.import-progress' && this.importRun && !this.models.some((m) => m.name === e.name))
        this.importRun = { name: e.name, phase: e.phase, fraction: e.fraction };
    });
  }

  dispose(): void {
    this.unsubscribe();
  }

  async refresh(): Promise<void> {
    try {
      const c = await this.app.studio.call('models.catalog', {});
      this.models = c.models;
      this.modelsDir = c.modelsDir;
      this.source = c.source;
      this.localFiles = c.localFiles;
      this.freeBytes = c.freeBytes;
      this.loadError = null;
    } catch (e) {
      this.loadError = e instanceof Error ? e.message : String(e);
    } finally {
      this.loaded = true;
    }
  }

  private onStatus(name: string, status: ModelStatusMsg): void {
    const before = this.models.find((m) => m.name === name)?.status.state;
    this.models = this.models.map((m) => (m.name === name ? { ...m, status } : m));
    // A finished or stopped pull changes sizes (the shared VQVAE is now on disk) and free space: re-read once.
    if (status.state !== before && ['ready', 'paused', 'failed', 'not-downloaded'].includes(status.state)) this.refreshSoon();
  }

  private refreshSoon(): void {
    if (this.refreshQueued) return;
    this.refreshQueued = true;
    setTimeout(() => {
      this.refreshQueued = false;
      void this.refresh();
    }, 150);
  }

  private async act(name: string, label: string, run: () => Promise<unknown>): Promise<void> {
    this.pending = new Set([...this.pending, name]);
    try {
      await run();
    } catch (e) {
      this.app.toasts.error(label, e);
    } finally {
      const next = new Set(this.pending);
      next.delete(name);
      this.pending = next;
    }
  }

  private setStatus(name: string, status: ModelStatusMsg): void {
    this.models = this.models.map((m) => (m.name === name ? { ...m, status } : m));
  }

  /** Download, Resume and Retry: the host resumes whatever is on disk. */
  download(name: string): Promise<void> {
    return this.act(name, `Could not start the download of ${name}`, async () => {
      const { status } = await this.app.studio.call('models.pull', { name });
      this.setStatus(name, status);
    });
  }

  pause(name: string): Promise<void> {
    return this.act(name, `Could not pause ${name}`, async () => this.setStatus(name, (await this.app.studio.call('models.pause', { name })).status));
  }

  cancel(name: string): Promise<void> {
    return this.act(name, `Could not cancel ${name}`, async () => this.setStatus(name, (await this.app.studio.call('models.cancel', { name })).status));
  }

  remove(name: string): Promise<void> {
    return this.act(name, `Could not remove ${name}`, async () => {
      const r = await this.app.studio.call('models.remove', { name });
      const kept = r.keptShared ? ` The shared VQVAE stays (another model uses it).` : '';
      this.app.toasts.info('Model removed', `${r.removed.length} item(s) deleted.${kept}`);
      await this.afterModelsChanged();
    });
  }

  /** Browser mode: two files of the models folder, by name. */
  importLocal(varFile: string, vaeFile: string, name?: string): Promise<void> {
    return this.runImport(() => this.app.studio.call('models.import', { varFile, vaeFile, ...(name ? { name } : {}) }));
  }

  /** Electron: main shows the open dialog and imports what the user picked (the page never sees a path). */
  importWithDialog(): Promise<void> {
    return this.runImport(async () => (await this.app.studio.call('models.importDialog', {})).imported);
  }

  private async runImport(run: () => Promise<{ name: string; dir: string } | null>): Promise<void> {
    if (this.importRun) return;
    this.importRun = { name: null, phase: null, fraction: null };
    try {
      const done = await run();
      if (done) {
        this.app.toasts.info('Model imported', `${done.name} is in the model picker (${done.dir}).`);
        await this.afterModelsChanged();
      }
    } catch (e) {
      this.app.toasts.error('The import failed', e);
    } finally {
      this.importRun = null;
    }
  }

  /** The picker lists bundles from disk: re-read it, and leave a loaded model whose bundle was removed. */
  private async afterModelsChanged(): Promise<void> {
    await Promise.all([this.refresh(), this.app.refreshModels().catch(() => undefined)]);
    const loaded = this.app.model;
    if (loaded && !this.app.models.some((m) => m.id === loaded.id)) {
      const usable = this.app.models.find((m) => m.source === 'embedded' && !m.problem) ?? this.app.models.find((m) => !m.problem);
      if (usable) await this.app.loadModel(usable.id, { applyDefaults: true });
    }
  }

  /** The picker id of a ready catalogue model: its bundle folder <models folder>/<name>. */
  pickerId(name: string): string | null {
    return this.app.models.find((m) => m.id === `user:${name}` && !m.problem)?.id ?? null;
  }
}
