// The canvas editor's state and actions: the tools, and the open documents as tabs. Each tab (DocumentTab)
// holds its document with its undo history, its edit job (run, preview, staged candidates) and its
// autosave; the actions below work on the active tab. It knows no view: the Konva view (lib/canvas)
// follows the runes below (see CanvasWorkspace.svelte) and never owns document state.
import type { RgbImageMsg } from '../../../shared/contract';
import type { DocSource, DocumentSummary, DocumentTabs, EditChain, EditOperation, EditStep, Region } from '../../../shared/edit';
import { EDIT_LIMITS, MAX_OPEN_DOCUMENTS } from '../../../shared/edit';
import { settingsToJson } from '../../../shared/settings';
import { toBase64 } from '../../../shared/wire';
import type { StudioApp } from '../state/app.svelte';
import type { GalleryEntry } from '../generate-state/gallery.svelte';
import { asCallError } from '../studio/jobs';
import { downloadBytes, randomSeed } from '../image';
import { acceptChange, maskSnapshot, restoreMaskChange, wholeMaskChange, type CanvasDocument, type Change } from './document';
import type { EditHistory } from './history';
import type { DocumentModel } from './document-model.svelte';
import { buildEditPayload, EditInputError, regionAlpha } from './edit-request';
import { defaultBrushSize, extendRegion, grownCanvas, reachesPastEdge, regionCrop, regionProblem, regionScale, type Direction } from './geometry';
import { countAtLeast, maskBounds } from './raster';
import { checkPacked, pack } from './packing';
import type { BrushSettings } from './stroke';
import type { EditJob } from './edit-job.svelte';
import type { Autosave, AutosaveConflict } from './autosave.svelte';
import { DocumentTab, type TabEvents } from './tab.svelte';
import { TAB_MEMORY_BUDGET, closableTab, cycleIndex, indexAfterClose, tabsToUnload } from './tabs';

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
  /** The open documents in strip order, and the one shown. */
  tabs = $state.raw<DocumentTab[]>([]);
  active = $state.raw<DocumentTab | null>(null);
  /** Stands in for the active tab while none is open (it never holds a document). */
  private readonly blank: DocumentTab;
  private shownClock = 0;
  private tabsWrite: Promise<void> = Promise.resolve();
  /** Bytes the open documents may hold in memory together before inactive ones are unloaded. */
  memoryBudget = TAB_MEMORY_BUDGET;
  /** The dirty flags the persisted tab list holds (it is written again when one flips). */
  private persistedDirty = new Map<number, boolean>();

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
  /** Export format and quality (the panel's choice; Ctrl+S and "Export" when closing a tab use them too). */
  exportFormat = $state<'png' | 'jpeg' | 'webp'>('png');
  exportQuality = $state(92);
  /** The question on show (close a tab with unexported edits?), or null. */
  question = $state.raw<Question | null>(null);
  /** The autosaved documents (newest first); those open in no tab can be reopened from the tab strip. */
  documents = $state.raw<DocumentSummary[]>([]);
  /** The last problem, shown in the panel until the next action. */
  problem = $state<{ message: string; hint: string } | null>(null);
  notice = $state<string | null>(null);
  zoom = $state(1);
  /** False until the autosave has been looked for (and restored) at start. */
  ready = $state(false);

  private readonly tabEvents: TabEvents;

  constructor(readonly app: StudioApp) {
    this.tabEvents = {
      problem: (tab, m, h) => (tab === this.active ? this.fail(m, h) : this.app.toasts.problem({ code: 'canvas', message: `"${tab.name}": ${m}`, hint: h })),
      notice: (tab, t) => (tab === this.active ? (this.notice = t) : this.app.toasts.info(`"${tab.name}"`, t)),
      changed: (tab) => this.onTabChanged(tab),
      conflict: (tab, c) => this.onConflict(tab, c),
    };
    this.blank = new DocumentTab(app.studio, app.jobs, this.tabEvents);
  }

  /** The active tab (a blank stand-in while none is open). */
  get tab(): DocumentTab {
    return this.active ?? this.blank;
  }
  get document(): DocumentModel {
    return this.tab.document;
  }
  /** The active tab's edit in flight, then its staged candidates. */
  get job(): EditJob {
    return this.tab.job;
  }
  get autosave(): Autosave {
    return this.tab.autosave;
  }
  get restorableMask(): DocumentTab['restorableMask'] {
    return this.tab.restorableMask;
  }
  set restorableMask(v: DocumentTab['restorableMask']) {
    this.tab.restorableMask = v;
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
    for (const t of this.tabs) t.dispose();
    this.blank.dispose();
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

  // ---------- tabs ----------

  /** A new tab for a new document, shown at once (a clean, idle tab makes room when all are taken). */
  private async addTab(image: RgbImageMsg, name: string, source: DocSource, steps: EditStep[] = []): Promise<boolean> {
    if (this.tabs.length >= MAX_OPEN_DOCUMENTS) {
      const spare = closableTab(this.tabs.map((t) => ({ ...this.use(t), dirty: t.dirty, tab: t })));
      if (!spare) {
        this.fail(`${MAX_OPEN_DOCUMENTS} documents are open, each with unexported edits or a running edit.`, 'Export or close one (the × on its tab, or Ctrl+W) to open another.');
        return false;
      }
      await this.dropTab(spare.tab);
    }
    const tab = new DocumentTab(this.app.studio, this.app.jobs, this.tabEvents);
    this.tabs = [...this.tabs, tab];
    tab.document.open(image, name, source, steps);
    await this.show(tab);
    this.brushSize = defaultBrushSize(image.width, image.height);
    // The tab list names the document once its first autosave exists.
    void tab.autosave.saveNow().then(() => this.persistTabs());
    return true;
  }

  /** What the memory rule and the spare-tab rule read of a tab. */
  private use(t: DocumentTab): { key: number; bytes: number; active: boolean; busy: boolean; lastShown: number } {
    return { key: t.key, bytes: t.bytes, active: t === this.active, busy: t.busy, lastShown: t.lastShown };
  }

  /** Shows a tab (reading its document back from the autosave when it was unloaded). False when it could not be read. */
  private async show(tab: DocumentTab): Promise<boolean> {
    this.problem = null;
    this.active = tab;
    tab.lastShown = ++this.shownClock;
    if (!tab.loaded) {
      const name = tab.name;
      this.notice = `Reading "${name}" back…`;
      const problem = await tab.load();
      if (!tab.loaded) {
        await this.dropTab(tab, { keepAutosave: true });
        this.fail(problem ?? `"${name}" could not be read back.`, 'Its tab was closed; open the image again.');
        return false;
      }
      if (problem) this.fail(problem, 'Open the image again; nothing else was lost.');
      this.notice = `"${name}" was read back from its autosave (without its undo history, which stays in memory only).`;
    } else {
      const st = tab.job.staged;
      this.notice = st ? `${st.candidates.length} candidate${st.candidates.length > 1 ? 's' : ''} wait: cycle with ← →, accept with Enter, discard with Esc.` : tab.job.running ? 'An edit is running in this document.' : null;
    }
    await this.bound();
    void this.persistTabs();
    return tab === this.active;
  }

  /** Unloads inactive idle tabs, least recently shown first, while the open documents hold more than the budget. */
  private async bound(): Promise<void> {
    const keys = new Set(tabsToUnload(this.tabs.map((t) => this.use(t)), this.memoryBudget));
    for (const t of this.tabs) if (keys.has(t.key)) await t.unload();
  }

  /** Shows the tab with this document id, or reopens that autosaved document in a new tab. */
  async switchTo(docId: string): Promise<boolean> {
    const tab = this.tabs.find((t) => t.docId === docId);
    if (!tab) return this.reopen(docId);
    if (tab === this.active) return true;
    return this.show(tab);
  }

  /** Shows this tab. */
  activate(tab: DocumentTab): Promise<boolean> {
    return tab === this.active ? Promise.resolve(true) : this.show(tab);
  }

  /** Ctrl+Tab / Ctrl+Shift+Tab: the next or previous tab, wrapping around. */
  cycleTab(delta: number): void {
    if (this.tabs.length < 2) return;
    const i = cycleIndex(this.active ? this.tabs.indexOf(this.active) : 0, delta, this.tabs.length);
    void this.show(this.tabs[i]);
  }

  /** Opens an autosaved document that is in no tab (another window's, or a copy kept after a conflict) in a new tab. */
  async reopen(docId: string): Promise<boolean> {
    const summary = this.documents.find((d) => d.docId === docId);
    if (!summary) return false;
    if (this.tabs.length >= MAX_OPEN_DOCUMENTS) {
      this.fail(`${MAX_OPEN_DOCUMENTS} documents are open.`, 'Close one (the × on its tab, or Ctrl+W) to reopen another.');
      return false;
    }
    const tab = new DocumentTab(this.app.studio, this.app.jobs, this.tabEvents, { docId, name: summary.name, width: summary.width, height: summary.height, unexported: summary.steps > 0 });
    this.tabs = [...this.tabs, tab];
    const ok = await this.show(tab);
    const doc = tab.document.doc;
    if (ok && doc) this.brushSize = defaultBrushSize(doc.width, doc.height);
    return ok;
  }

  /** Removes a tab and (unless kept) deletes its autosave; no question (see closeTab). */
  private async dropTab(tab: DocumentTab, opts: { keepAutosave?: boolean } = {}): Promise<void> {
    const i = this.tabs.indexOf(tab);
    if (i < 0) return;
    if (tab.job.running) tab.job.cancel()?.catch((e) => this.app.toasts.error('Cancel failed', e));
    tab.job.unstage();
    const docId = tab.docId;
    const next = tab === this.active ? indexAfterClose(i, this.tabs.length) : -1;
    this.tabs = this.tabs.filter((t) => t !== tab);
    this.persistedDirty.delete(tab.key);
    tab.dispose();
    // The closed tab stops being the shown one at once: it must not stay on screen (editable) while its
    // autosave is deleted or the neighbour's document loads.
    const wasActive = tab === this.active;
    if (wasActive) this.active = null;
    const discarded = docId && !opts.keepAutosave ? tab.autosave.discard(docId).catch((e) => this.app.toasts.error('Could not delete the autosave', e)) : null;
    if (wasActive && next >= 0 && this.tabs[next]) await this.show(this.tabs[next]);
    await discarded;
    tab.document.close();
    await this.persistTabs();
    void this.refreshDocuments();
  }

  /**
   * Closes a tab and deletes its autosave. With unexported edits (or a running edit, or candidates waiting)
   * the tab is shown and asks first: Export (then close), Discard, or Cancel.
   */
  async closeTab(tab: DocumentTab | null = this.active): Promise<boolean> {
    if (!tab || !this.tabs.includes(tab)) return false;
    if (tab.dirty || tab.busy) {
      if (tab !== this.active && !(await this.show(tab))) return true;
      const what = tab.job.running ? ' An edit is running in it; closing cancels it.' : tab.job.staged ? ' Its candidates are waiting.' : '';
      const answer = await this.ask<'export' | 'discard' | 'cancel'>({
        title: `Close "${tab.name}"?`,
        message: `It has edits that were not exported.${what} Export it first, or discard the edits (they cannot be brought back).`,
        answers: [{ id: 'export', label: `Export ${this.exportFormat.toUpperCase()} & close` }, { id: 'discard', label: 'Discard', danger: true }, { id: 'cancel', label: 'Cancel' }],
      });
      if (answer === 'cancel' || !this.tabs.includes(tab)) return false;
      if (answer === 'export') {
        if (this.active !== tab) return false;
        await this.exportImage(this.exportFormat, this.exportQuality);
        if (tab.document.unexported) return false; // the export failed: its problem is shown, nothing is closed
      }
    }
    await this.dropTab(tab);
    return true;
  }

  /** Closes the active tab (asks first when its edits were not exported). */
  close(): Promise<boolean> {
    return this.closeTab(this.active);
  }

  /** The tab list as the host keeps it (tabs whose document id is known). */
  tabList(): DocumentTabs {
    const tabs = this.tabs.filter((t) => t.docId).map((t) => ({ ...t.info }));
    return { tabs, activeDocId: this.active?.docId || null };
  }

  /** Writes the tab list (one write at a time, each with the list as it is then). */
  persistTabs(): Promise<void> {
    this.app.canvasUnsaved = this.tabs.some((t) => t.dirty);
    const run = this.tabsWrite.then(async () => {
      for (const t of this.tabs) this.persistedDirty.set(t.key, t.dirty);
      try {
        await this.app.studio.call('document.setTabs', this.tabList());
      } catch {
        // the tab list is a convenience; each document is autosaved on its own
      }
    });
    this.tabsWrite = run;
    return run;
  }

  private onTabChanged(tab: DocumentTab): void {
    if (this.persistedDirty.get(tab.key) !== tab.dirty) void this.persistTabs();
  }

  /** Another window saved this document after this one did: this window's version goes on as a copy. */
  private onConflict(tab: DocumentTab, c: AutosaveConflict): void {
    const doc = tab.document.doc;
    if (!doc || doc.docId !== c.docId) return;
    const copy = tab.document.fork(`${doc.name} (this window)`.slice(0, 500));
    if (!copy) return;
    const message = `"${c.name}" was changed in another window (saved ${new Date(c.savedAt).toLocaleTimeString()}). Nothing was overwritten: this window's version is now "${copy.name}".`;
    const hint = 'The other version stays autosaved: reopen it from "Autosaved" at the end of the tab strip; both are kept.';
    if (tab === this.active) this.fail(message, hint);
    else this.app.toasts.problem({ code: 'canvas', message, hint });
    void tab.autosave.saveNow().then(() => Promise.all([this.persistTabs(), this.refreshDocuments()]));
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

  /** Autosaved documents open in no tab of this window (newest first). */
  get closedDocuments(): DocumentSummary[] {
    const open = new Set(this.tabs.map((t) => t.docId));
    return this.documents.filter((d) => !open.has(d.docId));
  }

  /** Opens a PNG/JPEG/WebP file (dialog, drop or paste) in a new tab; a bad file leaves every tab as it was. */
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
      if (!(await this.addTab(r.image, name, source, chain?.steps ?? []))) return false;
      this.notice = r.note;
      void this.refreshDocuments();
      return true;
    } catch (e) {
      const p = problemOf(e, 'Open a PNG, JPEG or WebP file.');
      this.fail(p.message, p.hint);
      return false;
    }
  }

  /** Starts from an image of the gallery in a new tab (a generated one keeps its generation settings as the chain's source). */
  async openGenerated(entry: GalleryEntry): Promise<boolean> {
    const name = entry.settings ? `${entry.settings.className} ${entry.settings.seed}` : entry.fileName ?? 'image';
    const source: DocSource = entry.settings
      ? { kind: 'generated', settingsJson: settingsToJson(entry.settings), width: entry.image.width, height: entry.image.height }
      : { kind: 'file', fileName: entry.fileName ?? 'image', width: entry.image.width, height: entry.image.height };
    if (!(await this.addTab(entry.image, name, source))) return false;
    this.notice = 'Paint over what should change (B), place the region box, then run.';
    void this.refreshDocuments();
    return true;
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

  /**
   * Brings the tabs back after a reload, crash or restart: the tab list as last written, the active tab read
   * from its autosave (the others when shown). Without a tab list, the most recently saved document opens.
   */
  async restoreTabs(): Promise<void> {
    let list: DocumentTabs = { tabs: [], activeDocId: null };
    try {
      list = await this.app.studio.call('document.tabs', {});
    } catch {
      // no tab list: start from the newest autosave below
    }
    // The user may have opened something while the list was read: those tabs stay, after the restored ones.
    const known = new Set(this.tabs.map((t) => t.docId));
    const restored = list.tabs.filter((t) => !known.has(t.docId)).map((info) => new DocumentTab(this.app.studio, this.app.jobs, this.tabEvents, info));
    if (!list.tabs.length && !this.tabs.length) restored.push(new DocumentTab(this.app.studio, this.app.jobs, this.tabEvents));
    this.tabs = [...restored, ...this.tabs];
    if (!this.active) {
      const first = restored.find((t) => t.stored?.docId === list.activeDocId) ?? restored[0];
      if (first) await this.showRestored(first);
    }
    if (this.tabs.length) void this.persistTabs();
    void this.refreshDocuments();
  }

  /** Shows a restored tab; one whose autosave is gone leaves the strip (the next one is shown). */
  private async showRestored(tab: DocumentTab): Promise<void> {
    this.active = tab;
    tab.lastShown = ++this.shownClock;
    const problem = await tab.load();
    if (tab.loaded) {
      const doc = tab.document.doc!;
      if (problem) this.fail(problem, 'Open the image again; nothing else was lost.');
      this.brushSize = defaultBrushSize(doc.width, doc.height);
      const at = tab.autosave.status.at;
      this.notice = `Restored "${doc.name}"${at ? ` (autosaved ${new Date(at).toLocaleString()})` : ''}.`;
      return;
    }
    // Nothing was saved yet (a first start) is no problem; a damaged autosave is.
    if (problem && !/ is gone /.test(problem)) this.fail(problem, 'Open the image again; nothing else was lost.');
    const i = this.tabs.indexOf(tab);
    this.tabs = this.tabs.filter((t) => t !== tab);
    tab.dispose();
    this.active = null;
    const next = this.tabs[Math.min(i, this.tabs.length - 1)];
    if (next) await this.showRestored(next);
  }

  // ---------- export ----------

  async exportImage(format: 'png' | 'jpeg' | 'webp' = this.exportFormat, quality = this.exportQuality): Promise<void> {
    quality = Math.min(Math.max(Math.round(quality) || 92, 1), 100);
    const doc = this.doc;
    if (!doc) return this.fail('There is no image to export.', 'Open an image first.');
    // The document image is already flat: accepted results are pasted into it; staged ones are not part of it.
    const flat = { width: doc.width, height: doc.height, data: doc.image };
    const base = `var-edit-${doc.name}`.replace(/\.(png|jpe?g|webp)$/i, '').replace(/[^A-Za-z0-9._ -]+/g, '_').slice(0, 110) || 'var-edit';
    const model = this.document;
    try {
      const image = checkPacked(await pack(flat.data), 'image', 'export');
      const result = await this.app.studio.call('document.export', { format, quality, width: flat.width, height: flat.height, image, chain: doc.chain(), fileName: base });
      model.exported();
      void this.persistTabs();
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
      tabs: this.tabs.map((t) => ({ docId: t.docId, name: t.name, dirty: t.dirty, loaded: t.loaded, active: t === this.active, status: t.job.status, staged: t.job.staged?.candidates.length ?? 0 })),
      preview: this.job.preview ? { scale: this.job.preview.scale, alphaMasked: countAtLeast(this.job.preview.alpha, 128) } : null,
    };
  }
}
