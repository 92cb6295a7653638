// The canvas editor's state and actions: the tools and the actions over three parts — the document with
// its undo history (DocumentModel), the edit job (run, preview, staged candidates) and the autosave. It knows no view: the Konva
// view (lib/canvas) follows the runes below (see CanvasWorkspace.svelte) and never owns document state.
import type { RgbImageMsg } from '../../../shared/contract';
import type { DocSource, DocumentSummary, EditChain, EditOperation, EditStep, Region } from '../../../shared/edit';
import { EDIT_LIMITS } from '../../../shared/edit';
import { settingsToJson } from '../../../shared/settings';
import { toBase64 } from '../../../shared/wire';
import type { StudioApp } from '../state/app.svelte';
import type { GalleryEntry } from '../generate-state/gallery.svelte';
import { asCallError } from '../studio/jobs';
import { downloadBytes, randomSeed } from '../image';
import { acceptChange, maskSnapshot, restoreMaskChange, wholeMaskChange, type CanvasDocument, type Change } from './document';
import type { EditHistory } from './history';
import { DocumentModel } from './document-model.svelte';
import { buildEditPayload, EditInputError, regionAlpha } from './edit-request';
import { defaultBrushSize, extendRegion, grownCanvas, reachesPastEdge, regionCrop, regionProblem, regionScale, type Direction } from './geometry';
import { countAtLeast, maskBounds, type Rect } from './raster';
import { checkPacked, pack } from './packing';
import type { BrushSettings } from './stroke';
import { EditJob } from './edit-job.svelte';
import { Autosave, type AutosaveConflict } from './autosave.svelte';

/** A question the canvas asks before it drops work (the workspace shows it as a dialog). */
export interface Question<A extends string = string> {
  title: string;
  message: string;
  /** First: the default (Enter); the last one is Cancel (Esc). */
  answers: { id: A; label: string; danger?: boolean }[];
  resolve(answer: A): void;
}

/** What to show for a failure: the host's own words, a canvas input problem, or anything else with a fallback hint. */
function problemOf(e: unknown, fallbackHint: string): { message: string; hint: string } {
  if (e instanceof EditInputError) return { message: e.message, hint: e.hint };
  const { info } = asCallError(e, fallbackHint);
  return { message: info.message, hint: info.hint || fallbackHint };
}

export class CanvasSession {
  readonly document: DocumentModel;

  // tools
  mode = $state<'brush' | 'eraser'>('brush');
  /** Set to about a tenth of the document's shorter side whenever a document is opened. */
  brushSize = $state(24);
  hardness = $state(0.8);
  maskOpacity = $state(0.5);
  // operation
  operation = $state<EditOperation>('inpaint');
  feather = $state(4);
  scaleLocked = $state(false);
  fromScale = $state(2);
  extendBy = $state(64);
  /** Outpaint regenerates only the new strip past the image edge unless this is on. */
  outpaintPainted = $state(false);
  /** The mask an Accept cleared, and how far the document moved since (for "Restore mask"). */
  restorableMask = $state.raw<{ saved: { bounds: Rect; mask: Uint8Array }; shiftX: number; shiftY: number } | null>(null);
  /** The question on show (replace the document? close it?), or null. */
  question = $state.raw<Question | null>(null);
  /** The other autosaved documents this window can switch to (newest first). */
  documents = $state.raw<DocumentSummary[]>([]);
  /** The last problem, shown in the panel until the next action. */
  problem = $state<{ message: string; hint: string } | null>(null);
  notice = $state<string | null>(null);
  zoom = $state(1);
  /** False until the autosave has been looked for (and restored) at start. */
  ready = $state(false);

  /** The edit in flight, then its staged candidates. */
  readonly job: EditJob;
  readonly autosave: Autosave;

  constructor(readonly app: StudioApp) {
    this.document = new DocumentModel(() => this.autosave.schedule());
    this.job = new EditJob(app.jobs, { problem: (m, h) => this.fail(m, h), notice: (t) => (this.notice = t) });
    this.autosave = new Autosave(app.studio, () => this.document.doc, (c) => this.onConflict(c));
  }

