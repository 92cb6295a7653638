// StudioApp: what every workspace shares — the host's info, the models and the loaded one, the generation
// settings with their undo, the job runner (the host's single job slot) and the messages. Each workspace's
// own state lives in its session (GenerateSession, CanvasSession); all reach this through Svelte context.
import type { AppInfo, LoadedModel, ModelSummary, PrecisionName } from '../../../shared/contract';
import type { ConnectionState, Studio } from '../studio/studio';
import { JobRunner } from '../studio/jobs';
import { Disposables } from '../disposables';
import { Listeners } from '../studio/studio';
import { GenerationSettings, type SettingsSnapshot } from './settings.svelte';
import { Toasts } from './toasts.svelte';
import { UndoStack } from './undo.svelte';

export class StudioApp {
  info = $state<AppInfo | null>(null);
  models = $state.raw<ModelSummary[]>([]);
  model = $state.raw<LoadedModel | null>(null);
  modelLoading = $state<string | null>(null);
  modelError = $state<string | null>(null);
  /** Transformer precision asked for when a model loads ('auto': the host picks, docs/model-bundle.md). */
  precision = $state<PrecisionName | 'auto'>('auto');
  readonly settings = new GenerationSettings();
  readonly toasts = new Toasts();
  readonly undoStack = new UndoStack();
  /** A generation or canvas edit is waiting for the host's job slot or running (not cancelled). */
  jobActive = $state(false);
  /** Generate runs waiting in the queue. */
  queuedCount = $state(0);
  /** The canvas has edits that were not exported (the canvas sets it); closing the page asks first. */
  canvasUnsaved = $state(false);
  /** 'reconnecting' while the host is away (browser mode: the server stopped or the socket dropped); 'new-token' when it is back but needs its new URL. */
  connection = $state<ConnectionState>('connected');
  /** The user asked to be told (system notification) when a long run ends in the background. */
  notifyWhenDone = $state(false);
  readonly jobs: JobRunner;
  private readonly reconnected = new Listeners<void>();
  private readonly disposables = new Disposables();

  constructor(readonly studio: Studio) {
    this.jobs = new JobRunner(studio, { onActivity: (active) => (this.jobActive = active) });
    this.disposables.add(() => this.jobs.dispose());
    this.disposables.add(studio.onProblem((p) => this.toasts.problem(p)));
    if (studio.onConnection)
      this.disposables.add(studio.onConnection((state) => {
        this.connection = state;
        if (state === 'reconnecting') this.jobs.connectionLost();
        else if (state === 'connected') void this.resync();
      }));
  }

  /** Something would be lost by closing the page now: a run in flight, queued runs, unexported canvas edits. */
  get hasUnsavedWork(): boolean {
    return this.jobActive || this.queuedCount > 0 || this.canvasUnsaved;
  }

  /** Told after the host came back and the models are loaded again (re-read what the host keeps). */
  onReconnected(fn: () => void): () => void {
    return this.reconnected.add(fn);
  }

  /** After a reconnect the host may be a fresh process: list the models and load the one in use again. */
  private async resync(): Promise<void> {
    try {
      this.info = await this.studio.call('app.info', {});
      await this.refreshModels();
      const id = this.model?.id;
      if (id) {
        this.model = null;
        await this.loadModel(id, { applyDefaults: false });
      }
    } catch (e) {
      this.toasts.error('Reconnected, but the models could not be listed', e);
    }
    this.reconnected.emit();
  }

  /**
   * A system notification for a run of at least 3 s (as the user waited for it) that ended while the window
   * was in the background: hidden (minimized, another tab) or not focused (another app in front), when asked for.
   */
  notifyDone(body: string, elapsedMs: number): void {
    if (!this.notifyWhenDone || typeof document === 'undefined' || elapsedMs < 3000) return;
    if (!document.hidden && document.hasFocus()) return;
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    new Notification('VAR Studio', { body });
  }

  /** Turns run notifications on (asking the system's permission: only called from a click). */
  async enableNotifications(on: boolean): Promise<void> {
    if (!on || typeof Notification === 'undefined') {
      this.notifyWhenDone = false;
      return;
    }
    const permission = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
    this.notifyWhenDone = permission === 'granted';
    if (!this.notifyWhenDone) this.toasts.info('Notifications are blocked', 'Allow notifications for VAR Studio in the system or browser settings.', 5000);
  }

  dispose(): void {
    this.disposables.dispose();
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
    if (this.jobActive) {
      this.toasts.problem({ code: 'busy', message: 'A generation or edit is running.', hint: 'Press Cancel (Esc) first, then pick the model.' });
      return false;
    }
    this.modelLoading = id;
    this.modelError = null;
    try {
      const model = await this.studio.call('models.load', { modelId: id, precision: this.precision });
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

  /** Chooses `precision` and reloads the loaded model at it (none loaded: the next load uses it); the previous choice comes back if the reload fails. */
  async reloadAtPrecision(precision: PrecisionName | 'auto'): Promise<boolean> {
    const model = this.model;
    const before = this.precision;
    this.precision = precision;
    if (!model || (await this.loadModel(model.id, { applyDefaults: false }))) return true;
    this.precision = before;
    return false;
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
    this.undoStack.push({ label, undo: () => this.settings.restore(before), redo: () => this.settings.restore(after) });
  }

  resetToModelDefaults(): void {
    const model = this.model;
    if (model) this.changeSettings('reset sampling to defaults', (s) => s.applySampling(model.sampling));
  }

  undo(): void {
    const label = this.undoStack.undo();
    if (label) this.toasts.info('Undone', label, 2500);
    else this.toasts.info('Nothing to undo', 'Ctrl+Z undoes settings changes and gallery deletions.', 2500);
  }

  redo(): void {
    const label = this.undoStack.redo();
    if (label) this.toasts.info('Redone', label, 2500);
    else this.toasts.info('Nothing to redo', 'Ctrl+Shift+Z (or Ctrl+Y) redoes what Ctrl+Z undid.', 2500);
  }
}
