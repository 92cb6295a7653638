// The canvas editor's state and actions (issue 6): the open document with its undo history, the tools,
// the edit job in flight with its live preview, staged candidates, autosave/restore and export. The Konva
// view (lib/canvas) is attached by the workspace and told to redraw; it never owns document state.
import type { RgbImageMsg, Sampling, StudioEvent } from '../../../shared/contract';
import type { Candidate, DocSource, EditChain, EditOperation, EditStep, Region } from '../../../shared/edit';
import { EDIT_LIMITS } from '../../../shared/edit';
import { settingsToJson } from '../../../shared/settings';
import { toBase64 } from '../../../shared/wire';
import type { StudioApp } from '../state/app.svelte';
import type { HistoryEntry as GeneratedEntry } from '../state/history.svelte';
import { downloadBytes, randomSeed } from '../image';
import type { CanvasView } from '../canvas/view';
import { CanvasDocument, acceptChange, newDocId, wholeMaskChange, type Change } from './document';
import { EditHistory } from './history';
import { buildEditPayload, EditInputError } from './edit-request';
import { defaultRegion, extendRegion, grownCanvas, reachesPastEdge, regionCrop, regionProblem, type Direction } from './geometry';
import { countAtLeast } from './raster';
import { pack, unpack } from './packing';
import type { BrushSettings } from './stroke';

export type RunStatus = 'idle' | 'starting' | 'running' | 'cancelled' | 'error';

interface Staged { jobId: string; region: Region; candidates: Candidate[]; op: EditOperation; classIndex: number | null; fromScale: number | undefined; feather: number; maskedPixels: number; sampling: Sampling }

const AUTOSAVE_DELAY_MS = 800;

class PackedTooLarge extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

/** Refuses, with a message, a packed buffer larger than one message may carry (before it is sent). */
function checkPacked(packed: Uint8Array, what: string, purpose: 'autosave' | 'export'): Uint8Array {
  if (packed.length <= EDIT_LIMITS.maxPackedBytes) return packed;
  const mb = (n: number) => `${Math.round(n / 1048576)} MB`;
  throw new PackedTooLarge(
    `The ${what} is ${mb(packed.length)} even compressed; one ${purpose} can carry at most ${mb(EDIT_LIMITS.maxPackedBytes)}.`,
    purpose === 'export' ? 'Extend or crop the image less, or export a smaller copy.' : 'Your document is still open; export it to keep it.',
  );
}
let jobCounter = 0;

export class CanvasSession {
  /** The open document (mutated in place; `rev` changes whenever it does). */
  doc: CanvasDocument | null = null;
  rev = $state(0);
  readonly history = new EditHistory();

  // tools
  mode = $state<'brush' | 'eraser'>('brush');
  brushSize = $state(24);
  hardness = $state(0.8);
  maskOpacity = $state(0.5);
  // operation
  operation = $state<EditOperation>('inpaint');
  feather = $state(4);
  scaleLocked = $state(false);
  fromScale = $state(2);
  extendBy = $state(64);
  // the job in flight
  status = $state<RunStatus>('idle');
  jobId = $state<string | null>(null);
  scalesDone = $state(0);
  scales = $state(0);
  /** Candidates waiting for accept/discard. */
  staged = $state.raw<Staged | null>(null);
  candidateIndex = $state(0);
  /** The last problem, shown in the panel until the next action. */
  problem = $state<{ message: string; hint: string } | null>(null);
  notice = $state<string | null>(null);
  autosave = $state<{ state: 'idle' | 'pending' | 'saving' | 'saved' | 'error'; at: string | null; message: string }>({ state: 'idle', at: null, message: '' });
  zoom = $state(1);
  /** False until the autosave has been looked for (and restored) at start. */
  ready = $state(false);

  view: CanvasView | null = null;
  private runRegion: Region | null = null;
  private runParams: Omit<Staged, 'jobId' | 'candidates'> | null = null;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private savedImage: { docId: string; rev: number } | null = null;
  private saving: Promise<void> | null = null;
  constructor(readonly app: StudioApp) {
    app.studio.onEvent((e) => this.onEvent(e));
  }