  /** The open document (mutated in place; `rev` changes whenever it does). */
  get doc(): CanvasDocument | null {
    return this.document.doc;
  }
  get rev(): number {
    return this.document.rev;
  }
  get redraws(): number {
    return this.document.redraws;
  }
  get fits(): number {
    return this.document.fits;
  }
  get history(): EditHistory {
    return this.document.history;
  }

  dispose(): void {
    this.autosave.dispose();
  }

  brush(): BrushSettings {
    return { size: this.brushSize, hardness: this.hardness, mode: this.mode };
  }

  get running(): boolean {
    return this.job.running;
  }

  get staged(): EditJob['staged'] {
    return this.job.staged;
  }

  get canPaint(): boolean {
    return !!this.doc && !this.running && !this.staged;
  }

  /** The region box cannot move while an edit runs on it. */
  get regionLocked(): boolean {
    return this.running;
  }

  /** The mask overlay hides while candidates are staged (the result is judged without it). */
  get maskVisible(): boolean {
    return !this.staged;
  }

  private fail(message: string, hint: string): void {
    this.problem = { message, hint };
    this.app.toasts.problem({ code: 'canvas', message, hint });
  }

  // ---------- documents ----------

  /** True when the open document has paint or edits that no export holds. */
  get unexported(): boolean {
    return !!this.doc && this.document.unexported;
  }

  /** Asks a question and waits for the answer (one at a time; a new one cancels the old). */
  ask<A extends string>(q: Omit<Question<A>, 'resolve'>): Promise<A> {
    const cancel = this.question?.answers.at(-1)?.id;
    if (this.question && cancel) this.question.resolve(cancel);
    return new Promise<A>((resolve) => {
      this.question = { ...q, resolve: (a: string) => { this.question = null; resolve(a as A); } } as Question;
    });
  }

  /**
   * Before another document takes the canvas: with unexported edits, asks whether to replace this one
   * (its autosave is deleted), keep it (it stays in the Documents list) or cancel. False: do not open.
   */
  private async makeRoom(incoming: string): Promise<boolean> {
    const doc = this.doc;
    if (!doc || !this.document.unexported) {
      if (doc) await this.saveNow();
      return true;
    }
    const answer = await this.ask<'keep' | 'replace' | 'cancel'>({
      title: `Open "${incoming}"?`,
      message: `"${doc.name}" has edits that were not exported. Keep it in Documents (you can switch back), or replace it and lose those edits.`,
      answers: [{ id: 'keep', label: 'Keep it & open' }, { id: 'replace', label: 'Replace', danger: true }, { id: 'cancel', label: 'Cancel' }],
    });
    if (answer === 'cancel') return false;
    if (answer === 'keep') await this.saveNow();
    else await this.autosave.discard(doc.docId).catch((e) => this.app.toasts.error('Could not delete the autosave', e));
    return true;
  }

  private setDocument(image: RgbImageMsg, name: string, source: DocSource, steps: EditStep[] = []): void {
    this.cancel();
    this.job.unstage();
    this.problem = null;
    this.restorableMask = null;
    this.autosave.forgetSavedImage();
    this.document.open(image, name, source, steps);
    this.brushSize = defaultBrushSize(image.width, image.height);
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
      // Asked only once the file is known to open: a bad file never costs the open document anything.
      if (!(await this.makeRoom(name))) return false;
      this.setDocument(r.image, name, source, chain?.steps ?? []);
      this.notice = r.note;
      void this.refreshDocuments();
      return true;
    } catch (e) {
      const p = problemOf(e, 'Open a PNG, JPEG or WebP file.');
      this.fail(p.message, p.hint);
      return false;
    }
  }

  /** Starts from an image of the gallery (a generated one keeps its generation settings as the chain's source). */
  async openGenerated(entry: GalleryEntry): Promise<boolean> {
    const name = entry.settings ? `${entry.settings.className} ${entry.settings.seed}` : entry.fileName ?? 'image';
    if (!(await this.makeRoom(name))) return false;
    const source: DocSource = entry.settings
      ? { kind: 'generated', settingsJson: settingsToJson(entry.settings), width: entry.image.width, height: entry.image.height }
      : { kind: 'file', fileName: entry.fileName ?? 'image', width: entry.image.width, height: entry.image.height };
    this.setDocument(entry.image, name, source);
    this.notice = 'Paint over what should change (B), place the region box, then run.';
    void this.refreshDocuments();
    return true;
  }

  /** Another window saved this document after this one did: this window's version goes on as a copy. */
  private onConflict(c: AutosaveConflict): void {
    const doc = this.doc;
    if (!doc || doc.docId !== c.docId) return;
    const copy = this.document.fork(`${doc.name} (this window)`.slice(0, 500));
    if (!copy) return;
    this.fail(
      `"${c.name}" was changed in another window (saved ${new Date(c.savedAt).toLocaleTimeString()}). Nothing was overwritten: this window's version is now "${copy.name}".`,
      'Pick the other version in Documents on the right to see it; both are kept.',
    );
    void this.saveNow().then(() => this.refreshDocuments());
  }

  /** Re-reads the list of autosaved documents. */
  async refreshDocuments(): Promise<void> {
    try {
      const r = await this.app.studio.call('document.list', {});
      this.documents = r.documents;
    } catch {
      this.documents = [];
    }
  }

  /** Switches to another autosaved document (this one is saved first and stays in the list). */
  async switchTo(docId: string): Promise<boolean> {
    if (this.running || this.doc?.docId === docId) return false;
    if (this.staged) {
      this.notice = 'Accept or discard the candidates first.';
      return false;
    }
    if (this.doc) await this.saveNow();
    const ok = await this.restore(docId);
    await this.refreshDocuments();
    return ok;
  }

  // ---------- region ----------

  setRegion(region: Region): void {
    this.document.setRegion(region);
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
    this.document.changed({ fit: true });
  }

  // ---------- mask operations ----------

  recordStroke(label: string, forward: Change, inverse: Change): void {
    this.document.record(label, forward, inverse);
  }

  /** Paints back the mask the last Accept cleared (merged with anything painted since). */
  restoreMask(): void {
    const doc = this.doc, r = this.restorableMask;
    if (!doc || !r || !this.canPaint) return;
    const change = restoreMaskChange(doc, r.saved, r.shiftX, r.shiftY);
    this.restorableMask = null;
    if (change) this.document.apply('restore mask', change);
    this.notice = 'Mask restored.';
  }

  /** The region box against the model's resolution: "512 px → 32 px model: 16× softer", and a smaller box when too coarse. */
  get regionScale(): ReturnType<typeof regionScale> | null {
    void this.rev;
    const doc = this.doc, R = this.app.model?.resolution;
    return doc && R ? regionScale(doc.region, R, doc.width, doc.height, maskBounds(doc.mask, doc.width, doc.height)) : null;
  }

  /** Moves the region box to the suggested, smaller one. */
  useSuggestedRegion(): void {
    const s = this.regionScale?.suggested;
    if (!s || this.running) return;
    this.setRegion(s);
    this.document.changed({ fit: false });
    this.notice = `Region box set to ${s.size}×${s.size} px.`;
  }

  private maskOp(label: string, f: (v: number) => number): void {
    const doc = this.doc;
    if (!doc || !this.canPaint) return;
    this.document.apply(label, wholeMaskChange(doc, f));
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
    this.restorableMask = null;
    const label = this.document.undo();
    this.notice = label ? `Undone: ${label}` : 'Nothing to undo.';
  }

  redo(): void {
    if (!this.doc || this.running || this.staged) return;
    this.restorableMask = null;
    const label = this.document.redo();
    this.notice = label ? `Redone: ${label}` : 'Nothing to redo.';
  }

  // ---------- edit jobs ----------

  /** Starts an edit of the region box (it waits for the host's job slot if a generation holds it). */
  async run(): Promise<void> {
    this.problem = null;
    const doc = this.doc;
    const model = this.app.model;
    if (!doc) return this.fail('There is no image on the canvas.', 'Open an image (Ctrl+O, drop a file or paste) or pick one from the gallery.');
    if (!model) return this.fail('No model is loaded.', this.app.modelError ?? 'Pick a model in the model picker first.');
    if (this.running) return;
    if (this.staged) return this.fail('Candidates are waiting.', 'Accept one (Enter) or discard them before running again.');
    const region = { ...doc.region };
    const op = this.operation;
    const s = this.app.settings;
    const classIndex = op === 'inpaint' ? null : s.classIndex;
    if (op === 'class-edit' && classIndex === null) return this.fail('A class edit needs a class.', 'Pick a class in the class list on the left.');
    if (op === 'outpaint' && !reachesPastEdge(region, doc.width, doc.height))
      return this.fail('The region box lies inside the image, so there is nothing to outpaint.', 'Use "Extend canvas" or drag the region box past the image edge.');
    let payload;
    try {
      payload = buildEditPayload(doc, region, { stripOnly: op === 'outpaint' && !this.outpaintPainted });
    } catch (e) {
      if (e instanceof EditInputError) return this.fail(e.message, e.hint);
      throw e;
    }
    const fromScale = this.scaleLocked ? Math.min(Math.max(Math.round(this.fromScale), 1), model.patchNums.length - 1) : undefined;
    this.restorableMask = null;
    if (payload.masked === 0 && payload.outside === 0)
      return this.fail('The mask is empty inside the region box: nothing would change.', 'Paint over what should change (B), move the region box onto the painted area, or press Fill.');
    if (!s.seedLocked) s.seed = randomSeed();
    const batch = Math.min(s.batch, EDIT_LIMITS.maxBatch);
    const sampling = s.sampling;
    await this.job.start({
      modelId: model.id, operation: op, classIndex, ...(fromScale !== undefined ? { fromScale } : {}),
      seed: s.seed, batch, sampling, feather: this.feather,
      image: payload.image, mask: payload.mask, region: payload.region,
    }, { region, op, classIndex, fromScale, feather: this.feather, maskedPixels: payload.masked, sampling, alpha: regionAlpha(payload) }, model.patchNums.length);
  }

  /** Stops at once: the preview goes away now; the host stops before its next scale. */
  cancel(): void {
    this.job.cancel()?.catch((e) => this.app.toasts.error('Cancel failed', e));
  }

  cycle(delta: number): void {
    this.job.cycle(delta);
  }

  accept(): void {
    const st = this.staged;
    const doc = this.doc;
    const model = this.app.model;
    if (!st || !doc || !model) return;
    const index = this.job.candidateIndex;
    const c = st.candidates[index];
    const g = grownCanvas(st.region, doc.width, doc.height);
    const step: EditStep = {
      op: st.op, model: { id: model.id, name: model.name, resolution: model.resolution },
      classIndex: st.classIndex, resolvedClassIndex: c.classIndex, className: c.classIndex < 0 ? 'null class (inpainting)' : this.app.className(c.classIndex),
      seed: c.seed, sampling: st.sampling, ...(st.fromScale !== undefined ? { fromScale: st.fromScale } : {}), feather: st.feather,
      region: st.region, maskedPixels: st.maskedPixels, canvas: g, at: new Date().toISOString(),
    };
    const label = g.width !== doc.width || g.height !== doc.height ? `outpaint to ${g.width}×${g.height}` : `accept ${st.op}`;
    this.job.unstage();
    const saved = maskSnapshot(doc);
    this.document.apply(label, acceptChange(doc, st.region, c.image.data, step));
    this.restorableMask = saved ? { saved, shiftX: g.shiftX, shiftY: g.shiftY } : null;
    this.notice = `Accepted candidate ${index + 1}; the mask was cleared${saved ? ' ("Restore mask" brings it back)' : ''}. Ctrl+Z undoes it.`;
  }

  discard(): void {
    if (!this.job.unstage()) return;
    this.notice = 'Candidates discarded.';
  }

  // ---------- autosave / restore ----------

  /** Saves the document now (the autosave otherwise saves a moment after each change). */
  saveNow(): Promise<void> {
    return this.autosave.saveNow();
  }

  /** Restores the autosaved document (after a reload, crash or restart). */
  async restore(docId?: string): Promise<boolean> {
    const opened = this.doc;
    try {
      const r = await this.autosave.restore(docId);
      if (r.problem) this.fail(r.problem, 'Open the image again; nothing else was lost.');
      // Nothing saved, or the user opened an image while the autosave was being read: keep what is open.
      if (!r.document || this.doc !== opened || (!docId && this.doc)) return false;
      const { doc, savedAt } = r.document;
      this.job.unstage();
      this.problem = null;
      this.restorableMask = null;
      this.document.adopt(doc);
      this.autosave.adopt(doc, savedAt);
      this.brushSize = defaultBrushSize(doc.width, doc.height);
      void this.refreshDocuments();
      this.notice = `Restored "${doc.name}" (autosaved ${new Date(savedAt).toLocaleString()}).`;
      return true;
    } catch (e) {
      this.fail(`The autosaved canvas could not be restored (${e instanceof Error ? e.message : String(e)}).`, 'Open the image again.');
      return false;
    }
  }

  /** Closes the document and deletes its autosave (asks first when it has unexported edits). */
  async close(): Promise<boolean> {
    const doc = this.doc;
    if (!doc) return false;
    if (this.document.unexported) {
      const answer = await this.ask<'close' | 'cancel'>({
        title: `Close "${doc.name}"?`,
        message: 'It has edits that were not exported. Closing deletes its autosave; the edits cannot be brought back.',
        answers: [{ id: 'close', label: 'Close without exporting', danger: true }, { id: 'cancel', label: 'Cancel' }],
      });
      if (answer !== 'close' || this.doc !== doc) return false;
    }
    if (this.running) this.cancel();
    this.job.unstage();
    this.restorableMask = null;
    this.document.close();
    await this.autosave.discard(doc.docId).catch((e) => this.app.toasts.error('Could not delete the autosave', e));
    await this.refreshDocuments();
    return true;
  }

  // ---------- export ----------

  async exportImage(format: 'png' | 'jpeg' | 'webp', quality = 92): Promise<void> {
    const doc = this.doc;
    if (!doc) return this.fail('There is no image to export.', 'Open an image first.');
    // The document image is already flat: accepted results are pasted into it; staged ones are not part of it.
    const flat = { width: doc.width, height: doc.height, data: doc.image };
    const base = `var-edit-${doc.name}`.replace(/\.(png|jpe?g|webp)$/i, '').replace(/[^A-Za-z0-9._ -]+/g, '_').slice(0, 110) || 'var-edit';
    try {
      const image = checkPacked(await pack(flat.data), 'image', 'export');
      const result = await this.app.studio.call('document.export', { format, quality, width: flat.width, height: flat.height, image, chain: doc.chain(), fileName: base });
      this.document.exported();
      if (result.kind === 'download') {
        downloadBytes(result.bytes, result.mime, result.fileName);
        this.notice = `Exported ${result.fileName} (${flat.width}×${flat.height}, edit chain of ${doc.steps.length} step${doc.steps.length === 1 ? '' : 's'} embedded).`;
      } else if (result.kind === 'saved') {
        this.notice = `Saved ${result.path} (${flat.width}×${flat.height}, edit chain embedded).`;
      }
    } catch (e) {
      const p = problemOf(e, 'Try another format.');
      this.fail(p.message, p.hint);
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
      status: this.job.status, scalesDone: this.job.scalesDone, scales: this.job.scales,
      staged: this.staged ? { count: this.staged.candidates.length, index: this.job.candidateIndex, region: this.staged.region } : null,
      autosave: this.autosave.status, feather: this.feather, operation: this.operation, brushSize: this.brushSize,
      unexported: this.unexported, restorableMask: !!this.restorableMask, question: this.question?.title ?? null,
      preview: this.job.preview ? { scale: this.job.preview.scale, alphaMasked: countAtLeast(this.job.preview.alpha, 128) } : null,
    };
  }
}