  /** Shows the session in a (new) view: the workspace is re-created when the user switches tabs. */
  attach(view: CanvasView): void {
    this.view = view;
    view.refresh({ fit: true });
    view.mask.setOpacity(this.maskOpacity);
    this.showCandidate();
    if (this.running) view.region.setLocked(true);
  }

  detach(): void {
    this.view = null;
  }

  brush(): BrushSettings {
    return { size: this.brushSize, hardness: this.hardness, mode: this.mode };
  }

  get running(): boolean {
    return this.status === 'starting' || this.status === 'running';
  }

  get canPaint(): boolean {
    return !!this.doc && !this.running && !this.staged;
  }

  private changed(opts: { fit?: boolean; redraw?: boolean } = {}): void {
    this.rev += 1;
    if (opts.redraw !== false) this.view?.refresh({ fit: opts.fit });
    this.scheduleSave();
  }

  private fail(message: string, hint: string): void {
    this.problem = { message, hint };
    this.app.toasts.problem({ code: 'canvas', message, hint });
  }

  // ---------- documents ----------

  private setDocument(image: RgbImageMsg, name: string, source: DocSource, steps: EditStep[] = []): void {
    this.cancel();
    this.staged = null;
    this.view?.staging.clear();
    this.history.clear();
    this.doc = new CanvasDocument(newDocId(), name, source, { width: image.width, height: image.height, image: image.data.slice(), region: defaultRegion(image.width, image.height), steps });
    this.problem = null;
    this.savedImage = null;
    this.changed({ fit: true });
  }

  /** Opens a PNG/JPEG/WebP file (dialog, drop or paste); a bad file leaves the document as it was. */
  async openFile(file: File): Promise<boolean> {
    this.problem = null;
    const name = (file.name || 'pasted image').slice(0, 500);
    if (file.size > EDIT_LIMITS.maxFileBytes) {
      this.fail(`"${name}" is ${(file.size / 1048576).toFixed(0)} MB; at most ${EDIT_LIMITS.maxFileBytes / 1048576} MB can be opened. The canvas was left as it was.`, 'Save the image smaller (or as JPEG/WebP) and open it again.');
      return false;
    }
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const r = await this.app.studio.call('canvas.open', { fileName: name, bytes });
      const chain = r.chain;
      // An edited file continues its chain; a generated export keeps its generation settings as the source.
      const size = { width: r.image.width, height: r.image.height };
      const source: DocSource = chain?.source ?? (r.settingsJson ? { kind: 'generated', settingsJson: r.settingsJson, ...size } : { kind: 'file', fileName: name, ...size });
      this.setDocument(r.image, name, source, chain?.steps ?? []);
      this.notice = r.note;
      return true;
    } catch (e) {
      const info = (e as { info?: { message: string; hint: string } }).info;
      this.fail(info?.message ?? (e instanceof Error ? e.message : String(e)), info?.hint ?? 'Open a PNG, JPEG or WebP file.');
      return false;
    }
  }

  /** Starts from an image of the history (a generated one keeps its generation settings as the chain's source). */
  openGenerated(entry: GeneratedEntry): void {
    const source: DocSource = entry.settings
      ? { kind: 'generated', settingsJson: settingsToJson(entry.settings), width: entry.image.width, height: entry.image.height }
      : { kind: 'file', fileName: entry.fileName ?? 'image', width: entry.image.width, height: entry.image.height };
    this.setDocument(entry.image, entry.settings ? `${entry.settings.className} ${entry.settings.seed}` : entry.fileName ?? 'image', source);
    this.notice = 'Paint over what should change (B), place the region box, then run.';
  }

  // ---------- region ----------

  setRegion(region: Region): void {
    if (!this.doc) return;
    this.doc.region = { ...region };
    this.rev += 1;
    this.scheduleSave();
  }

  extend(dir: Direction): void {
    const doc = this.doc;
    if (!doc || this.running) return;
    const n = Math.round(this.extendBy);
    if (!(n >= 1 && n <= EDIT_LIMITS.maxRegion - 1)) {
      this.fail(`Extend by 1..${EDIT_LIMITS.maxRegion - 1} pixels.`, 'Type a number of pixels to add.');
      return;
    }
    const region = extendRegion(doc.width, doc.height, doc.region, dir, n);
    const problem = regionProblem(region, doc.width, doc.height);
    if (problem) {
      this.fail(problem, 'Extend by fewer pixels.');
      return;
    }
    doc.region = region;
    this.operation = 'outpaint';
    const g = grownCanvas(region, doc.width, doc.height);
    this.notice = `Region set ${n} px past the ${dir === 'up' ? 'top' : dir === 'down' ? 'bottom' : dir} edge; Outpaint will make the image ${g.width}×${g.height}.`;
    this.changed();
    this.view?.fit();
  }

  // ---------- mask operations ----------

  recordStroke(label: string, forward: Change, inverse: Change): void {
    this.history.record(label, forward, inverse);
    this.changed({ redraw: false });
  }

  private maskOp(label: string, f: (v: number) => number): void {
    const doc = this.doc;
    if (!doc || !this.canPaint) return;
    this.history.apply(doc, label, wholeMaskChange(doc, f));
    this.changed();
  }
  invertMask(): void {
    this.maskOp('invert mask', (v) => 255 - v);
  }
  clearMask(): void {
    this.maskOp('clear mask', () => 0);
  }
  fillMask(): void {
    this.maskOp('fill mask', () => 255);
  }

  undo(): void {
    if (!this.doc || this.running || this.staged) {
      if (this.staged) this.notice = 'Accept or discard the candidates first.';
      return;
    }
    const label = this.history.undo(this.doc);
    this.notice = label ? `Undone: ${label}` : 'Nothing to undo.';
    if (label) this.changed();
  }

  redo(): void {
    if (!this.doc || this.running || this.staged) return;
    const label = this.history.redo(this.doc);
    this.notice = label ? `Redone: ${label}` : 'Nothing to redo.';
    if (label) this.changed();
  }

  // ---------- edit jobs ----------

  async run(): Promise<void> {
    this.problem = null;
    const doc = this.doc;
    const model = this.app.model;
    if (!doc) return this.fail('There is no image on the canvas.', 'Open an image (Ctrl+O, drop a file or paste) or pick one from the history.');
    if (!model) return this.fail('No model is loaded.', this.app.modelError ?? 'Pick a model in the model picker first.');
    if (this.running) return;
    if (this.staged) return this.fail('Candidates are waiting.', 'Accept one (Enter) or discard them before running again.');
    if (this.app.run.active) return this.fail('A generation is running.', 'Wait for it to finish or cancel it in the Generate workspace.');
    const region = { ...doc.region };
    const op = this.operation;
    const s = this.app.settings;
    const classIndex = op === 'inpaint' ? null : s.classIndex;
    if (op === 'class-edit' && classIndex === null) return this.fail('A class edit needs a class.', 'Pick a class in the class list on the left.');
    if (op === 'outpaint' && !reachesPastEdge(region, doc.width, doc.height))
      return this.fail('The region box lies inside the image, so there is nothing to outpaint.', 'Use "Extend canvas" or drag the region box past the image edge.');
    let payload;
    try {
      payload = buildEditPayload(doc, region);
    } catch (e) {
      if (e instanceof EditInputError) return this.fail(e.message, e.hint);
      throw e;
    }
    const fromScale = this.scaleLocked ? Math.min(Math.max(Math.round(this.fromScale), 1), model.patchNums.length - 1) : undefined;
    if (payload.masked === 0 && payload.outside === 0)
      return this.fail('The mask is empty inside the region box: nothing would change.', 'Paint over what should change (B), move the region box onto the painted area, or press Fill.');
    if (!s.seedLocked) s.seed = randomSeed();
    jobCounter += 1;
    const jobId = `edit-${Date.now().toString(36)}-${jobCounter}`;
    const batch = Math.min(s.batch, EDIT_LIMITS.maxBatch);
    this.jobId = jobId;
    this.status = 'starting';
    this.scalesDone = 0;
    this.scales = model.patchNums.length;
    this.runRegion = region;
    this.runParams = { region, op, classIndex, fromScale, feather: this.feather, maskedPixels: payload.masked, sampling: s.sampling };
    this.view?.region.setLocked(true);
    try {
      await this.app.studio.call('edit.start', {
        jobId, modelId: model.id, operation: op, classIndex, ...(fromScale !== undefined ? { fromScale } : {}),
        seed: s.seed, batch, sampling: s.sampling, feather: this.feather,
        image: payload.image, mask: payload.mask, region: payload.region,
      });
      if (this.jobId === jobId && this.status === 'starting') this.status = 'running';
    } catch (e) {
      if (this.jobId !== jobId) return;
      this.status = 'error';
      this.view?.region.setLocked(false);
      const info = (e as { info?: { message: string; hint: string } }).info;
      this.fail(info?.message ?? String(e), info?.hint ?? 'Check the settings and try again.');
    }
  }

  /** Stops at once: the preview goes away now; the host stops before its next scale. */
  cancel(): void {
    const jobId = this.jobId;
    if (!jobId || !this.running) return;
    this.status = 'cancelled';
    this.view?.progress.clear();
    this.view?.region.setLocked(false);
    this.notice = 'Cancelled.';
    this.app.studio.call('edit.cancel', { jobId }).catch((e) => this.app.toasts.error('Cancel failed', e));
  }

  private onEvent(e: StudioEvent): void {
    if (e.jobId !== this.jobId) return;
    if (e.type === 'job.error') {
      if (this.status !== 'cancelled') {
        this.status = 'error';
        this.view?.progress.clear();
        this.view?.region.setLocked(false);
        this.fail(e.error.message, e.error.hint);
      }
      return;
    }
    if (!this.running) return;
    switch (e.type) {
      case 'job.start':
        this.status = 'running';
        this.scales = e.scales;
        break;
      case 'job.scale':
        this.scalesDone = Math.max(this.scalesDone, e.index + 1);
        if (this.runRegion) this.view?.progress.show(this.runRegion, e.previews[0], e.index);
        break;
      case 'edit.done': {
        const p = this.runParams!;
        this.status = 'idle';
        this.view?.progress.clear();
        this.view?.region.setLocked(false);
        this.staged = { jobId: e.jobId, candidates: e.candidates, ...p };
        this.candidateIndex = 0;
        this.showCandidate();
        this.notice = `${e.candidates.length} candidate${e.candidates.length > 1 ? 's' : ''} in ${(e.timings.totalMs / 1000).toFixed(1)} s: cycle with ← →, accept with Enter, discard with Esc.`;
        break;
      }
      case 'job.cancelled':
        this.status = 'cancelled';
        this.view?.progress.clear();
        this.view?.region.setLocked(false);
        break;
    }
  }

  private showCandidate(): void {
    const st = this.staged;
    if (!st) {
      this.view?.staging.clear();
      this.view?.mask.setVisible(true);
      return;
    }
    this.view?.mask.setVisible(false);
    this.view?.staging.show(st.region, st.candidates[this.candidateIndex].image, this.candidateIndex, st.candidates.length);
  }

  cycle(delta: number): void {
    const st = this.staged;
    if (!st) return;
    this.candidateIndex = (this.candidateIndex + delta + st.candidates.length) % st.candidates.length;
    this.showCandidate();
  }

  accept(): void {
    const st = this.staged;
    const doc = this.doc;
    const model = this.app.model;
    if (!st || !doc || !model) return;
    const c = st.candidates[this.candidateIndex];
    const g = grownCanvas(st.region, doc.width, doc.height);
    const step: EditStep = {
      op: st.op, model: { id: model.id, name: model.name, resolution: model.resolution },
      classIndex: st.classIndex, resolvedClassIndex: c.classIndex, className: c.classIndex < 0 ? 'null class (inpainting)' : this.app.className(c.classIndex),
      seed: c.seed, sampling: st.sampling, ...(st.fromScale !== undefined ? { fromScale: st.fromScale } : {}), feather: st.feather,
      region: st.region, maskedPixels: st.maskedPixels, canvas: g, at: new Date().toISOString(),
    };
    const label = g.width !== doc.width || g.height !== doc.height ? `outpaint to ${g.width}×${g.height}` : `accept ${st.op}`;
    this.history.apply(doc, label, acceptChange(doc, st.region, c.image.data, step));
    this.staged = null;
    this.showCandidate();
    this.notice = `Accepted candidate ${this.candidateIndex + 1}. Ctrl+Z undoes it.`;
    this.changed();
  }

  discard(): void {
    if (!this.staged) return;
    this.staged = null;
    this.showCandidate();
    this.notice = 'Candidates discarded.';
  }

  // ---------- autosave / restore ----------

  private scheduleSave(): void {
    if (!this.doc) return;
    this.autosave = { ...this.autosave, state: 'pending' };
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      void this.saveNow();
    }, AUTOSAVE_DELAY_MS);
  }

  /** Saves the document now (sends the image only when it changed since the last save). */
  async saveNow(): Promise<void> {
    if (this.saving) await this.saving;
    const doc = this.doc;
    if (!doc) return;
    const task = (async () => {
      this.autosave = { ...this.autosave, state: 'saving' };
      try {
        const savedAt = new Date().toISOString();
        const meta = { format: 'var-studio-canvas' as const, version: 1 as const, docId: doc.docId, name: doc.name, width: doc.width, height: doc.height, imageRev: doc.imageRev, region: { ...doc.region }, chain: doc.chain(), savedAt };
        const sendImage = !(this.savedImage && this.savedImage.docId === doc.docId && this.savedImage.rev === doc.imageRev);
        const mask = checkPacked(await pack(doc.mask), 'mask', 'autosave');
        let r = await this.app.studio.call('document.save', { meta, mask, ...(sendImage ? { image: checkPacked(await pack(doc.image), 'image', 'autosave') } : {}) });
        if (!r.saved) r = await this.app.studio.call('document.save', { meta, mask, image: checkPacked(await pack(doc.image), 'image', 'autosave') });
        this.savedImage = { docId: doc.docId, rev: meta.imageRev };
        this.autosave = { state: this.saveTimer ? 'pending' : 'saved', at: savedAt, message: '' };
      } catch (e) {
        const info = (e as { info?: { message: string } }).info;
        this.autosave = { state: 'error', at: this.autosave.at, message: info?.message ?? (e instanceof Error ? e.message : String(e)) };
      }
    })();
    this.saving = task;
    await task;
    if (this.saving === task) this.saving = null;
  }

  /** Restores the autosaved document (after a reload, crash or restart). */
  async restore(): Promise<boolean> {
    try {
      const r = await this.app.studio.call('document.restore', {});
      if (r.problem) this.fail(r.problem, 'Open the image again; nothing else was lost.');
      // Nothing saved, or the user opened an image while the autosave was being read: keep what is open.
      if (!r.document || this.doc) return false;
      const { meta } = r.document;
      const image = await unpack(r.document.image, meta.width * meta.height * 3, 'autosaved image');
      const mask = await unpack(r.document.mask, meta.width * meta.height, 'autosaved mask');
      this.doc = new CanvasDocument(meta.docId, meta.name, meta.chain.source, { width: meta.width, height: meta.height, image, mask, region: meta.region, steps: meta.chain.steps, imageRev: meta.imageRev });
      this.history.clear();
      this.savedImage = { docId: meta.docId, rev: meta.imageRev };
      this.autosave = { state: 'saved', at: meta.savedAt, message: '' };
      this.notice = `Restored "${meta.name}" (autosaved ${new Date(meta.savedAt).toLocaleString()}).`;
      this.rev += 1;
      this.view?.refresh({ fit: true });
      return true;
    } catch (e) {
      this.fail(`The autosaved canvas could not be restored (${e instanceof Error ? e.message : String(e)}).`, 'Open the image again.');
      return false;
    }
  }

  /** Closes the document and deletes its autosave. */
  async close(): Promise<void> {
    if (this.running) this.cancel();
    this.doc = null;
    this.staged = null;
    this.history.clear();
    this.view?.staging.clear();
    this.rev += 1;
    this.view?.refresh();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    this.autosave = { state: 'idle', at: null, message: '' };
    await this.app.studio.call('document.discard', {}).catch((e) => this.app.toasts.error('Could not delete the autosave', e));
  }

  // ---------- export ----------

  async exportImage(format: 'png' | 'jpeg' | 'webp', quality = 92): Promise<void> {
    const doc = this.doc;
    if (!doc) return this.fail('There is no image to export.', 'Open an image first.');
    const flat = this.view?.compositor.flatten() ?? { width: doc.width, height: doc.height, data: doc.image };
    const base = `var-edit-${doc.name}`.replace(/\.(png|jpe?g|webp)$/i, '').replace(/[^A-Za-z0-9._ -]+/g, '_').slice(0, 110) || 'var-edit';
    try {
      const image = checkPacked(await pack(flat.data), 'image', 'export');
      const result = await this.app.studio.call('document.export', { format, quality, width: flat.width, height: flat.height, image, chain: doc.chain(), fileName: base });
      if (result.kind === 'download') {
        downloadBytes(result.bytes, result.mime, result.fileName);
        this.notice = `Exported ${result.fileName} (${flat.width}×${flat.height}, edit chain of ${doc.steps.length} step${doc.steps.length === 1 ? '' : 's'} embedded).`;
      } else if (result.kind === 'saved') {
        this.notice = `Saved ${result.path} (${flat.width}×${flat.height}, edit chain embedded).`;
      }
    } catch (e) {
      const info = (e as { info?: { message: string; hint: string } }).info ?? (e instanceof PackedTooLarge ? { message: e.message, hint: e.hint } : undefined);
      this.fail(info?.message ?? String(e), info?.hint ?? 'Try another format.');
    }
  }

  // ---------- for tests and debugging ----------

  chain(): EditChain | null {
    return this.doc?.chain() ?? null;
  }

  snapshot(): Record<string, unknown> {
    const doc = this.doc;
    return {
      document: doc ? {
        docId: doc.docId, name: doc.name, width: doc.width, height: doc.height, region: doc.region, steps: doc.steps.length,
        maskedPixels: countAtLeast(doc.mask, 128), image: toBase64(doc.image), mask: toBase64(doc.mask),
        regionCrop: regionCrop(doc.region, doc.width, doc.height),
      } : null,
      history: { ...this.history.size, bytes: this.history.memoryBytes, undoLabel: this.history.undoLabel, redoLabel: this.history.redoLabel },
      status: this.status, scalesDone: this.scalesDone, scales: this.scales,
      staged: this.staged ? { count: this.staged.candidates.length, index: this.candidateIndex, region: this.staged.region } : null,
      autosave: this.autosave, feather: this.feather, operation: this.operation,
      view: this.view?.repr() ?? null,
    };
  }
}

const sessions = new WeakMap<StudioApp, CanvasSession>();

/**
 * The app's canvas session: one per window, kept while the user visits other workspaces (the document,
 * its undo history and a running edit survive a tab switch). Created on first use, restoring the autosave.
 */
export function canvasSessionOf(app: StudioApp): CanvasSession {
  let s = sessions.get(app);
  if (!s) {
    const created = new CanvasSession(app);
    s = created;
    sessions.set(app, s);
    void created.restore().finally(() => (created.ready = true));
  }
  return s;
}
